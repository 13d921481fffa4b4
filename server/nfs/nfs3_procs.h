// nfs3_procs.h — one handler per NFSv3 procedure (RFC 1813 §3.3).
//
// Every handler has the same shape: verify the file handle (and the export
// access of the calling client), check the caller's Unix permissions on the
// objects (access_check.h: AUTH_SYS credential after root_squash against
// mode/uid/gid; the store checks none), call the extent store, fill the
// result. Permission checks and the store call are not atomic: a concurrent
// SETATTR may land in between, as on knfsd, which also checks per RPC.
// No XDR here: arguments arrive decoded, results leave as structs.
//
// Thread safety: handlers run concurrently on worker threads; the class is
// immutable after construction (the store is thread-safe).
#ifndef VNAS_SERVER_NFS_NFS3_PROCS_H_
#define VNAS_SERVER_NFS_NFS3_PROCS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "server/nfs/access_check.h"
#include "server/nfs/call_context.h"
#include "server/nfs/exports.h"
#include "server/nfs/fh.h"
#include "server/nfs/nfs3_types.h"
#include "server/nfs/stats.h"
#include "storage/extent_store.h"

namespace vnas::nfs {

// Converts store attributes to fattr3 (fsid = store id, fileid = ino).
fattr3 ToFattr3(const storage::Attr& a, uint64_t fsid);

class Nfs3Procs {
 public:
  // None of the pointers is owned; all must outlive this object.
  Nfs3Procs(storage::ExtentStore* store, const ExportTable* exports,
            const FileHandleCodec* fh, NfsStats* stats);

  GETATTR3res Getattr(const CallContext& ctx, const GETATTR3args& a);
  SETATTR3res Setattr(const CallContext& ctx, const SETATTR3args& a);
  LOOKUP3res Lookup(const CallContext& ctx, const LOOKUP3args& a);
  ACCESS3res Access(const CallContext& ctx, const ACCESS3args& a);
  READLINK3res Readlink(const CallContext& ctx, const READLINK3args& a);
  READ3res Read(const CallContext& ctx, const READ3args& a);
  WRITE3res Write(const CallContext& ctx, const WRITE3args& a);
  CREATE3res Create(const CallContext& ctx, const CREATE3args& a);
  MKDIR3res Mkdir(const CallContext& ctx, const MKDIR3args& a);
  SYMLINK3res Symlink(const CallContext& ctx, const SYMLINK3args& a);
  MKNOD3res Mknod(const CallContext& ctx, const MKNOD3args& a);
  REMOVE3res Remove(const CallContext& ctx, const REMOVE3args& a);
  RMDIR3res Rmdir(const CallContext& ctx, const RMDIR3args& a);
  RENAME3res Rename(const CallContext& ctx, const RENAME3args& a);
  LINK3res Link(const CallContext& ctx, const LINK3args& a);
  READDIR3res Readdir(const CallContext& ctx, const READDIR3args& a);
  READDIRPLUS3res Readdirplus(const CallContext& ctx,
                              const READDIRPLUS3args& a);
  FSSTAT3res Fsstat(const CallContext& ctx, const FSSTAT3args& a);
  FSINFO3res Fsinfo(const CallContext& ctx, const FSINFO3args& a);
  PATHCONF3res Pathconf(const CallContext& ctx, const PATHCONF3args& a);
  COMMIT3res Commit(const CallContext& ctx, const COMMIT3args& a);

 private:
  // A verified handle: the object exists with that generation and the
  // client may use its export.
  struct Object {
    uint32_t export_index = 0;
    ClientAddr client_addr;  // the caller's
    ExportAccess access;
    Credential cred;  // the caller on this export (after root_squash)
    storage::Attr attr;
  };
  enum class Need { kRead, kWrite };
  // Verifies `fh` for `ctx`: BADHANDLE (garbage/forged), ACCES (client not
  // allowed), ROFS (write on a ro export), STALE (gone), or OK.
  nfsstat3 Verify(const CallContext& ctx, const nfs_fh3& fh, Need need,
                  Object* out, const char* proc);
  // REMOVE/RMDIR of `name` in `dir`: NOTDIR, ACCES (no write+search on
  // dir) or PERM (sticky dir, not root nor owner of dir or entry), else OK.
  // A missing entry passes (the store answers NOENT).
  nfsstat3 CheckRemove(const Object& dir, absl::string_view name);
  // REMOVE/RMDIR after their own answers for "." and "..": CheckName and
  // CheckRemove, then `op` (the store's Remove or Rmdir) on `name` in `dir`;
  // fills r->status and r->dir_wcc (before and after, or after only when
  // the store refuses).
  using RemoveOp = absl::StatusOr<storage::Change> (storage::ExtentStore::*)(
      storage::InodeId dir, absl::string_view name);
  void RemoveEntry(const Object& dir, absl::string_view name, RemoveOp op,
                   const char* proc, REMOVE3res* r);
  // RENAME: CheckRemove-like on both directories for the source and an
  // existing target, plus write on a directory moved to another parent.
  nfsstat3 CheckRename(const Object& from, absl::string_view from_name,
                       const Object& to, absl::string_view to_name);
  // LOOKUP/READDIR/READDIRPLUS: NOTDIR unless `dir` is a directory, ACCES
  // unless the caller has `want` (kMayExec to search, kMayRead to list) on
  // it by its mode, else OK.
  static nfsstat3 CheckDirAccess(const Object& dir, uint32_t want);
  // A name from a client: NFS3ERR_INVAL for "", "/"- or NUL-containing
  // names; NAMETOOLONG beyond 255 (the decoder caps it anyway).
  static nfsstat3 CheckName(absl::string_view name);
  // A name to create or rename to or from (CREATE/MKDIR/SYMLINK, LINK,
  // RENAME): `dots` for "." and "..", else CheckName.
  static nfsstat3 CheckEntryName(absl::string_view name, nfsstat3 dots);
  post_op_attr PostOp(const storage::Attr& a) const;
  post_op_attr PostOpOf(uint64_t ino);  // best effort
  wcc_data Wcc(const storage::Change& c) const;
  wcc_data WccAfterOnly(uint64_t ino);  // failure path: no before
  FhBytes Handle(uint32_t export_index, const storage::Attr& a) const;
  // The store inode at the root of export `index` (0 when unresolvable).
  uint64_t ExportRoot(uint32_t index);
  // True when directory `ino` is directory `root` or lies below it.
  bool Inside(uint64_t ino, uint64_t root);
  // The export whose handle names `child`, entry `name` of `dir` (LOOKUP,
  // READDIRPLUS, CREATE/MKDIR results), so that it is the handle MNT gives
  // (exports.h, nested exports): the export rooted at `child` when one
  // lies inside dir's export and lists the caller, else dir's export.
  uint32_t EntryExport(const Object& dir, absl::string_view name,
                       const storage::Attr& child);
  // An object and the export its handle is in.
  struct Located {
    storage::Attr attr;
    uint32_t export_index = 0;
  };
  // ".." of `dir` for LOOKUP and READDIR(PLUS): its parent in dir's
  // export; at the root of an export, the parent in the innermost export
  // around it that lists the caller (as MNT of the parent's path); `dir`
  // itself at the root of an export with no such export around it, or
  // whenever the parent is not inside the export (an export's root renamed
  // away): never climb into what the caller may not see.
  absl::StatusOr<Located> DotDot(const Object& dir);
  // The entries of `dir` after NFS cookie `cookie`: "." and ".." first
  // (cookies 1 and 2), then the store's entries with cookie + 2.
  // *dotdot_export receives the export of the ".." entry when it is listed
  // (else dir's export).
  std::vector<storage::DirEntry> DirEntries(const Object& dir,
                                            uint64_t cookie,
                                            uint32_t max_entries,
                                            bool want_attrs, nfsstat3* status,
                                            bool* eof, uint64_t* verifier,
                                            uint32_t* dotdot_export,
                                            const char* proc);
  // CREATE/MKDIR/SYMLINK: verify the directory, check the name and the
  // caller's write+search permission on it, then run `op` with the
  // directory's attributes and the caller's credential; *cred_out (when
  // given) receives that credential.
  template <typename Res>
  Res CreateLike(const CallContext& ctx, const diropargs3& where,
                 const char* proc,
                 const std::function<absl::StatusOr<storage::CreateResult>(
                     const storage::Attr& dir, const Credential& cred)>& op,
                 Credential* cred_out = nullptr);

  storage::ExtentStore* const store_;
  const ExportTable* const exports_;
  const FileHandleCodec* const fh_;
  NfsStats* const stats_;
  const uint64_t fsid_;
};

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_NFS3_PROCS_H_
