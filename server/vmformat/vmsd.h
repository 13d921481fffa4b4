// vmsd.h — parser for the VMware snapshot database (.vmsd).
//
// Grammar: the .vmx key/value syntax (see vmx.h; keys case-insensitive):
//   snapshot.lastUID / snapshot.current / snapshot.numSnapshots  = decimal
//   snapshot.needConsolidate = "TRUE" / "FALSE"
//   snapshotN.uid       = decimal        (N = 0..9999, the record index)
//   snapshotN.parent    = decimal uid    (absent: a root snapshot)
//   snapshotN.filename  = the .vmsn file
//   snapshotN.displayName, snapshotN.numDisks
//   snapshotN.diskM.fileName = the disk frozen when snapshot N was taken
//   snapshotN.diskM.node     = "scsi0:0"
// Other keys are ignored. A record without a uid is reported in `problems`
// and dropped; so are parents that name no record, and parent cycles.
#ifndef VNAS_SERVER_VMFORMAT_VMSD_H_
#define VNAS_SERVER_VMFORMAT_VMSD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vnas::vmformat {

struct VmsdDisk {
  std::string file_name;
  std::string node;
};

struct VmsdSnapshot {
  int index = 0;                   // N in snapshotN
  uint64_t uid = 0;
  std::optional<uint64_t> parent;  // parent uid
  std::string file_name;           // .vmsn
  std::string display_name;
  std::vector<VmsdDisk> disks;     // by M
  std::vector<int> children;       // indexes into Vmsd::snapshots
};

struct Vmsd {
  std::optional<uint64_t> current_uid;
  bool need_consolidate = false;
  std::vector<VmsdSnapshot> snapshots;  // ordered by index N
  std::vector<int> roots;               // indexes into snapshots
  std::vector<std::string> problems;    // human text

  // The snapshot with `uid`, or nullptr.
  const VmsdSnapshot* Find(uint64_t uid) const;
};

// ParseVmsd()
//
// Errors: InvalidArgument for a NUL byte. An empty .vmsd (no snapshots) is
// valid.
absl::StatusOr<Vmsd> ParseVmsd(absl::string_view text);

}  // namespace vnas::vmformat

#endif  // VNAS_SERVER_VMFORMAT_VMSD_H_
