// nfs3_procs.cc — NFSv3 procedure handlers (RFC 1813 §3.3.0-§3.3.21).
#include "server/nfs/nfs3_procs.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "server/nfs/status_map.h"
#include "storage/base/status_util.h"

namespace vnas::nfs {

using storage::Attr;
using storage::Change;
using storage::FileType;

namespace {

nfstime3 ToNfsTime(const storage::Timespec& t) {
  nfstime3 n;
  n.seconds = static_cast<uint32_t>(t.sec);
  n.nseconds = t.nsec;
  return n;
}

storage::Timespec FromNfsTime(const nfstime3& t) {
  storage::Timespec s;
  s.sec = t.seconds;
  s.nsec = t.nseconds;
  return s;
}

std::array<char, 8> Verifier8(uint64_t v) {
  std::array<char, 8> out;
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

uint64_t FromVerifier8(const std::array<char, 8>& a) {
  uint64_t v = 0;
  for (char c : a) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

storage::SetAttrRequest::TimeHow ToTimeHow(time_how h) {
  switch (h) {
    case SET_TO_SERVER_TIME:
      return storage::SetAttrRequest::TimeHow::kServerTime;
    case SET_TO_CLIENT_TIME:
      return storage::SetAttrRequest::TimeHow::kClientTime;
    default:
      return storage::SetAttrRequest::TimeHow::kDontChange;
  }
}

storage::SetAttrRequest ToSetAttr(const sattr3& s) {
  storage::SetAttrRequest r;
  if (s.set_mode) r.mode = s.mode & 07777;
  if (s.set_uid) r.uid = s.uid;
  if (s.set_gid) r.gid = s.gid;
  if (s.set_size) r.size = s.size;
  r.atime_how = ToTimeHow(s.set_atime);
  r.atime = FromNfsTime(s.atime);
  r.mtime_how = ToTimeHow(s.set_mtime);
  r.mtime = FromNfsTime(s.mtime);
  return r;
}

// SET_TO_CLIENT_TIME times must be real nfstime3 values (nseconds below
// one second); anything else would be stored and then served back.
bool ClientTimesValid(const sattr3& s) {
  constexpr uint32_t kNsPerSec = 1000000000;
  return !(s.set_atime == SET_TO_CLIENT_TIME && s.atime.nseconds >= kNsPerSec) &&
         !(s.set_mtime == SET_TO_CLIENT_TIME && s.mtime.nseconds >= kNsPerSec);
}

// READ/WRITE/COMMIT: ISDIR for a directory, INVAL for anything else but a
// regular file, else OK.
nfsstat3 CheckRegularFile(const Attr& a) {
  if (a.type == FileType::kDirectory) return NFS3ERR_ISDIR;
  return a.type == FileType::kRegular ? NFS3_OK : NFS3ERR_INVAL;
}

constexpr uint64_t kMaxFileSize = uint64_t{1} << 44;  // 16 TiB, the store's limit

// The store's limit on hard links (Link fails EMLINK at 65000, as ext4's
// EXT4_LINK_MAX); PATHCONF reports it.
constexpr uint32_t kLinkMax = 65000;

// Directories: the store keeps no byte size for them (0). knfsd on ext4
// serves a small directory as one 4 KiB block, and clients expect a
// non-zero size (a size-0 directory reads as empty or truncated to some
// tools and caches). The served size is constant so that GETATTR, LOOKUP,
// READDIRPLUS and both halves of every wcc_data agree (a pre-op size that
// differed from the last GETATTR would make Linux drop its cache).
constexpr uint64_t kDirSize = 4096;

uint64_t ServedSize(FileType type, uint64_t store_size) {
  return type == FileType::kDirectory ? kDirSize : store_size;
}

constexpr uint32_t kSetuid = 04000;
constexpr uint32_t kSetgid = 02000;

// The group of a new object in `dir` (CREATE, MKDIR, SYMLINK): BSD group
// semantics in a setgid directory, as Linux's inode_init_owner under
// knfsd: the directory's group, and a new directory is setgid too (MKDIR).
// Elsewhere the creator's group.
uint32_t NewGid(const Attr& dir, const Credential& c) {
  return (ServedMode(dir) & kSetgid) ? dir.gid : c.gid;
}

// The mode a new regular file (CREATE) in `dir` gets from the `mode` the
// client asked for. Linux's rule (mode_strip_sgid() in fs/inode.c, which
// vfs_create() applies under knfsd; inode_init_owner() before 6.0): the
// setgid bit is dropped when all of
//   - the new object is not a directory,
//   - `mode` has both setgid and group execute (setgid without group x
//     marks mandatory locking, not privilege, and is kept),
//   - `dir` is setgid (so the file is given dir's group, NewGid), and
//   - the creator is neither in dir's group nor privileged (CAP_FSETID:
//     root, i.e. uid 0 not squashed).
// Otherwise a non-member could make a setgid-executable file of a group it
// does not belong to.
uint32_t NewFileMode(const Attr& dir, const Credential& c, uint32_t mode) {
  if ((mode & (kSetgid | 0010)) != (kSetgid | 0010)) return mode;
  if (!(ServedMode(dir) & kSetgid)) return mode;
  if (c.IsRoot() || c.InGroup(dir.gid)) return mode;
  return mode & ~kSetgid;
}

// The setuid bit, and the setgid bit when group-executable (a setgid bit
// without group x marks mandatory locking, not privilege): what Linux
// revokes on chown of a non-directory (knfsd nfsd_sanitize_attrs) and on
// a write by someone without CAP_FSETID (file_remove_privs).
uint32_t PrivBits(uint32_t mode) {
  return (mode & kSetuid) | ((mode & 0010) ? (mode & kSetgid) : 0);
}

}  // namespace

fattr3 ToFattr3(const Attr& a, uint64_t fsid) {
  fattr3 f;
  switch (a.type) {
    case FileType::kDirectory: f.type = NF3DIR; break;
    case FileType::kSymlink: f.type = NF3LNK; break;
    default: f.type = NF3REG; break;
  }
  f.mode = ServedMode(a);  // the datastore root shows what is enforced
  f.nlink = a.nlink;
  f.uid = a.uid;
  f.gid = a.gid;
  f.size = ServedSize(a.type, a.size);
  f.used = a.type == FileType::kDirectory ? kDirSize : a.allocated;
  f.fsid = fsid;
  f.fileid = a.ino;
  f.atime = ToNfsTime(a.atime);
  f.mtime = ToNfsTime(a.mtime);
  f.ctime = ToNfsTime(a.ctime);
  return f;
}

Nfs3Procs::Nfs3Procs(storage::ExtentStore* store, const ExportTable* exports,
                     const FileHandleCodec* fh, NfsStats* stats)
    : store_(store),
      exports_(exports),
      fh_(fh),
      stats_(stats),
      fsid_(store->store_id()) {}

nfsstat3 Nfs3Procs::Verify(const CallContext& ctx, const nfs_fh3& fh,
                           Need need, Object* out, const char* proc) {
  std::optional<DecodedHandle> h = fh_->Decode(fh.data);
  if (!h) return NFS3ERR_BADHANDLE;
  std::optional<ExportAccess> access = exports_->Check(h->export_index,
                                                 ctx.client_addr);
  if (!access) return NFS3ERR_ACCES;
  if (need == Need::kWrite && !access->rw) return NFS3ERR_ROFS;
  absl::StatusOr<Attr> attr = store_->GetAttrChecked(h->ino, h->generation);
  if (!attr.ok()) {
    nfsstat3 st = NfsStatusOf(attr.status(), proc);
    return st == NFS3ERR_NOENT ? NFS3ERR_STALE : st;
  }
  out->export_index = h->export_index;
  out->client_addr = ctx.client_addr;
  out->access = *access;
  out->cred = EffectiveCredential(ctx.call, *access);
  out->attr = *std::move(attr);
  return NFS3_OK;
}

nfsstat3 Nfs3Procs::CheckName(absl::string_view name) {
  if (name.empty()) return NFS3ERR_INVAL;
  if (name.size() > kMaxNameLen) return NFS3ERR_NAMETOOLONG;
  if (name.find('/') != absl::string_view::npos ||
      name.find('\0') != absl::string_view::npos) {
    return NFS3ERR_INVAL;
  }
  return NFS3_OK;
}

nfsstat3 Nfs3Procs::CheckEntryName(absl::string_view name, nfsstat3 dots) {
  if (name == "." || name == "..") return dots;
  return CheckName(name);
}

post_op_attr Nfs3Procs::PostOp(const Attr& a) const {
  post_op_attr p;
  p.attributes_follow = true;
  p.attributes = ToFattr3(a, fsid_);
  return p;
}

post_op_attr Nfs3Procs::PostOpOf(uint64_t ino) {
  absl::StatusOr<Attr> a = store_->GetAttr(ino);
  if (!a.ok()) return post_op_attr();
  return PostOp(*a);
}

wcc_data Nfs3Procs::Wcc(const Change& c) const {
  wcc_data w;
  w.before.attributes_follow = true;
  // The type never changes, so the after-image tells it (for the size).
  w.before.attributes.size = ServedSize(c.after.type, c.before.size);
  w.before.attributes.mtime = ToNfsTime(c.before.mtime);
  w.before.attributes.ctime = ToNfsTime(c.before.ctime);
  w.after = PostOp(c.after);
  return w;
}

wcc_data Nfs3Procs::WccAfterOnly(uint64_t ino) {
  wcc_data w;
  w.after = PostOpOf(ino);
  return w;
}

FhBytes Nfs3Procs::Handle(uint32_t export_index, const Attr& a) const {
  return fh_->Encode(export_index, a.ino, a.generation);
}

uint64_t Nfs3Procs::ExportRoot(uint32_t index) {
  if (index >= exports_->exports().size()) return 0;
  absl::StatusOr<Attr> a =
      store_->ResolvePath(exports_->exports()[index].store_path);
  return a.ok() ? a->ino : 0;
}

bool Nfs3Procs::Inside(uint64_t ino, uint64_t root) {
  for (int depth = 0; ino != root; ++depth) {
    absl::StatusOr<uint64_t> up = store_->Parent(ino);
    if (!up.ok() || *up == ino || depth > 4096) return false;
    ino = *up;
  }
  return true;
}

// Nested exports as knfsd crosses into an export at a nohide/crossmnt
// mount point (nfsd_cross_mnt: the entry's export when the client has one
// there, else it stays in the current export), applied at every export
// root: LOOKUP then gives the handle MNT gives.
uint32_t Nfs3Procs::EntryExport(const Object& dir, absl::string_view name,
                                const Attr& child) {
  if (child.type != FileType::kDirectory) return dir.export_index;
  for (uint32_t inner :
       exports_->NestedNamed(dir.export_index, name, dir.client_addr)) {
    if (ExportRoot(inner) == child.ino) return inner;
  }
  return dir.export_index;
}

absl::StatusOr<Nfs3Procs::Located> Nfs3Procs::DotDot(const Object& dir) {
  const Located self{dir.attr, dir.export_index};
  const uint64_t root = ExportRoot(dir.export_index);
  if (root == 0) return self;
  if (dir.attr.ino == root) {
    // Out of an export's root, as knfsd's nfsd_lookup_parent for a nohide
    // export: into the innermost export around it that the client has,
    // else ".." is "." (as at "/").
    const std::vector<uint32_t> outer =
        exports_->Enclosing(dir.export_index, dir.client_addr);
    if (outer.empty()) return self;
    absl::StatusOr<uint64_t> parent = store_->Parent(dir.attr.ino);
    if (!parent.ok()) return parent.status();
    for (uint32_t o : outer) {
      const uint64_t outer_root = ExportRoot(o);
      if (outer_root == 0 || !Inside(*parent, outer_root)) continue;
      absl::StatusOr<Attr> a = store_->GetAttr(*parent);
      if (!a.ok()) return a.status();
      return Located{*std::move(a), o};
    }
    return self;
  }
  absl::StatusOr<uint64_t> parent = store_->Parent(dir.attr.ino);
  if (!parent.ok()) return parent.status();
  // The parent must lie inside the export: the export's root directory may
  // have been renamed away (or replaced by a new one of the same name)
  // while clients kept handles below it.
  if (!Inside(*parent, root)) return self;
  absl::StatusOr<Attr> a = store_->GetAttr(*parent);
  if (!a.ok()) return a.status();
  return Located{*std::move(a), dir.export_index};
}

nfsstat3 Nfs3Procs::CheckRemove(const Object& dir, absl::string_view name) {
  if (dir.attr.type != FileType::kDirectory) return NFS3ERR_NOTDIR;
  nfsstat3 st = CheckDirChange(dir.cred, dir.attr);
  if (st != NFS3_OK) return st;
  absl::StatusOr<Attr> victim = store_->Lookup(dir.attr.ino, name);
  // A missing entry: the store's answer (NOENT) follows.
  return victim.ok() ? CheckSticky(dir.cred, dir.attr, *victim) : NFS3_OK;
}

nfsstat3 Nfs3Procs::CheckRename(const Object& from, absl::string_view from_name,
                                const Object& to, absl::string_view to_name) {
  if (from.attr.type != FileType::kDirectory ||
      to.attr.type != FileType::kDirectory) {
    return NFS3ERR_NOTDIR;
  }
  nfsstat3 st = CheckDirChange(from.cred, from.attr);
  if (st == NFS3_OK) st = CheckDirChange(to.cred, to.attr);
  if (st != NFS3_OK) return st;
  absl::StatusOr<Attr> source = store_->Lookup(from.attr.ino, from_name);
  if (!source.ok()) return NFS3_OK;  // the store answers NOENT
  st = CheckSticky(from.cred, from.attr, *source);
  if (st != NFS3_OK) return st;
  // Moving a directory to another parent rewrites its "..": write on it
  // (Linux may_rename / knfsd).
  if (source->type == FileType::kDirectory && from.attr.ino != to.attr.ino &&
      !May(from.cred, *source, kMayWrite)) {
    return NFS3ERR_ACCES;
  }
  absl::StatusOr<Attr> target = store_->Lookup(to.attr.ino, to_name);
  return target.ok() ? CheckSticky(to.cred, to.attr, *target) : NFS3_OK;
}

// §3.3.1
GETATTR3res Nfs3Procs::Getattr(const CallContext& ctx, const GETATTR3args& a) {
  GETATTR3res r;
  Object o;
  r.status = Verify(ctx, a.object, Need::kRead, &o, "GETATTR");
  if (r.status == NFS3_OK) r.obj_attributes = ToFattr3(o.attr, fsid_);
  return r;
}

// §3.3.2
SETATTR3res Nfs3Procs::Setattr(const CallContext& ctx, const SETATTR3args& a) {
  SETATTR3res r;
  Object o;
  r.status = Verify(ctx, a.object, Need::kWrite, &o, "SETATTR");
  if (r.status != NFS3_OK) return r;
  // Who may change what: access_check.h CheckSetattr (ACCES for size/time
  // without write permission, PERM for chown/chgrp/chmod by a non-owner).
  r.status = ClientTimesValid(a.new_attributes)
                 ? CheckSetattr(o.cred, o.attr, a.new_attributes)
                 : NFS3ERR_INVAL;
  if (r.status != NFS3_OK) {
    r.obj_wcc.after = PostOp(o.attr);
    return r;
  }
  storage::SetAttrRequest req = ToSetAttr(a.new_attributes);
  if (a.guard.check) req.guard_ctime = FromNfsTime(a.guard.obj_ctime);
  // A size sets mtime (and ctime, which every SetAttr sets) to the server's
  // time even when it equals the current size, as knfsd does: its
  // __nfsd_setattr (fs/nfsd/vfs.c) always truncates with ATTR_SIZE |
  // ATTR_MTIME | ATTR_CTIME ("changing the size of a file with SETATTR
  // indirectly changes the time_modify", RFC 5661 §18.30.4 "and similar
  // for the older RFCs"). Clients rely on it: a Linux client's
  // open(O_TRUNC) is such a SETATTR, and POSIX has O_TRUNC update both
  // times even when the file was already empty. (A local truncate(2)
  // changes them only when the size changes.) An mtime the client sets in
  // the same call wins, as knfsd applies it after the size.
  if (req.size && req.mtime_how == storage::SetAttrRequest::TimeHow::kDontChange) {
    req.mtime_how = storage::SetAttrRequest::TimeHow::kServerTime;
  }
  // chmod by someone neither root nor in the file's (new) group cannot set
  // setgid (Linux setattr_prepare); chown/chgrp of a non-directory revokes
  // setuid and setgid, from the mode being set or from the current one
  // (knfsd nfsd_sanitize_attrs).
  const sattr3& s = a.new_attributes;
  if (req.mode && !o.cred.IsRoot() &&
      !o.cred.InGroup(s.set_gid ? s.gid : o.attr.gid)) {
    *req.mode &= ~kSetgid;
  }
  if ((s.set_uid || s.set_gid) && o.attr.type != FileType::kDirectory) {
    const uint32_t mode = req.mode ? *req.mode : ServedMode(o.attr);
    if (PrivBits(mode) != 0) req.mode = mode & ~PrivBits(mode);
  }
  // The store ends an EXCLUSIVE CREATE's verifier here (§3.3.8: a retry
  // after the client's follow-up SETATTR fails EXIST).
  absl::StatusOr<Change> c = store_->SetAttr(o.attr.ino, req);
  if (!c.ok()) {
    r.status = NfsStatusOf(c.status(), "SETATTR");
    r.obj_wcc = WccAfterOnly(o.attr.ino);
    return r;
  }
  r.obj_wcc = Wcc(*c);
  return r;
}

// §3.3.3
LOOKUP3res Nfs3Procs::Lookup(const CallContext& ctx, const LOOKUP3args& a) {
  LOOKUP3res r;
  Object dir;
  r.status = Verify(ctx, a.what.dir, Need::kRead, &dir, "LOOKUP");
  if (r.status != NFS3_OK) return r;
  r.dir_attributes = PostOp(dir.attr);
  // Searching a directory needs x on it (also for "." and "..").
  r.status = CheckDirAccess(dir, kMayExec);
  if (r.status != NFS3_OK) return r;
  absl::string_view name = a.what.name;
  if (name != "." && name != "..") {
    r.status = CheckName(name);
    if (r.status != NFS3_OK) return r;
  }
  absl::StatusOr<Located> obj;
  if (name == "..") {
    obj = DotDot(dir);
  } else {
    absl::StatusOr<Attr> a = store_->Lookup(dir.attr.ino, name);
    if (a.ok()) {
      obj = Located{*a, name == "." ? dir.export_index
                                    : EntryExport(dir, name, *a)};
    } else {
      obj = a.status();
    }
  }
  if (!obj.ok()) {
    r.status = NfsStatusOf(obj.status(), "LOOKUP");
    return r;
  }
  r.object = Handle(obj->export_index, obj->attr);
  r.obj_attributes = PostOp(obj->attr);
  return r;
}

// §3.3.4 — the bits the caller's credential has on the object by its mode
// (access_check.h Access3: no ACLs, no owner override), intersected with
// the bits asked for; a read-only export or snapshot inode grants no
// MODIFY, EXTEND or DELETE.
ACCESS3res Nfs3Procs::Access(const CallContext& ctx, const ACCESS3args& a) {
  ACCESS3res r;
  Object o;
  r.status = Verify(ctx, a.object, Need::kRead, &o, "ACCESS");
  if (r.status != NFS3_OK) return r;
  r.obj_attributes = PostOp(o.attr);
  r.access = Access3(o.cred, o.attr, o.access.rw && !o.attr.read_only,
                     a.access);
  return r;
}

// §3.3.5
READLINK3res Nfs3Procs::Readlink(const CallContext& ctx,
                                 const READLINK3args& a) {
  READLINK3res r;
  Object o;
  r.status = Verify(ctx, a.symlink, Need::kRead, &o, "READLINK");
  if (r.status != NFS3_OK) return r;
  r.symlink_attributes = PostOp(o.attr);
  if (o.attr.type != FileType::kSymlink) {
    r.status = NFS3ERR_INVAL;
    return r;
  }
  absl::StatusOr<std::string> target = store_->ReadLink(o.attr.ino);
  if (!target.ok()) {
    r.status = NfsStatusOf(target.status(), "READLINK");
    return r;
  }
  r.data = *std::move(target);
  return r;
}

// §3.3.6 — the data is lent by the store (sent from where it is) or read
// straight into the reply buffer.
READ3res Nfs3Procs::Read(const CallContext& ctx, const READ3args& a) {
  READ3res r;
  Object o;
  r.status = Verify(ctx, a.file, Need::kRead, &o, "READ");
  if (r.status != NFS3_OK) return r;
  r.file_attributes = PostOp(o.attr);
  r.status = CheckRegularFile(o.attr);
  if (r.status != NFS3_OK) return r;
  // Read (or execute) permission; the owner always may (owner override).
  if (!MayReadData(o.cred, o.attr)) {
    r.status = NFS3ERR_ACCES;
    return r;
  }
  uint32_t count = std::min(a.count, kMaxIoSize);
  // Bytes the store holds in memory anyway (a sequential stream's
  // prefetch) go out from there, without a copy into the reply; the rest
  // is read straight into it.
  const char* data = nullptr;
  storage::LentBytes lent;
  absl::StatusOr<storage::ReadResult> rr = store_->ReadLent(
      o.attr.ino, a.offset, count, ctx.may_block, &lent);
  if (absl::IsUnavailable(rr.status())) {
    lent.Clear();
    char* buf = ctx.ReserveReadData(count, kRead3DataOffset);
    rr = ctx.may_block ? store_->Read(o.attr.ino, a.offset, count, buf)
                       : store_->ReadCached(o.attr.ino, a.offset, count, buf);
    data = buf;
  }
  if (!ctx.may_block && ErrnoOf(rr.status()) == EAGAIN) {
    ctx.would_block = true;
    return r;
  }
  if (!rr.ok()) {
    r.status = NfsStatusOf(rr.status(), "READ");
    return r;
  }
  r.file_attributes = PostOp(rr->attr);
  r.count = rr->count;
  r.eof = rr->eof || a.offset + rr->count >= rr->attr.size;
  if (lent.keep) {
    r.lent = std::move(lent.pieces);
    r.data_keep = std::move(lent.keep);
  } else {
    r.data = absl::string_view(data, rr->count);
  }
  if (stats_) stats_->AddBytesRead(rr->count);
  return r;
}

// §3.3.7 — `data` is a view into the call record (no copy).
WRITE3res Nfs3Procs::Write(const CallContext& ctx, const WRITE3args& a) {
  WRITE3res r;
  Object o;
  r.status = Verify(ctx, a.file, Need::kWrite, &o, "WRITE");
  if (r.status != NFS3_OK) return r;
  r.status = CheckRegularFile(o.attr);
  // Write permission; the owner always may (owner override).
  if (r.status == NFS3_OK &&
      !May(o.cred, o.attr, kMayWrite, /*owner_override=*/true)) {
    r.status = NFS3ERR_ACCES;
  }
  if (r.status != NFS3_OK) {
    r.file_wcc.after = PostOp(o.attr);
    return r;
  }
  storage::Stability st = a.stable == FILE_SYNC ? storage::Stability::kFileSync
                          : a.stable == DATA_SYNC
                              ? storage::Stability::kDataSync
                              : storage::Stability::kUnstable;
  // The verifier the data is written under, read before the write: were it
  // read after, a rollback in between (another change's failed batch, which
  // may drop this unstable write) would hand out the new verifier, and the
  // client's COMMIT would match it and never resend.
  const uint64_t verifier = store_->write_verifier();
  // A write by anyone but root revokes setuid/setgid first (Linux
  // file_remove_privs; root keeps them, having CAP_FSETID).
  bool revoked = false;
  if (PrivBits(o.attr.mode) != 0 && !o.cred.IsRoot()) {
    storage::SetAttrRequest revoke;
    revoke.mode = o.attr.mode & ~PrivBits(o.attr.mode);
    absl::StatusOr<Change> c = store_->SetAttr(o.attr.ino, revoke);
    if (!c.ok()) {
      r.status = NfsStatusOf(c.status(), "WRITE");
      r.file_wcc = WccAfterOnly(o.attr.ino);
      return r;
    }
    revoked = true;
  }
  // An unstable write's data may stay in the store's write-behind without
  // a copy: it is handed the record that holds it.
  absl::StatusOr<storage::WriteResult> w = store_->Write(
      o.attr.ino, a.offset, a.data, st,
      st == storage::Stability::kUnstable ? ctx.ShareRecord() : nullptr);
  if (!w.ok()) {
    r.status = NfsStatusOf(w.status(), "WRITE");
    r.file_wcc = WccAfterOnly(o.attr.ino);
    return r;
  }
  // After a revocation no before-image is atomic with the whole change:
  // send none (§2.6) rather than one that might hide another's change.
  if (revoked) {
    r.file_wcc.after = PostOp(w->file.after);
  } else {
    r.file_wcc = Wcc(w->file);
  }
  r.count = w->count;
  // committed ≥ stable (§3.3.7).
  uint32_t committed = std::max(static_cast<uint32_t>(w->committed),
                                static_cast<uint32_t>(a.stable));
  r.committed = static_cast<stable_how>(std::min<uint32_t>(committed, FILE_SYNC));
  r.verf = Verifier8(verifier);
  if (stats_) stats_->AddBytesWritten(w->count);
  return r;
}

template <typename Res>
Res Nfs3Procs::CreateLike(
    const CallContext& ctx, const diropargs3& where, const char* proc,
    const std::function<absl::StatusOr<storage::CreateResult>(
        const Attr& dir, const Credential& cred)>& op,
    Credential* cred_out) {
  Res r;
  Object dir;
  r.status = Verify(ctx, where.dir, Need::kWrite, &dir, proc);
  if (r.status != NFS3_OK) return r;
  r.dir_wcc.after = PostOp(dir.attr);
  if (dir.attr.type != FileType::kDirectory) {
    r.status = NFS3ERR_NOTDIR;
    return r;
  }
  r.status = CheckEntryName(where.name, NFS3ERR_EXIST);
  if (r.status != NFS3_OK) return r;
  r.status = CheckDirChange(dir.cred, dir.attr);
  if (r.status != NFS3_OK) return r;
  if (cred_out) *cred_out = dir.cred;
  absl::StatusOr<storage::CreateResult> c = op(dir.attr, dir.cred);
  if (!c.ok()) {
    r.status = NfsStatusOf(c.status(), proc);
    r.dir_wcc = WccAfterOnly(dir.attr.ino);
    return r;
  }
  r.obj.handle_follows = true;
  // MKDIR may make the root of a nested export.
  r.obj.handle = Handle(EntryExport(dir, where.name, c->attr), c->attr);
  r.obj_attributes = PostOp(c->attr);
  r.dir_wcc = Wcc(c->dir);
  return r;
}

// §3.3.8
CREATE3res Nfs3Procs::Create(const CallContext& ctx, const CREATE3args& a) {
  // Only root may name the owner of what it creates; others' uid/gid in
  // the sattr3 are ignored (knfsd nfsd_create_setattr does the same).
  auto attrs_for = [&a](const Credential& cred) {
    sattr3 s = a.how.obj_attributes;
    if (!cred.IsRoot()) s.set_uid = s.set_gid = false;
    return s;
  };
  Credential cred;
  // UNCHECKED and EXCLUSIVE: the file already there before the store call.
  uint64_t existing_ino = 0;
  Attr made;  // what the store's Create returned
  CREATE3res r = CreateLike<CREATE3res>(
      ctx, a.where, "CREATE",
      [&](const Attr& dir,
          const Credential& c) -> absl::StatusOr<storage::CreateResult> {
        const sattr3 s = attrs_for(c);
        if (a.how.mode != EXCLUSIVE && !ClientTimesValid(s)) {
          return FsError(EINVAL, "nseconds out of range");
        }
        storage::CreateRequest req;
        req.uid = c.uid;
        req.gid = NewGid(dir, c);
        switch (a.how.mode) {
          case GUARDED: req.how = storage::CreateRequest::How::kGuarded; break;
          case EXCLUSIVE:
            req.how = storage::CreateRequest::How::kExclusive;
            memcpy(req.verifier.data(), a.how.verf.data(), 8);
            break;
          default: req.how = storage::CreateRequest::How::kUnchecked; break;
        }
        if (a.how.mode != EXCLUSIVE) {
          if (s.set_mode) req.mode = NewFileMode(dir, c, s.mode & 07777);
          if (s.set_uid) req.uid = s.uid;
          if (s.set_gid) req.gid = s.gid;
          if (s.set_size) req.size = s.size;
        }
        if (req.how != storage::CreateRequest::How::kGuarded) {
          absl::StatusOr<Attr> old = store_->Lookup(dir.ino, a.where.name);
          if (old.ok() && old->type == FileType::kRegular) {
            existing_ino = old->ino;
            // Truncating an existing file is a write to it (owner
            // override, as for SETATTR size).
            if (req.size &&
                !May(c, *old, kMayWrite, /*owner_override=*/true)) {
              return FsError(EACCES,
                             "no write permission on the existing file");
            }
          }
        }
        absl::StatusOr<storage::CreateResult> res =
            store_->Create(dir.ino, a.where.name, req);
        if (res.ok()) made = res->attr;
        return res;
      },
      &cred);
  if (r.status != NFS3_OK) return r;
  if (a.how.mode == EXCLUSIVE) {
    // A retry the store matched by its verifier (valid until the client's
    // follow-up SETATTR, §3.3.8) must also still be the empty file CREATE
    // made: one that got data is not (knfsd checks the size too).
    if (made.ino == existing_ino && made.size != 0) {
      r.status = NFS3ERR_EXIST;
      r.obj = post_op_fh3();
      r.obj_attributes = post_op_attr();
    }
    return r;
  }
  // UNCHECKED on an existing regular file keeps it and applies only the
  // size (RFC 1813 §3.3.8: obj_attributes are the *initial* attributes;
  // POSIX open(O_CREAT) without O_EXCL never chmods/chowns an existing
  // file; knfsd does the same). A file that appears between the lookup
  // above and the create counts as new.
  const fattr3& got = r.obj_attributes.attributes;
  if (existing_ino != 0 && got.fileid == existing_ino) return r;
  // A new file already has mode/uid/gid from the store's Create; only the
  // times need a SETATTR.
  sattr3 times;
  times.set_atime = a.how.obj_attributes.set_atime;
  times.atime = a.how.obj_attributes.atime;
  times.set_mtime = a.how.obj_attributes.set_mtime;
  times.mtime = a.how.obj_attributes.mtime;
  if (times.set_atime == DONT_CHANGE && times.set_mtime == DONT_CHANGE) {
    return r;
  }
  std::optional<DecodedHandle> h = fh_->Decode(r.obj.handle.view());
  absl::StatusOr<Attr> now =
      h ? store_->GetAttr(h->ino) : absl::StatusOr<Attr>(absl::NotFoundError(""));
  // The same rules as SETATTR; when they refuse, the create still succeeds
  // and the times stay as they are (knfsd likewise ignores the outcome of
  // the setattr after a create).
  if (now.ok() && CheckSetattr(cred, *now, times) == NFS3_OK) {
    absl::StatusOr<Change> c = store_->SetAttr(h->ino, ToSetAttr(times));
    if (c.ok()) r.obj_attributes = PostOp(c->after);
  }
  return r;
}

// §3.3.9
MKDIR3res Nfs3Procs::Mkdir(const CallContext& ctx, const MKDIR3args& a) {
  const sattr3& s = a.attributes;
  return CreateLike<MKDIR3res>(
      ctx, a.where, "MKDIR", [&](const Attr& dir, const Credential& c) {
        // As for CREATE: only root may name the owner.
        const bool root = c.IsRoot();
        uint32_t mode = s.set_mode ? (s.mode & 07777) : 0755;
        if (ServedMode(dir) & kSetgid) mode |= kSetgid;  // NewGid
        return store_->Mkdir(dir.ino, a.where.name, mode,
                             root && s.set_uid ? s.uid : c.uid,
                             root && s.set_gid ? s.gid : NewGid(dir, c));
      });
}

// §3.3.10
SYMLINK3res Nfs3Procs::Symlink(const CallContext& ctx, const SYMLINK3args& a) {
  const sattr3& s = a.symlink.symlink_attributes;
  if (a.symlink.symlink_data.empty() ||
      a.symlink.symlink_data.find('\0') != absl::string_view::npos) {
    SYMLINK3res r;
    r.status = NFS3ERR_INVAL;
    return r;
  }
  return CreateLike<SYMLINK3res>(
      ctx, a.where, "SYMLINK", [&](const Attr& dir, const Credential& c) {
        // As for CREATE: only root may name the owner. A symlink's mode is
        // always 0777 (Linux makes every symlink S_IALLUGO, and knfsd drops
        // the mode of the sattr3 after a create).
        const bool root = c.IsRoot();
        return store_->Symlink(dir.ino, a.where.name, a.symlink.symlink_data,
                               0777,
                               root && s.set_uid ? s.uid : c.uid,
                               root && s.set_gid ? s.gid : NewGid(dir, c));
      });
}

// §3.3.11 — the store keeps regular files, directories and symlinks only.
MKNOD3res Nfs3Procs::Mknod(const CallContext& ctx, const MKNOD3args& a) {
  MKNOD3res r;
  Object dir;
  r.status = Verify(ctx, a.where.dir, Need::kWrite, &dir, "MKNOD");
  if (r.status != NFS3_OK) return r;
  r.dir_wcc.after = PostOp(dir.attr);
  if (a.what.type == NF3REG || a.what.type == NF3DIR || a.what.type == NF3LNK) {
    r.status = NFS3ERR_BADTYPE;  // CREATE, MKDIR, SYMLINK make these
    return r;
  }
  if (dir.attr.type != FileType::kDirectory) {
    r.status = NFS3ERR_NOTDIR;
    return r;
  }
  // The errors mknod(2) gives before the type matters: a bad or taken name
  // (mkfifo on an existing name is EEXIST, not ENOTSUP), no permission.
  r.status = CheckEntryName(a.where.name, NFS3ERR_EXIST);
  if (r.status != NFS3_OK) return r;
  r.status = CheckDirChange(dir.cred, dir.attr);
  if (r.status != NFS3_OK) return r;
  r.status = store_->Lookup(dir.attr.ino, a.where.name).ok() ? NFS3ERR_EXIST
                                                              : NFS3ERR_NOTSUPP;
  return r;
}

void Nfs3Procs::RemoveEntry(const Object& dir, absl::string_view name,
                            RemoveOp op, const char* proc, REMOVE3res* r) {
  r->status = CheckName(name);
  if (r->status != NFS3_OK) return;
  r->status = CheckRemove(dir, name);
  if (r->status != NFS3_OK) return;
  absl::StatusOr<Change> c = (store_->*op)(dir.attr.ino, name);
  if (!c.ok()) {
    r->status = NfsStatusOf(c.status(), proc);
    r->dir_wcc = WccAfterOnly(dir.attr.ino);
    return;
  }
  r->dir_wcc = Wcc(*c);
}

// §3.3.12
REMOVE3res Nfs3Procs::Remove(const CallContext& ctx, const REMOVE3args& a) {
  REMOVE3res r;
  Object dir;
  r.status = Verify(ctx, a.object.dir, Need::kWrite, &dir, "REMOVE");
  if (r.status != NFS3_OK) return r;
  r.dir_wcc.after = PostOp(dir.attr);
  if (a.object.name == "." || a.object.name == "..") {
    r.status = NFS3ERR_INVAL;
    return r;
  }
  RemoveEntry(dir, a.object.name, &storage::ExtentStore::Remove, "REMOVE", &r);
  return r;
}

// §3.3.13
RMDIR3res Nfs3Procs::Rmdir(const CallContext& ctx, const RMDIR3args& a) {
  RMDIR3res r;
  Object dir;
  r.status = Verify(ctx, a.object.dir, Need::kWrite, &dir, "RMDIR");
  if (r.status != NFS3_OK) return r;
  r.dir_wcc.after = PostOp(dir.attr);
  if (a.object.name == ".") {
    r.status = NFS3ERR_INVAL;
    return r;
  }
  if (a.object.name == "..") {
    r.status = NFS3ERR_NOTEMPTY;
    return r;
  }
  RemoveEntry(dir, a.object.name, &storage::ExtentStore::Rmdir, "RMDIR", &r);
  return r;
}

// §3.3.14
RENAME3res Nfs3Procs::Rename(const CallContext& ctx, const RENAME3args& a) {
  RENAME3res r;
  Object from, to;
  r.status = Verify(ctx, a.from.dir, Need::kWrite, &from, "RENAME");
  if (r.status != NFS3_OK) return r;
  r.status = Verify(ctx, a.to.dir, Need::kWrite, &to, "RENAME");
  if (r.status != NFS3_OK) return r;
  r.fromdir_wcc.after = PostOp(from.attr);
  r.todir_wcc.after = PostOp(to.attr);
  if (from.export_index != to.export_index) {
    r.status = NFS3ERR_XDEV;
    return r;
  }
  for (absl::string_view n : {a.from.name, a.to.name}) {
    r.status = CheckEntryName(n, NFS3ERR_INVAL);
    if (r.status != NFS3_OK) return r;
  }
  r.status = CheckRename(from, a.from.name, to, a.to.name);
  if (r.status != NFS3_OK) return r;
  absl::StatusOr<storage::ExtentStore::RenameResult> c =
      store_->Rename(from.attr.ino, a.from.name, to.attr.ino, a.to.name);
  if (!c.ok()) {
    r.status = NfsStatusOf(c.status(), "RENAME");
    r.fromdir_wcc = WccAfterOnly(from.attr.ino);
    r.todir_wcc = WccAfterOnly(to.attr.ino);
    return r;
  }
  r.fromdir_wcc = Wcc(c->from_dir);
  r.todir_wcc = Wcc(c->to_dir);
  return r;
}

// §3.3.15
LINK3res Nfs3Procs::Link(const CallContext& ctx, const LINK3args& a) {
  LINK3res r;
  Object file, dir;
  r.status = Verify(ctx, a.file, Need::kWrite, &file, "LINK");
  if (r.status != NFS3_OK) return r;
  r.file_attributes = PostOp(file.attr);
  r.status = Verify(ctx, a.link.dir, Need::kWrite, &dir, "LINK");
  if (r.status != NFS3_OK) return r;
  r.linkdir_wcc.after = PostOp(dir.attr);
  if (file.export_index != dir.export_index) {
    r.status = NFS3ERR_XDEV;
    return r;
  }
  if (file.attr.type == FileType::kDirectory) {
    r.status = NFS3ERR_ISDIR;
    return r;
  }
  r.status = CheckEntryName(a.link.name, NFS3ERR_EXIST);
  if (r.status != NFS3_OK) return r;
  if (dir.attr.type != FileType::kDirectory) {
    r.status = NFS3ERR_NOTDIR;
    return r;
  }
  // A new name in the directory: write+search on it. (Linux's
  // fs.protected_hardlinks, which limits linking others' files, is a sysctl
  // default, not POSIX; not applied.)
  r.status = CheckDirChange(dir.cred, dir.attr);
  if (r.status != NFS3_OK) return r;
  absl::StatusOr<storage::CreateResult> c =
      store_->Link(file.attr.ino, dir.attr.ino, a.link.name);
  if (!c.ok()) {
    r.status = NfsStatusOf(c.status(), "LINK");
    r.linkdir_wcc = WccAfterOnly(dir.attr.ino);
    return r;
  }
  r.file_attributes = PostOp(c->attr);
  r.linkdir_wcc = Wcc(c->dir);
  return r;
}

// READDIR / READDIRPLUS cookies (stable across restarts):
//   0 start, 1 after ".", 2 after "..", n ≥ 3 after the store entry whose
//   store cookie is n - 2 (store cookies start at 1).
namespace {
constexpr uint64_t kDotCookie = 1;
constexpr uint64_t kDotDotCookie = 2;
constexpr uint64_t kCookieBias = 2;

// The fixed part of a READDIR/READDIRPLUS reply: status, post_op_attr,
// cookieverf, end-of-list marker, eof.
constexpr size_t kDirReplyOverhead = 4 + kPostOpAttrSize + 8 + 4 + 4;

// READDIR/READDIRPLUS: a cookie other than 0 must come with the
// directory's current cookie verifier or with a zero verifier.
bool CookieVerfMatches(uint64_t cookie, const cookieverf3& sent,
                       uint64_t current) {
  uint64_t verf = FromVerifier8(sent);
  return cookie == 0 || verf == 0 || verf == current;
}
}  // namespace

nfsstat3 Nfs3Procs::CheckDirAccess(const Object& dir, uint32_t want) {
  if (dir.attr.type != FileType::kDirectory) return NFS3ERR_NOTDIR;
  return May(dir.cred, dir.attr, want) ? NFS3_OK : NFS3ERR_ACCES;
}

std::vector<storage::DirEntry> Nfs3Procs::DirEntries(const Object& dir,
                                                     uint64_t cookie,
                                                     uint32_t max_entries,
                                                     bool want_attrs,
                                                     nfsstat3* status,
                                                     bool* eof,
                                                     uint64_t* verifier,
                                                     uint32_t* dotdot_export,
                                                     const char* proc) {
  std::vector<storage::DirEntry> out;
  *status = NFS3_OK;
  *dotdot_export = dir.export_index;
  if (cookie < kDotCookie) {
    storage::DirEntry e;
    e.name = ".";
    e.ino = dir.attr.ino;
    e.cookie = kDotCookie;
    e.attr = dir.attr;
    out.push_back(std::move(e));
  }
  if (cookie < kDotDotCookie) {
    storage::DirEntry e;
    e.name = "..";
    e.cookie = kDotDotCookie;
    absl::StatusOr<Located> pa = DotDot(dir);
    e.attr = pa.ok() ? pa->attr : dir.attr;
    e.ino = e.attr.ino;
    if (pa.ok()) *dotdot_export = pa->export_index;
    out.push_back(std::move(e));
  }
  uint64_t store_cookie = cookie <= kCookieBias ? 0 : cookie - kCookieBias;
  absl::StatusOr<storage::DirPage> page =
      store_->ReadDir(dir.attr.ino, store_cookie, max_entries, want_attrs);
  if (!page.ok()) {
    *status = NfsStatusOf(page.status(), proc);
    return {};
  }
  *eof = page->eof;
  *verifier = page->cookie_verifier;
  for (storage::DirEntry& e : page->entries) {
    e.cookie += kCookieBias;
    out.push_back(std::move(e));
  }
  return out;
}

// §3.3.16
READDIR3res Nfs3Procs::Readdir(const CallContext& ctx, const READDIR3args& a) {
  READDIR3res r;
  Object dir;
  r.status = Verify(ctx, a.dir, Need::kRead, &dir, "READDIR");
  if (r.status != NFS3_OK) return r;
  r.dir_attributes = PostOp(dir.attr);
  // Listing a directory needs r on it (knfsd NFSD_MAY_READ).
  r.status = CheckDirAccess(dir, kMayRead);
  if (r.status != NFS3_OK) return r;
  const size_t budget = std::min<size_t>(a.count, kMaxIoSize);
  if (budget <= kDirReplyOverhead) {
    r.status = NFS3ERR_TOOSMALL;
    return r;
  }
  uint32_t max_entries = static_cast<uint32_t>(
      std::min<size_t>((budget - kDirReplyOverhead) / 24 + 1, 4096));
  uint64_t verifier = 0;
  uint32_t dotdot_export = 0;  // READDIR lists no handles
  std::vector<storage::DirEntry> entries =
      DirEntries(dir, a.cookie, max_entries, false, &r.status, &r.eof,
                 &verifier, &dotdot_export, "READDIR");
  if (r.status != NFS3_OK) return r;
  if (!CookieVerfMatches(a.cookie, a.cookieverf, verifier)) {
    r.status = NFS3ERR_BAD_COOKIE;
    return r;
  }
  r.cookieverf = Verifier8(verifier);
  size_t used = kDirReplyOverhead;
  for (const storage::DirEntry& de : entries) {
    entry3 e;
    e.fileid = de.ino;
    e.name = de.name;
    e.cookie = de.cookie;
    size_t sz = EncodedSize(e);
    if (used + sz > budget) {
      r.eof = false;
      break;
    }
    used += sz;
    r.entries.push_back(std::move(e));
  }
  if (r.entries.empty() && !entries.empty()) r.status = NFS3ERR_TOOSMALL;
  return r;
}

// §3.3.17
READDIRPLUS3res Nfs3Procs::Readdirplus(const CallContext& ctx,
                                       const READDIRPLUS3args& a) {
  READDIRPLUS3res r;
  Object dir;
  r.status = Verify(ctx, a.dir, Need::kRead, &dir, "READDIRPLUS");
  if (r.status != NFS3_OK) return r;
  r.dir_attributes = PostOp(dir.attr);
  // Listing a directory needs r on it (knfsd NFSD_MAY_READ).
  r.status = CheckDirAccess(dir, kMayRead);
  if (r.status != NFS3_OK) return r;
  const size_t budget = std::min<size_t>(a.maxcount, kMaxIoSize);
  const size_t dir_budget = a.dircount == 0 ? budget : a.dircount;
  if (budget <= kDirReplyOverhead) {
    r.status = NFS3ERR_TOOSMALL;
    return r;
  }
  uint32_t max_entries = static_cast<uint32_t>(
      std::min<size_t>((budget - kDirReplyOverhead) / 140 + 1, 1024));
  uint64_t verifier = 0;
  uint32_t dotdot_export = dir.export_index;
  std::vector<storage::DirEntry> entries =
      DirEntries(dir, a.cookie, max_entries, true, &r.status, &r.eof,
                 &verifier, &dotdot_export, "READDIRPLUS");
  if (r.status != NFS3_OK) return r;
  if (!CookieVerfMatches(a.cookie, a.cookieverf, verifier)) {
    r.status = NFS3ERR_BAD_COOKIE;
    return r;
  }
  r.cookieverf = Verifier8(verifier);
  size_t used = kDirReplyOverhead, dir_used = 0;
  for (const storage::DirEntry& de : entries) {
    entryplus3 e;
    e.fileid = de.ino;
    e.name = de.name;
    e.cookie = de.cookie;
    if (de.attr.ino == de.ino) {
      e.name_attributes = PostOp(de.attr);
      e.name_handle.handle_follows = true;
      // The handles LOOKUP gives: "." in dir's export, ".." and nested
      // export roots possibly in another.
      const uint32_t export_index =
          de.cookie == kDotCookie      ? dir.export_index
          : de.cookie == kDotDotCookie ? dotdot_export
                                       : EntryExport(dir, de.name, de.attr);
      e.name_handle.handle = Handle(export_index, de.attr);
    }
    size_t sz = EncodedSize(e);
    size_t dsz = 8 + 4 + e.name.size() + XdrPad(e.name.size()) + 8;
    if (used + sz > budget ||
        (!r.entries.empty() && dir_used + dsz > dir_budget)) {
      r.eof = false;
      break;
    }
    used += sz;
    dir_used += dsz;
    r.entries.push_back(std::move(e));
  }
  if (r.entries.empty() && !entries.empty()) r.status = NFS3ERR_TOOSMALL;
  return r;
}

// §3.3.18
FSSTAT3res Nfs3Procs::Fsstat(const CallContext& ctx, const FSSTAT3args& a) {
  FSSTAT3res r;
  Object o;
  r.status = Verify(ctx, a.fsroot, Need::kRead, &o, "FSSTAT");
  if (r.status != NFS3_OK) return r;
  r.obj_attributes = PostOp(o.attr);
  absl::StatusOr<storage::StoreSpace> s = store_->GetStoreSpace();
  if (!s.ok()) {
    r.status = NfsStatusOf(s.status(), "FSSTAT");
    return r;
  }
  r.tbytes = s->capacity;
  r.fbytes = s->free;
  r.abytes = s->free;
  constexpr uint64_t kMaxFiles = uint64_t{1} << 32;
  r.tfiles = kMaxFiles;
  r.ffiles = s->files < kMaxFiles ? kMaxFiles - s->files : 0;
  r.afiles = r.ffiles;
  r.invarsec = 0;
  return r;
}

// §3.3.19
FSINFO3res Nfs3Procs::Fsinfo(const CallContext& ctx, const FSINFO3args& a) {
  FSINFO3res r;
  Object o;
  r.status = Verify(ctx, a.fsroot, Need::kRead, &o, "FSINFO");
  if (r.status != NFS3_OK) return r;
  r.obj_attributes = PostOp(o.attr);
  r.rtmax = r.rtpref = kMaxIoSize;
  r.wtmax = r.wtpref = kMaxIoSize;
  r.rtmult = r.wtmult = 4096;
  r.dtpref = kMaxIoSize;
  r.maxfilesize = kMaxFileSize;
  r.time_delta.seconds = 0;
  r.time_delta.nseconds = 1;
  r.properties = FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME;
  return r;
}

// §3.3.20
PATHCONF3res Nfs3Procs::Pathconf(const CallContext& ctx,
                                 const PATHCONF3args& a) {
  PATHCONF3res r;
  Object o;
  r.status = Verify(ctx, a.object, Need::kRead, &o, "PATHCONF");
  if (r.status != NFS3_OK) return r;
  r.obj_attributes = PostOp(o.attr);
  r.linkmax = kLinkMax;
  r.name_max = kMaxNameLen;
  return r;
}

// §3.3.21 — the store makes every unstable write durable; the verifier is
// the one WRITE reports. COMMIT is about a file's cached writes: on a
// directory it answers ISDIR and on a symlink INVAL, as WRITE does and as
// knfsd does (its COMMIT opens the object as a regular file for writing,
// nfsd_mode_check). RFC 1813's error list for COMMIT names neither, but
// answering OK would claim that data was committed for an object that
// cannot hold any.
COMMIT3res Nfs3Procs::Commit(const CallContext& ctx, const COMMIT3args& a) {
  COMMIT3res r;
  Object o;
  r.status = Verify(ctx, a.file, Need::kWrite, &o, "COMMIT");
  if (r.status != NFS3_OK) return r;
  r.status = CheckRegularFile(o.attr);
  // As WRITE: write permission or owner.
  if (r.status == NFS3_OK &&
      !May(o.cred, o.attr, kMayWrite, /*owner_override=*/true)) {
    r.status = NFS3ERR_ACCES;
  }
  if (r.status != NFS3_OK) {
    r.file_wcc.after = PostOp(o.attr);
    return r;
  }
  absl::StatusOr<Attr> c = store_->Commit(o.attr.ino);
  if (!c.ok()) {
    r.status = NfsStatusOf(c.status(), "COMMIT");
    r.file_wcc = WccAfterOnly(o.attr.ino);
    return r;
  }
  // No atomic before-image for COMMIT: send none rather than a guess.
  r.file_wcc.after = PostOp(*c);
  r.verf = Verifier8(store_->write_verifier());
  return r;
}

}  // namespace vnas::nfs
