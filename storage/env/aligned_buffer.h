// aligned_buffer.h — heap buffers aligned for direct (O_DIRECT) I/O.
#ifndef VNAS_STORAGE_ENV_ALIGNED_BUFFER_H_
#define VNAS_STORAGE_ENV_ALIGNED_BUFFER_H_

#include <cstddef>
#include <cstdlib>
#include <memory>

namespace vnas::storage {

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<char, FreeDeleter>;

// `bytes` aligned to `align` (a power of two, a multiple of sizeof(void*)),
// or null when memory is short.
inline AlignedBuffer AllocateAligned(size_t bytes, size_t align = 4096) {
  void* mem = nullptr;
  if (::posix_memalign(&mem, align, bytes) != 0) return nullptr;
  return AlignedBuffer(static_cast<char*>(mem));
}

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_ENV_ALIGNED_BUFFER_H_
