// file_view.h — a partial view of a file: its head plus some ranges.
#ifndef VNAS_SERVER_VMFORMAT_INTERNAL_FILE_VIEW_H_
#define VNAS_SERVER_VMFORMAT_INTERNAL_FILE_VIEW_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/vmformat/internal/bytes.h"

namespace vnas::vmformat::internal {

// Views into caller-owned bytes; they must outlive the FileView.
struct FileView {
  absl::string_view head;  // bytes from offset 0
  std::vector<std::pair<uint64_t, absl::string_view>> ranges;  // offset, bytes

  // Sets *out to [offset, offset+len) when one piece holds all of it.
  bool Read(uint64_t offset, uint64_t len, absl::string_view* out) const {
    if (Slice(head, offset, len, out)) return true;
    for (const auto& [off, bytes] : ranges) {
      if (offset >= off && Slice(bytes, offset - off, len, out)) return true;
    }
    return false;
  }
};

}  // namespace vnas::vmformat::internal

#endif  // VNAS_SERVER_VMFORMAT_INTERNAL_FILE_VIEW_H_
