// extent_store_namespace.cc — ExtentStoreImpl: inodes, directories, and the
// transaction helper every mutation goes through.
#include "storage/extent_store_impl.h"

namespace vnas::storage::internal {

// ---- helpers ---------------------------------------------------------------

absl::Status ExtentStoreImpl::Usable() const {
  if (broken_) {
    return MarkDataLoss(FsError(
        EIO, "metadata write failed and the metadata could not be reloaded; "
             "reopen the store to recover"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Inode*> ExtentStoreImpl::Get(InodeId ino) {
  VNAS_RETURN_IF_ERROR(Usable());
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) {
    return FsError(ino == 0 || ino >= next_ino_ ? ENOENT : ESTALE,
                   absl::StrCat("no inode ", ino));
  }
  return it->second.get();
}

absl::StatusOr<Inode*> ExtentStoreImpl::GetDir(InodeId ino) {
  VNAS_ASSIGN_OR_RETURN(Inode * n, Get(ino));
  if (!n->is_dir()) return FsError(ENOTDIR, absl::StrCat(ino, " not a dir"));
  return n;
}

absl::StatusOr<Inode*> ExtentStoreImpl::GetLiveDir(InodeId ino) {
  VNAS_ASSIGN_OR_RETURN(Inode * n, GetDir(ino));
  if (n->rec.read_only) return FsError(EROFS, "snapshot directory");
  return n;
}

Attr ExtentStoreImpl::ToAttr(const Inode& n) const {
  Attr a;
  a.ino = n.ino;
  a.generation = n.rec.generation;
  a.type = n.type();
  a.mode = n.rec.mode;
  a.uid = n.rec.uid;
  a.gid = n.rec.gid;
  a.nlink = n.rec.nlink;
  a.size = n.rec.size;
  a.allocated = !n.is_reg()         ? 0
                : n.rec.has_inline ? n.rec.inline_data.size()
                                   : tree_->MappedSegments(n.rec.maps) * seg_;
  a.atime = {n.rec.atime_sec, n.rec.atime_nsec};
  a.mtime = {n.rec.mtime_sec, n.rec.mtime_nsec};
  a.ctime = {n.rec.ctime_sec, n.rec.ctime_nsec};
  a.read_only = n.rec.read_only;
  return a;
}

WccAttr ExtentStoreImpl::Wcc(const Inode& n) {
  WccAttr w;
  w.size = n.rec.size;
  w.mtime = {n.rec.mtime_sec, n.rec.mtime_nsec};
  w.ctime = {n.rec.ctime_sec, n.rec.ctime_nsec};
  return w;
}

void ExtentStoreImpl::Touch(Txn& t, Inode* n, bool mtime, Timespec now) {
  n->rec.ctime_sec = now.sec;
  n->rec.ctime_nsec = now.nsec;
  if (mtime) {
    n->rec.mtime_sec = now.sec;
    n->rec.mtime_nsec = now.nsec;
  }
  t.inodes.insert(n->ino);
}

void ExtentStoreImpl::TouchLater(Inode* n, Timespec now) {
  n->rec.ctime_sec = n->rec.mtime_sec = now.sec;
  n->rec.ctime_nsec = n->rec.mtime_nsec = now.nsec;
  lazy_times_.insert(n->ino);
}

void ExtentStoreImpl::PersistLazyTimes() {
  absl::MutexLock l(&mu_);
  if (lazy_times_.empty()) return;
  Txn t;
  t.need = GroupCommit::Need::kWritten;
  t.force = true;
  CommitTxn(t);
  pending_.reset();
}

Inode* ExtentStoreImpl::NewInode(Txn& t, FileType type, uint32_t mode,
                                 uint32_t uid, uint32_t gid) {
  InodeId ino = next_ino_++;
  t.counters = true;
  auto n = std::make_unique<Inode>();
  Timespec now = Now();
  n->ino = ino;
  n->rec.type = static_cast<uint8_t>(type);
  n->rec.mode = mode & 07777;
  n->rec.uid = uid;
  n->rec.gid = gid;
  n->rec.nlink = type == FileType::kDirectory ? 2 : 1;
  n->rec.generation = generation_;
  n->rec.atime_sec = n->rec.mtime_sec = n->rec.ctime_sec = now.sec;
  n->rec.atime_nsec = n->rec.mtime_nsec = n->rec.ctime_nsec = now.nsec;
  n->rec.alloc_offset = (ino * 0x9E3779B97F4A7C15ull) >> 40;
  if (type == FileType::kDirectory) n->rec.next_cookie = 1;
  Inode* raw = n.get();
  inodes_[ino] = std::move(n);
  t.inodes.insert(ino);
  return raw;
}

void ExtentStoreImpl::AddEntry(Txn& t, Inode* dir, const std::string& name,
                               InodeId ino) {
  uint64_t cookie = dir->rec.next_cookie++;
  dir->entries[name] = Dirent{ino, cookie};
  dir->by_cookie[cookie] = name;
  InodeId d = dir->ino;
  t.batch.Put(meta::DirentKey(d, name), meta::EncodeDirent(ino, cookie))
      .PermitUncheckedError();
  t.batch.Put(meta::CookieKey(d, cookie), name).PermitUncheckedError();
  t.inodes.insert(d);
}

void ExtentStoreImpl::RemoveEntry(Txn& t, Inode* dir, const std::string& name) {
  auto it = dir->entries.find(name);
  InodeId d = dir->ino;
  t.batch.Delete(meta::DirentKey(d, name)).PermitUncheckedError();
  t.batch.Delete(meta::CookieKey(d, it->second.cookie)).PermitUncheckedError();
  dir->by_cookie.erase(it->second.cookie);
  dir->entries.erase(it);
  t.inodes.insert(d);
}

void ExtentStoreImpl::DeleteInode(Txn& t, Inode* n) {
  InodeId ino = n->ino;
  if (n->is_reg()) {
    tree_->Release(&n->rec.maps);
    total_outstanding_ -= n->outstanding;
    inline_bytes_ -= n->rec.inline_data.size();
  }
  inodes_.erase(ino);
  t.inodes.insert(ino);
}

void ExtentStoreImpl::DropLink(Txn& t, Inode* n) {
  if (n->rec.nlink > 0) --n->rec.nlink;
  if (n->rec.nlink == 0) {
    DeleteInode(t, n);
  } else {
    Touch(t, n, false, Now());
  }
}

void ExtentStoreImpl::DeleteTreeContents(Txn& t, Inode* d) {
  std::vector<std::string> names;
  for (auto& [name, e] : d->entries) names.push_back(name);
  for (const std::string& name : names) {
    InodeId child = d->entries[name].ino;
    RemoveEntry(t, d, name);
    auto it = inodes_.find(child);
    if (it == inodes_.end()) continue;
    Inode* c = it->second.get();
    if (c->is_dir()) {
      DeleteTreeContents(t, c);
      --d->rec.nlink;
      DeleteInode(t, c);
    } else {
      DropLink(t, c);
    }
  }
}

void ExtentStoreImpl::CommitTxn(Txn& t) {
  for (InodeId ino : t.inodes) {
    lazy_times_.erase(ino);  // written below with everything else
    auto it = inodes_.find(ino);
    if (it == inodes_.end()) {
      t.batch.Delete(meta::InodeKey(ino)).PermitUncheckedError();
    } else {
      t.batch.Put(meta::InodeKey(ino), meta::EncodeInode(it->second->rec))
          .PermitUncheckedError();
    }
  }
  tree_->Persist(&t.batch);
  alloc_->Persist(&t.batch);
  if (t.counters) {
    std::string v;
    meta::PutBE8(&v, next_ino_);
    t.batch.Put(meta::CounterKey("ino"), v).PermitUncheckedError();
    v.clear();
    meta::PutBE8(&v, next_snap_);
    t.batch.Put(meta::CounterKey("snap"), v).PermitUncheckedError();
  }
  // Times changed by in-place writes ride along with the next real batch.
  if (t.batch.Count() > 0 || t.force) {
    for (InodeId ino : lazy_times_) {
      auto it = inodes_.find(ino);
      if (it != inodes_.end()) {
        t.batch.Put(meta::InodeKey(ino), meta::EncodeInode(it->second->rec))
            .PermitUncheckedError();
      }
    }
    lazy_times_.clear();
  }
  if (t.batch.Count() == 0 && t.members.empty() && !t.force) return;
  // An unstable batch that maps data just written has that data synced
  // before the batch is even written (GroupCommit::Need::kWrittenDataFirst).
  const GroupCommit::Need need =
      t.need == GroupCommit::Need::kWritten && !t.members.empty()
          ? GroupCommit::Need::kWrittenDataFirst
          : t.need;
  pending_ = gc_->Enqueue(std::move(t.batch), std::move(t.members), need);
  NoteUnshares(pending_->seq);
  for (InodeId ino : t.inodes) {
    auto it = inodes_.find(ino);
    if (it != inodes_.end()) it->second->last_seq = pending_->seq;
  }
  t.batch.Clear();
  t.members.clear();
  alloc_->Seal(pending_->seq);
}

void ExtentStoreImpl::AwaitNoInPlaceWrites() {
  mu_.Await(absl::Condition(
      +[](std::multiset<uint64_t>* pins) { return pins->empty(); },
      &pin_seqs_));
}

void ExtentStoreImpl::CloseShareGate() {
  absl::MutexLock l(&mu_);
  ++share_gate_;
  AwaitNoInPlaceWrites();
}

bool ExtentStoreImpl::UnshareInFlight(const MapList& maps, uint64_t si) const {
  if (unshared_.empty()) return false;
  const uint64_t durable = gc_->durable_seq();
  const ExtentTree::SegPath p = tree_->Path(maps, si);
  for (const UnshareKey& k : {UnshareKey{meta::RefKind::kMap, p.map},
                              UnshareKey{meta::RefKind::kLeaf, p.leaf},
                              UnshareKey{meta::RefKind::kExtent, p.extent}}) {
    auto it = unshared_.find(k);
    if (it != unshared_.end() && it->second > durable) return true;
  }
  return false;
}

void ExtentStoreImpl::NoteUnshares(uint64_t seq) {
  for (const ExtentTree::Unshare& u : tree_->TakeUnshares()) {
    const UnshareKey k{u.kind, u.id};
    unshared_[k] = seq;
    unshare_order_.emplace_back(seq, k);
  }
  const uint64_t durable = gc_->durable_seq();
  while (!unshare_order_.empty() && unshare_order_.front().first <= durable) {
    auto it = unshared_.find(unshare_order_.front().second);
    if (it != unshared_.end() && it->second <= durable) unshared_.erase(it);
    unshare_order_.pop_front();
  }
}

absl::Status ExtentStoreImpl::PrepareMutation() {
  if (broken_) return Usable();
  if (gc_->needs_reload()) {
    // A batch failed: the mirrors hold changes RocksDB does not. Roll them
    // back by reloading what RocksDB holds, once no lock-free in-place write
    // is in flight (it may target a segment the reload frees). Mutations
    // wait here meanwhile; nothing can be queued until Reloaded().
    AwaitNoInPlaceWrites();
  }
  if (broken_) return Usable();
  if (gc_->needs_reload()) {  // still: no other thread reloaded meanwhile
    // Segments still quarantined were freed by changes that RocksDB holds
    // (so the reloaded bitmap shows them free) but that may not be durable:
    // a power loss before the next log sync takes those changes back, and
    // with them mappings to the segments' old data. They stay held in the
    // rebuilt allocator until a change queued after the reload is durable.
    const std::vector<std::pair<uint32_t, uint64_t>> held = alloc_->Held();
    absl::Status reload = LoadMirrors();
    if (!reload.ok()) {
      broken_ = true;
      fprintf(stderr, "vnasd: storage: reloading metadata after a failed "
              "write failed: %s\n", reload.ToString().c_str());
      return reload;
    }
    gc_->Reloaded();
    const uint64_t epoch = gc_->next_seq();
    for (const auto& [m, seg] : held) alloc_->Hold(m, seg, epoch);
    // Unstable writes acknowledged before the failure may be gone.
    ChangeVerifier();
  }
  // Durable frees may be reused, except those made while a lock-free
  // in-place write was in flight (it may still be writing to them).
  uint64_t upto = gc_->durable_seq();
  if (!pin_seqs_.empty()) upto = std::min(upto, *pin_seqs_.begin() - 1);
  alloc_->Release(upto);
  return absl::OkStatus();
}

absl::Status ExtentStoreImpl::SyncMembers(const std::set<uint32_t>& ms,
                                          std::set<uint32_t>* failed) {
  std::vector<uint32_t> list(ms.begin(), ms.end());
  std::vector<absl::Status> res(list.size());
  // fdatasync of several members runs in parallel; the device queues them.
  std::vector<std::function<void()>> syncs;
  syncs.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    syncs.push_back([&, i] { res[i] = members_[list[i]]->file->Sync(); });
  }
  sync_fanout_->Run(syncs);
  absl::Status first;
  for (size_t i = 0; i < list.size(); ++i) {
    if (!res[i].ok()) {
      failed->insert(list[i]);
      if (first.ok()) first = res[i];
    }
  }
  if (!first.ok()) {
    // A failed sync may have lost acknowledged unstable data of any file in
    // the member, and its error is reported only once (a retry may
    // succeed): a new write verifier makes clients resend what they had not
    // seen committed.
    ChangeVerifier();
  }
  return first;
}

// ---- namespace -------------------------------------------------------------

absl::StatusOr<Attr> ExtentStoreImpl::GetAttr(InodeId ino) {
  absl::ReaderMutexLock l(&mu_);
  VNAS_ASSIGN_OR_RETURN(Inode * n, Get(ino));
  return ToAttr(*n);
}

absl::StatusOr<Attr> ExtentStoreImpl::GetAttrChecked(InodeId ino,
                                                     uint64_t generation) {
  absl::ReaderMutexLock l(&mu_);
  VNAS_RETURN_IF_ERROR(Usable());
  auto it = inodes_.find(ino);
  if (it == inodes_.end() || it->second->rec.generation != generation) {
    return FsError(ESTALE, absl::StrCat("stale handle for inode ", ino));
  }
  return ToAttr(*it->second);
}

absl::StatusOr<Attr> ExtentStoreImpl::Lookup(InodeId dir,
                                             absl::string_view name) {
  absl::ReaderMutexLock l(&mu_);
  VNAS_ASSIGN_OR_RETURN(Inode * d, GetDir(dir));
  if (name == ".") return ToAttr(*d);
  if (name == "..") {
    VNAS_ASSIGN_OR_RETURN(Inode * p, Get(d->rec.parent ? d->rec.parent : dir));
    return ToAttr(*p);
  }
  if (name.size() > kMaxName) return FsError(ENAMETOOLONG, "name too long");
  auto it = d->entries.find(std::string(name));
  if (it == d->entries.end()) {
    return FsError(ENOENT, absl::StrCat("no entry '", name, "'"));
  }
  VNAS_ASSIGN_OR_RETURN(Inode * n, Get(it->second.ino));
  return ToAttr(*n);
}

absl::StatusOr<CreateResult> ExtentStoreImpl::Create(InodeId dir,
                                                     absl::string_view name,
                                                     const CreateRequest& req) {
  VNAS_RETURN_IF_ERROR(CheckName(name));
  return Mutate([&]() -> absl::StatusOr<CreateResult> {
  VNAS_ASSIGN_OR_RETURN(Inode * d, GetLiveDir(dir));
  CreateResult r;
  r.dir.before = Wcc(*d);
  const std::string key(name);
  auto it = d->entries.find(key);
  Txn t;
  if (it != d->entries.end()) {
    Inode* n = inodes_.at(it->second.ino).get();
    switch (req.how) {
      case CreateRequest::How::kGuarded:
        return FsError(EEXIST, absl::StrCat("'", name, "' exists"));
      case CreateRequest::How::kExclusive:
        if (n->is_reg() && n->rec.has_verifier &&
            n->rec.verifier == req.verifier) {
          r.attr = ToAttr(*n);
          r.dir.after = ToAttr(*d);
          return r;
        }
        return FsError(EEXIST, absl::StrCat("'", name, "' exists"));
      case CreateRequest::How::kUnchecked:
        if (!n->is_reg()) {
          return FsError(EEXIST, absl::StrCat("'", name, "' exists"));
        }
        // A size is open(O_TRUNC): times move even when the size does not
        // change (POSIX open; knfsd applies it as a setattr).
        if (req.size) {
          absl::Status s = *req.size != n->rec.size
                               ? Truncate(t, n, *req.size)
                               : absl::OkStatus();
          Touch(t, n, true, Now());
          CommitTxn(t);
          VNAS_RETURN_IF_ERROR(s);
        }
        r.attr = ToAttr(*n);
        r.dir.after = ToAttr(*d);
        return r;
    }
  }
  if (req.size && *req.size > kMaxFileSize) return FsError(EFBIG, "too big");
  Inode* n = NewInode(t, FileType::kRegular, req.mode, req.uid, req.gid);
  if (req.how == CreateRequest::How::kExclusive) {
    n->rec.has_verifier = true;
    n->rec.verifier = req.verifier;
  }
  if (req.size) n->rec.size = *req.size;
  AddEntry(t, d, key, n->ino);
  Touch(t, d, true, Now());
  CommitTxn(t);
  r.attr = ToAttr(*n);
  r.dir.after = ToAttr(*d);
  return r;
  });
}

absl::StatusOr<Inode*> ExtentStoreImpl::GetEntry(Inode* d,
                                                  absl::string_view name) {
  auto it = d->entries.find(std::string(name));
  if (it == d->entries.end()) {
    return FsError(ENOENT, absl::StrCat("no entry '", name, "'"));
  }
  return inodes_.at(it->second.ino).get();
}

absl::StatusOr<CreateResult> ExtentStoreImpl::AddNode(
    InodeId dir, absl::string_view name, FileType type, uint32_t mode,
    uint32_t uid, uint32_t gid,
    const std::function<void(Inode* n, Inode* d)>& init) {
  return Mutate([&]() -> absl::StatusOr<CreateResult> {
  VNAS_ASSIGN_OR_RETURN(Inode * d, GetLiveDir(dir));
  const std::string key(name);
  if (d->entries.count(key)) {
    return FsError(EEXIST, absl::StrCat("'", name, "' exists"));
  }
  CreateResult r;
  r.dir.before = Wcc(*d);
  Txn t;
  Inode* n = NewInode(t, type, mode, uid, gid);
  init(n, d);
  AddEntry(t, d, key, n->ino);
  Touch(t, d, true, Now());
  CommitTxn(t);
  r.attr = ToAttr(*n);
  r.dir.after = ToAttr(*d);
  return r;
  });
}

absl::StatusOr<CreateResult> ExtentStoreImpl::Mkdir(InodeId dir,
                                                    absl::string_view name,
                                                    uint32_t mode, uint32_t uid,
                                                    uint32_t gid) {
  VNAS_RETURN_IF_ERROR(CheckName(name));
  return AddNode(dir, name, FileType::kDirectory, mode, uid, gid,
                 [dir](Inode* n, Inode* d) {
                   n->rec.parent = dir;
                   ++d->rec.nlink;
                 });
}

absl::StatusOr<CreateResult> ExtentStoreImpl::Symlink(
    InodeId dir, absl::string_view name, absl::string_view target,
    uint32_t mode, uint32_t uid, uint32_t gid) {
  VNAS_RETURN_IF_ERROR(CheckName(name));
  if (target.empty() || target.size() > 4096) {
    return FsError(EINVAL, "bad symlink target");
  }
  return AddNode(dir, name, FileType::kSymlink, mode ? mode : 0777, uid, gid,
                 [target](Inode* n, Inode*) {
                   n->rec.target = std::string(target);
                   n->rec.size = target.size();
                 });
}

absl::StatusOr<std::string> ExtentStoreImpl::ReadLink(InodeId ino) {
  absl::ReaderMutexLock l(&mu_);
  VNAS_ASSIGN_OR_RETURN(Inode * n, Get(ino));
  if (n->type() != FileType::kSymlink) return FsError(EINVAL, "not a symlink");
  return n->rec.target;
}

absl::StatusOr<CreateResult> ExtentStoreImpl::Link(InodeId ino, InodeId dir,
                                                   absl::string_view name) {
  VNAS_RETURN_IF_ERROR(CheckName(name));
  return Mutate([&]() -> absl::StatusOr<CreateResult> {
  VNAS_ASSIGN_OR_RETURN(Inode * n, Get(ino));
  VNAS_ASSIGN_OR_RETURN(Inode * d, GetDir(dir));
  if (n->is_dir()) return FsError(EISDIR, "hard link to a directory");
  if (n->rec.read_only != d->rec.read_only) {
    return FsError(EXDEV, "link across snapshot and live namespaces");
  }
  if (d->rec.read_only) return FsError(EROFS, "snapshot directory");
  const std::string key(name);
  if (d->entries.count(key)) {
    return FsError(EEXIST, absl::StrCat("'", name, "' exists"));
  }
  if (n->rec.nlink >= 65000) return FsError(EMLINK, "too many links");
  CreateResult r;
  r.dir.before = Wcc(*d);
  Txn t;
  ++n->rec.nlink;
  Timespec now = Now();
  Touch(t, n, false, now);
  AddEntry(t, d, key, ino);
  Touch(t, d, true, now);
  CommitTxn(t);
  r.attr = ToAttr(*n);
  r.dir.after = ToAttr(*d);
  return r;
  });
}

absl::StatusOr<Change> ExtentStoreImpl::Remove(InodeId dir,
                                               absl::string_view name) {
  VNAS_RETURN_IF_ERROR(CheckName(name));
  return Mutate([&]() -> absl::StatusOr<Change> {
  VNAS_ASSIGN_OR_RETURN(Inode * d, GetLiveDir(dir));
  const std::string key(name);
  VNAS_ASSIGN_OR_RETURN(Inode * n, GetEntry(d, name));
  if (n->is_dir()) return FsError(EISDIR, absl::StrCat("'", name, "' is a dir"));
  Change c;
  c.before = Wcc(*d);
  Txn t;
  RemoveEntry(t, d, key);
  DropLink(t, n);
  Touch(t, d, true, Now());
  CommitTxn(t);
  c.after = ToAttr(*d);
  return c;
  });
}

absl::StatusOr<Change> ExtentStoreImpl::Rmdir(InodeId dir,
                                              absl::string_view name) {
  if (name == ".") return FsError(EINVAL, "rmdir .");
  if (name == "..") return FsError(ENOTEMPTY, "rmdir ..");
  VNAS_RETURN_IF_ERROR(CheckName(name));
  return Mutate([&]() -> absl::StatusOr<Change> {
  VNAS_ASSIGN_OR_RETURN(Inode * d, GetLiveDir(dir));
  const std::string key(name);
  VNAS_ASSIGN_OR_RETURN(Inode * n, GetEntry(d, name));
  if (!n->is_dir()) return FsError(ENOTDIR, absl::StrCat("'", name, "'"));
  if (!n->entries.empty()) return FsError(ENOTEMPTY, absl::StrCat("'", name, "'"));
  Change c;
  c.before = Wcc(*d);
  Txn t;
  RemoveEntry(t, d, key);
  --d->rec.nlink;
  DeleteInode(t, n);
  Touch(t, d, true, Now());
  CommitTxn(t);
  c.after = ToAttr(*d);
  return c;
  });
}

absl::StatusOr<ExtentStore::RenameResult> ExtentStoreImpl::Rename(
    InodeId from_dir, absl::string_view from_name, InodeId to_dir,
    absl::string_view to_name) {
  VNAS_RETURN_IF_ERROR(CheckName(from_name));
  VNAS_RETURN_IF_ERROR(CheckName(to_name));
  return Mutate([&]() -> absl::StatusOr<ExtentStore::RenameResult> {
  VNAS_ASSIGN_OR_RETURN(Inode * fd, GetDir(from_dir));
  VNAS_ASSIGN_OR_RETURN(Inode * td, GetDir(to_dir));
  if (fd->rec.read_only != td->rec.read_only) {
    return FsError(EXDEV, "rename across snapshot and live namespaces");
  }
  if (fd->rec.read_only) return FsError(EROFS, "snapshot directory");
  const std::string fkey(from_name), tkey(to_name);
  VNAS_ASSIGN_OR_RETURN(Inode * src, GetEntry(fd, from_name));
  RenameResult r;
  r.from_dir.before = Wcc(*fd);
  r.to_dir.before = Wcc(*td);
  if (src->is_dir()) {
    // Refuse moving a directory into itself or below itself.
    for (InodeId p = to_dir;;) {
      if (p == src->ino) {
        return FsError(EINVAL, "move a directory into itself");
      }
      InodeId pp = inodes_.at(p)->rec.parent;
      if (pp == p || pp == 0) break;
      p = pp;
    }
  }
  auto tit = td->entries.find(tkey);
  Inode* victim = nullptr;
  if (tit != td->entries.end()) {
    victim = inodes_.at(tit->second.ino).get();
    if (victim == src) {  // same object: POSIX says do nothing
      r.from_dir.after = ToAttr(*fd);
      r.to_dir.after = ToAttr(*td);
      return r;
    }
    if (src->is_dir() && !victim->is_dir()) {
      return FsError(ENOTDIR, "rename dir over non-dir");
    }
    if (!src->is_dir() && victim->is_dir()) {
      return FsError(EISDIR, "rename non-dir over dir");
    }
    if (victim->is_dir() && !victim->entries.empty()) {
      return FsError(ENOTEMPTY, "rename over non-empty dir");
    }
  }
  Txn t;
  Timespec now = Now();
  if (victim) {
    RemoveEntry(t, td, tkey);
    if (victim->is_dir()) {
      --td->rec.nlink;
      DeleteInode(t, victim);
    } else {
      DropLink(t, victim);
    }
  }
  RemoveEntry(t, fd, fkey);
  AddEntry(t, td, tkey, src->ino);
  if (src->is_dir() && fd != td) {
    --fd->rec.nlink;
    ++td->rec.nlink;
    src->rec.parent = to_dir;
  }
  Touch(t, src, false, now);
  Touch(t, fd, true, now);
  Touch(t, td, true, now);
  CommitTxn(t);
  r.from_dir.after = ToAttr(*fd);
  r.to_dir.after = ToAttr(*td);
  return r;
  });
}

absl::StatusOr<Change> ExtentStoreImpl::SetAttr(InodeId ino,
                                                const SetAttrRequest& req) {
  return Mutate([&]() -> absl::StatusOr<Change> {
  VNAS_ASSIGN_OR_RETURN(Inode * n, Get(ino));
  Change c;
  c.before = Wcc(*n);
  if (req.guard_ctime && *req.guard_ctime != c.before.ctime) {
    return FsError(kGuardMismatchErrno, "guard ctime mismatch");
  }
  if (n->rec.read_only) return FsError(EROFS, "snapshot inode");
  if (req.size) {
    if (n->is_dir()) return FsError(EISDIR, "truncate a directory");
    if (!n->is_reg()) return FsError(EINVAL, "truncate a non-file");
    if (*req.size > kMaxFileSize) return FsError(EFBIG, "too big");
  }
  Txn t;
  Timespec now = Now();
  if (req.size && *req.size != n->rec.size) {
    absl::Status s = Truncate(t, n, *req.size);
    n->rec.mtime_sec = now.sec;
    n->rec.mtime_nsec = now.nsec;
    if (!s.ok()) {  // a failed truncate may have done part: keep it
      Touch(t, n, false, now);
      CommitTxn(t);
      return s;
    }
  }
  if (req.mode) n->rec.mode = *req.mode & 07777;
  if (req.uid) n->rec.uid = *req.uid;
  if (req.gid) n->rec.gid = *req.gid;
  using H = SetAttrRequest::TimeHow;
  if (req.atime_how == H::kServerTime) {
    n->rec.atime_sec = now.sec;
    n->rec.atime_nsec = now.nsec;
  } else if (req.atime_how == H::kClientTime) {
    n->rec.atime_sec = req.atime.sec;
    n->rec.atime_nsec = req.atime.nsec;
  }
  if (req.mtime_how == H::kServerTime) {
    n->rec.mtime_sec = now.sec;
    n->rec.mtime_nsec = now.nsec;
  } else if (req.mtime_how == H::kClientTime) {
    n->rec.mtime_sec = req.mtime.sec;
    n->rec.mtime_nsec = req.mtime.nsec;
  }
  // An exclusive create's verifier lives until the client's first SETATTR
  // (RFC 1813 §3.3.8): a retry after it no longer matches.
  n->rec.has_verifier = false;
  Touch(t, n, false, now);
  CommitTxn(t);
  c.after = ToAttr(*n);
  return c;
  });
}

absl::StatusOr<DirPage> ExtentStoreImpl::ReadDir(InodeId dir, uint64_t cookie,
                                                 uint32_t max_entries,
                                                 bool want_attrs) {
  absl::ReaderMutexLock l(&mu_);
  VNAS_ASSIGN_OR_RETURN(Inode * d, GetDir(dir));
  DirPage page;
  page.cookie_verifier = 0;
  auto it = d->by_cookie.upper_bound(cookie);
  for (; it != d->by_cookie.end() && page.entries.size() < max_entries;
       ++it) {
    DirEntry e;
    e.name = it->second;
    e.cookie = it->first;
    e.ino = d->entries.at(it->second).ino;
    if (want_attrs) {
      auto nit = inodes_.find(e.ino);
      if (nit != inodes_.end()) e.attr = ToAttr(*nit->second);
    }
    page.entries.push_back(std::move(e));
  }
  page.eof = it == d->by_cookie.end();
  return page;
}

absl::StatusOr<Attr> ExtentStoreImpl::ResolvePath(absl::string_view path) {
  absl::ReaderMutexLock l(&mu_);
  VNAS_ASSIGN_OR_RETURN(Inode * cur, Get(kRootInode));
  for (absl::string_view comp : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (comp == "..") return FsError(EINVAL, "'..' in path");
    if (comp == ".") continue;
    if (!cur->is_dir()) return FsError(ENOTDIR, std::string(path));
    auto it = cur->entries.find(std::string(comp));
    if (it == cur->entries.end()) {
      return FsError(ENOENT, absl::StrCat("no '", comp, "' in ", path));
    }
    VNAS_ASSIGN_OR_RETURN(cur, Get(it->second.ino));
  }
  return ToAttr(*cur);
}

absl::StatusOr<InodeId> ExtentStoreImpl::Parent(InodeId dir) {
  absl::ReaderMutexLock l(&mu_);
  VNAS_ASSIGN_OR_RETURN(Inode * d, GetDir(dir));
  return d->rec.parent ? d->rec.parent : dir;
}

}  // namespace vnas::storage::internal
