// status_map.h — the one place where store errors become nfsstat3.
//
// Thread safety: pure functions.
#ifndef VNAS_SERVER_NFS_STATUS_MAP_H_
#define VNAS_SERVER_NFS_STATUS_MAP_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/nfs/mount_types.h"
#include "server/nfs/nfs3_types.h"

namespace vnas::nfs {

// NfsStatusOf()
//
// Maps a store status to nfsstat3 through vnas::ErrnoOf() (RFC 1813 §2.6
// values only). storage::kGuardMismatchErrno → NFS3ERR_NOT_SYNC. An errno
// with no NFS meaning becomes NFS3ERR_IO (retryable I/O: JUKEBOX is not used
// on the data path, see protocol notes §2) and is logged to stderr with
// `proc` so unexpected failures are visible.
nfsstat3 NfsStatusOf(const absl::Status& status, absl::string_view proc);

// MountStatusOf(): the MOUNT3 equivalent.
mountstat3 MountStatusOf(const absl::Status& status);

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_STATUS_MAP_H_
