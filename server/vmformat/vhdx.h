// vhdx.h — reads what chain analysis needs from a VHDX file (MS-VHDX v1).
//
// Layout (all integers little-endian; GUIDs in Microsoft's mixed-endian
// byte order; CRC = CRC-32C over the structure with its checksum zeroed):
//   @0       File Type Identifier: "vhdxfile", creator UTF-16LE [512 bytes]
//   @64 KiB  Header 1, @128 KiB Header 2 (4 KiB each; current = valid one
//            with the larger SequenceNumber):
//              @0 "head"  @4 u32 crc  @8 u64 SequenceNumber
//              @16 FileWriteGuid  @32 DataWriteGuid  @48 LogGuid
//              @64 u16 LogVersion  @66 u16 Version(=1)
//   @192 KiB Region table (64 KiB): @0 "regi" @4 u32 crc @8 u32 EntryCount
//            (<= 2047); entries @16 + 32*i:
//              Guid, @16 u64 FileOffset, @24 u32 Length, @28 u32 Required
//            The metadata region has Guid 8B7CA206-4790-4B9A-B8FE-575F050F886E.
//   Metadata region: table (64 KiB) @0 "metadata" @10 u16 EntryCount
//            (<= 2047); entries @32 + 32*i:
//              ItemId, @16 u32 Offset (from the region start, >= 64 KiB),
//              @20 u32 Length, @24 u32 flags
//     File Parameters CAA16737-FA36-4D43-B3B6-33F0AA44E76B:
//              u32 BlockSize, u32 flags (bit0 LeaveBlocksAllocated,
//              bit1 HasParent)
//     Virtual Disk Size 2FA54224-CD1B-4876-B211-5DBED83BF4B8: u64 bytes
//     Parent Locator A8D35F2D-B30B-454D-ABF7-D3D84834AB0C:
//              LocatorType Guid (VHDX: B04AEFB7-D19E-4A81-B789-25B8E9445913),
//              @16 u16 reserved, @18 u16 KeyValueCount, entries @20 + 12*i:
//              u32 KeyOffset, u32 ValueOffset, u16 KeyLength,
//              u16 ValueLength (offsets from the locator start; UTF-16LE)
//              keys: parent_linkage, parent_linkage2, relative_path,
//              volume_path, absolute_win32_path
//
// The parser reads through a FileView (head + extra ranges). When a piece
// lies beyond what the view holds it stops, says so in `missing`, and
// VhdxWantedRanges() tells which bytes to fetch next.
#ifndef VNAS_SERVER_VMFORMAT_VHDX_H_
#define VNAS_SERVER_VMFORMAT_VHDX_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/vmformat/internal/file_view.h"

namespace vnas::vmformat {

struct VhdxInfo {
  std::string creator;          // UTF-8
  bool header_seen = false;
  std::string data_write_guid;  // "{XXXXXXXX-...}" upper-case, when seen
  bool region_table_seen = false;
  uint64_t metadata_offset = 0, metadata_length = 0;
  bool metadata_seen = false;   // file parameters (and locator) were read
  bool has_parent = false;
  uint32_t block_size = 0;
  uint64_t virtual_size = 0;
  std::map<std::string, std::string> parent_locator;  // UTF-8 key -> value
  std::string missing;          // what could not be read ("" = complete)
};

bool IsVhdx(absl::string_view head);

// ParseVhdx()
//
// Errors: InvalidArgument for a bad signature, checksum or table that is
// visible in `view`. Pieces beyond the view are not errors: see `missing`.
absl::StatusOr<VhdxInfo> ParseVhdx(const internal::FileView& view);

// VhdxWantedRanges(): the next (offset, length) pieces the parser needs
// that `view` does not hold; {} when complete or unparseable.
std::vector<std::pair<uint64_t, uint64_t>> VhdxWantedRanges(
    const internal::FileView& view);

// Utf16LeToUtf8(): invalid sequences become U+FFFD.
std::string Utf16LeToUtf8(absl::string_view bytes);

// Crc32c(): CRC-32C (Castagnoli) of `data`.
uint32_t Crc32c(absl::string_view data);

}  // namespace vnas::vmformat

#endif  // VNAS_SERVER_VMFORMAT_VHDX_H_
