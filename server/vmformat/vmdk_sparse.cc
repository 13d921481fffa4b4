// vmdk_sparse.cc — see vmdk_sparse.h for the layouts.
#include "server/vmformat/vmdk_sparse.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/vmformat/internal/bytes.h"

namespace vnas::vmformat {
namespace {

using internal::ReadLE;

constexpr uint64_t kKdmv = 0x564d444b;
constexpr uint64_t kCowd = 0x44574f43;
constexpr uint64_t kSeMagic = 0x00000000cafebabeull;
constexpr uint64_t kSectorBytes = 512;
// Descriptor areas are a few KiB; refuse absurd ones instead of copying.
constexpr uint64_t kMaxDescriptorBytes = 1 << 20;

bool PowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

uint64_t U32At(absl::string_view d, uint64_t off) {
  uint64_t v = 0;
  ReadLE<4>(d, off, &v);
  return v;
}

}  // namespace

bool IsHostedSparse(absl::string_view head) {
  uint64_t m;
  return ReadLE<4>(head, 0, &m) && m == kKdmv;
}
bool IsCowd(absl::string_view head) {
  uint64_t m;
  return ReadLE<4>(head, 0, &m) && m == kCowd;
}
bool IsSeSparse(absl::string_view head) {
  uint64_t m;
  return ReadLE<8>(head, 0, &m) && m == kSeMagic;
}

absl::StatusOr<SparseHeader> ParseSparseHeader(absl::string_view data) {
  SparseHeader h;
  if (IsHostedSparse(data)) {
    if (data.size() < 79) {
      return absl::InvalidArgumentError("KDMV: truncated header");
    }
    h.kind = SparseKind::kHosted;
    h.version = static_cast<uint32_t>(U32At(data, 4));
    h.flags = static_cast<uint32_t>(U32At(data, 8));
    uint64_t desc_off_sec = 0, desc_size_sec = 0;
    ReadLE<8>(data, 12, &h.capacity_sectors);
    ReadLE<8>(data, 20, &h.grain_sectors);
    ReadLE<8>(data, 28, &desc_off_sec);
    ReadLE<8>(data, 36, &desc_size_sec);
    if (h.version < 1 || h.version > 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("KDMV: unsupported version ", h.version));
    }
    if (!PowerOfTwo(h.grain_sectors) || h.grain_sectors < 8) {
      return absl::InvalidArgumentError("KDMV: bad grain size");
    }
    uint64_t cap_bytes;
    if (!internal::MulU64(h.capacity_sectors, kSectorBytes, &cap_bytes)) {
      return absl::InvalidArgumentError("KDMV: capacity overflows");
    }
    if (desc_off_sec == 0) {
      if (desc_size_sec != 0) {
        return absl::InvalidArgumentError("KDMV: descriptor size without offset");
      }
      return h;
    }
    uint64_t end_bytes;
    if (!internal::MulU64(desc_off_sec, kSectorBytes, &h.descriptor_offset) ||
        !internal::MulU64(desc_size_sec, kSectorBytes, &h.descriptor_size) ||
        !internal::AddU64(h.descriptor_offset, h.descriptor_size, &end_bytes)) {
      return absl::InvalidArgumentError("KDMV: descriptor location overflows");
    }
    if (h.descriptor_size == 0 || h.descriptor_size > kMaxDescriptorBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("KDMV: implausible descriptor size ", h.descriptor_size));
    }
    if (end_bytes > data.size()) {
      return absl::OutOfRangeError(absl::StrCat(
          "KDMV: embedded descriptor at bytes [", h.descriptor_offset, ", ",
          end_bytes, ") lies beyond the ", data.size(), "-byte sample"));
    }
    absl::string_view area = data.substr(h.descriptor_offset, h.descriptor_size);
    size_t nul = area.find('\0');
    if (nul != absl::string_view::npos) area = area.substr(0, nul);
    h.descriptor = std::string(area);
    return h;
  }
  if (IsCowd(data)) {
    if (data.size() < 32) {
      return absl::InvalidArgumentError("COWD: truncated header");
    }
    h.kind = SparseKind::kCowd;
    h.version = static_cast<uint32_t>(U32At(data, 4));
    h.flags = static_cast<uint32_t>(U32At(data, 8));
    h.capacity_sectors = U32At(data, 12);
    h.grain_sectors = U32At(data, 16);
    if (!PowerOfTwo(h.grain_sectors)) {
      return absl::InvalidArgumentError("COWD: bad grain size");
    }
    return h;
  }
  if (IsSeSparse(data)) {
    if (data.size() < 32) {
      return absl::InvalidArgumentError("SESparse: truncated header");
    }
    h.kind = SparseKind::kSeSparse;
    uint64_t version;
    ReadLE<8>(data, 8, &version);
    if (version != 0x0000000200000001ull) {
      return absl::InvalidArgumentError("SESparse: unknown version");
    }
    h.version = 2;
    ReadLE<8>(data, 16, &h.capacity_sectors);
    ReadLE<8>(data, 24, &h.grain_sectors);
    uint64_t cap_bytes;
    if (!internal::MulU64(h.capacity_sectors, kSectorBytes, &cap_bytes)) {
      return absl::InvalidArgumentError("SESparse: capacity overflows");
    }
    if (!PowerOfTwo(h.grain_sectors)) {
      return absl::InvalidArgumentError("SESparse: bad grain size");
    }
    return h;
  }
  return absl::InvalidArgumentError("not a sparse VMDK extent header");
}

}  // namespace vnas::vmformat
