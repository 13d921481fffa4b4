// qcow2.cc — see qcow2.h for the layout.
#include "server/vmformat/qcow2.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/vmformat/internal/bytes.h"

namespace vnas::vmformat {
namespace {

using internal::ReadBE;

constexpr uint64_t kMagic = 0x514649fb;
constexpr uint32_t kExtEnd = 0;
constexpr uint32_t kExtBackingFormat = 0xe2792aca;
constexpr uint32_t kExtDataFile = 0x44415441;
constexpr uint64_t kMaxBackingName = 1023;
constexpr int kMaxExtensions = 1024;

}  // namespace

bool IsQcow2(absl::string_view head) {
  uint64_t m;
  return ReadBE<4>(head, 0, &m) && m == kMagic;
}

absl::StatusOr<Qcow2Header> ParseQcow2Header(absl::string_view data) {
  if (!IsQcow2(data)) return absl::InvalidArgumentError("qcow2: bad magic");
  if (data.size() < 72) return absl::InvalidArgumentError("qcow2: truncated header");
  Qcow2Header h;
  uint64_t v, backing_off, backing_size;
  ReadBE<4>(data, 4, &v);
  if (v != 2 && v != 3) {
    return absl::InvalidArgumentError(absl::StrCat("qcow2: unsupported version ", v));
  }
  h.version = static_cast<uint32_t>(v);
  ReadBE<8>(data, 8, &backing_off);
  ReadBE<4>(data, 16, &backing_size);
  ReadBE<4>(data, 20, &v);
  if (v < 9 || v > 21) return absl::InvalidArgumentError("qcow2: bad cluster_bits");
  h.cluster_bits = static_cast<uint32_t>(v);
  ReadBE<8>(data, 24, &h.size);
  ReadBE<4>(data, 32, &v);
  h.crypt_method = static_cast<uint32_t>(v);
  ReadBE<4>(data, 60, &v);
  h.nb_snapshots = static_cast<uint32_t>(v);
  uint64_t ext_start = 72;
  if (h.version == 3) {
    if (data.size() < 104) return absl::InvalidArgumentError("qcow2: truncated v3 header");
    ReadBE<8>(data, 72, &h.incompatible_features);
    ReadBE<4>(data, 100, &v);
    if (v < 104 || v % 8 != 0) {
      return absl::InvalidArgumentError("qcow2: bad header_length");
    }
    h.header_length = static_cast<uint32_t>(v);
    ext_start = v;
  } else {
    h.header_length = 72;
  }
  const uint64_t cluster = uint64_t{1} << h.cluster_bits;
  if (backing_off != 0) {
    if (backing_size == 0 || backing_size > kMaxBackingName) {
      return absl::InvalidArgumentError("qcow2: bad backing_file_size");
    }
    uint64_t end;
    if (!internal::AddU64(backing_off, backing_size, &end) || end > cluster) {
      return absl::InvalidArgumentError(
          "qcow2: backing file name outside the first cluster");
    }
    absl::string_view name;
    if (!internal::Slice(data, backing_off, backing_size, &name)) {
      return absl::OutOfRangeError(absl::StrCat(
          "qcow2: backing file name at byte ", backing_off,
          " lies beyond the ", data.size(), "-byte sample"));
    }
    h.has_backing = true;
    h.backing_file_offset = backing_off;
    h.backing_file = std::string(name);
  }
  // Header extensions; stop at the end marker, the end of the first
  // cluster, or the end of the sample (what lies beyond is not reported).
  uint64_t pos = ext_start;
  for (int n = 0; n < kMaxExtensions; ++n) {
    uint64_t type, len;
    if (!ReadBE<4>(data, pos, &type) || !ReadBE<4>(data, pos + 4, &len)) break;
    if (type == kExtEnd) break;
    uint64_t padded = (len + 7) & ~uint64_t{7};
    absl::string_view body;
    if (pos + 8 + padded > cluster) {
      return absl::InvalidArgumentError("qcow2: header extension overruns the first cluster");
    }
    if (!internal::Slice(data, pos + 8, len, &body)) break;
    if (type == kExtBackingFormat) {
      h.backing_format = std::string(body);
    } else if (type == kExtDataFile) {
      h.external_data_file = std::string(body);
    }
    pos += 8 + padded;
  }
  return h;
}

}  // namespace vnas::vmformat
