#include "server/nfs/block_pool.h"

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace vnas::nfs {
namespace {

constexpr size_t kKiB = 1024;
constexpr size_t kMiB = 1024 * kKiB;

TEST(BlockPool, SizesRoundUpToAQuarterOfAPowerOfTwo) {
  EXPECT_EQ(BlockPool::BlockSize(1), 64 * kKiB);
  EXPECT_EQ(BlockPool::BlockSize(64 * kKiB), 64 * kKiB);
  EXPECT_EQ(BlockPool::BlockSize(64 * kKiB + 1), 80 * kKiB);
  EXPECT_EQ(BlockPool::BlockSize(100 * kKiB), 112 * kKiB);
  EXPECT_EQ(BlockPool::BlockSize(kMiB), kMiB);
  // A 1 MiB READ reply with its header and alignment slack: 1.25 MiB.
  EXPECT_EQ(BlockPool::BlockSize(kMiB + 4096 + 200), kMiB + 256 * kKiB);
  EXPECT_EQ(BlockPool::BlockSize(4 * kMiB), 4 * kMiB);
  // Beyond the classes: whole pages.
  EXPECT_EQ(BlockPool::BlockSize(4 * kMiB + 1), 4 * kMiB + 4096);
  for (size_t n = 64 * kKiB; n <= 4 * kMiB; n += 4093) {
    const size_t b = BlockPool::BlockSize(n);
    ASSERT_GE(b, n);
    ASSERT_LE(b, n + n / 4) << n;
  }
}

TEST(BlockPool, GivenBackBlocksAreReusedNotMappedAgain) {
  BlockPool pool;
  void* a = pool.Get(kMiB + 300);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 4096, 0u);
  memset(a, 0x5a, kMiB + 300);  // the whole block is writable
  pool.Put(a, kMiB + 300);
  EXPECT_EQ(pool.cached_bytes(), BlockPool::BlockSize(kMiB + 300));
  // Any size of the same class gets the same block back.
  void* b = pool.Get(kMiB + 256 * kKiB);
  EXPECT_EQ(b, a);
  EXPECT_EQ(pool.maps(), 1u);
  EXPECT_EQ(pool.cached_bytes(), 0u);
  // Another class maps its own.
  void* c = pool.Get(kMiB);
  EXPECT_NE(c, a);
  EXPECT_EQ(pool.maps(), 2u);
  pool.Put(b, kMiB + 256 * kKiB);
  pool.Put(c, kMiB);
}

TEST(BlockPool, KeepsNoMoreThanItsCapacity) {
  BlockPool pool(3 * kMiB);
  std::vector<void*> blocks;
  for (int i = 0; i < 5; ++i) blocks.push_back(pool.Get(kMiB));
  for (void* b : blocks) pool.Put(b, kMiB);
  EXPECT_EQ(pool.cached_bytes(), 3 * kMiB);  // two were unmapped
  pool.SetCapacity(kMiB);
  EXPECT_EQ(pool.cached_bytes(), kMiB);
  pool.SetCapacity(0);
  EXPECT_EQ(pool.cached_bytes(), 0u);
  // With no capacity nothing is kept, but blocks still work.
  void* b = pool.Get(kMiB);
  ASSERT_NE(b, nullptr);
  pool.Put(b, kMiB);
  EXPECT_EQ(pool.cached_bytes(), 0u);
}

TEST(BlockPool, HugeBlocksAreMappedEachTime) {
  BlockPool pool;
  void* a = pool.Get(8 * kMiB);
  ASSERT_NE(a, nullptr);
  memset(a, 1, 8 * kMiB);
  pool.Put(a, 8 * kMiB);
  EXPECT_EQ(pool.cached_bytes(), 0u);
}

TEST(BlockPool, ConcurrentUsersNeverShareABlock) {
  BlockPool pool(16 * kMiB);
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool, &bad, t] {
      for (int i = 0; i < 2000; ++i) {
        const size_t n = 64 * kKiB + (i % 7) * 50 * kKiB;
        auto* p = static_cast<unsigned char*>(pool.Get(n));
        memset(p, t, n);
        for (size_t k = 0; k < n; k += 4096) bad[t] += p[k] != t;
        pool.Put(p, n);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(bad[t], 0) << t;
  EXPECT_LE(pool.cached_bytes(), 16 * kMiB);
}

}  // namespace
}  // namespace vnas::nfs
