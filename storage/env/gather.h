// gather.h — copying scattered parts into one buffer and back, a piece at
// a time.
#ifndef VNAS_STORAGE_ENV_GATHER_H_
#define VNAS_STORAGE_ENV_GATHER_H_

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace vnas::storage {

// Where a gather from (or a scatter into) `parts` has got to.
struct GatherCursor {
  size_t part = 0;     // the next part to copy from (or into)
  size_t in_part = 0;  // bytes of it already copied
  template <typename Parts>
  bool done(const Parts& parts) const {
    return part >= parts.size();
  }
};

// A cursor `skip` bytes into `parts` (end to end).
template <typename Parts>
GatherCursor SeekCursor(const Parts& parts, size_t skip) {
  GatherCursor at;
  while (at.part < parts.size() && skip >= parts[at.part].size()) {
    skip -= parts[at.part].size();
    ++at.part;
  }
  at.in_part = at.part < parts.size() ? skip : 0;
  return at;
}

// Walks the next (at most) `n` bytes of `parts` from `*at`, calling
// copy(part_data, done, k) for each run of k bytes of one part, where
// `done` is how many bytes came before it in this walk; returns the total.
template <typename Parts, typename Copy>
size_t WalkParts(const Parts& parts, GatherCursor* at, size_t n, Copy copy) {
  size_t done = 0;
  while (done < n && at->part < parts.size()) {
    const size_t k = std::min(n - done, parts[at->part].size() - at->in_part);
    copy(parts[at->part].data() + at->in_part, done, k);
    done += k;
    at->in_part += k;
    if (at->in_part == parts[at->part].size()) {
      ++at->part;
      at->in_part = 0;
    }
  }
  return done;
}

// Copies the next bytes of `parts` (end to end) into `out`, at most `cap`
// of them, advancing `*at`; returns how many it copied.
inline size_t Gather(const std::vector<absl::string_view>& parts, GatherCursor* at,
                     char* out, size_t cap) {
  return WalkParts(parts, at, cap, [out](const char* p, size_t done, size_t k) {
    std::memcpy(out + done, p, k);
  });
}

// The other way: copies up to `n` bytes of `in` into the next bytes of
// `parts`, advancing `*at`; returns how many it copied.
inline size_t Scatter(const std::vector<absl::Span<char>>& parts, GatherCursor* at,
                      const char* in, size_t n) {
  return WalkParts(parts, at, n, [in](char* p, size_t done, size_t k) {
    std::memcpy(p, in + done, k);
  });
}

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_ENV_GATHER_H_
