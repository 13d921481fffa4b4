// qcow2.h — parser for the qcow2 image header (qemu docs/interop/qcow2.txt).
//
// All fields big-endian:
//   @0  u32 magic = 0x514649fb ("QFI\xfb")
//   @4  u32 version               2 or 3
//   @8  u64 backing_file_offset   0 = no backing file
//   @16 u32 backing_file_size     bytes, <= 1023, not NUL-terminated
//   @20 u32 cluster_bits          9..21
//   @24 u64 size                  virtual size in bytes
//   @32 u32 crypt_method
//   @36 u32 l1_size  @40 u64 l1_table_offset  @48 u64 refcount_table_offset
//   @56 u32 refcount_table_clusters
//   @60 u32 nb_snapshots          internal snapshots (chains inside the file)
//   @64 u64 snapshots_offset
//   -- v3 only --
//   @72 u64 incompatible_features  bit0 dirty, bit1 corrupt, bit2 external
//                                  data file, bit3 compression type,
//                                  bit4 extended L2
//   @80 u64 compatible_features  @88 u64 autoclear_features
//   @96 u32 refcount_order  @100 u32 header_length (>= 104, multiple of 8)
// Header extensions start at header_length (v3) or 72 (v2):
//   ext = u32 type, u32 length, data[length], pad to a multiple of 8
//   type 0 ends the list; 0xe2792aca backing file format name;
//   0x44415441 external data file name; 0x6803f857 feature name table.
// The backing file name must lie within the first cluster.
#ifndef VNAS_SERVER_VMFORMAT_QCOW2_H_
#define VNAS_SERVER_VMFORMAT_QCOW2_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vnas::vmformat {

struct Qcow2Header {
  uint32_t version = 0;
  uint32_t cluster_bits = 0;
  uint64_t size = 0;
  uint32_t crypt_method = 0;
  uint32_t nb_snapshots = 0;
  uint64_t incompatible_features = 0;
  uint32_t header_length = 0;
  bool has_backing = false;
  uint64_t backing_file_offset = 0;  // byte offset of the name (has_backing)
  std::string backing_file;     // as written
  std::string backing_format;   // from the extension, "" when absent
  std::string external_data_file;  // from the extension, "" when absent
};

bool IsQcow2(absl::string_view head);

// ParseQcow2Header()
//
// Parses the header of `data` (a sample of the image). Errors:
// InvalidArgument for a bad magic, version, cluster_bits, header_length,
// backing name size, or a malformed extension list; OutOfRange when the
// backing file name lies beyond `data`.
absl::StatusOr<Qcow2Header> ParseQcow2Header(absl::string_view data);

}  // namespace vnas::vmformat

#endif  // VNAS_SERVER_VMFORMAT_QCOW2_H_
