// block_pool.h — a process-wide cache of large, page-aligned I/O blocks.
//
// Contract: Get(n) returns a block of at least n bytes, page-aligned, whose
// contents are unspecified; Put() gives it back. Requests of kMinBlock bytes
// or more are rounded up to a size class (four classes per power of two, so
// at most 25% is unused) and served from a free list of blocks that earlier
// calls gave back; blocks stay mapped while cached. Smaller requests are
// not pooled (callers use the heap). Blocks over kMaxBlock are mapped and
// unmapped each time.
//
// Why: RPC records and READ replies of up to 1 MiB turn over thousands of
// times a second. Taken from the heap, each comes back in fresh pages — the
// allocator trims or unmaps freed memory — and faulting those pages in cost
// more CPU than the copies themselves (measured: 167k page faults and 1.3 s
// of server CPU per GiB read with 16 READs in flight, against 2–5k faults
// and 0.55 s with the blocks reused).
//
// The free lists together hold at most capacity() bytes; a block given back
// beyond that is unmapped. Thread safety: all methods are safe to call
// concurrently.
#ifndef VNAS_SERVER_NFS_BLOCK_POOL_H_
#define VNAS_SERVER_NFS_BLOCK_POOL_H_

#include <cstddef>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace vnas::nfs {

class BlockPool {
 public:
  static constexpr size_t kMinBlock = 64 << 10;
  static constexpr size_t kMaxBlock = 4 << 20;
  static constexpr size_t kDefaultCapacity = 64 << 20;

  explicit BlockPool(size_t capacity = kDefaultCapacity);
  ~BlockPool();  // unmaps the cached blocks (not the ones handed out)
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // The pool ByteBuffer uses.
  static BlockPool& Global();

  // BlockSize(n): the size Get(n) hands out (n >= kMinBlock).
  static size_t BlockSize(size_t n);

  // A block of BlockSize(n) bytes, or nullptr when the system has no memory
  // for it. n must be at least kMinBlock.
  void* Get(size_t n);
  // Gives back a block from Get(n), with the same n.
  void Put(void* block, size_t n);

  // Bounds the bytes kept in the free lists; frees the excess now.
  void SetCapacity(size_t bytes);
  size_t capacity() const;
  size_t cached_bytes() const;
  // Blocks newly mapped so far (for tests and counters).
  size_t maps() const;

 private:
  static int ClassOf(size_t n);  // -1: bigger than kMaxBlock

  mutable absl::Mutex mu_;
  size_t capacity_ ABSL_GUARDED_BY(mu_);
  size_t cached_ ABSL_GUARDED_BY(mu_) = 0;
  size_t maps_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::vector<void*>> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_BLOCK_POOL_H_
