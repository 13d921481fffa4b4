// buffer_pool.cc — see buffer_pool.h.
#include "plugins/host/buffer_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace vnas::plugin {

absl::StatusOr<std::unique_ptr<BufferPool>> BufferPool::Create(size_t count,
                                                               size_t size) {
  if (count == 0 || size == 0) {
    return absl::InvalidArgumentError("buffer pool: zero buffers or zero size");
  }
  const long page_l = sysconf(_SC_PAGESIZE);
  const size_t page = page_l > 0 ? static_cast<size_t>(page_l) : 4096;
  if (size > SIZE_MAX - page) {
    return absl::InvalidArgumentError("buffer pool: buffer size overflows");
  }
  const size_t stride = (size + page - 1) / page * page;
  if (stride > SIZE_MAX / count) {
    return absl::InvalidArgumentError("buffer pool: total size overflows");
  }
  const size_t mapped = stride * count;
  // MAP_POPULATE faults every page in now, once, instead of on first use in
  // the copy's data path.
  void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "buffer pool: cannot map ", count, " x ", size, " bytes: ", strerror(errno)));
  }
  return std::unique_ptr<BufferPool>(
      new BufferPool(static_cast<char*>(p), mapped, count, size, stride));
}

BufferPool::BufferPool(char* base, size_t mapped, size_t count, size_t size,
                       size_t stride)
    : base_(base), mapped_(mapped), count_(count), size_(size), stride_(stride) {
  free_.reserve(count_);
  // Pushed in reverse so the first Acquire() returns the first buffer.
  for (size_t i = count_; i > 0; --i) free_.push_back(base_ + (i - 1) * stride_);
}

// Buffers may still be out when a copy is abandoned on an error; their
// users are gone by then (the copy destroys its NFS contexts first).
BufferPool::~BufferPool() { munmap(base_, mapped_); }

char* BufferPool::Acquire() {
  if (free_.empty()) return nullptr;
  char* b = free_.back();
  free_.pop_back();
  return b;
}

void BufferPool::Release(char* buf) {
  assert(buf >= base_ && buf < base_ + mapped_ &&
         static_cast<size_t>(buf - base_) % stride_ == 0 &&
         "buffer not from this pool");
  assert(free_.size() < count_ && "buffer released twice");
  free_.push_back(buf);
}

}  // namespace vnas::plugin
