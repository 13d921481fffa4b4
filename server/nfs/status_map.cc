// status_map.cc — Status → nfsstat3 / mountstat3.
#include "server/nfs/status_map.h"

#include <cerrno>
#include <cstdio>
#include <string>

#include "storage/base/status_util.h"
#include "storage/extent_store.h"

namespace vnas::nfs {

nfsstat3 NfsStatusOf(const absl::Status& status, absl::string_view proc) {
  if (status.ok()) return NFS3_OK;
  int err = vnas::ErrnoOf(status);
  if (err == storage::kGuardMismatchErrno) return NFS3ERR_NOT_SYNC;
  switch (err) {
    case EPERM: return NFS3ERR_PERM;
    case ENOENT: return NFS3ERR_NOENT;
    case ENXIO: return NFS3ERR_NXIO;
    case EACCES: return NFS3ERR_ACCES;
    case EEXIST: return NFS3ERR_EXIST;
    case EXDEV: return NFS3ERR_XDEV;
    case ENODEV: return NFS3ERR_NODEV;
    case ENOTDIR: return NFS3ERR_NOTDIR;
    case EISDIR: return NFS3ERR_ISDIR;
    case EINVAL: return NFS3ERR_INVAL;
    case EFBIG: return NFS3ERR_FBIG;
    case ENOSPC: return NFS3ERR_NOSPC;
    case EROFS: return NFS3ERR_ROFS;
    case EMLINK: return NFS3ERR_MLINK;
    case ENAMETOOLONG: return NFS3ERR_NAMETOOLONG;
    case ENOTEMPTY: return NFS3ERR_NOTEMPTY;
    case EDQUOT: return NFS3ERR_DQUOT;
    case ESTALE: return NFS3ERR_STALE;
    case ENOTSUP: return NFS3ERR_NOTSUPP;
    default: break;
  }
  // EIO and anything we did not expect.
  std::string msg(status.ToString());
  fprintf(stderr, "vnasd: %.*s: store error errno=%d: %s\n",
          static_cast<int>(proc.size()), proc.data(), err, msg.c_str());
  return NFS3ERR_IO;
}

mountstat3 MountStatusOf(const absl::Status& status) {
  if (status.ok()) return MNT3_OK;
  switch (vnas::ErrnoOf(status)) {
    case EPERM: return MNT3ERR_PERM;
    case ENOENT: return MNT3ERR_NOENT;
    case EACCES: return MNT3ERR_ACCES;
    case ENOTDIR: return MNT3ERR_NOTDIR;
    case EINVAL: return MNT3ERR_INVAL;
    case ENAMETOOLONG: return MNT3ERR_NAMETOOLONG;
    default: return MNT3ERR_IO;
  }
}

}  // namespace vnas::nfs
