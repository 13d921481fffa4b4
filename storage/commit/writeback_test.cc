// writeback_test.cc — hints reach the start function on the writeback
// thread, adjacent ones merged; a full queue drops hints instead of
// blocking; destruction drops what is pending and joins.
#include "storage/commit/writeback.h"

#include <atomic>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace vnas::storage {
namespace {

using Call = std::tuple<uint32_t, uint64_t, uint64_t>;

TEST(Writeback, MergesAdjacentHintsOfAMemberAndStartsThemOffTheCallersThread) {
  absl::Mutex mu;
  std::vector<Call> calls;
  std::vector<std::thread::id> threads;
  absl::Notification first_started, release;
  Writeback wb([&](uint32_t m, uint64_t off, uint64_t len) {
    {
      absl::MutexLock l(&mu);
      calls.emplace_back(m, off, len);
      threads.push_back(std::this_thread::get_id());
    }
    if (!first_started.HasBeenNotified()) {
      first_started.Notify();
      release.WaitForNotification();  // the rest queue up meanwhile
    }
  });
  wb.Hint(0, 0, 100);
  first_started.WaitForNotification();
  wb.Hint(1, 0, 1 << 20);
  wb.Hint(1, 1 << 20, 1 << 20);  // continues the previous: merged
  wb.Hint(2, 4096, 4096);
  wb.Hint(2, 0, 4096);  // not a continuation: its own range
  wb.Hint(3, 0, 0);     // empty: ignored
  release.Notify();
  absl::MutexLock l(&mu);
  mu.AwaitWithTimeout(absl::Condition(
                          +[](std::vector<Call>* c) { return c->size() >= 4; },
                          &calls),
                      absl::Seconds(30));
  EXPECT_EQ(calls, (std::vector<Call>{Call{0, 0, 100}, Call{1, 0, 2 << 20},
                                      Call{2, 4096, 4096}, Call{2, 0, 4096}}));
  for (const auto& t : threads) EXPECT_NE(t, std::this_thread::get_id());
}

TEST(Writeback, AFullQueueDropsHintsInsteadOfBlocking) {
  absl::Notification started, release;
  Writeback wb([&](uint32_t, uint64_t, uint64_t) {
    if (!started.HasBeenNotified()) {
      started.Notify();
      release.WaitForNotification();
    }
  });
  wb.Hint(0, 0, 1);
  started.WaitForNotification();  // the thread is stuck in the first start
  for (uint64_t i = 0; i < Writeback::kMaxPending + 10; ++i) {
    wb.Hint(0, 10 * i + 1000, 1);  // never adjacent
  }
  EXPECT_EQ(wb.dropped(), 10u);
  release.Notify();
}

// Stop (what the destructor does) while a start is running: the pending
// hints are dropped, Stop returns once that start does, and later hints
// are dropped too.
TEST(Writeback, StopDropsPendingHintsAndReturnsAfterTheRunningStart) {
  absl::Notification started, release;
  std::atomic<int> calls{0};
  Writeback wb([&](uint32_t, uint64_t, uint64_t) {
    ++calls;
    if (!started.HasBeenNotified()) {
      started.Notify();
      release.WaitForNotification();
    }
  });
  wb.Hint(0, 0, 1);
  started.WaitForNotification();  // the thread is inside the first start
  wb.Hint(0, 100, 1);
  wb.Hint(0, 200, 1);
  std::thread stopper([&] { wb.Stop(); });
  // Released only once Stop has dropped the pending hints.
  while (!wb.stopping()) absl::SleepFor(absl::Milliseconds(1));
  release.Notify();
  stopper.join();
  wb.Hint(0, 300, 1);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(wb.dropped(), 1u);  // the hint after Stop
}

}  // namespace
}  // namespace vnas::storage
