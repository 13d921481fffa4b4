#include "plugins/host/buffer_pool.h"

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <set>

#include "gtest/gtest.h"

namespace vnas::plugin {
namespace {

TEST(BufferPool, HandsOutEachBufferOnceAndRecyclesThem) {
  auto pool = BufferPool::Create(4, 1 << 20);
  ASSERT_TRUE(pool.ok()) << pool.status();
  BufferPool& p = **pool;
  EXPECT_EQ(p.count(), 4u);
  EXPECT_EQ(p.size(), 1u << 20);
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  std::set<char*> seen;
  char* bufs[4];
  for (char*& b : bufs) {
    b = p.Acquire();
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % page, 0u);
    EXPECT_TRUE(seen.insert(b).second);
    memset(b, 0xab, p.size());  // the whole buffer is usable
  }
  EXPECT_EQ(p.available(), 0u);
  EXPECT_EQ(p.Acquire(), nullptr);
  // Buffers do not overlap.
  for (char* b : bufs) EXPECT_EQ(static_cast<unsigned char>(b[p.size() - 1]), 0xab);
  p.Release(bufs[2]);
  EXPECT_EQ(p.available(), 1u);
  EXPECT_EQ(p.Acquire(), bufs[2]);  // recycled, not a new allocation
  for (char* b : bufs) p.Release(b);
  EXPECT_EQ(p.available(), 4u);
}

TEST(BufferPool, OddSizesAreRoundedToPages) {
  auto pool = BufferPool::Create(3, 5000);
  ASSERT_TRUE(pool.ok()) << pool.status();
  char* a = (*pool)->Acquire();
  char* b = (*pool)->Acquire();
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % page, 0u);
  EXPECT_GE(static_cast<size_t>(b > a ? b - a : a - b), 5000u);
  (*pool)->Release(a);
  (*pool)->Release(b);
}

TEST(BufferPool, RejectsBadSizes) {
  EXPECT_EQ(BufferPool::Create(0, 4096).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BufferPool::Create(4, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BufferPool::Create(SIZE_MAX / 2, 1 << 20).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BufferPool::Create(1, SIZE_MAX).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vnas::plugin
