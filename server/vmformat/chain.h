// chain.h — VM disk chain analysis: bytes in, chain graph and verdict out.
//
// The analyzer reads the files of one VM directory as the store holds them —
// VMDK descriptors (text, or embedded in hosted sparse "KDMV" files), .vmsd,
// .vmx, qcow2 headers, VHDX parent locators — and returns the disk graph,
// the chains (root to leaf), and findings that tell whether a clone of the VM
// or of one disk can be offloaded, and if not, why. It knows nothing of the
// extent store: callers hand it bytes.
//
// Thread safety: pure functions; safe from any thread.
#ifndef VNAS_SERVER_VMFORMAT_CHAIN_H_
#define VNAS_SERVER_VMFORMAT_CHAIN_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace vnas::vmformat {

// The first bytes a caller must supply of each file (the whole file when it
// is smaller). Enough for descriptors, .vmx/.vmsd, qcow2 and sparse headers
// and the VHDX metadata region offsets the parser asks for.
inline constexpr uint64_t kSampleBytes = 64 * 1024;

// Bytes of a file beyond its head, read because a parser asked for them
// (see WantedRanges).
struct FileRange {
  uint64_t offset = 0;  // byte offset in the file
  std::string bytes;    // the bytes at that offset (may be short at EOF)
};

// One file of the VM directory.
struct FileSample {
  std::string name;       // name inside the VM directory (no '/')
  uint64_t size = 0;      // full file size in bytes
  int64_t mtime_sec = 0;  // modification time, seconds since the epoch
  std::string head;       // the first min(size, kSampleBytes) bytes
  // Optional: ranges beyond `head` that WantedRanges() asked for. Empty is
  // fine: the analyzer then reports what it could not see as a finding.
  std::vector<FileRange> extra;
};

// A byte range a parser needs beyond the head.
struct WantedRange {
  uint64_t offset = 0;
  uint64_t length = 0;  // <= 1 MiB
};

// WantedRanges()
//
// The byte ranges of `file` (beyond its head and the ranges already in
// `file.extra`) that the analyzer would read to finish parsing it — today
// only VHDX, whose headers, region table and metadata region live at 64 KiB
// and beyond. A caller that wants full VHDX answers loops: read the ranges,
// append them to `file.extra`, ask again, until the answer is empty (at most
// 4 rounds, a few MiB in total). Returns {} for every other format.
std::vector<WantedRange> WantedRanges(const FileSample& file);

enum class DiskFormat {
  kUnknown = 0,
  kVmdkDescriptor = 1,     // text descriptor (+ separate extent files)
  kVmdkHostedSparse = 2,   // KDMV file with embedded descriptor
  kQcow2 = 3,
  kVhdx = 4,
};

// Why an offload cannot be done (or what needs attention). Persisted in
// receipts and mirrored by the control-plane proto: never renumber.
enum class Reason {
  kNone = 0,
  kVssSiblingRedoLogs = 1,  // one parent with >= 2 child redo logs (VSS);
                            // the detail names the likely cause: VSS, a
                            // snapshot tree after a revert, or several VMs'
                            // linked clones of one base
  kRunningVm = 2,           // fresh lock files: the VM is powered on
  kBrokenChain = 3,         // parentCID does not match the parent's CID
  kMissingParent = 4,       // the parent named by a disk is not there
  kParentOutsideDatastore = 5,  // a parent, extent or .vmx disk outside this
                                // directory: an absolute path not mapped
                                // into it (see "Absolute references"), or
                                // an escaping relative one
  kUnsupportedFormat = 6,   // a disk format we cannot read safely
  kMalformed = 7,           // a header or descriptor that does not parse
  kLeafMismatch = 8,        // .vmx names a disk that is not a chain leaf
  kMissingExtent = 9,       // a descriptor's extent data file is not there
};

struct Finding {
  Reason reason = Reason::kNone;
  bool blocks_offload = true;      // false: informational only
  std::string detail;              // human text with the specifics
  std::vector<std::string> files;  // the files involved
};

struct DiskNode {
  std::string file;                     // descriptor / image file name
  DiskFormat format = DiskFormat::kUnknown;
  std::string create_type;              // VMDK createType, "qcow2", ...
  std::string cid, parent_cid;          // VMDK CIDs (hex text), else empty
  std::string parent_hint;              // as written in the file
  std::string parent;                   // resolved parent file, "" = base
  std::vector<std::string> extent_files;  // data files the disk owns
  std::vector<std::string> children;    // disks whose parent is this one
  uint64_t virtual_size = 0;            // bytes, when known
  bool in_use_by_vmx = false;           // named by the .vmx (running leaf)
  bool independent = false;             // the .vmx runs it independent-*
};

struct ChainReport {
  std::vector<DiskNode> disks;
  // Each chain root-to-leaf as file names; one per leaf.
  std::vector<std::vector<std::string>> chains;
  bool linear = true;               // every disk has at most one child
  std::vector<Finding> findings;
  bool offloadable = true;          // no finding blocks offload
  std::string summary;              // one human line
  // Absolute references (parent hints, backing files, extent names, .vmx
  // and .vmsd values, as written) that were mapped to a file of this
  // directory: reference -> file name. A clone must name those files by
  // their bare (new) names: the absolute path names the source's file (see
  // rewrite.h).
  std::map<std::string, std::string> absolute_refs;
};

struct AnalyzeOptions {
  int64_t now_sec = 0;              // for lock-file freshness
  int64_t lock_fresh_sec = 35;      // ESXi: stale after 10*3+5 s
  // Absolute paths under which the hypervisor knows this VM directory (e.g.
  // "/vmfs/volumes/<uuid>/vm", "/vmfs/volumes/<name>/vm"). An absolute
  // reference inside one of them counts as local, before the mapping below.
  std::vector<std::string> self_dirs;
  // This VM directory's path inside the export ("vm1", "vms/vm1"; "" = the
  // export root), or nullopt when unknown. With it, absolute references are
  // mapped onto the export (see "Absolute references" below); without it,
  // only `self_dirs` make an absolute reference local.
  std::optional<std::string> dir_path;
  // Whether `path` (relative to the export root, components joined by '/')
  // names a regular file of the export. Asked only for paths outside this
  // directory, at most 32 times per absolute reference and 4096 times per
  // analysis (answers are cached); must not follow symlinks. Unset: no file outside this directory is known, so an
  // absolute reference can only map into this directory.
  std::function<bool(const std::string& path)> export_file_exists;
};

// Absolute references
//
// Parent hints, qcow2 backing files, extent names and .vmx/.vmsd values may
// be absolute host paths. The host reached this directory through a mount
// of the export whose mount point vnas cannot know, so such a path P is
// mapped onto the export as follows (VHDX parent locators, Windows paths,
// keep the old rule: `self_dirs` or outside):
//   1. P lies under one of `self_dirs`: the file of this directory it names.
//   2. Otherwise, with `dir_path` known, P is cut into components ("." and
//      empty ones dropped; a P with ".." is never mapped: with symlinks on
//      the host its meaning is unknowable) and candidates are collected:
//      - ESXi, P = /vmfs/volumes/<datastore>/<rest>: a datastore is the NFS
//        mount of the export, so <rest> is read from the export root as is,
//        the one candidate when that file exists.
//      - Any other absolute path (libvirt/qemu: /var/lib/libvirt/images/…,
//        /mnt/<x>/…): the export is mounted at some prefix of P, so the
//        file's export path is one of P's suffixes (whole components, the
//        last 32 at most). Every suffix that names an existing regular file
//        of the export is a candidate.
//   3. Exactly one candidate: P names that file — local when it is in this
//      directory, else "in the export, in another directory" (still
//      refused: a clone of this directory would share a file no analysis
//      covered). Several candidates: P is ambiguous (which one the host
//      opens depends on its mount point) and is not mapped; "the longest
//      suffix wins" would silently pick one of two real files. None: P is
//      outside the export.
// What else must agree, by kind of reference:
//   - VMDK parentFileNameHint: the parentCID must equal the mapped file's
//     CID, else the hint names a same-path file elsewhere (another
//     datastore, a host copy) and stays outside — not a "repaired" chain.
//   - qcow2 backing file: no link field exists, so the path is all there
//     is; hence exact matching and the refusal of ambiguity. A local match
//     needs "<dir_path>/<name>" — the file's whole export path, the VM
//     directory's name included — as a suffix of P.
//   - .vmx/.vmsd values and extent names (no link either): only ESXi paths
//     are mapped, and only through a datastore token shown to be this
//     datastore by a parent hint whose CID link checked out (or
//     `self_dirs`). ESXi names a disk added on another datastore
//     "<vm>/<vm>.vmdk" there, the very path of the VM's first disk here, so
//     the path alone would attach the wrong disk. Other absolute paths in
//     VMware configurations point elsewhere (VMware names the files of the
//     VM's own directory by bare names) and are not mapped.
// A host that mounted a subdirectory of the export, not its root, is not
// recognized: an honest refusal, never a wrong match. Unmapped references
// keep today's verdicts (kParentOutsideDatastore for parents, extents and
// .vmx disks), with the reason in the finding. Mapped ones are listed in
// ChainReport::absolute_refs: a clone names those files by bare names.
// AnalyzeVm()
//
// Builds the disk graph of one VM directory from `files`. A file that does
// not parse becomes a kMalformed finding, not an error; the status is not OK
// only for unusable input (e.g. duplicate names).
absl::StatusOr<ChainReport> AnalyzeVm(absl::Span<const FileSample> files,
                                      const AnalyzeOptions& options);

// ReasonName(): a stable identifier such as "VSS_SIBLING_REDO_LOGS".
const char* ReasonName(Reason reason);

}  // namespace vnas::vmformat

#endif  // VNAS_SERVER_VMFORMAT_CHAIN_H_
