// operations_test.cc — the registry: order, progress, cancel, wait, watch.
#include "server/control/operations.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/control/reasons.h"

namespace vnas::control {
namespace {

TEST(OperationRegistryTest, RunsJobsAndRecordsReceiptBeforeFinal) {
  OperationRegistry reg;
  std::atomic<int> notified{0};
  uint64_t token = reg.changes().Subscribe([&] { ++notified; });
  v1::Operation init;
  init.set_kind("Test");
  v1::Operation op = reg.Submit(
      init,
      [](OpContext& ctx) {
        ctx.SetTotals(100, 2);
        ctx.Progress(50, 1, "a");
        ctx.Progress(100, 2, "");
        return absl::OkStatus();
      },
      [](const v1::Operation& final_op) -> uint64_t {
        EXPECT_EQ(final_op.state(), v1::OPERATION_SUCCEEDED);
        return 42;
      });
  EXPECT_EQ(op.state(), v1::OPERATION_PENDING);
  auto done = reg.WaitFinal(op.id(), absl::Seconds(10));
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state(), v1::OPERATION_SUCCEEDED);
  EXPECT_EQ(done->bytes_done(), 100u);
  EXPECT_EQ(done->receipt_seq(), 42u);
  EXPECT_GT(done->finished_unix_ns(), 0);
  EXPECT_GE(notified.load(), 4);
  reg.changes().Unsubscribe(token);
  EXPECT_EQ(reg.running(), 0u);
  EXPECT_EQ(reg.List(false).size(), 0u);
  EXPECT_EQ(reg.List(true).size(), 1u);
}

TEST(OperationRegistryTest, CancelStopsARunningJob) {
  OperationRegistry reg;
  absl::Notification started;
  v1::Operation op = reg.Submit(
      {},
      [&](OpContext& ctx) -> absl::Status {
        started.Notify();
        while (!ctx.cancelled()) absl::SleepFor(absl::Milliseconds(1));
        return Refusal(absl::StatusCode::kCancelled, v1::REASON_CANCELLED,
                       "stopped");
      },
      nullptr);
  started.WaitForNotification();
  ASSERT_TRUE(reg.Cancel(op.id()).ok());
  auto done = reg.WaitFinal(op.id(), absl::Seconds(10));
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state(), v1::OPERATION_CANCELLED);
  EXPECT_EQ(done->error().code(), v1::REASON_CANCELLED);
  EXPECT_EQ(reg.Cancel(op.id()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(reg.Get("op-999").status().code(), absl::StatusCode::kNotFound);
}

TEST(OperationRegistryTest, FailedJobCarriesItsReason) {
  OperationRegistry reg;
  v1::Operation op = reg.Submit(
      {},
      [](OpContext&) {
        return Refusal(absl::StatusCode::kResourceExhausted,
                       v1::REASON_NO_SPACE, "full");
      },
      nullptr);
  auto done = reg.WaitFinal(op.id(), absl::Seconds(10));
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state(), v1::OPERATION_FAILED);
  EXPECT_EQ(done->error().code(), v1::REASON_NO_SPACE);
}

}  // namespace
}  // namespace vnas::control
