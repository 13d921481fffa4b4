// buffer_pool.h — a fixed set of equal-size, page-aligned I/O buffers,
// allocated once and recycled.
//
// The fallback copy owns one pool: each request in flight takes a buffer and
// gives it back when its chunk is done, so a copy of any size touches the
// same `count` buffers and never allocates in its data path. The memory is
// mapped directly (not from malloc) and faulted in once at creation, so the
// pool neither depends on nor changes the host process's allocator.
//
// Thread safety: none; a pool belongs to one copy, driven by one thread.
#ifndef VNAS_PLUGINS_HOST_BUFFER_POOL_H_
#define VNAS_PLUGINS_HOST_BUFFER_POOL_H_

#include <cstddef>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"

namespace vnas::plugin {

class BufferPool {
 public:
  // BufferPool::Create()
  //
  // `count` buffers of `size` bytes each (both > 0), every one aligned to
  // the page size. Fails InvalidArgument on a zero or overflowing size and
  // ResourceExhausted when the memory cannot be mapped. The caller owns the
  // pool; buffers stay valid until it is destroyed.
  static absl::StatusOr<std::unique_ptr<BufferPool>> Create(size_t count,
                                                            size_t size);

  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // BufferPool::Acquire()
  //
  // A free buffer of size() bytes (contents unspecified), or nullptr when
  // all count() buffers are taken. The most recently released buffer comes
  // back first (it is the most likely to be in cache).
  char* Acquire();

  // BufferPool::Release()
  //
  // Returns a buffer obtained from Acquire() of this pool. Releasing
  // anything else, or twice, is a programming error (checked in debug
  // builds).
  void Release(char* buf);

  size_t size() const { return size_; }
  size_t count() const { return count_; }
  size_t available() const { return free_.size(); }

 private:
  BufferPool(char* base, size_t mapped, size_t count, size_t size, size_t stride);

  // Constant after construction.
  char* const base_;     // the mapping
  const size_t mapped_;  // its length
  const size_t count_;
  const size_t size_;
  const size_t stride_;  // size_ rounded up to the page size

  std::vector<char*> free_;  // LIFO of buffers not handed out
};

}  // namespace vnas::plugin

#endif  // VNAS_PLUGINS_HOST_BUFFER_POOL_H_
