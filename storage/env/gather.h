// gather.h — copying scattered parts into one buffer, a piece at a time.
#ifndef VNAS_STORAGE_ENV_GATHER_H_
#define VNAS_STORAGE_ENV_GATHER_H_

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "absl/strings/string_view.h"

namespace vnas::storage {

// Where a gather through `parts` has got to.
struct GatherCursor {
  size_t part = 0;     // the next part to copy from
  size_t in_part = 0;  // bytes of it already copied
  bool done(const std::vector<absl::string_view>& parts) const {
    return part >= parts.size();
  }
};

// Copies the next bytes of `parts` (end to end) into `out`, at most `cap`
// of them, advancing `*at`; returns how many it copied.
inline size_t Gather(const std::vector<absl::string_view>& parts, GatherCursor* at,
                     char* out, size_t cap) {
  size_t filled = 0;
  while (filled < cap && at->part < parts.size()) {
    const size_t n = std::min(cap - filled, parts[at->part].size() - at->in_part);
    std::memcpy(out + filled, parts[at->part].data() + at->in_part, n);
    filled += n;
    at->in_part += n;
    if (at->in_part == parts[at->part].size()) {
      ++at->part;
      at->in_part = 0;
    }
  }
  return filled;
}

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_ENV_GATHER_H_
