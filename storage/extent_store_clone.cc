// extent_store_clone.cc — ExtentStoreImpl: clones, snapshots, reservations.
//
// A clone is a new inode whose map-node list names the source's map nodes
// (each +1); a snapshot is a read-only clone (of a file, or recursively of a
// directory tree) that no live directory names, recorded under a "T" key.
#include "storage/extent_store_impl.h"

namespace vnas::storage::internal {

void ExtentStoreImpl::CollectTree(const Inode& n,
                                  std::vector<const Inode*>* out,
                                  std::unordered_set<InodeId>* seen) const {
  if (!seen->insert(n.ino).second) return;
  out->push_back(&n);
  if (!n.is_dir()) return;
  for (const auto& [name, e] : n.entries) {
    auto it = inodes_.find(e.ino);
    if (it != inodes_.end()) CollectTree(*it->second, out, seen);
  }
}

void ExtentStoreImpl::RecomputeAllOutstanding() {
  for (auto& [ino, n] : inodes_) {
    if (n->rec.reserve || n->outstanding) RecomputeOutstanding(n.get());
  }
}

uint64_t ExtentStoreImpl::ReserveGrowth(const Inode& n) const {
  std::vector<const Inode*> all;
  std::unordered_set<InodeId> seen;
  CollectTree(n, &all, &seen);
  uint64_t growth = 0;
  for (const Inode* f : all) {
    if (f->is_reg() && f->rec.reserve) {
      growth += ReserveSegs(*f) - std::min(ReserveSegs(*f), f->outstanding);
    }
  }
  return growth;
}

absl::Status ExtentStoreImpl::CheckCloneSpace(const Inode& src) {
  uint64_t growth = ReserveGrowth(src);
  if (growth && UsedSegs() + total_outstanding_ + growth > cap_segs_) {
    return FsError(ENOSPC,
                   "sharing a reserved file needs its reservation backed");
  }
  return absl::OkStatus();
}

Inode* ExtentStoreImpl::CloneInode(Txn& t, const Inode& src, bool read_only) {
  Inode* c = NewInode(t, src.type(), src.rec.mode, src.rec.uid, src.rec.gid);
  c->rec.read_only = read_only;
  c->rec.size = src.rec.size;
  c->rec.target = src.rec.target;
  c->rec.atime_sec = src.rec.atime_sec;
  c->rec.atime_nsec = src.rec.atime_nsec;
  c->rec.mtime_sec = src.rec.mtime_sec;
  c->rec.mtime_nsec = src.rec.mtime_nsec;
  if (src.is_reg()) {
    c->rec.maps = src.rec.maps;
    tree_->Share(c->rec.maps);
    c->rec.has_inline = src.rec.has_inline;
    c->rec.inline_data = src.rec.inline_data;
    inline_bytes_ += c->rec.inline_data.size();
  }
  return c;
}

Inode* ExtentStoreImpl::CloneTree(
    Txn& t, const Inode& src, bool read_only, InodeId parent,
    std::unordered_map<InodeId, InodeId>* links) {
  if (!src.is_dir()) {
    auto it = links->find(src.ino);
    if (it != links->end()) {  // another name of an inode already cloned
      Inode* c = inodes_.at(it->second).get();
      ++c->rec.nlink;
      t.inodes.insert(c->ino);
      return c;
    }
    Inode* c = CloneInode(t, src, read_only);
    (*links)[src.ino] = c->ino;
    return c;
  }
  Inode* c = CloneInode(t, src, read_only);
  c->rec.parent = parent ? parent : c->ino;
  std::vector<std::pair<std::string, InodeId>> children;
  for (const auto& [name, e] : src.entries) children.emplace_back(name, e.ino);
  for (const auto& [name, ino] : children) {
    auto it = inodes_.find(ino);
    if (it == inodes_.end()) continue;
    Inode* child = CloneTree(t, *it->second, read_only, c->ino, links);
    AddEntry(t, c, name, child->ino);
    if (child->is_dir()) ++c->rec.nlink;
  }
  return c;
}

absl::StatusOr<CreateResult> ExtentStoreImpl::CloneFile(
    InodeId src, InodeId dst_dir, absl::string_view dst_name, bool guarded) {
  VNAS_RETURN_IF_ERROR(CheckName(dst_name));
  ShareGate gate(this);
  return Mutate([&]() -> absl::StatusOr<CreateResult> {
  ShareGate::BodyScope reopen = gate.ReopenAtEnd();
  VNAS_ASSIGN_OR_RETURN(Inode * s, Get(src));
  if (s->is_dir()) return FsError(EISDIR, "clone of a directory");
  if (!s->is_reg()) return FsError(EINVAL, "clone of a non-file");
  VNAS_ASSIGN_OR_RETURN(Inode * d, GetLiveDir(dst_dir));
  const std::string key(dst_name);
  CreateResult r;
  r.dir.before = Wcc(*d);
  Inode* victim = nullptr;
  auto it = d->entries.find(key);
  if (it != d->entries.end()) {
    if (guarded) return FsError(EEXIST, absl::StrCat("'", dst_name, "' exists"));
    victim = inodes_.at(it->second.ino).get();
    if (victim->is_dir()) return FsError(EISDIR, "clone over a directory");
    if (!victim->is_reg()) return FsError(EEXIST, "clone over a non-file");
    if (victim == s) {
      r.attr = ToAttr(*s);
      r.dir.after = ToAttr(*d);
      return r;
    }
  }
  VNAS_RETURN_IF_ERROR(CheckCloneSpace(*s));
  Txn t;
  Timespec now = Now();
  if (victim) {
    RemoveEntry(t, d, key);
    DropLink(t, victim);
  }
  Inode* c = CloneInode(t, *s, /*read_only=*/false);
  AddEntry(t, d, key, c->ino);
  Touch(t, d, true, now);
  if (s->rec.reserve) RecomputeOutstanding(s);
  CommitTxn(t);
  r.attr = ToAttr(*c);
  r.dir.after = ToAttr(*d);
  return r;
  });
}

SnapshotInfo ExtentStoreImpl::InfoOf(uint64_t id,
                                     const meta::SnapshotRec& r) const {
  SnapshotInfo info;
  info.id = id;
  info.name = r.name;
  info.source = r.source;
  info.root = r.root;
  info.created = {r.sec, r.nsec};
  auto it = inodes_.find(r.root);
  if (it != inodes_.end()) info.space = SpaceOf(*it->second, false);
  return info;
}

absl::StatusOr<SnapshotInfo> ExtentStoreImpl::CreateSnapshot(
    InodeId ino, absl::string_view name) {
  if (name.empty() || name.size() > kMaxName) {
    return FsError(EINVAL, "bad snapshot name");
  }
  ShareGate gate(this);
  return Mutate([&]() -> absl::StatusOr<SnapshotInfo> {
  ShareGate::BodyScope reopen = gate.ReopenAtEnd();
  VNAS_ASSIGN_OR_RETURN(Inode * n, Get(ino));
  if (n->rec.read_only) return FsError(EXDEV, "snapshot of a snapshot");
  if (!n->is_reg() && !n->is_dir()) {
    return FsError(EINVAL, "snapshot of a symlink");
  }
  for (const auto& [id, s] : snaps_) {
    if (s.rec.source == ino && s.rec.name == name) {
      return FsError(EEXIST, absl::StrCat("snapshot '", name, "' exists"));
    }
  }
  VNAS_RETURN_IF_ERROR(CheckCloneSpace(*n));
  Txn t;
  std::unordered_map<InodeId, InodeId> links;
  Inode* root = CloneTree(t, *n, /*read_only=*/true, 0, &links);
  uint64_t id = next_snap_++;
  t.counters = true;
  Timespec now = Now();
  SnapRec rec;
  rec.rec.name = std::string(name);
  rec.rec.source = ino;
  rec.rec.root = root->ino;
  rec.rec.sec = now.sec;
  rec.rec.nsec = now.nsec;
  t.batch.Put(meta::SnapshotKey(id), meta::EncodeSnapshot(rec.rec))
      .PermitUncheckedError();
  snaps_[id] = rec;
  RecomputeAllOutstanding();
  CommitTxn(t);
  return InfoOf(id, rec.rec);
  });
}

absl::StatusOr<std::vector<SnapshotInfo>> ExtentStoreImpl::ListSnapshots(
    InodeId ino) {
  absl::ReaderMutexLock l(&mu_);
  VNAS_RETURN_IF_ERROR(Usable());
  std::vector<SnapshotInfo> out;
  for (const auto& [id, s] : snaps_) {
    if (ino == 0 || s.rec.source == ino) out.push_back(InfoOf(id, s.rec));
  }
  return out;
}

void ExtentStoreImpl::DeleteSnapshotTree(Txn& t, Inode* root) {
  if (root->is_dir()) {
    DeleteTreeContents(t, root);
    DeleteInode(t, root);
  } else {
    DropLink(t, root);
  }
}

absl::Status ExtentStoreImpl::DeleteSnapshot(uint64_t snapshot_id) {
  return Mutate([&]() -> absl::Status {
  VNAS_RETURN_IF_ERROR(Usable());
  auto it = snaps_.find(snapshot_id);
  if (it == snaps_.end()) {
    return FsError(ENOENT, absl::StrCat("no snapshot ", snapshot_id));
  }
  Txn t;
  auto rit = inodes_.find(it->second.rec.root);
  if (rit != inodes_.end()) DeleteSnapshotTree(t, rit->second.get());
  t.batch.Delete(meta::SnapshotKey(snapshot_id)).PermitUncheckedError();
  snaps_.erase(it);
  RecomputeAllOutstanding();
  CommitTxn(t);
  return absl::OkStatus();
  });
}

void ExtentStoreImpl::RestoreFile(Txn& t, Inode* live, const Inode& snap,
                                  Timespec now) {
  MapList old = std::move(live->rec.maps);
  live->rec.maps = snap.rec.maps;
  tree_->Share(live->rec.maps);
  tree_->Release(&old);
  inline_bytes_ -= live->rec.inline_data.size();
  live->rec.has_inline = snap.rec.has_inline;
  live->rec.inline_data = snap.rec.inline_data;
  inline_bytes_ += live->rec.inline_data.size();
  live->rec.size = snap.rec.size;
  live->rec.mode = snap.rec.mode;
  live->rec.uid = snap.rec.uid;
  live->rec.gid = snap.rec.gid;
  Touch(t, live, true, now);
}

void ExtentStoreImpl::RestoreDir(Txn& t, Inode* live, const Inode& snap,
                                 Timespec now) {
  std::vector<std::string> names;
  for (const auto& [name, e] : live->entries) names.push_back(name);
  for (const std::string& name : names) {
    Inode* child = inodes_.at(live->entries.at(name).ino).get();
    auto sit = snap.entries.find(name);
    if (sit != snap.entries.end() &&
        inodes_.at(sit->second.ino)->type() == child->type()) {
      continue;  // restored in place below
    }
    RemoveEntry(t, live, name);
    if (child->is_dir()) {
      DeleteTreeContents(t, child);
      --live->rec.nlink;
      DeleteInode(t, child);
    } else {
      DropLink(t, child);
    }
  }
  std::unordered_map<InodeId, InodeId> links;
  for (const auto& [name, e] : snap.entries) {
    const Inode& sc = *inodes_.at(e.ino);
    auto lit = live->entries.find(name);
    if (lit != live->entries.end()) {
      Inode* lc = inodes_.at(lit->second.ino).get();
      if (lc->is_reg()) {
        RestoreFile(t, lc, sc, now);
      } else if (lc->is_dir()) {
        RestoreDir(t, lc, sc, now);
      } else {
        lc->rec.target = sc.rec.target;
        lc->rec.size = sc.rec.size;
        Touch(t, lc, true, now);
      }
      continue;
    }
    Inode* c = CloneTree(t, sc, /*read_only=*/false, live->ino, &links);
    AddEntry(t, live, name, c->ino);
    if (c->is_dir()) ++live->rec.nlink;
  }
  live->rec.mode = snap.rec.mode;
  live->rec.uid = snap.rec.uid;
  live->rec.gid = snap.rec.gid;
  Touch(t, live, true, now);
}

absl::Status ExtentStoreImpl::RestoreSnapshot(uint64_t snapshot_id) {
  return Mutate([&]() -> absl::Status {
  VNAS_RETURN_IF_ERROR(Usable());
  auto it = snaps_.find(snapshot_id);
  if (it == snaps_.end()) {
    return FsError(ENOENT, absl::StrCat("no snapshot ", snapshot_id));
  }
  auto lit = inodes_.find(it->second.rec.source);
  if (lit == inodes_.end()) {
    return FsError(ENOENT, "the snapshot's source is gone; clone it instead");
  }
  Inode* live = lit->second.get();
  const Inode& snap = *inodes_.at(it->second.rec.root);
  if (live->type() != snap.type()) {
    return FsError(EINVAL, "source changed type");
  }
  VNAS_RETURN_IF_ERROR(CheckCloneSpace(*live));
  Txn t;
  Timespec now = Now();
  if (live->is_reg()) {
    RestoreFile(t, live, snap, now);
  } else {
    RestoreDir(t, live, snap, now);
  }
  RecomputeAllOutstanding();
  CommitTxn(t);
  return absl::OkStatus();
  });
}

absl::StatusOr<CreateResult> ExtentStoreImpl::CloneSnapshot(
    uint64_t snapshot_id, InodeId dst_dir, absl::string_view dst_name) {
  VNAS_RETURN_IF_ERROR(CheckName(dst_name));
  return Mutate([&]() -> absl::StatusOr<CreateResult> {
  VNAS_RETURN_IF_ERROR(Usable());
  auto it = snaps_.find(snapshot_id);
  if (it == snaps_.end()) {
    return FsError(ENOENT, absl::StrCat("no snapshot ", snapshot_id));
  }
  VNAS_ASSIGN_OR_RETURN(Inode * d, GetLiveDir(dst_dir));
  const std::string key(dst_name);
  if (d->entries.count(key)) {
    return FsError(EEXIST, absl::StrCat("'", dst_name, "' exists"));
  }
  const Inode& root = *inodes_.at(it->second.rec.root);
  CreateResult r;
  r.dir.before = Wcc(*d);
  Txn t;
  std::unordered_map<InodeId, InodeId> links;
  Inode* c = CloneTree(t, root, /*read_only=*/false, dst_dir, &links);
  AddEntry(t, d, key, c->ino);
  if (c->is_dir()) ++d->rec.nlink;
  Touch(t, d, true, Now());
  CommitTxn(t);
  r.attr = ToAttr(*c);
  r.dir.after = ToAttr(*d);
  return r;
  });
}

absl::StatusOr<Attr> ExtentStoreImpl::Reserve(InodeId ino, uint64_t size) {
  return Mutate([&]() -> absl::StatusOr<Attr> {
  VNAS_ASSIGN_OR_RETURN(Inode * n, Get(ino));
  if (n->is_dir()) return FsError(EISDIR, "reserve a directory");
  if (!n->is_reg()) return FsError(EINVAL, "reserve a non-file");
  if (n->rec.read_only) return FsError(EROFS, "snapshot file");
  if (size > kMaxFileSize) return FsError(EFBIG, "reservation too big");
  const uint64_t segs = (size + seg_ - 1) / seg_;
  const uint64_t now_out = size ? tree_->NotUniqueBelow(n->rec.maps, segs) : 0;
  if (now_out > n->outstanding &&
      UsedSegs() + total_outstanding_ - n->outstanding + now_out > cap_segs_) {
    return FsError(ENOSPC, "not enough free space for the reservation");
  }
  if (now_out > n->outstanding) {
    // The reservation must be backed by the file systems too: what the holes
    // in the member files cannot hold must be free beyond the metadata
    // reserve.
    const uint64_t out_after = total_outstanding_ - n->outstanding + now_out;
    const uint64_t holes = BackedFreeSegs();
    VNAS_RETURN_IF_ERROR(CheckFsSpace(
        0, out_after > holes ? out_after - holes : 0,
        /*reserved_only=*/false, /*consume=*/false));
  }
  Txn t;
  n->rec.reserve = size;
  total_outstanding_ = total_outstanding_ - n->outstanding + now_out;
  n->outstanding = now_out;
  Touch(t, n, false, Now());
  CommitTxn(t);
  return ToAttr(*n);
  });
}

}  // namespace vnas::storage::internal
