// lent_bytes.h — bytes handed out instead of copied.
//
// A read that finds its bytes in memory the store keeps anyway (a
// prefetch buffer, the data cache's chunks) may lend them: `pieces`, end to
// end, are the bytes read, and they stay exactly as they were read, their
// memory not reused, while anyone holds `keep`. The borrower sends them and
// lets `keep` go; it never writes to them.
#ifndef VNAS_STORAGE_BASE_LENT_BYTES_H_
#define VNAS_STORAGE_BASE_LENT_BYTES_H_

#include <cstddef>
#include <memory>
#include <vector>

#include "absl/strings/string_view.h"

namespace vnas::storage {

struct LentBytes {
  std::vector<absl::string_view> pieces;
  std::shared_ptr<const void> keep;

  size_t size() const {
    size_t n = 0;
    for (absl::string_view p : pieces) n += p.size();
    return n;
  }
  void Clear() {
    pieces.clear();
    keep.reset();
  }
};

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_BASE_LENT_BYTES_H_
