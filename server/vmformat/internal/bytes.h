// bytes.h — bounds-checked fixed-width reads from a byte sample.
//
// Every read names the offset it wants and fails (returns false) instead of
// reading past the end of the sample; offsets and sizes are u64 so callers
// can pass values taken from untrusted headers without overflow.
#ifndef VNAS_SERVER_VMFORMAT_INTERNAL_BYTES_H_
#define VNAS_SERVER_VMFORMAT_INTERNAL_BYTES_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace vnas::vmformat::internal {

// True when [offset, offset + len) lies within a buffer of `size` bytes.
inline bool InRange(uint64_t size, uint64_t offset, uint64_t len) {
  return offset <= size && len <= size - offset;
}

// a * b without overflow; false on overflow.
inline bool MulU64(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > UINT64_MAX / a) return false;
  *out = a * b;
  return true;
}

// a + b without overflow; false on overflow.
inline bool AddU64(uint64_t a, uint64_t b, uint64_t* out) {
  if (b > UINT64_MAX - a) return false;
  *out = a + b;
  return true;
}

template <int N>
inline bool ReadLE(absl::string_view d, uint64_t off, uint64_t* v) {
  if (!InRange(d.size(), off, N)) return false;
  uint64_t r = 0;
  for (int i = N - 1; i >= 0; --i) {
    r = (r << 8) | static_cast<unsigned char>(d[off + i]);
  }
  *v = r;
  return true;
}

template <int N>
inline bool ReadBE(absl::string_view d, uint64_t off, uint64_t* v) {
  if (!InRange(d.size(), off, N)) return false;
  uint64_t r = 0;
  for (int i = 0; i < N; ++i) {
    r = (r << 8) | static_cast<unsigned char>(d[off + i]);
  }
  *v = r;
  return true;
}

// Returns d[off, off+len) or false when out of range.
inline bool Slice(absl::string_view d, uint64_t off, uint64_t len,
                  absl::string_view* out) {
  if (!InRange(d.size(), off, len)) return false;
  *out = d.substr(off, len);
  return true;
}

}  // namespace vnas::vmformat::internal

#endif  // VNAS_SERVER_VMFORMAT_INTERNAL_BYTES_H_
