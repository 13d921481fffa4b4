#include "plugins/host/nfs_copy.h"

#include <malloc.h>

#include <cstdlib>

#include "gtest/gtest.h"
#include "plugins/host/nfs_url.h"

namespace vnas::plugin {
namespace {

// glibc marks a chunk it served with mmap() by bit 1 of the size word just
// before the pointer (malloc/malloc.c, IS_MMAPPED). Used only to observe the
// process's mmap threshold without changing it.
bool ServedByMmap(void* p) {
  return (reinterpret_cast<const size_t*>(p)[-1] & 2) != 0;
}

// Regression: the first CopyFile used to call mallopt(M_MMAP_THRESHOLD, 32
// MiB) for the whole host process, so afterwards a 16 MiB malloc came from
// the heap instead of mmap. A library must leave the allocator alone.
TEST(CopyFile, LeavesTheHostAllocatorSettingsAlone) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan replaces malloc";
#else
  constexpr size_t kBig = 16 << 20;  // above glibc's default and dynamic
                                     // threshold while nothing that big was freed
  void* before = malloc(kBig);
  ASSERT_NE(before, nullptr);
  const bool mmapped_before = ServedByMmap(before);
  // Not freed here: freeing a mmapped 16 MiB chunk raises glibc's dynamic
  // threshold, which would mask the check below.

  // Nothing listens on port 1: the copy fails fast, after the point where
  // the old code tuned malloc.
  NfsLocation src, dst;
  src.datastore.server = "127.0.0.1";
  src.datastore.export_path = "/vnas";
  src.datastore.nfsport = 1;
  src.datastore.mountport = 1;
  src.path = "a";
  dst = src;
  dst.path = "b";
  CopyOptions opt;
  opt.timeout = absl::Seconds(2);
  EXPECT_FALSE(CopyFile(src, dst, opt, nullptr).ok());

  void* after = malloc(kBig);
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(ServedByMmap(after), mmapped_before)
      << "CopyFile changed the process's malloc thresholds";
  free(after);
  free(before);
#endif
}

TEST(NfsErrnoStatus, MapsErrnoToCodes) {
  EXPECT_EQ(NfsErrnoStatus(-2, "x", "").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(NfsErrnoStatus(-28, "x", "").code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(NfsErrnoStatus(-111, "x", "").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(NfsErrnoStatus(-5, "x", "detail").message(), "x: detail");
}

}  // namespace
}  // namespace vnas::plugin
