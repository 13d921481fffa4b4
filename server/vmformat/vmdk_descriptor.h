// vmdk_descriptor.h — parser for the VMDK text descriptor.
//
// Source: VMware "Virtual Disk Format 1.1" and the descriptors ESXi, Fusion,
// Workstation and qemu-img write. Grammar (see internal/kv_text.h for
// key/value lines; WS = SP / HTAB; lines end in LF or CRLF):
//
//   descriptor  = *(line eol)
//   line        = blank / comment / header-kv / extent / ddb-kv
//   comment     = *WS "#" *octet          ; "# Disk DescriptorFile", "#DDB", ...
//   header-kv   = key *WS "=" *WS value   ; value quoted or bare
//       version            = 1*DIGIT                  (required)
//       CID                = 1*8HEXDIG                (required)
//       parentCID          = 1*8HEXDIG  ; "ffffffff" = no parent
//       createType         = name                     (required)
//       parentFileNameHint = path       ; relative to the descriptor's
//                                       ; directory, or absolute
//       other keys (encoding, isNativeSnapshot, ...) are kept as is
//   extent      = *WS access 1*WS sectors 1*WS type
//                 [1*WS file [1*WS offset]] *WS
//       access  = "RW" / "RDONLY" / "NOACCESS"
//       sectors = 1*DIGIT               ; 512-byte sectors, u64, *512 fits u64
//       type    = "FLAT" / "SPARSE" / "ZERO" / "VMFS" / "VMFSSPARSE" /
//                 "VMFSRDM" / "VMFSRAW" / "SESPARSE" /
//                 "VSANSPARSE"   (case-insensitive; vsanSparse redo logs)
//       file    = DQUOTE 1*(octet except DQUOTE) DQUOTE / 1*(non-WS)
//                 ; required except for ZERO
//       offset  = 1*DIGIT               ; sectors into `file` (FLAT only)
//   ddb-kv      = "ddb." key *WS "=" *WS value
//
// A leading UTF-8 BOM is skipped (rewriters then keep it byte for byte).
// Keys are matched case-insensitively. A duplicated header key, a NUL byte,
// or a line that is none of the above makes the descriptor invalid.
#ifndef VNAS_SERVER_VMFORMAT_VMDK_DESCRIPTOR_H_
#define VNAS_SERVER_VMFORMAT_VMDK_DESCRIPTOR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vnas::vmformat {

enum class VmdkAccess { kRw, kRdOnly, kNoAccess };

struct VmdkExtent {
  VmdkAccess access = VmdkAccess::kRw;
  uint64_t sectors = 0;
  std::string type;        // upper-case: "FLAT", "VMFSSPARSE", ...
  bool has_file = false;   // false only for ZERO
  std::string file;        // as written (relative to the descriptor's dir)
  uint64_t offset = 0;     // sectors
  size_t file_begin = 0;   // offset of `file` within the line (rewriters)
};

struct VmdkDescriptor {
  uint32_t version = 0;
  uint32_t cid = 0;
  std::string cid_text;           // as written
  bool has_parent_cid = false;
  uint32_t parent_cid = 0xffffffff;
  std::string parent_cid_text;
  std::string create_type;
  bool has_parent_hint = false;
  std::string parent_hint;
  std::vector<VmdkExtent> extents;
  std::vector<std::pair<std::string, std::string>> ddb;    // "ddb.x", value
  std::vector<std::pair<std::string, std::string>> other;  // other header keys
  uint64_t capacity_sectors = 0;  // sum of extent sectors (checked)

  // True when the descriptor names a parent (parentCID != ffffffff or a
  // parentFileNameHint is present).
  bool HasParent() const {
    return (has_parent_cid && parent_cid != 0xffffffffu) || has_parent_hint;
  }
};

inline constexpr uint32_t kNoParentCid = 0xffffffffu;

// ParseVmdkDescriptor()
//
// Parses a whole descriptor. Errors: InvalidArgument naming the line for
// anything outside the grammar above, for a missing version/CID/createType,
// or when the sector sum overflows 2^64 bytes.
absl::StatusOr<VmdkDescriptor> ParseVmdkDescriptor(absl::string_view text);

// ParseExtentLine()
//
// Parses one extent line body (no end-of-line). Errors: InvalidArgument.
absl::StatusOr<VmdkExtent> ParseExtentLine(absl::string_view body);

// IsExtentLine(): the first token is an access keyword (RW/RDONLY/NOACCESS).
bool IsExtentLine(absl::string_view body);

// LooksLikeVmdkDescriptor()
//
// Cheap sniff: no NUL byte in the first 1 KiB, and the first non-blank line
// is "# Disk DescriptorFile" (any case) or a `version=` line. Decides only
// whether to try ParseVmdkDescriptor.
bool LooksLikeVmdkDescriptor(absl::string_view head);

// ParseCid(): 1..8 hex digits -> value. False otherwise.
bool ParseCid(absl::string_view text, uint32_t* out);

}  // namespace vnas::vmformat

#endif  // VNAS_SERVER_VMFORMAT_VMDK_DESCRIPTOR_H_
