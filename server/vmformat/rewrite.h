// rewrite.h — make a cloned VM directory self-consistent under a new name.
//
// When the control plane clones a whole VM directory (each file cloned by
// extent sharing), the copies still name the old files: the .vmx points at
// the old disks, descriptors name the old extent files and parents, the .vmsd
// names the old snapshot files. These functions rewrite those small text
// files the way `vmkfstools -i` / vCenter clone produce a consistent copy:
// file references follow a rename map, and the cloned disks get fresh CIDs
// with every child's parentCID moved to its parent's new CID.
//
// All functions are pure: bytes in, bytes out. They are format-preserving:
// every line they do not need to change is kept byte for byte (unknown keys,
// comments, order, blank lines, CRLF or LF line endings, quoting). They never
// touch binary extent data; for a hosted-sparse (KDMV) VMDK, whose descriptor
// is embedded, they return a same-length patch of the descriptor area.
//
// Names: every name in a RenameMap is a bare file name inside the VM
// directory (no '/'). A reference in a file is renamed only when it is a bare
// name found in the map, or "./name", or an absolute path the chain analyzer
// mapped to a file of the directory (ChainReport::absolute_refs, passed as
// AbsoluteRefs): that one becomes the file's bare (new) name, renamed or not.
// Why bare: the clone lives in another directory, under a host path vnas
// cannot know (datastore name or UUID, mount point), and both ESXi (a
// parentFileNameHint, a .vmx/.vmsd file name) and qemu (a backing file) read
// a relative name from the directory of the file that holds it — the name
// that is right wherever the clone is mounted; it is also what ESXi and
// qemu-img write for files of the same directory. Keeping the absolute path
// would make the clone open the *source's* file: a hidden dependency on
// another VM, corrupted when that VM consolidates or commits into it.
// Other absolute paths and paths with directories ("../other/x.vmdk") are
// left untouched: they point outside the cloned directory (the analyzer
// reports those as kParentOutsideDatastore before a clone is attempted).
//
// Thread safety: pure functions; safe from any thread.
#ifndef VNAS_SERVER_VMFORMAT_REWRITE_H_
#define VNAS_SERVER_VMFORMAT_REWRITE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "server/vmformat/chain.h"

namespace vnas::vmformat {

// Old bare file name -> new bare file name. Files absent from the map keep
// their names.
using RenameMap = std::map<std::string, std::string>;

// Absolute references that name files of the directory being cloned, as
// written -> bare (old) file name: ChainReport::absolute_refs.
using AbsoluteRefs = std::map<std::string, std::string>;

// ProposeRenameMap()
//
// Given the file names of a source VM directory, the old VM base name (e.g.
// "vm" for vm.vmx) and the new base name, returns the rename map a clone
// should use: every name that begins with `old_base` followed by '.', '-' or
// '_' (vm.vmx, vm-flat.vmdk, vm-000001-delta.vmdk, vm_1.vmdk,
// vm-Snapshot1.vmsn) maps to `new_base` + the rest. Names that merely share
// a prefix ("vmware.log" for base "vm") are not renamed. Lock files (".lck"
// directories' names, "*.lck", "*.lck-*") are never part of a clone and are
// left out of the map.
//
// Errors: InvalidArgument when a base name is empty, contains '/' or NUL, or
// is "." / ".."; AlreadyExists when a proposed new name equals a source file
// that is not itself renamed (the clone would hold two files of that name);
// InvalidArgument for duplicate source names.
absl::StatusOr<RenameMap> ProposeRenameMap(absl::Span<const std::string> names,
                                           absl::string_view old_base,
                                           absl::string_view new_base);

// PinUnrewritableNames()
//
// Removes from `rename_map` every file that a disk of `report` (the chain
// analysis of the same directory) names through a reference these
// rewriters do not edit: the backing file and external data file of a qcow2
// image (binary header) and the parent of a VHDX differencing disk (UTF-16
// parent locator). Those files keep their names in the clone, so the
// references in the cloned images stay right; VMDK descriptors, .vmx and
// .vmsd follow the map as usual. Without this a clone renamed a qcow2
// overlay's backing file and the copy no longer opened.
//
// Checkpoint files keep their names too: snapshot state (.vmsn), suspend
// state (.vmss) and their memory images (.vmem). A .vmsn/.vmss is a binary
// checkpoint that embeds the VM's configuration as it was (disk, nvram and
// .vmxf names) and goes with a .vmem memory image, named inside it or found
// by the checkpoint's own name: keeping both names keeps that pair right in
// either case. The embedded names cannot be rewritten in place (they sit in
// length-prefixed groups of a format VMware does not document), so renaming
// the files could only break the pairing, never fix the embedded names; the
// .vmsd's snapshotN.filename and the .vmx's checkpoint.vmState, which are
// rewritten text, then simply keep naming them. The embedded configuration
// still carries the source's file names: that is the one part of a cloned
// snapshot vnas cannot make consistent.
//
// Errors: AlreadyExists when a file that keeps its name is also the new
// name of another renamed file (the clone would hold two files of that name).
absl::Status PinUnrewritableNames(const ChainReport& report,
                                  RenameMap* rename_map);

// RewriteVmdkDescriptor()
//
// Rewrites one text VMDK descriptor: the file name of every extent line,
// parentFileNameHint and changeTrackPath (the disk's `-ctk.vmdk` change
// tracking file, written by ESXi when CBT is on) follow `rename_map`. CID and parentCID are kept (use
// RewriteVmdkSet to give a clone fresh CIDs). `text` is the whole descriptor
// (at most a few KiB in practice; any size is accepted).
//
// Errors: InvalidArgument when `text` is not a VMDK descriptor (no
// "version=" / "createType=" or an extent line that does not parse).
absl::StatusOr<std::string> RewriteVmdkDescriptor(absl::string_view text,
                                                  const RenameMap& rename_map);

// RewriteVmdkDescriptorCids()
//
// Like RewriteVmdkDescriptor, and also sets CID to `new_cid` and parentCID to
// `new_parent_cid` (each 8 lower-case hex digits, e.g. "3a5c0f21"; pass
// "ffffffff" as the parent CID of a base disk). An empty string keeps that
// value unchanged. When the descriptor carries `ddb.longContentID` (ESXi)
// whose last 8 hex digits equal the old CID, those 8 digits follow the new
// CID; a longContentID that does not end in the CID is left alone.
//
// Errors: as RewriteVmdkDescriptor, plus InvalidArgument for a CID that is
// not 8 hex digits.
absl::StatusOr<std::string> RewriteVmdkDescriptorCids(
    absl::string_view text, const RenameMap& rename_map,
    absl::string_view new_cid, absl::string_view new_parent_cid,
    const AbsoluteRefs& absolute_refs = {});

// One edited descriptor produced by RewriteVmdkSet.
struct DescriptorEdit {
  std::string old_name;  // the source file
  std::string new_name;  // its name in the clone (rename_map applied)
  // true: `bytes` is the whole new file (text descriptor).
  // false: `bytes` overwrites the clone's file at `offset`, same length as the
  // source's descriptor area (hosted-sparse KDMV file; padded with NULs).
  bool whole_file = true;
  uint64_t offset = 0;
  std::string bytes;
  std::string old_cid, new_cid;  // 8 hex digits each
  std::string old_parent_cid, new_parent_cid;
};

struct RewriteOptions {
  // Source of fresh CIDs; called once per disk. Values 0xffffffff and
  // 0xfffffffe (reserved by VMware) and repeats are skipped (asked again).
  // Unset: a random generator. Tests pass a deterministic one.
  std::function<uint32_t()> cid_source;
  // Absolute parent hints / extent names that name files of this directory
  // (ChainReport::absolute_refs): rewritten to bare names, and a child's
  // parentCID follows such a parent like any other.
  AbsoluteRefs absolute_refs;
};

// RewriteVmdkSet()
//
// Rewrites every VMDK descriptor among `files` (the samples of one VM
// directory, as given to AnalyzeVm) together: names follow `rename_map`,
// every disk gets a fresh CID, and a child whose parentFileNameHint names a
// disk of this set (by its old name) and whose parentCID equals that
// parent's old CID gets the parent's new CID. A child whose parent is not in
// the set (outside the directory) keeps its parentCID; one whose parentCID did
// not match its parent (a broken link) keeps it too, so the clone is not
// "repaired" silently. Files that are not descriptors (extent data, .vmx,
// logs, qcow2, ...) produce no edit. Edits come in the order of `files`.
//
// A text descriptor must be sampled whole (head.size() == size); an embedded
// descriptor must lie within the sample.
//
// Errors: InvalidArgument for duplicate names, for a descriptor that is not
// wholly in its sample, or when a rewritten embedded descriptor would not fit
// its descriptor area.
absl::StatusOr<std::vector<DescriptorEdit>> RewriteVmdkSet(
    absl::Span<const FileSample> files, const RenameMap& rename_map,
    const RewriteOptions& options = {});

// RewriteVmx()
//
// Rewrites a .vmx for the clone: every value that is a file name found in
// `rename_map` is renamed (scsiX:Y/sataX:Y/nvmeX:Y/ideX:Y.fileName, nvram,
// extendedConfigFile, checkpoint.vmState, the .vmsd name, ...), and
// displayName is set to `new_display_name` (added after the last line when
// absent; left as is when `new_display_name` is empty). Keys are matched
// case-insensitively; the original key spelling, spacing and quoting are
// kept. Values are compared as whole file names, so substrings are never
// replaced; free-text keys (*displayName, *annotation, *description,
// guestinfo.*) are never treated as file references.
//
// Errors: InvalidArgument for a NUL byte, or for a display name containing a
// '"', line break or NUL.
absl::StatusOr<std::string> RewriteVmx(absl::string_view text,
                                       const RenameMap& rename_map,
                                       absl::string_view new_display_name,
                                       const AbsoluteRefs& absolute_refs = {});

// RewriteVmsd()
//
// Rewrites a .vmsd for the clone: snapshotN.filename (.vmsn) and
// snapshotN.diskM.fileName values (and any other value that is a file name
// in `rename_map`, free-text keys excepted as in RewriteVmx) are renamed.
// Everything else is kept.
//
// Errors: InvalidArgument for a NUL byte.
absl::StatusOr<std::string> RewriteVmsd(absl::string_view text,
                                        const RenameMap& rename_map,
                                        const AbsoluteRefs& absolute_refs = {});

// RewriteVmxf()
//
// Rewrites a .vmxf (the XML "extended config" the .vmx names in
// extendedConfigFile) for the clone: the text of <vmxPathName> elements — the
// .vmx this file belongs to — follows `rename_map` (XML entities decoded for
// the lookup and encoded again). Everything else, VMId included, is kept
// byte for byte; a .vmxf without that element is returned unchanged.
//
// Errors: InvalidArgument for a NUL byte.
absl::StatusOr<std::string> RewriteVmxf(absl::string_view text,
                                        const RenameMap& rename_map);

// One write into a cloned image: `bytes` replaces `expected` (the source's
// bytes there when it was sampled; same length) at `offset`.
struct ImageWrite {
  uint64_t offset = 0;
  std::string expected;
  std::string bytes;
};

// In-place writes into the clone of one binary image.
struct ImagePatch {
  std::string old_name;  // the source file (its clone carries the new name)
  std::vector<ImageWrite> writes;
};

// RewriteQcow2Backings()
//
// For every qcow2 image among `files` whose backing file is an absolute path
// in `absolute_refs` (a file of this directory): the patch that makes the
// clone's header name it by its bare name (rename_map applied): the
// backing_file_size field (u32 at byte 16) and the name at
// backing_file_offset, the rest of the old name zeroed. The new name is
// shorter than the path it replaces, so it stays in place, inside the first
// cluster, as qemu requires. Images with a relative backing file, or none,
// produce no patch. The header must lie in the sample.
//
// Errors: InvalidArgument when a new name would be longer than the old one.
absl::StatusOr<std::vector<ImagePatch>> RewriteQcow2Backings(
    absl::Span<const FileSample> files, const RenameMap& rename_map,
    const AbsoluteRefs& absolute_refs);

}  // namespace vnas::vmformat

#endif  // VNAS_SERVER_VMFORMAT_REWRITE_H_
