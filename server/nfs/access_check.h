// access_check.h — Unix permission checks for NFSv3 with AUTH_SYS, the way
// knfsd and nfs-ganesha do them: the caller's effective credential (after
// the export's root_squash) against an object's mode/uid/gid.
//
// The extent store checks nothing (it knows no protocol); every NFS handler
// that touches an object asks this module first. Pure functions, no state,
// thread-safe.
//
// Rules (POSIX, Linux generic_permission / knfsd nfsd_permission):
// - One class applies: owner bits when cred.uid == attr.uid, else group bits
//   when attr.gid is the caller's gid or one of its AUTH_SYS gids, else other
//   bits. (No fallthrough: an owner without r is refused even if other has r.)
// - uid 0 (only without root_squash; a squashed root is 65534) is root: read
//   and write anything, search any directory; execute a regular file only if
//   some x bit is set. A read-only export still refuses writes (ROFS, checked
//   by the caller before this module, as knfsd does).
// - Owner override (knfsd NFSD_MAY_OWNER_OVERRIDE): READ, WRITE, COMMIT and
//   SETATTR size of one's own file are allowed whatever the mode, because a
//   client checks the mode at open() and an NFS server sees no open: a
//   process that created a file 0444 and still holds it open for writing
//   must be able to write it. ACCESS (RFC 1813 §3.3.4) does not apply the
//   override; it reports what the mode grants, which is what open() asks.
// - READ is also allowed with execute permission (knfsd
//   NFSD_MAY_READ_IF_EXEC): a client has to read a binary to execute it.
// - The datastore root (store inode 1) is served as mode 01777, whatever
//   the store records: the store makes it 0755 root-owned, and it is the
//   shared top of a datastore where every host and user creates its own VM
//   directories (like /tmp: anyone creates, only owners remove). GETATTR
//   shows the same mode the checks use; SETATTR cannot change it (PERM).
#ifndef VNAS_SERVER_NFS_ACCESS_CHECK_H_
#define VNAS_SERVER_NFS_ACCESS_CHECK_H_

#include <cstdint>
#include <vector>

#include "server/nfs/exports.h"
#include "server/nfs/nfs3_types.h"
#include "server/nfs/rpc.h"
#include "storage/extent_store.h"

namespace vnas::nfs {

// Who the server acts for.
struct Credential {
  uint32_t uid = kSquashedId;
  uint32_t gid = kSquashedId;
  std::vector<uint32_t> gids;  // AUTH_SYS supplementary groups (≤ 16)

  bool IsRoot() const { return uid == 0; }
  // gid or one of gids.
  bool InGroup(uint32_t g) const;
};

// EffectiveCredential()
// The credential of a call on an export: AUTH_SYS uid/gid/gids as sent
// (AUTH_NONE arrives as 65534/65534); with root_squash, uid 0 becomes
// kSquashedId and gid 0 (primary or supplementary) becomes kSquashedId,
// as knfsd does with anonuid/anongid; with all_squash every caller is
// 65534/65534 with no supplementary groups. `call` may be null (internal
// calls): then nobody.
Credential EffectiveCredential(const RpcCall* call, const ExportAccess& access);

// The mode bits the server serves and checks for `a` (07777): the store's,
// except the datastore root (see the header comment).
uint32_t ServedMode(const storage::Attr& a);
inline constexpr uint32_t kServedRootMode = 01777;

// Permission bits, as in the mode's rwx triplets.
inline constexpr uint32_t kMayRead = 4;
inline constexpr uint32_t kMayWrite = 2;
inline constexpr uint32_t kMayExec = 1;  // search, for directories

// Permitted()
// The subset of kMayRead|kMayWrite|kMayExec that `cred` has on `a` by its
// mode (no owner override, no export rw/ro, no snapshot read-only flag).
uint32_t Permitted(const Credential& cred, const storage::Attr& a);

// May()
// True when `cred` has all of `want` on `a`. With `owner_override`, the
// owner of `a` always may (READ/WRITE/COMMIT/SETATTR size, see above).
bool May(const Credential& cred, const storage::Attr& a, uint32_t want,
         bool owner_override = false);

// MayRead() — READ: read, or execute (knfsd NFSD_MAY_READ_IF_EXEC), or owner.
bool MayReadData(const Credential& cred, const storage::Attr& a);

// CheckDirChange()
// CREATE/MKDIR/SYMLINK/MKNOD/LINK/REMOVE/RMDIR/RENAME need write and search
// on the directory: NFS3_OK or NFS3ERR_ACCES.
nfsstat3 CheckDirChange(const Credential& cred, const storage::Attr& dir);

// CheckSticky()
// Removing or replacing entry `victim` of `dir`, once CheckDirChange()
// passed: in a sticky directory (mode 01000) only root, the owner of the
// directory or the owner of the entry may. NFS3ERR_PERM otherwise (Linux
// returns EPERM from may_delete(), knfsd maps it to NFS3ERR_PERM).
nfsstat3 CheckSticky(const Credential& cred, const storage::Attr& dir,
                     const storage::Attr& victim);

// CheckSetattr()
// SETATTR (RFC 1813 §3.3.2) of `s` on `a` by `cred`, the checks of Linux
// notify_change()/setattr_prepare() plus knfsd's owner override for size:
// - size: write permission or owner (NFS3ERR_ACCES);
// - uid: root only, except the owner "changing" it to itself (NFS3ERR_PERM);
// - gid: root, or the owner to its gid or one of its gids, or unchanged
//   (NFS3ERR_PERM);
// - mode: root or the owner (NFS3ERR_PERM); never on the datastore root;
// - times SET_TO_SERVER_TIME: owner, root or write permission
//   (NFS3ERR_ACCES); SET_TO_CLIENT_TIME: owner or root (NFS3ERR_PERM).
// Size is checked first, so a call failing both reports ACCES.
nfsstat3 CheckSetattr(const Credential& cred, const storage::Attr& a,
                      const sattr3& s);

// Access3()
// The ACCESS3 bits (RFC 1813 §3.3.4) `cred` has on `a`, intersected with
// `requested`. `writable` is false on a read-only export or for a
// read-only (snapshot) inode: then MODIFY, EXTEND and DELETE are never
// granted. Mapping (knfsd nfsd_access):
//   directory: READ=r, LOOKUP=x, MODIFY=EXTEND=DELETE=w+x;
//   other:     READ=r, MODIFY=EXTEND=w, EXECUTE=x (DELETE not meaningful:
//              deleting a file is a right on its directory).
uint32_t Access3(const Credential& cred, const storage::Attr& a,
                 bool writable, uint32_t requested);

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_ACCESS_CHECK_H_
