// vm_reader.h — reads a VM directory from the store for chain analysis.
//
// For every regular file of one directory: its name, size, mtime and first
// min(size, vmformat::kSampleBytes) bytes (ReadDir + Read), then
// vmformat::AnalyzeVm. Subdirectories and symlinks are listed but not
// sampled.
//
// Thread safety: thread-safe (the store is).
#ifndef VNAS_SERVER_CONTROL_VM_READER_H_
#define VNAS_SERVER_CONTROL_VM_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/vmformat/chain.h"
#include "storage/extent_store.h"

namespace vnas::control {

// At most this many entries of a directory are analyzed; a bigger
// directory is not a VM directory (InvalidArgument).
inline constexpr uint32_t kMaxVmDirEntries = 4096;

struct VmDirectory {
  storage::InodeId ino = 0;
  std::vector<storage::DirEntry> entries;       // every entry, with attrs
  std::vector<vmformat::FileSample> samples;    // regular files only
  vmformat::ChainReport report;
};

// LoadVmDirectory()
//
// Reads directory `dir`, whose path in the export is `dir_path` ("vm1",
// "a/vm1"; "" = the export root), and analyzes it with `now_sec` as the
// current time (lock freshness). The path lets the analyzer map absolute
// parent hints and backing files onto the export (vmformat/chain.h,
// "Absolute references"); it looks other export paths up in the store
// (regular files only, symlinks never followed). Errors: the store's
// (NotFound, ...), InvalidArgument for a directory above kMaxVmDirEntries,
// AnalyzeVm's errors.
absl::StatusOr<VmDirectory> LoadVmDirectory(storage::ExtentStore* store,
                                            storage::InodeId dir,
                                            const std::string& dir_path,
                                            int64_t now_sec);

// ReadDirEntries(): the entries of directory `dir` (with attributes when
// `attrs`), read page by page; stops early once more than `limit` are read.
// Errors: the store's.
absl::StatusOr<std::vector<storage::DirEntry>> ReadDirEntries(
    storage::ExtentStore* store, storage::InodeId dir, bool attrs,
    size_t limit = SIZE_MAX);

// ReadWhole(): the whole content of a regular file of at most `max_bytes`
// (FailedPrecondition beyond that).
absl::StatusOr<std::string> ReadWhole(storage::ExtentStore* store,
                                      storage::InodeId ino, uint64_t max_bytes);

// IsLockFile(): ESXi / hosted lock files, never cloned (".lck-*", "*.lck").
bool IsLockFile(const std::string& name);

}  // namespace vnas::control

#endif  // VNAS_SERVER_CONTROL_VM_READER_H_
