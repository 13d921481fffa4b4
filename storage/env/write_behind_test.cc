#include "storage/env/write_behind.h"

#include <atomic>
#include <cstdlib>
#include <functional>
#include <memory>
#include <chrono>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace vnas::storage {
namespace {

constexpr size_t kMiB = 1 << 20;

// A "device": a byte array the writer fills, optionally held at a gate.
struct Disk {
  absl::Mutex mu;
  std::string bytes = std::string(16 * kMiB, '\0');
  bool open = true;  // writes may proceed
  int writes = 0;
  absl::Status fail;  // returned (once) by the next write
  WriteBehind::Writer writer = [this](uint64_t off, const char* buf, size_t len) {
    absl::MutexLock l(&mu);
    mu.Await(absl::Condition(&open));
    if (!fail.ok()) {
      absl::Status s = fail;
      fail = absl::OkStatus();
      return s;
    }
    bytes.replace(off, len, buf, len);
    ++writes;
    return absl::OkStatus();
  };
  void Gate(bool o) {
    absl::MutexLock l(&mu);
    open = o;
  }
  std::string At(uint64_t off, size_t len) {
    absl::MutexLock l(&mu);
    return bytes.substr(off, len);
  }
};

// `bytes` of page-aligned memory filled with `fill`, in shared ownership
// (what a caller hands write-behind as `keep`); null when memory is short.
std::shared_ptr<char> SharedAligned(size_t bytes, char fill) {
  AlignedBuffer b = AllocateAligned(bytes);
  if (!b) return nullptr;
  memset(b.get(), fill, bytes);
  return std::shared_ptr<char>(std::move(b));
}

// 3 MiB of page-aligned bytes of `fill` in shared ownership (null when
// memory is short), and a view of them.
struct Held {
  std::shared_ptr<char> mem;
  absl::string_view all;
};
Held HeldBytes(char fill) {
  Held h;
  h.mem = SharedAligned(3 * kMiB, fill);
  if (h.mem) h.all = absl::string_view(h.mem.get(), 3 * kMiB);
  return h;
}

// With the device held and the queue full, `submit` (on a thread) must not
// return until the device is let go; then everything lands.
void ExpectSubmitWaitsForRoom(Disk& d, WriteBehind& wb, size_t limit,
                              const std::function<void()>& submit) {
  absl::Notification returned;
  std::thread t([&] {
    submit();
    returned.Notify();
  });
  EXPECT_FALSE(returned.WaitForNotificationWithTimeout(absl::Milliseconds(30)));
  EXPECT_LE(wb.queued_bytes(), limit);
  d.Gate(true);
  t.join();
  EXPECT_TRUE(wb.Flush(&d).ok());
}

TEST(WriteBehind, SubmitReturnsBeforeTheDeviceAndFlushWaitsForIt) {
  Disk d;
  WriteBehind wb(2, 8 * kMiB);
  d.Gate(false);
  const std::string data(3 * kMiB + 4096, 'a');
  ASSERT_TRUE(wb.Submit(&d, &d.writer, 4096, {data}));  // the device is held
  EXPECT_TRUE(wb.Busy(&d, 4096, 1));
  EXPECT_TRUE(wb.Busy(&d, 3 * kMiB + 4096, 4096));
  EXPECT_FALSE(wb.Busy(&d, 0, 4096));
  EXPECT_FALSE(wb.Busy(&d, 3 * kMiB + 8192, 4096));
  EXPECT_FALSE(wb.Busy(&wb, 4096, 1));  // another owner
  EXPECT_EQ(wb.queued_bytes(), data.size());
  std::atomic<bool> flushed{false};
  std::thread t([&] {
    EXPECT_TRUE(wb.Flush(&d).ok());
    flushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(flushed.load());
  d.Gate(true);
  t.join();
  EXPECT_EQ(d.At(4096, data.size()), data);
  EXPECT_EQ(d.writes, 4);  // pieces of at most kPieceBytes
  EXPECT_EQ(wb.queued_bytes(), 0u);
}

TEST(WriteBehind, OverlappingWritesLandInSubmissionOrder) {
  Disk d;
  WriteBehind wb(4, 16 * kMiB);
  for (int round = 0; round < 50; ++round) {
    d.Gate(false);
    // Three writes over the same range, queued while the device is held;
    // four threads may not reorder them.
    for (char c : {'x', 'y', 'z'}) {
      const std::string data(64 << 10, static_cast<char>(c + round % 2));
      ASSERT_TRUE(wb.Submit(&d, &d.writer, 8192, {data.substr(0, 1000), data.substr(1000)}));
    }
    d.Gate(true);
    wb.Wait(&d, 8192, 64 << 10);
    EXPECT_EQ(d.At(8192, 64 << 10), std::string(64 << 10, static_cast<char>('z' + round % 2)));
  }
}

TEST(WriteBehind, SubmitWaitsForRoomAndNeverHoldsMoreThanItsBuffers) {
  Disk d;
  WriteBehind wb(1, 2 * kMiB);  // two buffers
  d.Gate(false);
  const std::string data(kMiB, 'q');
  ASSERT_TRUE(wb.Submit(&d, &d.writer, 0, {data}));
  ASSERT_TRUE(wb.Submit(&d, &d.writer, kMiB, {data}));
  ExpectSubmitWaitsForRoom(d, wb, 2 * kMiB, [&] {
    EXPECT_TRUE(wb.Submit(&d, &d.writer, 2 * kMiB, {data}));
  });
  EXPECT_EQ(d.At(0, 3 * kMiB), std::string(3 * kMiB, 'q'));
}

TEST(WriteBehind, AFailedBackgroundWriteIsReportedOnceByFlush) {
  Disk d;
  WriteBehind wb(1, 4 * kMiB);
  {
    absl::MutexLock l(&d.mu);
    d.fail = absl::DataLossError("device gone");
  }
  ASSERT_TRUE(wb.Submit(&d, &d.writer, 0, {std::string(4096, 'e')}));
  absl::Status s = wb.Flush(&d);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_TRUE(wb.Flush(&d).ok());  // reported once, like fsync
  // Later writes work again.
  ASSERT_TRUE(wb.Submit(&d, &d.writer, 0, {std::string(4096, 'f')}));
  EXPECT_TRUE(wb.Flush(&d).ok());
  EXPECT_EQ(d.At(0, 4096), std::string(4096, 'f'));
}

TEST(WriteBehind, AlignedBytesHandedOverAreHeldNotCopied) {
  Disk d;
  WriteBehind wb(2, 4 * kMiB);
  const Held h = HeldBytes('k');
  ASSERT_NE(h.mem, nullptr);
  d.Gate(false);
  // Two runs: 2 MiB contiguous in memory, and 1 MiB elsewhere.
  ASSERT_TRUE(wb.Submit(&d, &d.writer, 0,
                        {h.all.substr(0, kMiB), h.all.substr(kMiB, kMiB), h.all.substr(2 * kMiB)},
                        h.mem));
  EXPECT_GT(h.mem.use_count(), 1) << "the queued writes hold the bytes";
  EXPECT_EQ(wb.queued_bytes(), 3 * kMiB);
  d.Gate(true);
  ASSERT_TRUE(wb.Flush(&d).ok());
  EXPECT_EQ(h.mem.use_count(), 1) << "and let go once written";
  EXPECT_EQ(d.At(0, 3 * kMiB), std::string(3 * kMiB, 'k'));
  // Unaligned memory is copied: nothing holds `keep` after Submit.
  d.Gate(false);
  ASSERT_TRUE(wb.Submit(&d, &d.writer, 0, {h.all.substr(1, 4096)}, h.mem));
  EXPECT_EQ(h.mem.use_count(), 1);
  d.Gate(true);
  ASSERT_TRUE(wb.Flush(&d).ok());
}

TEST(WriteBehind, HeldBytesCountAgainstTheLimit) {
  Disk d;
  WriteBehind wb(1, 2 * kMiB);
  const Held h = HeldBytes('h');
  ASSERT_NE(h.mem, nullptr);
  d.Gate(false);
  ASSERT_TRUE(wb.Submit(&d, &d.writer, 0, {h.all.substr(0, 2 * kMiB)}, h.mem));
  ExpectSubmitWaitsForRoom(d, wb, 2 * kMiB, [&] {
    EXPECT_TRUE(wb.Submit(&d, &d.writer, 2 * kMiB, {h.all.substr(2 * kMiB)}, h.mem));
  });
  EXPECT_EQ(d.At(0, 3 * kMiB), std::string(3 * kMiB, 'h'));
}

TEST(WriteBehind, DoneRunsOnceEveryPieceIsWrittenAndBeforeFlushReturns) {
  Disk d;
  WriteBehind wb(3, 8 * kMiB);
  const Held h = HeldBytes('d');
  ASSERT_NE(h.mem, nullptr);
  for (const bool held : {true, false}) {
    SCOPED_TRACE(held ? "held" : "copied");
    std::atomic<int> calls{0};
    std::atomic<bool> seen_ok{false}, complete{false};
    d.Gate(false);
    const std::string copy(3 * kMiB, 'c');
    ASSERT_TRUE(wb.Submit(
        &d, &d.writer, kMiB, {held ? h.all : absl::string_view(copy)},
        held ? h.mem : nullptr, [&](bool ok) {
          // Every piece is on the device, and held bytes are still held.
          complete = d.At(kMiB, 3 * kMiB) == std::string(3 * kMiB, held ? 'd' : 'c') &&
                     (!held || h.mem.use_count() > 1);
          seen_ok = ok;
          ++calls;
        }));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(calls.load(), 0) << "the device is held";
    d.Gate(true);
    ASSERT_TRUE(wb.Flush(&d).ok());
    EXPECT_EQ(calls.load(), 1);
    EXPECT_TRUE(seen_ok.load());
    EXPECT_TRUE(complete.load());
  }
  // One failed piece: done is told.
  {
    absl::MutexLock l(&d.mu);
    d.fail = absl::DataLossError("device gone");
  }
  std::atomic<int> calls{0};
  std::atomic<bool> seen_ok{true};
  ASSERT_TRUE(wb.Submit(&d, &d.writer, 0, {h.all}, h.mem, [&](bool ok) {
    seen_ok = ok;
    ++calls;
  }));
  EXPECT_TRUE(absl::IsDataLoss(wb.Flush(&d)));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_FALSE(seen_ok.load());
  EXPECT_EQ(h.mem.use_count(), 1);
}

TEST(WriteBehind, DestructorAndForgetWriteOutWhatIsQueued) {
  Disk d;
  {
    WriteBehind wb(2, 4 * kMiB);
    d.Gate(false);
    ASSERT_TRUE(wb.Submit(&d, &d.writer, 0, {std::string(kMiB, 'm')}));
    std::thread opener([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      d.Gate(true);
    });
    wb.Forget(&d);
    EXPECT_EQ(d.At(0, kMiB), std::string(kMiB, 'm'));
    opener.join();
    ASSERT_TRUE(wb.Submit(&d, &d.writer, kMiB, {std::string(kMiB, 'n')}));
  }  // the destructor writes the second one
  EXPECT_EQ(d.At(kMiB, kMiB), std::string(kMiB, 'n'));
}

}  // namespace
}  // namespace vnas::storage
