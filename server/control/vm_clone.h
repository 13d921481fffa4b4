// vm_clone.h — clone a whole VM directory, self-consistent under a new name.
//
// Plan: read the source directory (vm_reader), propose a rename map
// (vmformat::ProposeRenameMap: "<old base>[.-_]*" -> "<new base>...", minus
// the files qcow2 headers and VHDX parent locators name and the checkpoint
// files (.vmsn/.vmss/.vmem), which keep their names:
// vmformat::PinUnrewritableNames), and
// rewrite every VMDK descriptor together (vmformat::RewriteVmdkSet: new
// names, fresh CIDs, parentCID / parentFileNameHint following), the .vmx
// (RewriteVmx: disk lines, nvram, displayName), the .vmsd (RewriteVmsd) and
// the .vmxf (RewriteVmxf: the .vmx it belongs to). Absolute references the
// analysis mapped to files of the directory become bare names
// (ChainReport::absolute_refs; for a qcow2 backing file a header patch,
// vmformat::RewriteQcow2Backings).
//
// Execute: make the destination directory; then for each file, in directory
// order:
//   "clone"   data files: ExtentStore::CloneFile (extents shared)
//   "rewrite" text descriptors, .vmx, .vmsd, .vmxf: written as new files
//   "patch"   hosted-sparse disks: cloned, then the embedded descriptor area
//             overwritten (same length); qcow2 overlays with an absolute
//             backing path: cloned, then the backing name made bare (only
//             over the bytes the plan saw, else Aborted)
//   "skip"    lock files, subdirectories, symlinks
// Cancellation is checked before every file. On failure or cancellation the
// destination directory and everything made in it are removed.
//
// Thread safety: functions are thread-safe; one plan is used by one thread.
#ifndef VNAS_SERVER_CONTROL_VM_CLONE_H_
#define VNAS_SERVER_CONTROL_VM_CLONE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/vnas.pb.h"
#include "server/control/operations.h"
#include "server/control/vm_reader.h"
#include "server/vmformat/rewrite.h"
#include "storage/extent_store.h"

namespace vnas::control {

// The largest .vmx / .vmsd / descriptor rewritten (bytes).
inline constexpr uint64_t kMaxTextFileBytes = 1 << 20;

struct VmClonePlan {
  VmDirectory source;                 // entries, samples, chain report
  storage::InodeId dst_parent = 0;    // existing parent directory
  std::string dst_name;               // new directory name
  std::string old_base, new_base, display_name;
  vmformat::RenameMap rename;
  std::vector<v1::RenamedFile> files;  // one per source entry, with action
  std::vector<vmformat::DescriptorEdit> edits;
  std::vector<vmformat::ImagePatch> image_patches;  // qcow2 backing names
  std::map<std::string, std::string> rewritten;  // old name -> new bytes
                                                 // (.vmx, .vmsd)
  uint64_t bytes_total = 0;            // logical bytes of all source files
};

struct VmCloneResult {
  uint64_t bytes_shared = 0;   // logical bytes of cloned files
  uint64_t bytes_copied = 0;   // bytes written (rewritten text, patches)
  uint32_t files = 0;          // files made in the destination
};

// PlanVmClone()
//
// `source` is the loaded source directory; `new_base` may be empty (the
// destination name is used); `display_name` empty = new base. Errors:
// InvalidArgument from the rename / rewrite helpers.
absl::StatusOr<VmClonePlan> PlanVmClone(storage::ExtentStore* store,
                                        VmDirectory source,
                                        const std::string& source_dir_name,
                                        storage::InodeId dst_parent,
                                        const std::string& dst_name,
                                        const std::string& new_base,
                                        const std::string& display_name);

// ExecuteVmClone()
//
// Carries out `plan`. `ctx` (may be null) receives progress and is polled
// for cancellation; `before_file` (may be empty) is called before each file
// (a test hook). Errors: AlreadyExists when the destination appeared,
// Cancelled, the store's errors; nothing is left behind on error.
absl::StatusOr<VmCloneResult> ExecuteVmClone(
    storage::ExtentStore* store, const VmClonePlan& plan, OpContext* ctx,
    const std::function<void(const std::string&)>& before_file);

}  // namespace vnas::control

#endif  // VNAS_SERVER_CONTROL_VM_CLONE_H_
