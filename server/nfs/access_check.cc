// access_check.cc — see access_check.h.
#include "server/nfs/access_check.h"

#include <algorithm>

namespace vnas::nfs {

using storage::Attr;
using storage::FileType;

bool Credential::InGroup(uint32_t g) const {
  return g == gid || std::find(gids.begin(), gids.end(), g) != gids.end();
}

Credential EffectiveCredential(const RpcCall* call,
                               const ExportAccess& access) {
  Credential c;
  if (call == nullptr) return c;
  c.uid = call->cred.uid;
  c.gid = call->cred.gid;
  c.gids = call->cred.gids;
  if (access.all_squash) {
    c.uid = c.gid = kSquashedId;
    c.gids.clear();
  } else if (access.root_squash) {
    if (c.uid == 0) c.uid = kSquashedId;
    if (c.gid == 0) c.gid = kSquashedId;
    for (uint32_t& g : c.gids) {
      if (g == 0) g = kSquashedId;
    }
  }
  return c;
}

uint32_t ServedMode(const Attr& a) {
  if (a.ino == storage::kRootInode) return kServedRootMode;
  return a.mode & 07777;
}

uint32_t Permitted(const Credential& cred, const Attr& a) {
  const uint32_t mode = ServedMode(a);
  if (cred.IsRoot()) {
    // CAP_DAC_OVERRIDE: everything, but execute on a non-directory only
    // when somebody may execute it.
    uint32_t bits = kMayRead | kMayWrite;
    if (a.type == FileType::kDirectory || (mode & 0111) != 0) bits |= kMayExec;
    return bits;
  }
  if (cred.uid == a.uid) return (mode >> 6) & 7;
  if (cred.InGroup(a.gid)) return (mode >> 3) & 7;
  return mode & 7;
}

bool May(const Credential& cred, const Attr& a, uint32_t want,
         bool owner_override) {
  if (owner_override && cred.uid == a.uid) return true;
  return (Permitted(cred, a) & want) == want;
}

bool MayReadData(const Credential& cred, const Attr& a) {
  if (cred.uid == a.uid) return true;
  return (Permitted(cred, a) & (kMayRead | kMayExec)) != 0;
}

nfsstat3 CheckDirChange(const Credential& cred, const Attr& dir) {
  return May(cred, dir, kMayWrite | kMayExec) ? NFS3_OK : NFS3ERR_ACCES;
}

nfsstat3 CheckSticky(const Credential& cred, const Attr& dir,
                     const Attr& victim) {
  if ((ServedMode(dir) & 01000) == 0 || cred.IsRoot() ||
      cred.uid == dir.uid || cred.uid == victim.uid) {
    return NFS3_OK;
  }
  return NFS3ERR_PERM;
}

nfsstat3 CheckSetattr(const Credential& cred, const Attr& a, const sattr3& s) {
  const bool root = cred.IsRoot();
  const bool owner = cred.uid == a.uid;
  if (s.set_size && !May(cred, a, kMayWrite, /*owner_override=*/true)) {
    return NFS3ERR_ACCES;
  }
  if (s.set_uid && !root && !(owner && s.uid == a.uid)) return NFS3ERR_PERM;
  if (s.set_gid && !root &&
      !(owner && (s.gid == a.gid || cred.InGroup(s.gid)))) {
    return NFS3ERR_PERM;
  }
  if (s.set_mode) {
    if (a.ino == storage::kRootInode) return NFS3ERR_PERM;
    if (!root && !owner) return NFS3ERR_PERM;
  }
  for (time_how h : {s.set_atime, s.set_mtime}) {
    if (h == SET_TO_CLIENT_TIME && !root && !owner) return NFS3ERR_PERM;
    if (h == SET_TO_SERVER_TIME && !owner && !May(cred, a, kMayWrite)) {
      return NFS3ERR_ACCES;
    }
  }
  return NFS3_OK;
}

uint32_t Access3(const Credential& cred, const Attr& a, bool writable,
                 uint32_t requested) {
  const uint32_t p = Permitted(cred, a);
  const bool r = p & kMayRead, w = (p & kMayWrite) && writable,
             x = p & kMayExec;
  uint32_t bits = 0;
  if (r) bits |= ACCESS3_READ;
  if (a.type == FileType::kDirectory) {
    if (x) bits |= ACCESS3_LOOKUP;
    if (w && x) bits |= ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE;
  } else {
    if (w) bits |= ACCESS3_MODIFY | ACCESS3_EXTEND;
    if (x) bits |= ACCESS3_EXECUTE;
  }
  return bits & requested;
}

}  // namespace vnas::nfs
