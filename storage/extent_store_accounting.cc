// extent_store_accounting.cc — ExtentStoreImpl: space accounting, member
// statistics, Fsck, and the small durable logs.
#include "storage/extent_store_impl.h"

namespace vnas::storage::internal {

SpaceStats ExtentStoreImpl::SpaceOf(const Inode& n,
                                    bool with_snapshots) const {
  SpaceStats st;
  std::vector<const Inode*> all;
  std::unordered_set<InodeId> seen;
  CollectTree(n, &all, &seen);
  for (const Inode* f : all) {
    if (!f->is_reg()) continue;
    uint64_t mapped, unique;
    tree_->Usage(f->rec.maps, &mapped, &unique);
    ++st.files;
    st.logical += f->rec.size;
    st.allocated += mapped * seg_;
    st.unique += unique * seg_;
    // Inline bytes are the file's own (a clone copies them).
    st.allocated += f->rec.inline_data.size();
    st.unique += f->rec.inline_data.size();
    st.reserved += f->outstanding * seg_;
  }
  st.shared = st.allocated - st.unique;
  if (with_snapshots) {
    std::vector<const Inode*> snap_inodes;
    std::unordered_set<InodeId> snap_seen;
    for (const auto& [id, s] : snaps_) {
      if (!seen.count(s.rec.source)) continue;
      auto it = inodes_.find(s.rec.root);
      if (it != inodes_.end()) {
        CollectTree(*it->second, &snap_inodes, &snap_seen);
      }
    }
    std::vector<const MapList*> roots;
    for (const Inode* f : snap_inodes) {
      if (f->is_reg()) roots.push_back(&f->rec.maps);
      st.snapshot_only += f->rec.inline_data.size();  // a copy of its own
    }
    if (!roots.empty()) {
      st.snapshot_only += tree_->ExclusiveSegments(roots) * seg_;
    }
  }
  return st;
}

absl::StatusOr<SpaceStats> ExtentStoreImpl::Space(InodeId ino) {
  absl::ReaderMutexLock l(&mu_);
  VNAS_ASSIGN_OR_RETURN(Inode * n, Get(ino));
  return SpaceOf(*n, true);
}

absl::StatusOr<StoreSpace> ExtentStoreImpl::GetStoreSpace() {
  absl::ReaderMutexLock l(&mu_);
  VNAS_RETURN_IF_ERROR(Usable());
  StoreSpace s;
  s.capacity = cap_segs_ * seg_;
  s.used = UsedSegs() * seg_ + inline_bytes_;
  s.inline_bytes = inline_bytes_;
  s.reserved = total_outstanding_ * seg_;
  s.free = s.capacity > s.used + s.reserved ? s.capacity - s.used - s.reserved
                                            : 0;
  // No more than the file systems can still hold: holes in the members plus
  // what each file system has free beyond its metadata reserve (the fullest
  // one bounds it), less reservations that must still be backed.
  const uint64_t writable = BackedFreeSegs() * seg_ + FsFreeBytes();
  s.free = std::min(s.free, writable > s.reserved ? writable - s.reserved : 0);
  s.segment_size = seg_;
  s.members = nmembers_;
  s.files = inodes_.size();
  return s;
}

absl::StatusOr<AlignmentStats> ExtentStoreImpl::Alignment(InodeId ino) {
  absl::ReaderMutexLock l(&mu_);
  VNAS_ASSIGN_OR_RETURN(Inode * n, Get(ino));
  return n->align;
}

std::vector<MemberStats> ExtentStoreImpl::Members() {
  absl::ReaderMutexLock l(&mu_);
  std::vector<MemberStats> out;
  for (uint32_t i = 0; i < nmembers_; ++i) {
    const MemberState& m = *members_[i];
    MemberStats s;
    s.index = i;
    s.path = m.path;
    s.segments_used = alloc_->Used(i);
    s.bytes_read = m.bytes_read.load();
    s.bytes_written = m.bytes_written.load();
    s.reads = m.reads.load();
    s.writes = m.writes.load();
    out.push_back(std::move(s));
  }
  return out;
}

// Fsck reads RocksDB (one consistent iterator snapshot), not the mirrors, and
// recomputes every reference count from the references themselves.
absl::StatusOr<FsckReport> ExtentStoreImpl::Fsck() {
  // A RocksDB snapshot and the mirrors' sizes taken at the same moment (no
  // mutation is half done while mu_ is held); the scan runs unlocked.
  const rocksdb::Snapshot* snap = nullptr;
  uint64_t mirror_inodes, mirror_extents, mirror_pages, mirror_used;
  {
    // Exclusive, and with every queued batch written, so RocksDB holds what
    // the mirrors hold (the commit leader never takes mu_).
    absl::MutexLock l(&mu_);
    VNAS_RETURN_IF_ERROR(PrepareMutation());
    VNAS_RETURN_IF_ERROR(gc_->Drain());
    snap = db_->GetSnapshot();
    mirror_inodes = inodes_.size();
    mirror_extents = tree_->extents();
    mirror_pages = tree_->pages();
    mirror_used = 0;
    for (uint32_t i = 0; i < nmembers_; ++i) mirror_used += alloc_->Used(i);
    // Segments claimed by writes of new data in flight are used in memory
    // but free in the persisted bitmap until they are mapped (by design: a
    // crash leaks nothing).
    mirror_used -= alloc_->claimed();
  }
  struct Release {
    rocksdb::DB* db;
    const rocksdb::Snapshot* s;
    ~Release() { db->ReleaseSnapshot(s); }
  } release{db_.get(), snap};
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  FsckReport r;
  auto problem = [&](std::string p) {
    r.clean = false;
    if (r.problems.size() < 1000) r.problems.push_back(std::move(p));
  };
  std::map<InodeId, InodeRec> inodes;
  struct Ent {
    InodeId dir, ino;
    uint64_t cookie;
    std::string name;
  };
  std::vector<Ent> ents;
  std::map<std::pair<InodeId, uint64_t>, std::string> cookies;
  std::map<uint64_t, std::vector<std::pair<uint32_t, uint64_t>>> leaves, maps;
  std::map<std::pair<char, uint64_t>, uint64_t> refs;
  std::set<uint64_t> bits;  // extent ids marked used
  std::map<uint64_t, meta::SnapshotRec> snaps;
  std::map<std::string, uint64_t> counters;
  bool have_super = false;

  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    absl::string_view v(it->value().data(), it->value().size());
    std::string kd = k.ToString(true);
    switch (k[0]) {
      case 'S':
        have_super = true;
        break;
      case 'N':
        if (v.size() == 8) {
          counters[std::string(k.data() + 1, k.size() - 1)] =
              meta::DecodeBE8(v.data());
        } else {
          problem("bad counter " + kd);
        }
        break;
      case 'I': {
        InodeRec rec;
        if (k.size() != 9 || !meta::DecodeInode(v, &rec)) {
          problem("corrupt inode " + kd);
        } else {
          inodes[meta::DecodeBE8(k.data() + 1)] = rec;
        }
        break;
      }
      case 'D': {
        Ent e;
        if (k.size() < 10 || !meta::DecodeDirent(v, &e.ino, &e.cookie)) {
          problem("corrupt entry " + kd);
          break;
        }
        e.dir = meta::DecodeBE8(k.data() + 1);
        e.name.assign(k.data() + 9, k.size() - 9);
        ents.push_back(std::move(e));
        break;
      }
      case 'E':
        if (k.size() != 17) {
          problem("corrupt cookie " + kd);
        } else {
          cookies[{meta::DecodeBE8(k.data() + 1),
                   meta::DecodeBE8(k.data() + 9)}] = std::string(v);
        }
        break;
      case 'L':
      case 'M': {
        std::vector<std::pair<uint32_t, uint64_t>> e;
        bool leaf = k[0] == 'L';
        if (k.size() != 9 ||
            !meta::DecodePage(v, leaf ? meta::kLeafSlots : meta::kMapSlots,
                              &e)) {
          problem("corrupt page " + kd);
        } else {
          (leaf ? leaves : maps)[meta::DecodeBE8(k.data() + 1)] = e;
        }
        break;
      }
      case 'R': {
        uint64_t rc;
        absl::string_view in = v;
        if (k.size() != 10 || !meta::GetVarint(&in, &rc) || rc == 0) {
          problem("corrupt refcount " + kd);
        } else {
          refs[{k[1], meta::DecodeBE8(k.data() + 2)}] = rc;
        }
        break;
      }
      case 'B': {
        if (k.size() != 13) {
          problem("corrupt bitmap key " + kd);
          break;
        }
        uint32_t member = (uint32_t{static_cast<uint8_t>(k[1])} << 24) |
                          (uint32_t{static_cast<uint8_t>(k[2])} << 16) |
                          (uint32_t{static_cast<uint8_t>(k[3])} << 8) |
                          uint32_t{static_cast<uint8_t>(k[4])};
        uint64_t chunk = meta::DecodeBE8(k.data() + 5);
        for (size_t i = 0; i < v.size(); ++i) {
          uint8_t b = static_cast<uint8_t>(v[i]);
          for (int j = 0; j < 8; ++j) {
            if (b >> j & 1) {
              bits.insert(meta::MakeExtentId(
                  member, chunk * meta::kBitmapChunkBits + i * 8 + j));
            }
          }
        }
        break;
      }
      case 'T': {
        meta::SnapshotRec s;
        if (k.size() != 9 || !meta::DecodeSnapshot(v, &s)) {
          problem("corrupt snapshot " + kd);
        } else {
          snaps[meta::DecodeBE8(k.data() + 1)] = s;
        }
        break;
      }
      case 'G':
        break;
      default:
        problem("unknown key " + kd);
    }
  }
  if (!it->status().ok()) return RocksError(it->status(), "fsck scan");
  if (!have_super) problem("superblock missing");

  // Reference counts, recomputed top-down.
  std::map<uint64_t, uint64_t> mref, lref, eref;
  for (const auto& [ino, rec] : inodes) {
    if (rec.has_inline && rec.size > seg_) {
      problem(absl::StrCat("inode ", ino, " holds ", rec.size,
                           " inline bytes, more than a segment"));
    }
    for (uint64_t m : rec.maps) {
      if (m == 0) continue;
      ++mref[m];
      if (!maps.count(m)) {
        problem(absl::StrCat("inode ", ino, " names missing map node ", m));
      }
    }
  }
  for (const auto& [id, e] : maps) {
    for (const auto& [slot, l] : e) {
      ++lref[l];
      if (!leaves.count(l)) {
        problem(absl::StrCat("map node ", id, " names missing leaf ", l));
      }
    }
  }
  uint64_t max_page = 0;
  for (const auto& [id, e] : leaves) {
    max_page = std::max(max_page, id);
    for (const auto& [slot, x] : e) {
      ++eref[x];
      if (meta::ExtentMember(x) >= nmembers_) {
        problem(absl::StrCat("leaf ", id, " names extent ", x,
                             " on a member that does not exist"));
      }
    }
  }
  for (const auto& [id, e] : maps) max_page = std::max(max_page, id);
  auto compare = [&](char kind, const char* what,
                     const std::map<uint64_t, uint64_t>& expected,
                     const auto& present) {
    std::set<uint64_t> ids;
    for (const auto& [id, n] : expected) ids.insert(id);
    for (const auto& [key, rc] : refs) {
      if (key.first == kind) ids.insert(key.second);
    }
    for (const auto& [id, unused] : present) ids.insert(id);
    for (uint64_t id : ids) {
      auto eit = expected.find(id);
      uint64_t want = eit == expected.end() ? 0 : eit->second;
      auto rit = refs.find({kind, id});
      uint64_t have = rit == refs.end() ? 0 : rit->second;
      if (want != have) {
        problem(absl::StrCat(what, " ", id, ": refcount ", have, ", ", want,
                             " references"));
      }
      if (want == 0 && present.count(id)) {
        problem(absl::StrCat(what, " ", id, " is unreferenced (leaked)"));
      }
    }
  };
  auto refs_of = [&](char kind) {
    uint64_t n = 0;
    for (const auto& [key, rc] : refs) n += key.first == kind;
    return n;
  };
  compare('m', "map node", mref, maps);
  compare('l', "leaf", lref, leaves);
  compare('e', "extent", eref, std::map<uint64_t, int>{});
  // Free space: used bits == referenced extents.
  for (const auto& [x, n] : eref) {
    if (!bits.count(x)) {
      problem(absl::StrCat("extent ", x, " in use but marked free"));
    }
  }
  for (uint64_t x : bits) {
    if (!eref.count(x)) {
      problem(absl::StrCat("extent ", x, " marked used but unreferenced"));
    }
  }

  // Namespace.
  std::map<InodeId, uint32_t> names, subdirs;
  std::map<InodeId, std::vector<InodeId>> children;
  for (const Ent& e : ents) {
    auto dit = inodes.find(e.dir);
    if (dit == inodes.end() ||
        dit->second.type != static_cast<uint8_t>(FileType::kDirectory)) {
      problem(absl::StrCat("entry '", e.name, "' in non-directory ", e.dir));
      continue;
    }
    auto cit = cookies.find({e.dir, e.cookie});
    if (cit == cookies.end() || cit->second != e.name) {
      problem(absl::StrCat("entry '", e.name, "' of ", e.dir,
                           " has no matching cookie"));
    }
    if (e.cookie >= dit->second.next_cookie) {
      problem(absl::StrCat("entry '", e.name, "' cookie beyond counter"));
    }
    auto iit = inodes.find(e.ino);
    if (iit == inodes.end()) {
      problem(absl::StrCat("entry '", e.name, "' of ", e.dir,
                           " names missing inode ", e.ino));
      continue;
    }
    ++names[e.ino];
    children[e.dir].push_back(e.ino);
    if (iit->second.type == static_cast<uint8_t>(FileType::kDirectory)) {
      ++subdirs[e.dir];
      if (iit->second.parent != e.dir) {
        problem(absl::StrCat("directory ", e.ino, " parent ",
                             iit->second.parent, " but named in ", e.dir));
      }
    }
  }
  if (cookies.size() != ents.size()) {
    problem(absl::StrCat(cookies.size(), " cookies for ", ents.size(),
                         " entries"));
  }
  std::set<InodeId> snap_roots;
  uint64_t max_snap = 0;
  for (const auto& [id, s] : snaps) {
    max_snap = std::max(max_snap, id);
    snap_roots.insert(s.root);
    if (!inodes.count(s.root)) {
      problem(absl::StrCat("snapshot ", id, " root ", s.root, " missing"));
    } else if (!inodes[s.root].read_only) {
      problem(absl::StrCat("snapshot ", id, " root is not read-only"));
    }
  }
  InodeId max_ino = 0;
  for (const auto& [ino, rec] : inodes) {
    max_ino = std::max(max_ino, ino);
    const bool dir = rec.type == static_cast<uint8_t>(FileType::kDirectory);
    const bool root = ino == kRootInode || snap_roots.count(ino);
    uint32_t want_names = names[ino] + (root ? 1 : 0);
    if (dir) {
      if (want_names != 1) {
        problem(absl::StrCat("directory ", ino, " has ", names[ino],
                             " names"));
      }
      if (rec.nlink != 2 + subdirs[ino]) {
        problem(absl::StrCat("directory ", ino, " nlink ", rec.nlink, ", ",
                             2 + subdirs[ino], " expected"));
      }
    } else if (rec.nlink != want_names) {
      problem(absl::StrCat("inode ", ino, " nlink ", rec.nlink, ", ",
                           want_names, " names"));
    }
  }
  if (!inodes.count(kRootInode)) problem("root inode missing");
  // Reachability from the root and the snapshot roots.
  std::set<InodeId> reached;
  std::vector<InodeId> todo = {kRootInode};
  todo.insert(todo.end(), snap_roots.begin(), snap_roots.end());
  while (!todo.empty()) {
    InodeId x = todo.back();
    todo.pop_back();
    if (!reached.insert(x).second) continue;
    for (InodeId c : children[x]) todo.push_back(c);
  }
  for (const auto& [ino, rec] : inodes) {
    if (!reached.count(ino)) {
      problem(absl::StrCat("inode ", ino, " unreachable (leaked)"));
    }
  }
  if (counters["ino"] <= max_ino) problem("inode counter behind");
  if (!maps.empty() || !leaves.empty()) {
    if (counters["page"] <= max_page) problem("page counter behind");
  }
  if (!snaps.empty() && counters["snap"] <= max_snap) {
    problem("snapshot counter behind");
  }
  r.inodes = inodes.size();
  r.extents = eref.size();
  r.pages = maps.size() + leaves.size();
  // The in-memory mirrors must describe the same store.
  if (mirror_inodes != r.inodes || mirror_extents != refs_of('e') ||
      mirror_pages != r.pages || mirror_used != bits.size()) {
    problem(absl::StrCat("in-memory state differs from the metadata: inodes ",
                         mirror_inodes, "/", r.inodes, ", extents ",
                         mirror_extents, "/", refs_of('e'), ", pages ",
                         mirror_pages, "/", r.pages, ", used segments ",
                         mirror_used, "/", bits.size()));
  }
  return r;
}

absl::StatusOr<uint64_t> ExtentStoreImpl::AppendLog(absl::string_view log,
                                                    absl::string_view record,
                                                    uint64_t max_records) {
  if (log.empty() || log.size() > 64 ||
      log.find('\0') != absl::string_view::npos) {
    return FsError(EINVAL, "bad log name");
  }
  return Mutate([&]() -> absl::StatusOr<uint64_t> {
  VNAS_RETURN_IF_ERROR(Usable());
  LogState& st = logs_[std::string(log)];
  Txn t;
  uint64_t seq = st.next;
  t.batch.Put(meta::LogKey(log, seq), rocksdb::Slice(record.data(), record.size())).PermitUncheckedError();
  uint64_t first = st.first;
  while (max_records && seq + 1 - first > max_records) {
    t.batch.Delete(meta::LogKey(log, first)).PermitUncheckedError();
    ++first;
  }
  CommitTxn(t);
  st.next = seq + 1;
  st.first = first;
  return seq;
  });
}

absl::StatusOr<std::vector<ExtentStore::LogRecord>> ExtentStoreImpl::ReadLog(
    absl::string_view log, uint64_t after_seq, uint64_t limit) {
  {
    absl::ReaderMutexLock l(&mu_);
    VNAS_RETURN_IF_ERROR(Usable());
  }
  std::vector<LogRecord> out;
  const std::string prefix = meta::LogPrefix(log);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(meta::LogKey(log, after_seq + 1));
       it->Valid() && out.size() < limit && it->key().starts_with(prefix);
       it->Next()) {
    if (it->key().size() != prefix.size() + 8) continue;
    LogRecord rec;
    rec.seq = meta::DecodeBE8(it->key().data() + prefix.size());
    rec.record = it->value().ToString();
    out.push_back(std::move(rec));
  }
  if (!it->status().ok()) return RocksError(it->status(), "read log");
  return out;
}

}  // namespace vnas::storage::internal
