// vmdk_sparse.h — recognizes binary VMDK extent headers.
//
// Hosted sparse extent ("KDMV", VMware Virtual Disk Format 1.1 §"Hosted
// Sparse Extent Header"), all fields little-endian, SectorType = u64 count
// of 512-byte sectors, packed:
//   @0  u32 magicNumber = 0x564d444b ("KDMV" on disk)
//   @4  u32 version     (1, 2 or 3)
//   @8  u32 flags       bit0 valid newline test, bit1 redundant grain table,
//                       bit16 compressed grains, bit17 markers
//   @12 u64 capacity    sectors
//   @20 u64 grainSize   sectors (power of two, >= 8)
//   @28 u64 descriptorOffset  sectors; 0 = no embedded descriptor
//   @36 u64 descriptorSize    sectors
//   @44 u32 numGTEsPerGT
//   @48 u64 rgdOffset   @56 u64 gdOffset   @64 u64 overHead
//   @72 u8 uncleanShutdown, @73..76 "\n", " ", "\r", "\n" newline test
//   @77 u16 compressAlgorithm
// The embedded descriptor is the text at descriptorOffset*512, up to
// descriptorSize*512 bytes, ending at the first NUL.
//
// ESX sparse ("COWD", vmfsSparse redo log data, `-delta.vmdk`), LE:
//   @0 u32 magic = 0x44574f43 ("COWD")  @4 u32 version  @8 u32 flags
//   @12 u32 numSectors (capacity)  @16 u32 grainSize  @20 u32 gdOffset
//   @24 u32 numGDEntries  @28 u32 freeSector
//
// SESparse (`-sesparse.vmdk` data), LE constant header:
//   @0 u64 magic = 0x00000000cafebabe  @8 u64 version (0x0000000200000001)
//   @16 u64 capacity sectors  @24 u64 grainSize sectors
#ifndef VNAS_SERVER_VMFORMAT_VMDK_SPARSE_H_
#define VNAS_SERVER_VMFORMAT_VMDK_SPARSE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vnas::vmformat {

enum class SparseKind { kHosted, kCowd, kSeSparse };

struct SparseHeader {
  SparseKind kind = SparseKind::kHosted;
  uint32_t version = 0;
  uint32_t flags = 0;
  uint64_t capacity_sectors = 0;
  uint64_t grain_sectors = 0;
  uint64_t descriptor_offset = 0;  // bytes; 0 = none (hosted only)
  uint64_t descriptor_size = 0;    // bytes (the area, before NUL trimming)
  std::string descriptor;          // embedded text, NUL-trimmed
};

// SniffSparse(): which binary VMDK header `head` starts with, if any.
bool IsHostedSparse(absl::string_view head);
bool IsCowd(absl::string_view head);
bool IsSeSparse(absl::string_view head);

// ParseSparseHeader()
//
// Parses the header at the start of `data` (a sample of the file). For a
// hosted sparse extent the embedded descriptor must lie within `data`.
// Errors: InvalidArgument for a wrong magic, truncated header, zero or
// non-power-of-two grain size, or sector math that overflows; OutOfRange when
// the descriptor area lies beyond `data` (the caller supplied a short
// sample).
absl::StatusOr<SparseHeader> ParseSparseHeader(absl::string_view data);

}  // namespace vnas::vmformat

#endif  // VNAS_SERVER_VMFORMAT_VMDK_SPARSE_H_
