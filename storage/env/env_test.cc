// env_test.cc — the File contract on every Env, and FaultEnv's power loss
// and error injection.
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "storage/base/status_util.h"
#include "storage/env/aligned_buffer.h"
#include "storage/env/chunk_cache.h"
#include "storage/env/env.h"
#include "storage/env/fault_env.h"
#include "storage/env/mem_env.h"

namespace vnas::storage {
namespace {

std::string TmpPath(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  return std::string(base ? base : "/tmp") + "/" + name + "-" +
         std::to_string(::getpid()) + "-" + std::to_string(std::rand());
}

struct EnvCase {
  const char* name;
  std::function<Env*()> make;  // leaked on purpose: tiny and test-only
};

class EnvContractTest : public ::testing::TestWithParam<EnvCase> {};

TEST_P(EnvContractTest, ReadWriteSizeAndHoles) {
  Env* env = GetParam().make();
  std::string path = TmpPath("f");
  EXPECT_EQ(ErrnoOf(env->OpenFile(path, false).status()), ENOENT);
  auto f = env->OpenFile(path, true);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(env->FileExists(path));
  ASSERT_TRUE((*f)->PWrite(10, "hello").ok());
  EXPECT_EQ(*(*f)->Size(), 15u);
  std::string buf(20, '?');
  ASSERT_TRUE((*f)->PRead(0, 20, buf.data()).ok());
  EXPECT_EQ(buf, std::string(10, '\0') + "hello" + std::string(5, '\0'));
  ASSERT_TRUE((*f)->Sync().ok());
  // Contents survive closing and reopening.
  f->reset();
  auto g = env->OpenFile(path, false);
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE((*g)->PRead(10, 5, buf.data()).ok());
  EXPECT_EQ(buf.substr(0, 5), "hello");
  auto fs = env->FilesystemSize(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp");
  ASSERT_TRUE(fs.ok()) << fs.status();
  EXPECT_GT(*fs, 0u);
}

TEST_P(EnvContractTest, VectoredReadAndWriteMatchTheirConcatenation) {
  Env* env = GetParam().make();
  auto f = env->OpenFile(TmpPath("v"), true);
  ASSERT_TRUE(f.ok()) << f.status();
  // Many parts (more than IOV_MAX, 1024) of odd sizes, one empty.
  std::vector<std::string> chunks;
  std::vector<absl::string_view> parts;
  std::string all;
  for (int i = 0; i < 1500; ++i) {
    chunks.push_back(std::string(i % 7 == 3 ? 0 : 1 + i % 13, 'a' + i % 26));
  }
  for (const std::string& c : chunks) {
    parts.push_back(c);
    all += c;
  }
  ASSERT_TRUE((*f)->PWriteV(100, parts).ok());
  std::string flat(all.size(), '?');
  ASSERT_TRUE((*f)->PRead(100, flat.size(), flat.data()).ok());
  EXPECT_EQ(flat, all);
  // Read back in parts, running 8 bytes past the end (zeros).
  std::string a(7, '?'), b(all.size() - 7, '?'), c(8, '?');
  ASSERT_TRUE((*f)->PReadV(100, {absl::MakeSpan(a), absl::MakeSpan(b),
                                 absl::MakeSpan(c)})
                  .ok());
  EXPECT_EQ(a + b, all);
  EXPECT_EQ(c, std::string(8, '\0'));
  // The durable form writes the same bytes.
  ASSERT_TRUE((*f)->PWriteVDurable(100, {"xy", "", "z"}).ok());
  std::string d(4, '?');
  ASSERT_TRUE((*f)->PRead(100, 4, d.data()).ok());
  EXPECT_EQ(d, "xyz" + all.substr(3, 1));
}

// Aligned durable writes (the POSIX Env sends them O_DIRECT) and buffered
// I/O of the same ranges see each other's bytes in either order, whatever
// the alignment of the caller's memory.
TEST_P(EnvContractTest, AlignedDurableWritesAndBufferedIoAreCoherent) {
  Env* env = GetParam().make();
  auto f = env->OpenFile(TmpPath("d"), true);
  ASSERT_TRUE(f.ok()) << f.status();
  const std::string base(64 << 10, 'b');
  ASSERT_TRUE((*f)->PWrite(0, base).ok());  // dirty in the page cache
  // Unaligned memory (offset 1 into a string), two parts of 4 KiB + 8 KiB.
  std::string mem = "?" + std::string(4096, 'x') + std::string(8192, 'y');
  absl::string_view v(mem);
  ASSERT_TRUE((*f)->PWriteVDurable(8192, {v.substr(1, 4096), v.substr(4097)})
                  .ok());
  std::string got(64 << 10, '?');
  ASSERT_TRUE((*f)->PRead(0, got.size(), got.data()).ok());
  std::string want = base;
  want.replace(8192, 4096, std::string(4096, 'x'));
  want.replace(12288, 8192, std::string(8192, 'y'));
  EXPECT_EQ(got, want);
  // A buffered overwrite after the durable one wins, and a second durable
  // write of a whole 64 KiB (one part) lands over both.
  ASSERT_TRUE((*f)->PWrite(12288, std::string(4096, 'z')).ok());
  ASSERT_TRUE((*f)->PRead(12288, 4096, got.data()).ok());
  EXPECT_EQ(got.substr(0, 4096), std::string(4096, 'z'));
  const std::string whole(64 << 10, 'w');
  ASSERT_TRUE((*f)->PWriteVDurable(64 << 10, {whole}).ok());
  EXPECT_EQ(*(*f)->Size(), 128u << 10);
  ASSERT_TRUE((*f)->PRead(60 << 10, 8192, got.data()).ok());
  EXPECT_EQ(got.substr(0, 8192),
            std::string(4096, 'b') + std::string(4096, 'w'));
  // Past the direct limit (1 MiB) and unaligned lengths take the buffered
  // path with the same result.
  const std::string big((1 << 20) + 4096, 'q');
  ASSERT_TRUE((*f)->PWriteVDurable(4096, {big}).ok());
  ASSERT_TRUE((*f)->PWriteVDurable(4095, {"odd"}).ok());
  std::string tail(8, '?');
  ASSERT_TRUE((*f)->PRead(4092, 8, tail.data()).ok());
  EXPECT_EQ(tail, "bbbodd" + std::string("qq"));
}

// Threads mixing durable writes (aligned and unaligned memory, one to three
// parts; the POSIX Env sends them O_DIRECT through per-thread bounce
// buffers) with buffered writes of the same file, each thread in its own
// 64 KiB region, while another thread reads everywhere: each thread reads
// back what it wrote at once, the reader never sees a word of another
// block, and the file ends (and reopens) as the last writes left it.
TEST_P(EnvContractTest, ConcurrentDurableAndBufferedWritesStayCoherent) {
  Env* env = GetParam().make();
  const std::string path = TmpPath("mix");
  auto opened = env->OpenFile(path, true);
  ASSERT_TRUE(opened.ok()) << opened.status();
  File* f = opened->get();
  constexpr uint64_t kBlock = 4096, kRegion = 32, kThreads = 4;
  constexpr uint64_t kBlocks = kRegion * kThreads;
  // Block b, version v: every 8-byte word is (b << 32) | v.
  auto fill = [](char* out, uint64_t b, uint64_t v) {
    const uint64_t w = (b << 32) | v;
    for (uint64_t at = 0; at < kBlock; at += 8) std::memcpy(out + at, &w, 8);
  };
  {
    std::string all(kBlocks * kBlock, '\0');
    for (uint64_t b = 0; b < kBlocks; ++b) fill(&all[b * kBlock], b, 0);
    ASSERT_TRUE(f->PWrite(0, all).ok());
  }
  std::vector<std::vector<uint64_t>> last(kThreads,
                                          std::vector<uint64_t>(kRegion, 0));
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (uint64_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<uint32_t>(t));
      // 16 blocks (64 KiB: the POSIX Env's direct threshold for buffered
      // writes) plus one byte of slack, so `data + 1` is unaligned.
      std::string mem((16 + 1) * kBlock + 1, '\0');
      void* raw = nullptr;
      ASSERT_EQ(::posix_memalign(&raw, kBlock, 16 * kBlock), 0);
      std::unique_ptr<char, decltype(&std::free)> aligned(
          static_cast<char*>(raw), &std::free);
      for (uint64_t v = 1; v <= 300; ++v) {
        const uint64_t first = rng() % kRegion;
        const uint64_t n = 1 + rng() % std::min<uint64_t>(16, kRegion - first);
        const int mode = static_cast<int>(rng() % 4);
        char* buf = mode == 0 ? aligned.get() : mem.data() + 1;
        for (uint64_t k = 0; k < n; ++k) {
          fill(buf + k * kBlock, t * kRegion + first + k, v);
        }
        const absl::string_view data(buf, n * kBlock);
        const uint64_t off = (t * kRegion + first) * kBlock;
        absl::Status s;
        if (mode <= 1) {  // durable: one part, or split in up to three
          std::vector<absl::string_view> parts;
          if (mode == 0 || n == 1) {
            parts.push_back(data);
          } else {
            const size_t cut = kBlock * (1 + rng() % (n - 1)) - 1;
            parts = {data.substr(0, cut), data.substr(cut, 5),
                     data.substr(cut + 5)};
          }
          s = f->PWriteVDurable(off, parts);
        } else if (mode == 2) {
          s = f->PWriteV(off, {data});
        } else {
          s = f->PWrite(off, data);
        }
        if (!s.ok()) {
          ADD_FAILURE() << s;
          bad.fetch_add(1);
          return;
        }
        for (uint64_t k = 0; k < n; ++k) last[t][first + k] = v;
        std::string back(n * kBlock, '?');
        if (!f->PRead(off, back.size(), back.data()).ok() ||
            back != std::string(data)) {
          if (bad.fetch_add(1) < 5) {
            ADD_FAILURE() << "thread " << t << " version " << v << " mode "
                          << mode << ": its own write does not read back";
          }
        }
      }
    });
  }
  std::thread reader([&] {
    std::mt19937 rng(99);
    std::string buf(16 * kBlock, '?');
    while (!done.load()) {
      // 8 blocks (buffered) or 16 (direct when none of them is cached).
      const uint64_t len = (rng() % 2 ? 8 : 16) * kBlock;
      const uint64_t first = rng() % (kBlocks - 16);
      if (!f->PRead(first * kBlock, len, buf.data()).ok()) {
        bad.fetch_add(1);
        return;
      }
      for (uint64_t at = 0; at < len; at += 8) {
        uint64_t w;
        std::memcpy(&w, buf.data() + at, 8);
        if ((w >> 32) != first + at / kBlock && bad.fetch_add(1) < 5) {
          ADD_FAILURE() << "block " << first + at / kBlock
                        << " holds a word of block " << (w >> 32);
        }
      }
    }
  });
  for (auto& t : threads) t.join();
  done.store(true);
  reader.join();
  ASSERT_EQ(bad.load(), 0);
  std::string want(kBlocks * kBlock, '\0');
  for (uint64_t b = 0; b < kBlocks; ++b) {
    fill(&want[b * kBlock], b, last[b / kRegion][b % kRegion]);
  }
  std::string got(want.size(), '?');
  ASSERT_TRUE(f->PRead(0, got.size(), got.data()).ok());
  EXPECT_TRUE(got == want);
  ASSERT_TRUE(f->Sync().ok());
  opened->reset();
  auto again = env->OpenFile(path, false);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE((*again)->PRead(0, got.size(), got.data()).ok());
  EXPECT_TRUE(got == want) << "after reopening";
}

INSTANTIATE_TEST_SUITE_P(
    AllEnvs, EnvContractTest,
    ::testing::Values(EnvCase{"posix", [] { return Env::Posix(); }},
                      EnvCase{"posix_write_behind",
                              [] {
                                PosixEnvOptions o;
                                o.direct_bulk_io = true;
                                o.write_behind_bytes = 2 << 20;
                                return Env::NewPosix(o).release();
                              }},
                      EnvCase{"posix_chunk_cache",
                              [] {
                                PosixEnvOptions o;
                                o.direct_bulk_io = true;
                                o.write_behind_bytes = 2 << 20;
                                o.cache_bytes = 1 << 20;  // 16 chunks
                                o.cache_bulk = true;
                                return Env::NewPosix(o).release();
                              }},
                      EnvCase{"mem", [] { return NewMemEnv().release(); }},
                      EnvCase{"fault", [] {
                                return new FaultEnv(NewMemEnv().release());
                              }}),
    [](const auto& info) { return std::string(info.param.name); });

// The POSIX Env's page-cache policy, seen through cachestat(2): bulk
// aligned writes and cold bulk reads bypass the page cache, small or cached
// ones use it, and every path reads back the same bytes. Skips the cache
// checks where the kernel has no cachestat or the file system no O_DIRECT.
class PosixCachePolicyTest : public ::testing::Test {
 protected:
  void Open(bool direct_bulk_io, size_t write_behind_bytes = 0,
            size_t cache_bytes = 0, bool cache_bulk = false) {
    PosixEnvOptions options;
    options.direct_bulk_io = direct_bulk_io;
    options.write_behind_bytes = write_behind_bytes;
    options.cache_bytes = cache_bytes;
    options.cache_bulk = cache_bulk;
    env_ = Env::NewPosix(options);
    path_ = TmpPath("policy");
    auto f = env_->OpenFile(path_, true);
    ASSERT_TRUE(f.ok()) << f.status();
    file_ = std::move(*f);
    int probe = ::open(path_.c_str(), O_RDONLY | O_DIRECT);
    if (probe >= 0) ::close(probe);
    fd_ = ::open(path_.c_str(), O_RDONLY);
    ASSERT_GE(fd_, 0);
    direct_ = probe >= 0;
  }
  void TearDown() override {
    file_.reset();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Pages of [off, off + len) in the page cache, or -1 without cachestat.
  int64_t Cached(uint64_t off, uint64_t len) {
    struct {
      uint64_t off, len;
    } range{off, len};
    uint64_t cs[5] = {};
    if (::syscall(451 /* cachestat */, fd_, &range, cs, 0) != 0) return -1;
    return static_cast<int64_t>(cs[0]);
  }
  // Bytes where every 8-byte word is its own file offset + seed.
  static std::string Pattern(uint64_t off, size_t len, uint64_t seed) {
    std::string s(len, '\0');
    for (size_t at = 0; at + 8 <= len; at += 8) {
      const uint64_t w = off + at + seed;
      std::memcpy(&s[at], &w, 8);
    }
    return s;
  }
  bool CacheChecks() { return direct_ && Cached(0, 4096) >= 0; }
  // Checks PReadVCached of the 4 KiB at `off` right after `evict` left
  // that page out of the page cache (as cachestat tells; eviction is best
  // effort, so up to 5 tries): it fails EAGAIN, or it answers `want` and
  // the page is in the page cache afterwards. RWF_NOWAIT may start
  // readahead, and on a fast device (this VM's, with the host's cache)
  // that readahead can land before the kernel checks the page again: about
  // one run in ten saw every try answered. What it must never do is read
  // the device some other way (the page would then still be absent).
  void ExpectAnswersOnlyFromMemory(uint64_t off, const std::string& want,
                                   const std::function<void()>& evict) {
    for (int i = 0; i < 5; ++i) {
      evict();
      if (Cached(off, 4096) != 0) continue;
      std::string page(4096, '?');
      const absl::Status s = file_->PReadVCached(off, {absl::MakeSpan(page)});
      if (!s.ok()) {
        EXPECT_EQ(ErrnoOf(s), EAGAIN) << s;
        return;
      }
      EXPECT_EQ(page, want);
      EXPECT_GT(Cached(off, 4096), 0) << "answered, yet not from the page cache";
    }
  }
  // The lent bytes, end to end.
  static std::string Joined(const LentBytes& l) {
    std::string s;
    for (absl::string_view p : l.pieces) s.append(p.data(), p.size());
    return s;
  }
  // Random reads and writes of every kind from several threads, each on
  // its own stretch of the file, checked against a model.
  void RunModel();
  // Writes `bytes` at off through a descriptor of the test's own, behind
  // the Env's back; `evict`: then makes them durable and drops the file
  // from the page cache.
  void WriteBehindTheEnv(uint64_t off, const std::string& bytes,
                         bool evict = false) {
    const int raw = ::open(path_.c_str(), O_WRONLY);
    ASSERT_GE(raw, 0);
    ASSERT_EQ(::pwrite(raw, bytes.data(), bytes.size(), static_cast<off_t>(off)),
              static_cast<ssize_t>(bytes.size()));
    if (evict) {
      ASSERT_EQ(::fdatasync(raw), 0);
      ASSERT_EQ(::posix_fadvise(raw, 0, 0, POSIX_FADV_DONTNEED), 0);
    }
    ::close(raw);
  }

  std::unique_ptr<Env> env_;
  std::string path_;
  std::unique_ptr<File> file_;
  int fd_ = -1;
  bool direct_ = false;
};

TEST_F(PosixCachePolicyTest, BulkWritesAndColdBulkReadsBypassTheCache) {
  ASSERT_NO_FATAL_FAILURE(Open(/*direct_bulk_io=*/true));
  // 2.5 MiB from unaligned memory (through the bounce buffer in pieces)
  // and 1 MiB from aligned memory, both unstable.
  constexpr uint64_t kMiB = 1 << 20;
  std::string mem = "?" + Pattern(0, 5 * kMiB / 2, 1);
  ASSERT_TRUE(file_->PWriteV(0, {absl::string_view(mem).substr(1)}).ok());
  void* raw = nullptr;
  ASSERT_EQ(::posix_memalign(&raw, 4096, kMiB), 0);
  std::unique_ptr<char, decltype(&std::free)> aligned(static_cast<char*>(raw),
                                                      &std::free);
  const std::string second = Pattern(3 * kMiB, kMiB, 2);
  std::memcpy(aligned.get(), second.data(), kMiB);
  ASSERT_TRUE(file_->PWriteV(3 * kMiB, {absl::string_view(aligned.get(), kMiB)})
                  .ok());
  if (CacheChecks()) {
    EXPECT_EQ(Cached(0, 4 * kMiB), 0) << "bulk writes went through the cache";
  }
  // What the file says of itself agrees (the store sends no writeback hint
  // for such writes): bulk aligned ranges leave no dirty pages, small or
  // unaligned ones may.
  if (direct_) {
    EXPECT_FALSE(file_->LeavesDirtyPages(0, kMiB));
    EXPECT_FALSE(file_->LeavesDirtyPages(3 * kMiB, 64 << 10));
  }
  EXPECT_TRUE(file_->LeavesDirtyPages(0, 4096));
  EXPECT_TRUE(file_->LeavesDirtyPages(512, kMiB));
  // Cold bulk reads (three parts, one unaligned) return the bytes and leave
  // the cache empty.
  std::string a(4096, '?'), b(kMiB, '?'), c(kMiB - 4096, '?');
  std::string odd(kMiB + 1, '?');
  ASSERT_TRUE(file_->PReadV(kMiB, {absl::MakeSpan(a), absl::MakeSpan(b),
                                   absl::MakeSpan(&odd[1], c.size())})
                  .ok());
  EXPECT_TRUE(a + b + odd.substr(1, c.size()) ==
              Pattern(kMiB, 3 * kMiB / 2, 1) + std::string(kMiB / 2, '\0'));
  if (CacheChecks()) {
    EXPECT_EQ(Cached(0, 4 * kMiB), 0);
  }
  // A small buffered write is cached; a bulk read over it takes the cached
  // path and sees it.
  ASSERT_TRUE(file_->PWrite(kMiB + 8192, "small").ok());
  if (CacheChecks()) {
    EXPECT_GT(Cached(kMiB, kMiB), 0);
  }
  std::string back(kMiB, '?');
  ASSERT_TRUE(file_->PRead(kMiB, kMiB, back.data()).ok());
  std::string want = Pattern(kMiB, kMiB, 1);
  want.replace(8192, 5, "small");
  EXPECT_TRUE(back == want);
  // A durable bulk write over the cached page replaces it (the kernel drops
  // the page around the direct write) and is read back.
  const std::string third = Pattern(kMiB, kMiB, 3);
  ASSERT_TRUE(file_->PWriteVDurable(kMiB, {third}).ok());
  ASSERT_TRUE(file_->PRead(kMiB, kMiB, back.data()).ok());
  EXPECT_TRUE(back == third);
  if (CacheChecks()) {
    EXPECT_EQ(Cached(0, 4 * kMiB), 0);
  }
}

TEST_F(PosixCachePolicyTest, SequentialBulkReadsAreLentFromThePrefetch) {
  ASSERT_NO_FATAL_FAILURE(Open(/*direct_bulk_io=*/true));
  if (!direct_) GTEST_SKIP() << "no O_DIRECT on this file system";
  constexpr size_t kRead = 256 << 10;
  constexpr int kReads = 12;
  ASSERT_TRUE(file_->PWriteVDurable(0, {Pattern(0, kReads * kRead, 4)}).ok());
  // A sequential reader asks for a loan first and reads when refused, as
  // the store does; it holds every loan it gets.
  std::vector<std::shared_ptr<const void>> keeps;
  int lent = 0;
  for (int i = 0; i < kReads; ++i) {
    const uint64_t off = static_cast<uint64_t>(i) * kRead;
    LentBytes loan;
    if (file_->PReadLent(off, kRead, /*may_block=*/true, &loan)) {
      ASSERT_NE(loan.keep, nullptr);
      EXPECT_TRUE(Joined(loan) == Pattern(off, kRead, 4)) << i;
      keeps.push_back(std::move(loan.keep));
      ++lent;
    } else {
      std::string got(kRead, '?');
      ASSERT_TRUE(file_->PRead(off, kRead, got.data()).ok());
      EXPECT_TRUE(got == Pattern(off, kRead, 4)) << i;
    }
    if (i == 6) {
      // The next stretch is rewritten after it was (being) prefetched: it
      // is not lent, and the read that follows sees the new bytes.
      LentBytes l;
      ASSERT_TRUE(file_->PWriteVDurable(off + kRead, {Pattern(off + kRead, kRead, 5)}).ok());
      EXPECT_FALSE(file_->PReadLent(off + kRead, kRead, true, &l));
      std::string got(kRead, '?');
      ASSERT_TRUE(file_->PRead(off + kRead, kRead, got.data()).ok());
      EXPECT_TRUE(got == Pattern(off + kRead, kRead, 5));
      ++i;
    }
  }
  // The first two reads start the stream and the write breaks it for two.
  EXPECT_GE(lent, kReads - 6);
  // Small or unaligned ranges are never lent.
  LentBytes l;
  EXPECT_FALSE(file_->PReadLent(4096, 8192, true, &l));
  EXPECT_FALSE(file_->PReadLent(100, kRead, true, &l));
}

// With cache_bulk, what a sequential reader was lent from a prefetch is
// kept in the chunk cache as well: later reads of it come from memory.
TEST_F(PosixCachePolicyTest, LentPrefetchesAreKeptInTheChunkCache) {
  ASSERT_NO_FATAL_FAILURE(Open(/*direct_bulk_io=*/true, 0, 8 << 20,
                               /*cache_bulk=*/true));
  if (!direct_) GTEST_SKIP() << "no O_DIRECT on this file system";
  constexpr size_t kRead = 256 << 10;
  constexpr int kReads = 12;
  const std::string want = Pattern(0, kReads * kRead, 6);
  // Put there behind the Env's back, so nothing of it is cached.
  ASSERT_NO_FATAL_FAILURE(WriteBehindTheEnv(0, want, /*evict=*/true));
  // Cached bytes, once they reach `bytes` (waited for up to 2 s).
  auto cached_once = [this](uint64_t bytes) {
    uint64_t now = 0;
    for (int i = 0; i < 200; ++i) {
      now = env_->data_cache_status()->cached_bytes;
      if (now >= bytes) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return now;
  };
  std::vector<uint64_t> lent;
  for (int i = 0; i < kReads; ++i) {
    const uint64_t off = static_cast<uint64_t>(i) * kRead;
    LentBytes loan;
    if (file_->PReadLent(off, kRead, /*may_block=*/true, &loan)) {
      EXPECT_TRUE(Joined(loan) == want.substr(off, kRead)) << i;
      lent.push_back(off);
    } else {
      std::string got(kRead, '?');
      ASSERT_TRUE(file_->PRead(off, kRead, got.data()).ok());
      EXPECT_TRUE(got == want.substr(off, kRead)) << i;
    }
    // Each prefetch lands (in the cache) before the next read, so from
    // the third read on the reads are lent from the cache.
    if (i >= 1 && i + 1 < kReads) cached_once((i + 2) * kRead);
  }
  // The first two reads start the stream; every later one is lent: a read
  // served from the cache keeps the stream going, so the stretch after it
  // is read ahead too.
  EXPECT_EQ(lent.size(), static_cast<size_t>(kReads - 2));
  EXPECT_GE(env_->data_cache_status()->cached_bytes, kReads * kRead);
  // Changed behind the Env's back: the lent stretches still read as they
  // were, from memory.
  ASSERT_NO_FATAL_FAILURE(WriteBehindTheEnv(0, std::string(want.size(), 'X')));
  for (uint64_t off : lent) {
    std::string got(kRead, '?');
    ASSERT_TRUE(file_->PReadV(off, {absl::MakeSpan(got)}).ok());
    EXPECT_TRUE(got == want.substr(off, kRead)) << "lent at " << off;
  }
}

TEST_F(PosixCachePolicyTest, ColdBulkReadAcrossTheEndOfTheFileReadsZeros) {
  ASSERT_NO_FATAL_FAILURE(Open(/*direct_bulk_io=*/true));
  // 64 KiB + 100 bytes: the last block is partial.
  const std::string data = Pattern(0, (64 << 10) + 100, 7);
  ASSERT_TRUE(file_->PWrite(0, data).ok());
  ASSERT_TRUE(file_->Sync().ok());
  ASSERT_EQ(::posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED), 0);
  if (CacheChecks()) {
    ASSERT_EQ(Cached(0, 1 << 20), 0);
  }
  std::string got((128 << 10) + 1, '?');
  ASSERT_TRUE(file_->PReadV(0, {absl::MakeSpan(&got[1], 128 << 10)}).ok());
  EXPECT_TRUE(got.substr(1) ==
              data + std::string((128 << 10) - data.size(), '\0'));
  EXPECT_EQ(*file_->Size(), data.size());
}

TEST_F(PosixCachePolicyTest, ByDefaultBulkIoIsCached) {
  ASSERT_NO_FATAL_FAILURE(Open(/*direct_bulk_io=*/false));
  constexpr uint64_t kMiB = 1 << 20;
  EXPECT_TRUE(file_->LeavesDirtyPages(0, kMiB));
  const std::string data = Pattern(0, kMiB, 5);
  ASSERT_TRUE(file_->PWriteV(0, {data}).ok());
  if (CacheChecks()) {
    EXPECT_EQ(Cached(0, kMiB), 256) << "not cached";
  }
  std::string back(kMiB + 1, '?');
  ASSERT_TRUE(file_->PReadV(0, {absl::MakeSpan(&back[1], kMiB)}).ok());
  EXPECT_TRUE(back.substr(1) == data);
  // A cold bulk read fills the cache (kernel readahead).
  ASSERT_TRUE(file_->Sync().ok());
  ASSERT_EQ(::posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED), 0);
  if (CacheChecks()) {
    ASSERT_EQ(Cached(0, kMiB), 0);
  }
  ASSERT_TRUE(file_->PReadV(0, {absl::MakeSpan(&back[1], kMiB)}).ok());
  EXPECT_TRUE(back.substr(1) == data);
  if (CacheChecks()) {
    EXPECT_EQ(Cached(0, kMiB), 256);
  }
  // A durable aligned write still goes around the cache (and drops the
  // cached pages it overwrites; with large folios, maybe more).
  const std::string stable = Pattern(0, 64 << 10, 6);
  ASSERT_TRUE(file_->PWriteVDurable(0, {stable}).ok());
  if (CacheChecks()) {
    EXPECT_EQ(Cached(0, 64 << 10), 0);
  }
  ASSERT_TRUE(file_->PRead(0, kMiB, &back[1]).ok());
  EXPECT_TRUE(back.substr(1) == stable + data.substr(64 << 10));
}

// PReadVCached answers from the page cache only: EAGAIN for what is not in
// memory, and (bulk policy) without starting readahead into the cache.
TEST_F(PosixCachePolicyTest, CachedReadsAnswerOnlyFromMemory) {
  for (bool direct : {false, true}) {
    SCOPED_TRACE(direct ? "direct_bulk_io" : "default");
    ASSERT_NO_FATAL_FAILURE(Open(direct));
    constexpr uint64_t kMiB = 1 << 20;
    const std::string data = Pattern(0, kMiB, 9);
    ASSERT_TRUE(file_->PWriteVDurable(0, {data.substr(0, 4096)}).ok());
    ASSERT_TRUE(file_->PWrite(4096, data.substr(4096, 4096)).ok());
    std::string back(kMiB, '?');
    // 4 KiB written direct (not cached), the next 4 KiB buffered (cached).
    absl::Status s =
        file_->PReadVCached(4096, {absl::MakeSpan(&back[0], 4096)});
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(back.substr(0, 4096), data.substr(4096, 4096));
    if (CacheChecks()) {
      // (Dropped explicitly: the kernel may have brought the page back in
      // around the read above.)
      ExpectAnswersOnlyFromMemory(0, data.substr(0, 4096), [&] {
        ASSERT_EQ(::posix_fadvise(fd_, 0, 4096, POSIX_FADV_DONTNEED), 0);
      });
    }
    // The whole MiB, evicted: EAGAIN; the blocking read answers, and with
    // the default policy the cache then has it.
    ASSERT_TRUE(file_->PWriteV(0, {data}).ok());
    ASSERT_TRUE(file_->Sync().ok());
    ASSERT_EQ(::posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED), 0);
    // (Unless every page stayed despite the eviction, as above; -1: no
    // cachestat here to tell, and the check is made.)
    if (Cached(0, kMiB) != static_cast<int64_t>(kMiB / 4096)) {
      std::string whole(kMiB, '?');
      const absl::Status w = file_->PReadVCached(0, {absl::MakeSpan(whole)});
      if (direct || !w.ok()) {
        // (The bulk policy never asks the kernel, so never reads ahead.)
        EXPECT_EQ(ErrnoOf(w), EAGAIN) << w;
      } else {
        // RWF_NOWAIT's readahead landed in time: see
        // ExpectAnswersOnlyFromMemory.
        EXPECT_TRUE(whole == data);
        EXPECT_NE(Cached(0, kMiB), 0);
      }
    }
    if (CacheChecks() && direct) {
      EXPECT_EQ(Cached(0, kMiB), 0);
    }
    ASSERT_TRUE(file_->PReadV(0, {absl::MakeSpan(back)}).ok());
    EXPECT_TRUE(back == data);
    if (CacheChecks() && !direct) {
      std::string again(kMiB, '?');
      s = file_->PReadVCached(0, {absl::MakeSpan(again)});
      ASSERT_TRUE(s.ok()) << s;
      EXPECT_TRUE(again == data);
    }
    TearDown();
  }
}

// Write-behind: unstable bulk writes return before the device has them, yet
// every later read, overlapping write and Size() sees them in order, and
// Sync() puts them in the file (read here through another descriptor).
TEST_F(PosixCachePolicyTest, WriteBehindIsCoherentAndSyncPutsItInTheFile) {
  ASSERT_NO_FATAL_FAILURE(Open(/*direct_bulk_io=*/true, /*write_behind_bytes=*/3 << 20));
  constexpr uint64_t kMiB = 1 << 20;
  std::string want = Pattern(0, 4 * kMiB, 1);
  // 4 MiB from unaligned memory: more than the buffers hold, so the call
  // waits for room part of the way.
  std::string mem = "?" + want;
  ASSERT_TRUE(file_->PWriteV(0, {absl::string_view(mem).substr(1)}).ok());
  std::string back(4 * kMiB, '?');
  ASSERT_TRUE(file_->PReadV(0, {absl::MakeSpan(back)}).ok());
  EXPECT_TRUE(back == want);
  for (int round = 0; round < 20; ++round) {
    // Queued bulk writes, then overlapping buffered, durable and bulk
    // writes at once: the last one wins everywhere.
    const std::string a = Pattern(0, kMiB, 100 + round);
    ASSERT_TRUE(file_->PWriteV(0, {a}).ok());
    want.replace(0, kMiB, a);
    ASSERT_TRUE(file_->PWrite(4096 + 10, "patched").ok());
    want.replace(4096 + 10, 7, "patched");
    const std::string b = Pattern(kMiB, kMiB, 200 + round);
    ASSERT_TRUE(file_->PWriteV(kMiB, {b}).ok());
    want.replace(kMiB, kMiB, b);
    const std::string c = Pattern(kMiB + 8192, 4096, 300 + round);
    ASSERT_TRUE(file_->PWriteVDurable(kMiB + 8192, {c}).ok());
    want.replace(kMiB + 8192, 4096, c);
    const std::string d = Pattern(2 * kMiB, 256 << 10, 400 + round);
    ASSERT_TRUE(file_->PWriteV(2 * kMiB, {d}).ok());
    ASSERT_TRUE(file_->PWriteV(2 * kMiB + (64 << 10), {d.substr(0, 64 << 10)}).ok());
    want.replace(2 * kMiB, d.size(), d);
    want.replace(2 * kMiB + (64 << 10), 64 << 10, d.substr(0, 64 << 10));
    ASSERT_TRUE(file_->PReadV(0, {absl::MakeSpan(back)}).ok());
    ASSERT_TRUE(back == want) << "round " << round;
  }
  // Past the end: Size() counts a queued extension.
  const std::string tail = Pattern(8 * kMiB, kMiB, 9);
  ASSERT_TRUE(file_->PWriteV(8 * kMiB, {tail}).ok());
  EXPECT_EQ(*file_->Size(), 9 * kMiB);
  ASSERT_TRUE(file_->Sync().ok());
  std::string raw(4 * kMiB, '?');
  ASSERT_EQ(::pread(fd_, raw.data(), raw.size(), 0), static_cast<ssize_t>(raw.size()));
  EXPECT_TRUE(raw == want);
  ASSERT_EQ(::pread(fd_, raw.data(), kMiB, 8 * kMiB), static_cast<ssize_t>(kMiB));
  EXPECT_TRUE(raw.substr(0, kMiB) == tail);
  // PWriteVNow is never left behind: the file has it when the call returns.
  for (int round = 0; round < 10; ++round) {
    const std::string now = Pattern(4 * kMiB, 2 * kMiB, 500 + round);
    ASSERT_TRUE(file_->PWriteVNow(4 * kMiB, {now}).ok());
    ASSERT_EQ(::pread(fd_, raw.data(), now.size(), 4 * kMiB),
              static_cast<ssize_t>(now.size()));
    ASSERT_TRUE(raw.substr(0, now.size()) == now) << round;
  }
}

// Re-reads come from the chunk cache: bytes the test puts into the file
// behind the Env's back are not seen until a write through it drops them.
TEST_F(PosixCachePolicyTest, TheChunkCacheServesReReadsOfWholeChunks) {
  ASSERT_NO_FATAL_FAILURE(Open(/*direct_bulk_io=*/true, 2 << 20, 4 << 20,
                               /*cache_bulk=*/true));
  if (!direct_) GTEST_SKIP() << "no O_DIRECT here";
  constexpr uint64_t kMiB = 1 << 20;
  const std::string want = Pattern(0, kMiB, 7);
  ASSERT_TRUE(file_->PWriteV(0, {want}).ok());
  ASSERT_TRUE(file_->Sync().ok());
  const std::string behind(kMiB, 'X');
  ASSERT_NO_FATAL_FAILURE(WriteBehindTheEnv(0, behind));
  std::string got(kMiB, '?');
  ASSERT_TRUE(file_->PReadV(0, {absl::MakeSpan(got)}).ok());
  EXPECT_TRUE(got == want) << "a bulk re-read is served from memory";
  std::string small(4096, '?');
  ASSERT_TRUE(file_->PReadVCached(8192, {absl::MakeSpan(small)}).ok());
  EXPECT_TRUE(small == want.substr(8192, 4096)) << "small ones too, at once";
  // A small write through the Env drops its chunk: that chunk is read from
  // the file again (and shows what the test put there), the others are not.
  ASSERT_TRUE(file_->PWrite(100, "new").ok());
  std::string rest(kMiB - (64 << 10), '?');
  ASSERT_TRUE(file_->PReadV(64 << 10, {absl::MakeSpan(rest)}).ok());
  EXPECT_TRUE(rest == want.substr(64 << 10));
  std::string first(64 << 10, '?');
  ASSERT_TRUE(file_->PReadV(0, {absl::MakeSpan(first)}).ok());
  EXPECT_EQ(first.substr(0, 100), std::string(100, 'X'));
  EXPECT_EQ(first.substr(100, 3), "new");
  // A cold bulk read fills the cache (with cache_bulk): read what is behind,
  // change it behind again, and read the first version back from memory.
  const std::string cold = Pattern(2 * kMiB, kMiB, 9);
  ASSERT_NO_FATAL_FAILURE(WriteBehindTheEnv(2 * kMiB, cold, /*evict=*/true));
  if (CacheChecks()) {  // the read goes direct only where nothing is cached
    ASSERT_TRUE(file_->PReadV(2 * kMiB, {absl::MakeSpan(got)}).ok());
    EXPECT_TRUE(got == cold);
    ASSERT_NO_FATAL_FAILURE(WriteBehindTheEnv(2 * kMiB, behind));
    ASSERT_TRUE(file_->PReadV(2 * kMiB, {absl::MakeSpan(got)}).ok());
    EXPECT_TRUE(got == cold) << "the cold read was kept";
  }
}

// A bulk re-read of cached chunks is lent from the cache, chunk by chunk,
// and the loan keeps the bytes while the file is rewritten.
TEST_F(PosixCachePolicyTest, BulkReReadsAreLentFromTheChunkCache) {
  ASSERT_NO_FATAL_FAILURE(Open(/*direct_bulk_io=*/true, 2 << 20, 4 << 20,
                               /*cache_bulk=*/true));
  if (!direct_) GTEST_SKIP() << "no O_DIRECT here";
  constexpr uint64_t kMiB = 1 << 20;
  const std::string want = Pattern(0, kMiB, 8);
  ASSERT_TRUE(file_->PWriteV(0, {want}).ok());
  ASSERT_TRUE(file_->Sync().ok());
  LentBytes loan;
  ASSERT_TRUE(file_->PReadLent(4096, kMiB - 8192, /*may_block=*/false, &loan));
  EXPECT_EQ(loan.pieces.size(), kMiB / (64 << 10)) << "a piece per chunk";
  EXPECT_TRUE(Joined(loan) == want.substr(4096, kMiB - 8192));
  ASSERT_TRUE(file_->PWriteV(0, {Pattern(0, kMiB, 9)}).ok());
  ASSERT_TRUE(file_->Sync().ok());
  EXPECT_TRUE(Joined(loan) == want.substr(4096, kMiB - 8192)) << "held as lent";
  std::string got(kMiB, '?');
  ASSERT_TRUE(file_->PReadV(0, {absl::MakeSpan(got)}).ok());
  EXPECT_TRUE(got == Pattern(0, kMiB, 9));
  // Small reads are copied, not lent; and nothing uncached is lent.
  LentBytes small;
  EXPECT_FALSE(file_->PReadLent(0, 4096, false, &small));
  EXPECT_FALSE(file_->PReadLent(2 * kMiB, kMiB, false, &small));
}

TEST_F(PosixCachePolicyTest, AHeldWriteIsCopiedIntoTheCacheOnceWritten) {
  ASSERT_NO_FATAL_FAILURE(Open(/*direct_bulk_io=*/true, 4 << 20, 8 << 20,
                               /*cache_bulk=*/true));
  if (!direct_) GTEST_SKIP() << "no O_DIRECT here";
  constexpr uint64_t kMiB = 1 << 20;
  const std::string want = Pattern(0, 2 * kMiB, 3);
  AlignedBuffer b = AllocateAligned(2 * kMiB);
  ASSERT_TRUE(b);
  std::memcpy(b.get(), want.data(), want.size());
  std::shared_ptr<char> keep(std::move(b));
  ASSERT_TRUE(file_->PWriteVOwned(0, {absl::string_view(keep.get(), kMiB),
                                      absl::string_view(keep.get() + kMiB, kMiB)},
                                  keep)
                  .ok());
  ASSERT_TRUE(file_->Sync().ok());
  EXPECT_EQ(keep.use_count(), 1) << "written, and let go";
  const std::optional<Env::DataCacheStatus> st = env_->data_cache_status();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->cached_bytes, 2 * kMiB) << "the write-behind copied it in";
  // Served from memory: what is put in the file behind the Env's back
  // is not seen, until a write through the Env drops its chunk.
  ASSERT_NO_FATAL_FAILURE(WriteBehindTheEnv(0, std::string(2 * kMiB, 'X')));
  std::string got(2 * kMiB, '?');
  ASSERT_TRUE(file_->PReadV(0, {absl::MakeSpan(got)}).ok());
  EXPECT_TRUE(got == want);
  // (A read is served from memory only when all of its chunks are there.)
  ASSERT_TRUE(file_->PWrite(kMiB + 5, "new").ok());
  std::string head(kMiB, '?'), chunk(64 << 10, '?');
  ASSERT_TRUE(file_->PReadV(0, {absl::MakeSpan(head)}).ok());
  EXPECT_TRUE(head == want.substr(0, kMiB));
  ASSERT_TRUE(file_->PReadV(kMiB, {absl::MakeSpan(chunk)}).ok());
  EXPECT_EQ(chunk.substr(0, 5), std::string(5, 'X'));
  EXPECT_EQ(chunk.substr(5, 3), "new");
}

// A write of bytes received into the Env's WriteMemory reaches the file
// and the cache without a copy: later reads are lent from that memory.
TEST_F(PosixCachePolicyTest, AWriteFromWriteMemoryIsCachedWhereItWasReceived) {
  ASSERT_NO_FATAL_FAILURE(Open(/*direct_bulk_io=*/true, 4 << 20, 16 << 20,
                               /*cache_bulk=*/true));
  if (!direct_) GTEST_SKIP() << "no O_DIRECT here";
  constexpr uint64_t kMiB = 1 << 20;
  const std::string want = Pattern(0, kMiB, 5);
  std::shared_ptr<char> memory = env_->WriteMemory(136, 136 + kMiB);
  ASSERT_NE(memory, nullptr);
  char* data = memory.get() + 136;
  std::memcpy(data, want.data(), want.size());
  ASSERT_TRUE(file_->PWriteVOwned(kMiB, {absl::string_view(data, kMiB)}, memory).ok());
  ASSERT_TRUE(file_->Sync().ok());
  memory.reset();
  const std::optional<Env::DataCacheStatus> st = env_->data_cache_status();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->filled_in_place, kMiB / (64 << 10));
  EXPECT_EQ(st->cached_bytes, kMiB);
  // On the device as written, and re-reads are lent from the memory the
  // bytes were received in.
  std::string on_disk(kMiB, '?');
  ASSERT_EQ(::pread(fd_, &on_disk[0], kMiB, kMiB), static_cast<ssize_t>(kMiB));
  EXPECT_TRUE(on_disk == want);
  LentBytes loan;
  ASSERT_TRUE(file_->PReadLent(kMiB, kMiB, /*may_block=*/false, &loan));
  ASSERT_FALSE(loan.pieces.empty());
  EXPECT_EQ(loan.pieces[0].data(), data);
  EXPECT_TRUE(Joined(loan) == want);
  // Without bulk caching there is no copy to save, and no memory is given.
  auto plain = Env::NewPosix(PosixEnvOptions{});
  EXPECT_EQ(plain->WriteMemory(136, 136 + kMiB), nullptr);
}

// A small read that misses the page cache reads its whole chunk into the
// chunk cache, direct.
TEST_F(PosixCachePolicyTest, ASmallReadThatMissesFillsItsWholeChunk) {
  ASSERT_NO_FATAL_FAILURE(Open(/*direct_bulk_io=*/true, 2 << 20, 4 << 20));
  if (!CacheChecks()) GTEST_SKIP() << "no O_DIRECT or cachestat here";
  constexpr uint64_t kMiB = 1 << 20;
  const std::string want = Pattern(0, kMiB, 3);
  ASSERT_TRUE(file_->PWriteV(0, {want}).ok());
  ASSERT_TRUE(file_->Sync().ok());
  // Without cache_bulk the bulk write was not kept: a change behind the
  // Env's back shows.
  ASSERT_NO_FATAL_FAILURE(
      WriteBehindTheEnv(0, std::string(64 << 10, 'X'), /*evict=*/true));
  std::string small(4096, '?');
  ExpectAnswersOnlyFromMemory(8192, std::string(4096, 'X'), [&] {
    WriteBehindTheEnv(0, std::string(64 << 10, 'X'), /*evict=*/true);
  });
  const int64_t paged = Cached(0, 64 << 10);  // RWF_NOWAIT may read ahead
  ASSERT_TRUE(file_->PReadV(8192, {absl::MakeSpan(small)}).ok());
  EXPECT_EQ(small, std::string(4096, 'X'));
  EXPECT_EQ(Cached(0, 64 << 10), paged) << "read direct, not into the page cache";
  // That read brought in the whole chunk: the rest of it is served from
  // memory, on the caller's thread, even after another change behind.
  ASSERT_NO_FATAL_FAILURE(WriteBehindTheEnv(0, std::string(64 << 10, 'Y')));
  ASSERT_TRUE(file_->PReadVCached(60 << 10, {absl::MakeSpan(small)}).ok());
  EXPECT_EQ(small, std::string(4096, 'X'));
  // A write through the Env drops it.
  ASSERT_TRUE(file_->PWrite(0, "z").ok());
  ASSERT_TRUE(file_->PReadV(60 << 10, {absl::MakeSpan(small)}).ok());
  EXPECT_EQ(small, std::string(4096, 'Y'));
  // What the admin sees: one chunk brought in (and another by the last
  // read), one read served from it.
  std::optional<Env::DataCacheStatus> dc = env_->data_cache_status();
  ASSERT_TRUE(dc.has_value());
  EXPECT_EQ(dc->capacity_bytes, 4u << 20);
  EXPECT_EQ(dc->filled, 2u);
  EXPECT_EQ(dc->hits, 1u);
  EXPECT_EQ(dc->cached_bytes, 64u << 10);
  EXPECT_EQ(dc->evicted, 0u);
  // Filled only by small reads: its pages are touched as it fills.
  EXPECT_LE(dc->resident_bytes, 2u * (64 << 10));
  EXPECT_FALSE(Env::Posix()->data_cache_status().has_value());
}

TEST_F(PosixCachePolicyTest, ABulkCacheIsCommittedBeforeTheEnvServes) {
  // Bulk writes fill it at stream rate: all of its memory is faulted in
  // when the Env is made, none later while clients are served.
  // (Larger than the ahead-of-use prefault, ChunkCache::kDefaultAheadBytes.)
  constexpr size_t kBytes = ChunkCache::kDefaultAheadBytes + (64 << 20);
  ASSERT_NO_FATAL_FAILURE(Open(true, 0, kBytes, /*cache_bulk=*/true));
  std::optional<Env::DataCacheStatus> dc = env_->data_cache_status();
  ASSERT_TRUE(dc.has_value());
  EXPECT_EQ(dc->resident_bytes, kBytes);
  EXPECT_EQ(dc->cached_bytes, 0u);
}

// Random reads and writes of every kind through a small chunk cache (so it
// evicts all the time), from several threads, each on its own stretch of
// the file: every read returns what the thread last wrote there.
TEST_F(PosixCachePolicyTest, TheChunkCacheNeverServesOldBytes) {
  ASSERT_NO_FATAL_FAILURE(Open(/*direct_bulk_io=*/true, 1 << 20, 1 << 20));
  RunModel();
}

TEST_F(PosixCachePolicyTest, TheChunkCacheWithBulkFillsNeverServesOldBytes) {
  ASSERT_NO_FATAL_FAILURE(Open(/*direct_bulk_io=*/true, 1 << 20, 1 << 20,
                               /*cache_bulk=*/true));
  RunModel();
}

void PosixCachePolicyTest::RunModel() {
  constexpr uint64_t kStretch = 2 << 20;
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(1000 + t);
      const uint64_t base = t * kStretch;
      std::string model(kStretch, '\0');
      ASSERT_TRUE(file_->PWriteV(base, {model}).ok());
      for (int op = 0; op < 400 && failures.load() == 0; ++op) {
        const bool bulk = rng() % 2 == 0;
        const uint64_t len = bulk ? (1 + rng() % 8) * (64 << 10) : 1 + rng() % 9000;
        const uint64_t off = bulk ? (rng() % (kStretch / 4096)) * 4096 % (kStretch - len)
                                  : rng() % (kStretch - len);
        if (rng() % 2 == 0) {
          const std::string data = Pattern(base + off, len, rng());
          absl::Status s;
          switch (rng() % 4) {
            case 0: s = file_->PWriteV(base + off, {data}); break;
            case 1: s = file_->PWriteVNow(base + off, {data}); break;
            case 2:
              s = (len % 4096 == 0 && off % 4096 == 0)
                      ? file_->PWriteVDurable(base + off, {data})
                      : file_->PWrite(base + off, data);
              break;
            default: {
              // Page-aligned bytes are held by the write-behind (and, with
              // cache_bulk, copied into the cache once written); others
              // are copied at once.
              std::shared_ptr<char> keep;
              if (len % 4096 == 0) {
                AlignedBuffer b = AllocateAligned(len);
                ASSERT_TRUE(b);
                keep = std::shared_ptr<char>(std::move(b));
              } else {
                keep = std::shared_ptr<char>(new char[len], std::default_delete<char[]>());
              }
              std::memcpy(keep.get(), data.data(), len);
              s = file_->PWriteVOwned(base + off, {absl::string_view(keep.get(), len)},
                                      keep);
            }
          }
          ASSERT_TRUE(s.ok()) << s;
          model.replace(off, len, data);
        } else {
          std::string got(len, '?');
          absl::Status s = file_->PReadVCached(base + off, {absl::MakeSpan(got)});
          if (!s.ok()) s = file_->PReadV(base + off, {absl::MakeSpan(got)});
          ASSERT_TRUE(s.ok()) << s;
          if (got != model.substr(off, len)) {
            ++failures;
            ADD_FAILURE() << "thread " << t << " op " << op << " read " << len
                          << " at " << off << ": old bytes";
          }
        }
        if (rng() % 50 == 0) {
          ASSERT_TRUE(file_->Sync().ok());
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

class FaultEnvTest : public ::testing::Test {
 protected:
  std::unique_ptr<Env> mem_ = NewMemEnv();
  FaultEnv env_{mem_.get()};
  std::string Read(File* f, uint64_t off, size_t n) {
    std::string b(n, '?');
    EXPECT_TRUE(f->PRead(off, n, b.data()).ok());
    return b;
  }
};

TEST_F(FaultEnvTest, PowerLossDropsUnsyncedWritesOnly) {
  auto f = *env_.OpenFile("/m", true);
  ASSERT_TRUE(f->PWrite(0, "durable").ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->PWrite(0, "LOST").ok());
  ASSERT_TRUE(f->PWrite(7, "more").ok());
  env_.CrashAfter(1);
  EXPECT_FALSE(f->PWrite(0, "x").ok());  // the power is off
  EXPECT_TRUE(env_.crashed());
  EXPECT_FALSE(f->Sync().ok());
  f.reset();
  ASSERT_TRUE(env_.Reboot().ok());
  auto g = *env_.OpenFile("/m", false);
  EXPECT_EQ(Read(g.get(), 0, 11), std::string("durable") + std::string(4, '\0'));
  EXPECT_FALSE(env_.crashed());
  EXPECT_TRUE(g->PWrite(0, "ok").ok());
}

TEST_F(FaultEnvTest, PowerLossKeepsADurableWriteAndDropsTheRest) {
  auto f = *env_.OpenFile("/d", true);
  ASSERT_TRUE(f->PWrite(0, std::string(12, 'a')).ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->PWrite(0, std::string(12, 'b')).ok());  // unsynced
  ASSERT_TRUE(f->PWriteVDurable(4, {"cc", "cc"}).ok());  // durable
  ASSERT_TRUE(f->PWrite(6, "dd").ok());                  // unsynced
  env_.CrashAfter(1);
  EXPECT_FALSE(f->PWrite(0, "x").ok());
  f.reset();
  ASSERT_TRUE(env_.Reboot().ok());
  auto g = *env_.OpenFile("/d", false);
  EXPECT_EQ(Read(g.get(), 0, 12), "aaaaccccaaaa");
}

TEST_F(FaultEnvTest, InjectedErrors) {
  auto f = *env_.OpenFile("/m", true);
  env_.FailWriteAfter(2, ENOSPC);
  EXPECT_TRUE(f->PWrite(0, "a").ok());
  absl::Status s = f->PWrite(0, "b");
  EXPECT_EQ(ErrnoOf(s), ENOSPC);
  EXPECT_TRUE(HasRetryableTag(s));
  EXPECT_TRUE(f->PWrite(0, "c").ok());
  env_.ShortWriteAfter(1);
  EXPECT_EQ(ErrnoOf(f->PWrite(0, "12345678")), EIO);
  EXPECT_EQ(Read(f.get(), 0, 8), std::string("1234") + std::string(4, '\0'));
  env_.FailSyncAfter(1);
  EXPECT_FALSE(f->Sync().ok());
  EXPECT_TRUE(f->Sync().ok());
  EXPECT_GT(env_.io_events(), 5u);
}

}  // namespace
}  // namespace vnas::storage
