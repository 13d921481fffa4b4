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
  kParentOutsideDatastore = 5,  // absolute / escaping parent path
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
};

struct AnalyzeOptions {
  int64_t now_sec = 0;              // for lock-file freshness
  int64_t lock_fresh_sec = 35;      // ESXi: stale after 10*3+5 s
  // Absolute paths under which the hypervisor knows this VM directory (e.g.
  // "/vmfs/volumes/<uuid>/vm", "/vmfs/volumes/<name>/vm"). An absolute parent
  // path inside one of them counts as local; any other absolute parent path
  // is outside the datastore directory.
  std::vector<std::string> self_dirs;
};

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
