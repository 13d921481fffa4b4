// snapshot_paths.h — remembers the path each snapshot was taken of.
//
// The store names a snapshot's source by inode only; the control plane
// records the request path so ListSnapshots can show it and RestoreSnapshot
// can analyze the right VM directory.
//
// Record format (version 1) of the store log "snapshot-paths", one record per
// CreateSnapshot:  "1" TAB <snapshot id, decimal> TAB <path relative to the
// export root>. The newest 10000 are kept. Unknown versions are skipped.
//
// Thread safety: thread-safe (the store is).
#ifndef VNAS_SERVER_CONTROL_SNAPSHOT_PATHS_H_
#define VNAS_SERVER_CONTROL_SNAPSHOT_PATHS_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "storage/extent_store.h"

namespace vnas::control {

absl::Status RecordSnapshotPath(storage::ExtentStore* store, uint64_t id,
                                const std::string& path);

// Snapshot id -> path, for every recorded snapshot.
absl::StatusOr<std::map<uint64_t, std::string>> ReadSnapshotPaths(
    storage::ExtentStore* store);

}  // namespace vnas::control

#endif  // VNAS_SERVER_CONTROL_SNAPSHOT_PATHS_H_
