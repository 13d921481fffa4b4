// direct_readahead_test.cc — sequential streams are read ahead; writes are
// never hidden by prefetched bytes.
#include "storage/env/direct_readahead.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace vnas::storage {
namespace {

// A "file" in memory whose reads the test can count and hold.
class FakeFile {
 public:
  explicit FakeFile(size_t size) : data_(size, '\0') {
    // Differs between any two 4 KiB blocks of the first MiB.
    for (size_t i = 0; i < size; ++i) {
      data_[i] = static_cast<char>(i * 7 + 1 + i / 4096);
    }
  }
  absl::Status Read(uint64_t off, size_t len, char* buf) {
    {
      absl::MutexLock l(&mu_);
      ++reads_;
      while (!open_ && off >= hold_from_) released_.Wait(&mu_);
    }
    absl::MutexLock l(&mu_);
    for (size_t i = 0; i < len; ++i) {
      buf[i] = off + i < data_.size() ? data_[off + i] : '\0';
    }
    return absl::OkStatus();
  }
  void Write(uint64_t off, const std::string& bytes) {
    absl::MutexLock l(&mu_);
    data_.replace(off, bytes.size(), bytes);
  }
  std::string Bytes(uint64_t off, size_t len) {
    absl::MutexLock l(&mu_);
    return data_.substr(off, len);
  }
  int reads() {
    absl::MutexLock l(&mu_);
    return reads_;
  }
  // Holds reads that start at or after `from` inside Read until released.
  void Hold(bool hold, uint64_t from = 0) {
    absl::MutexLock l(&mu_);
    open_ = !hold;
    hold_from_ = from;
    released_.SignalAll();
  }

 private:
  absl::Mutex mu_;
  std::string data_;
  int reads_ = 0;
  bool open_ = true;
  uint64_t hold_from_ = 0;
  absl::CondVar released_;
};

// Waits until `pred` holds (prefetches run on a background thread).
template <typename Pred>
bool Eventually(Pred pred) {
  for (int i = 0; i < 2000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

// One client read through the readahead, as the POSIX Env does it.
std::string ReadThrough(DirectReadahead& ra, FakeFile& f, uint64_t off,
                        size_t len, bool* served) {
  std::string out(len, '?');
  std::vector<absl::Span<char>> parts{absl::MakeSpan(&out[0], len / 2),
                                      absl::MakeSpan(&out[len / 2], len - len / 2)};
  *served = ra.TryServe(off, parts, len);
  if (!*served) {
    EXPECT_TRUE(f.Read(off, len, &out[0]).ok());
  }
  ra.OnRead(off, len);
  return out;
}

TEST(DirectReadahead, SequentialReadsAreServedFromThePrefetch) {
  constexpr size_t kLen = 64 << 10;
  FakeFile f(16 * kLen);
  DirectReadahead ra([&](uint64_t o, size_t n, char* b) { return f.Read(o, n, b); });
  bool served = false;
  int from_memory = 0;
  for (uint64_t i = 0; i < 16; ++i) {
    std::string got = ReadThrough(ra, f, i * kLen, kLen, &served);
    EXPECT_EQ(got, f.Bytes(i * kLen, kLen)) << i;
    from_memory += served;
    // Let the prefetch of the next stretch land.
    if (i >= 1) {
      ASSERT_TRUE(Eventually([&] {
        std::string probe(kLen, '?');
        return ra.TryServe((i + 1) * kLen, {absl::MakeSpan(probe)}, kLen) ||
               i + 1 >= 16;
      }));
    }
  }
  // The first two reads start the stream; the rest come from memory.
  EXPECT_GE(from_memory, 13);
  // Random reads start no prefetch (once the last prefetch, past the end,
  // has run).
  ra.WaitIdle();
  const int before = f.reads();
  ReadThrough(ra, f, 3 * kLen + 4096, 8192, &served);
  ReadThrough(ra, f, 9 * kLen, 8192, &served);
  ra.WaitIdle();
  EXPECT_LE(f.reads() - before, 2);
}

TEST(DirectReadahead, LentBytesStayIntactWhileLaterPrefetchesLand) {
  // A sequential reader borrows every prefetched stretch and holds all of
  // them: each must keep its bytes while the stream prefetches on (into
  // other buffers), and once returned, buffers are reused.
  constexpr size_t kLen = 64 << 10;
  constexpr int kRounds = 12;
  FakeFile f((kRounds + 8) * kLen);
  DirectReadahead ra([&](uint64_t o, size_t n, char* b) { return f.Read(o, n, b); });
  ra.OnRead(0, kLen);
  ra.OnRead(kLen, kLen);  // continues the stream: prefetches [2, 3) * kLen
  struct Loan {
    uint64_t off;
    const char* data;
    std::shared_ptr<const void> keep;
  };
  std::vector<Loan> loans;
  for (int i = 2; i < 2 + kRounds; ++i) {
    ra.WaitIdle();
    Loan l{static_cast<uint64_t>(i) * kLen, nullptr, nullptr};
    ASSERT_TRUE(ra.TryLend(l.off, kLen, /*wait=*/true, &l.data, &l.keep)) << i;
    ASSERT_NE(l.keep, nullptr);
    ra.OnRead(l.off, kLen);  // prefetches the next stretch
    loans.push_back(std::move(l));
  }
  ra.WaitIdle();
  for (const Loan& l : loans) {
    EXPECT_TRUE(std::string(l.data, kLen) == f.Bytes(l.off, kLen)) << l.off;
  }
  // A part of a prefetched stretch is lent too, at its place in it.
  const uint64_t next = static_cast<uint64_t>(2 + kRounds) * kLen;
  const char* part = nullptr;
  std::shared_ptr<const void> keep;
  ASSERT_TRUE(ra.TryLend(next + 4096, 8192, true, &part, &keep));
  EXPECT_TRUE(std::string(part, 8192) == f.Bytes(next + 4096, 8192));
  // A write voids what was prefetched before it: nothing more is lent.
  ra.BeginWrite();
  ra.EndWrite();
  EXPECT_FALSE(ra.TryLend(next, kLen, true, &part, &keep));
  // Returned buffers go round again; the loans made before stay valid.
  loans.clear();
  for (int i = 0; i < 4; ++i) {
    const uint64_t at = next + static_cast<uint64_t>(i) * kLen;
    ra.WaitIdle();
    if (i > 0) {  // the first read after the write was the device's
      const char* d = nullptr;
      std::shared_ptr<const void> k;
      ASSERT_TRUE(ra.TryLend(at, kLen, true, &d, &k)) << i;
      EXPECT_TRUE(std::string(d, kLen) == f.Bytes(at, kLen)) << i;
    }
    ra.OnRead(at, kLen);
  }
}

TEST(DirectReadahead, AReadOfARangeBeingPrefetchedWaitsForIt) {
  constexpr size_t kLen = 64 << 10;
  FakeFile f(8 * kLen);
  DirectReadahead ra([&](uint64_t o, size_t n, char* b) { return f.Read(o, n, b); });
  f.Hold(true);
  ra.OnRead(0, kLen);
  ra.OnRead(kLen, kLen);  // prefetches [2k, 3k), held in its read
  ASSERT_TRUE(Eventually([&] { return f.reads() == 1; }));
  std::string out(kLen, '?');
  // Without wait: not there yet.
  EXPECT_FALSE(ra.TryServe(2 * kLen, {absl::MakeSpan(out)}, kLen));
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    f.Hold(false);
  });
  EXPECT_TRUE(ra.TryServe(2 * kLen, {absl::MakeSpan(out)}, kLen, /*wait=*/true));
  release.join();
  EXPECT_EQ(out, f.Bytes(2 * kLen, kLen));
  EXPECT_EQ(f.reads(), 1) << "the bytes were read once";
}

TEST(DirectReadahead, NoPrefetchWhenTheCallerSawOtherReadsInFlight) {
  constexpr size_t kLen = 64 << 10;
  FakeFile f(8 * kLen);
  DirectReadahead ra([&](uint64_t o, size_t n, char* b) { return f.Read(o, n, b); });
  for (uint64_t i = 0; i < 4; ++i) ra.OnRead(i * kLen, kLen, /*may_prefetch=*/false);
  ra.WaitIdle();
  EXPECT_EQ(f.reads(), 0);
  // The stream was still followed: the next lone read prefetches at once.
  ra.OnRead(4 * kLen, kLen);
  EXPECT_TRUE(Eventually([&] { return f.reads() == 1; }));
}

TEST(DirectReadahead, NoPrefetchOfWhatAReadAlreadyAskedTheDeviceFor) {
  // A client with reads in flight: its read of the third stretch went to
  // the device before the read of the second ended. Prefetching the third
  // would read it twice.
  constexpr size_t kLen = 64 << 10;
  FakeFile f(8 * kLen);
  DirectReadahead ra([&](uint64_t o, size_t n, char* b) { return f.Read(o, n, b); });
  ra.OnRead(0, kLen);
  ra.OnDeviceRead(2 * kLen + 4096, 4096);  // any overlap counts
  ra.OnRead(kLen, kLen);
  ra.WaitIdle();
  EXPECT_EQ(f.reads(), 0);
  // The stream goes on: the next stretch, which nobody asked for, is read
  // ahead.
  ra.OnRead(2 * kLen, kLen);
  EXPECT_TRUE(Eventually([&] { return f.reads() == 1; }));
  bool served = false;
  std::string got = ReadThrough(ra, f, 3 * kLen, kLen, &served);
  EXPECT_TRUE(served);
  EXPECT_TRUE(got == f.Bytes(3 * kLen, kLen));
}

TEST(DirectReadahead, AWriteDuringOrAfterThePrefetchIsNeverHidden) {
  constexpr size_t kLen = 64 << 10;
  FakeFile f(8 * kLen);
  DirectReadahead ra([&](uint64_t o, size_t n, char* b) { return f.Read(o, n, b); });
  bool served = false;
  ReadThrough(ra, f, 0, kLen, &served);
  // A write after the prefetch landed: the prefetch is not served.
  ReadThrough(ra, f, kLen, kLen, &served);  // prefetches [2k, 3k)
  ASSERT_TRUE(Eventually([&] { return f.reads() >= 3; }));
  ra.WaitIdle();  // the prefetch has landed
  ra.BeginWrite();
  f.Write(2 * kLen + 100, "NEW");
  ra.EndWrite();
  // A write while the prefetch is in flight (held inside its read): the
  // prefetched bytes are dropped, and the read sees the write. The hold is
  // set before the read that schedules the prefetch, so it cannot land first.
  f.Hold(true, /*from=*/3 * kLen);
  const int before = f.reads();
  std::string got = ReadThrough(ra, f, 2 * kLen, kLen, &served);
  EXPECT_FALSE(served);
  EXPECT_EQ(got.substr(100, 3), "NEW");
  // The direct read of [2k, 3k), then the prefetch of [3k, 4k).
  ASSERT_TRUE(Eventually([&] { return f.reads() >= before + 2; }));
  ra.BeginWrite();
  std::thread writer([&] {
    f.Write(3 * kLen + 5, "LATE");
    ra.EndWrite();
  });
  writer.join();
  f.Hold(false);
  ra.WaitIdle();
  got = ReadThrough(ra, f, 3 * kLen, kLen, &served);
  EXPECT_FALSE(served);
  EXPECT_EQ(got.substr(5, 4), "LATE");
}

TEST(DirectReadahead, DestructionWaitsForAPrefetchInFlight) {
  constexpr size_t kLen = 64 << 10;
  FakeFile f(8 * kLen);
  std::atomic<bool> returned{false};
  std::thread release;
  {
    DirectReadahead ra([&](uint64_t o, size_t n, char* b) {
      absl::Status s = f.Read(o, n, b);
      returned = true;
      return s;
    });
    f.Hold(true);
    ra.OnRead(0, kLen);
    ra.OnRead(kLen, kLen);  // schedules [2k, 3k), which blocks in Read
    ASSERT_TRUE(Eventually([&] { return f.reads() >= 1; }));
    release = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      f.Hold(false);
    });
  }  // the destructor joins the thread, which finishes its read first
  EXPECT_TRUE(returned.load());
  release.join();
}

}  // namespace
}  // namespace vnas::storage
