// vmx.h — parser for the disk-related parts of a VMware .vmx file.
//
// Grammar (see internal/kv_text.h; lines end in LF or CRLF):
//   vmx     = *((kv-line / comment / blank) eol)
//   kv-line = key *WS "=" *WS DQUOTE value DQUOTE   ; bare values accepted
// Keys are case-insensitive. Values use VMware's "|XX" hex escape for bytes
// such as '"' (|22) and '|' (|7C); Vmx::Get returns values unescaped.
// Disk keys:
//   dev-key   = bus-type bus ":" unit "." attr
//   bus-type  = "scsi" / "sata" / "nvme" / "ide"    (case-insensitive)
//   bus, unit = 1*3DIGIT
//   attr      = "fileName" / "present" / "deviceType" / "mode" / ...
// A device is a disk when its fileName ends in ".vmdk" (any case) and its
// deviceType, if given, is not a CD-ROM/floppy/passthrough type. It is
// present unless `<dev>.present` or `<bus-type><bus>.present` is "FALSE".
// A line that is neither blank, comment nor key/value is counted in
// `bad_lines` (the file is still usable: VMware ignores such lines too).
#ifndef VNAS_SERVER_VMFORMAT_VMX_H_
#define VNAS_SERVER_VMFORMAT_VMX_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vnas::vmformat {

struct VmxDisk {
  std::string node;         // "scsi0:0" (lower-case)
  std::string file_name;    // as written (unescaped)
  std::string device_type;  // "" when absent
  // `<dev>.mode`: "" (dependent: in snapshots), "independent-persistent" or
  // "independent-nonpersistent" (VMware snapshots leave the disk out).
  std::string mode;
  bool present = true;
};

struct Vmx {
  std::vector<std::pair<std::string, std::string>> entries;  // key, value
  std::vector<VmxDisk> disks;  // in file order of their fileName lines
  int bad_lines = 0;

  // Value of `key` (case-insensitive, last occurrence wins), unescaped.
  std::optional<std::string> Get(absl::string_view key) const;
};

// ParseVmx()
//
// Errors: InvalidArgument for a NUL byte or text with no key/value line.
absl::StatusOr<Vmx> ParseVmx(absl::string_view text);

// UnescapeVmxValue(): decodes "|XX" escapes (invalid ones kept literally).
std::string UnescapeVmxValue(absl::string_view value);

}  // namespace vnas::vmformat

#endif  // VNAS_SERVER_VMFORMAT_VMX_H_
