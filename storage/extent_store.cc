// extent_store.cc — ExtentStore's implementation (ExtentStoreImpl).
//
// Design (see storage/extent/extent_tree.h and storage/meta/keys.h):
//  * RocksDB (dir/meta) holds all metadata; every change is one WriteBatch
//    built by a Txn. All metadata is mirrored in memory (inodes, directory
//    entries, extent tree, allocator), rebuilt at Open, so reads and
//    accounting never look up RocksDB.
//  * Concurrency: one mutex. Mutations hold it exclusively for "check state,
//    do member I/O into fresh segments, mutate mirrors, write batch"; Read
//    and the accounting calls hold it shared.
//  * Ordering: data going into a freshly allocated segment is written (and,
//    for stable writes, synced) before the batch that maps it. A uniquely
//    owned segment is overwritten in place.
//  * If a RocksDB write fails (e.g. ENOSPC on the WAL) the batch was not
//    applied and the mirrors are ahead of RocksDB: they are reloaded from
//    RocksDB at once (LoadMirrors), the error is returned (ENOSPC for a
//    full file system, EIO otherwise), reads keep working, and the next
//    mutation asks RocksDB to Resume() from its error state. Only when the
//    reload itself fails does the store refuse every call until reopened.
//  * RocksDB's info log goes to stderr (warnings and errors only), never to
//    a LOG file on the store's file system: RocksDB's file logger reuses a
//    writer that already failed, which aborts (assertion) on a full file
//    system.
#include "storage/extent_store_impl.h"
#include "storage/meta/zeroed_wal_env.h"

#include <cstdarg>

namespace vnas::storage {

namespace internal {

namespace {

// RocksDB's info log: WARN and above to stderr, prefixed "vnasd: rocksdb:".
// Writes nothing to the store's file system, keeps no state, so logging can
// neither fail nor abort when the file system is full.
class StderrLogger final : public rocksdb::Logger {
 public:
  // Opening a new database, RocksDB warns that its directory could not be
  // read before creating it ("Error when reading <dir> dir NotFound"): not a
  // problem, and alarming in an operator's log.
  static bool IsFreshDirNoise(absl::string_view line) {
    return absl::StartsWith(line, "Error when reading ") &&
           absl::StrContains(line, " dir NotFound");
  }

  StderrLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format,
            va_list ap) override {
    if (level < GetInfoLogLevel() ||
        level == rocksdb::InfoLogLevel::HEADER_LEVEL) {
      return;
    }
    char buf[2048];
    vsnprintf(buf, sizeof(buf), format, ap);
    if (IsFreshDirNoise(buf)) return;
    fprintf(stderr, "vnasd: rocksdb: %s\n", buf);
  }
};

// The metadata database's rocksdb::Env: the store's, except that it reports
// free space as unknown. RocksDB then leaves a no-space error to its user
// instead of starting its own recovery (SstFileManager polls every 5 s until
// write_buffer_size bytes are free, and meanwhile DB::Resume() fails Busy);
// the store calls Resume() itself before its next write (GroupCommit).
class NoFreeSpaceEnv final : public rocksdb::EnvWrapper {
 public:
  explicit NoFreeSpaceEnv(rocksdb::Env* target) : rocksdb::EnvWrapper(target) {}
  static const char* kClassName() { return "VnasNoFreeSpaceEnv"; }
  const char* Name() const override { return kClassName(); }
  rocksdb::Status GetFreeSpace(const std::string& /*path*/,
                               uint64_t* /*diskfree*/) override {
    return rocksdb::Status::NotSupported("vnas resumes RocksDB itself");
  }
};

}  // namespace


ExtentStoreImpl::~ExtentStoreImpl() {
  if (gc_) {
    // A clean close leaves nothing unsynced.
    PersistLazyTimes();
    gc_->Flush().IgnoreError();
    gc_.reset();
  }
  if (db_) {
    db_->Close().PermitUncheckedError();  // best effort; nothing to report to
  }
}

absl::Status ExtentStoreImpl::Init(const StoreOptions& options) {
  if (options.dir.empty()) return FsError(EINVAL, "StoreOptions.dir is empty");
  env_ = options.env ? options.env : Env::Posix();
  rocksdb::Env* renv = env_->rocksdb_env() ? env_->rocksdb_env()
                                           : rocksdb::Env::Default();
  VNAS_RETURN_IF_ERROR(env_->CreateDirs(options.dir));
  {
    rocksdb::Status s = renv->CreateDirIfMissing(options.dir);
    if (!s.ok()) return RocksError(s, "create " + options.dir);
  }
  const std::string db_path = options.dir + "/meta";
  rocksdb::Options ro;
  ro.create_if_missing = options.create_if_missing;
  if (renv == rocksdb::Env::Default()) {
    // Cheaper log syncs (zeroed_wal_env.h); only over the POSIX files.
    wal_env_ = std::make_unique<ZeroedWalEnv>(renv);
    renv = wal_env_.get();
  }
  rocks_env_ = std::make_unique<NoFreeSpaceEnv>(renv);
  ro.env = rocks_env_.get();
  ro.max_background_jobs = 2;
  ro.info_log = std::make_shared<StderrLogger>();
  ro.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(64 << 20);
  ro.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(ro, db_path, &raw);
  if (!s.ok()) {
    if (s.IsInvalidArgument() && !options.create_if_missing) {
      return FsError(ENOENT, "no store in " + options.dir);
    }
    absl::Status err = RocksError(s, "open " + db_path);
    if (ErrnoOf(err) == ENOSPC) {
      return FsError(ENOSPC, absl::StrCat(
          "not enough free space on the file system holding ", db_path,
          " to open the metadata database; free some space and restart (",
          s.ToString(), ")"));
    }
    return err;
  }
  db_.reset(raw);
  sync_fanout_ = std::make_unique<Fanout>(kSyncHelpers);
  gc_ = std::make_unique<GroupCommit>(
      db_.get(),
      [this](const std::set<uint32_t>& ms, std::set<uint32_t>* failed) {
        return SyncMembers(ms, failed);
      },
      [](const rocksdb::Status& rs, const char* what) {
        return RocksError(rs, what);
      },
      absl::Microseconds(options.unstable_linger_us));

  absl::MutexLock l(&mu_);
  std::string sb_value;
  s = db_->Get(rocksdb::ReadOptions(), meta::SuperKey(), &sb_value);
  meta::Superblock sb;
  const bool fresh = s.IsNotFound();
  if (!s.ok() && !fresh) return RocksError(s, "read superblock");
  if (fresh) {
    // No superblock: only an empty database may become a new store.
    std::unique_ptr<rocksdb::Iterator> probe(
        db_->NewIterator(rocksdb::ReadOptions()));
    probe->SeekToFirst();
    if (probe->Valid()) {
      return absl::DataLossError("metadata without a superblock in " +
                                 db_path + "; refusing to format over it");
    }
    uint32_t seg = options.segment_size;
    if (seg < 4096 || seg > (1u << 20) || (seg & (seg - 1)) != 0) {
      return FsError(EINVAL, "segment_size must be a power of two in "
                             "[4 KiB, 1 MiB]");
    }
    uint32_t n = options.member_paths.empty()
                     ? options.num_members
                     : static_cast<uint32_t>(options.member_paths.size());
    if (n == 0 || n > 1024) return FsError(EINVAL, "bad member count");
    absl::BitGen gen;
    sb.store_id = absl::Uniform<uint64_t>(gen, 1, ~uint64_t{0});
    sb.segment_size = seg;
    sb.num_members = n;
    sb.created_sec = static_cast<uint64_t>(Now().sec);
    sb.member_paths = options.member_paths;
  } else {
    if (!meta::DecodeSuperblock(sb_value, &sb)) {
      return absl::DataLossError("corrupt superblock");
    }
    if (sb.version < meta::kOldestFormatVersion ||
        sb.version > meta::kFormatVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "unknown store format version ", sb.version, " (this build knows ",
          meta::kOldestFormatVersion, " to ", meta::kFormatVersion, ")"));
    }
    if (!options.member_paths.empty() &&
        options.member_paths != sb.member_paths) {
      return absl::FailedPreconditionError(
          "member paths differ from the ones recorded at creation");
    }
  }
  store_id_ = sb.store_id;
  seg_ = sb.segment_size;
  inline_max_ = std::min(options.inline_max, seg_);
  nmembers_ = sb.num_members;
  generation_ = sb.created_sec;
  {
    absl::BitGen gen;
    verifier_ = absl::Uniform<uint64_t>(gen) ^
                static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
    if (verifier_ == 0) verifier_ = 1;
  }

  // Members.
  for (uint32_t i = 0; i < nmembers_; ++i) {
    auto m = std::make_unique<MemberState>();
    m->path = sb.member_paths.empty()
                  ? absl::StrCat(options.dir, "/member-", i, ".dat")
                  : sb.member_paths[i];
    if (!fresh && !env_->FileExists(m->path)) {
      return absl::FailedPreconditionError("member file missing: " + m->path);
    }
    VNAS_ASSIGN_OR_RETURN(m->file, env_->OpenFile(m->path, /*create=*/true));
    members_.push_back(std::move(m));
  }
  writeback_ = std::make_unique<Writeback>(
      [this](uint32_t member, uint64_t offset, uint64_t len) {
        members_[member]->file->StartWriteback(offset, len);
      });
  capacity_ = options.capacity;
  if (capacity_ == 0) {
    VNAS_ASSIGN_OR_RETURN(capacity_, env_->FilesystemSize(options.dir));
  }
  cap_segs_ = capacity_ / seg_;
  backed_segs_.assign(nmembers_, 0);
  for (uint32_t i = 0; i < nmembers_; ++i) {
    VNAS_ASSIGN_OR_RETURN(uint64_t size, members_[i]->file->Size());
    backed_segs_[i] = (size + seg_ - 1) / seg_;
  }
  {
    // The file systems to keep the metadata reserve on, each once.
    std::vector<std::string> paths = {options.dir};
    for (const auto& m : members_) paths.push_back(m->path);
    std::set<uint64_t> seen;
    absl::MutexLock fl(&fs_mu_);
    for (const std::string& p : paths) {
      VNAS_ASSIGN_OR_RETURN(FsSpace sp, env_->FilesystemSpace(p));
      if (!seen.insert(sp.id).second) continue;
      FsWatch w;
      w.path = p;
      w.reserve = options.metadata_reserve
                      ? options.metadata_reserve
                      : std::max<uint64_t>(uint64_t{16} << 20, sp.total / 100);
      w.avail = sp.avail;
      w.read_at = absl::Now();
      fs_.push_back(std::move(w));
    }
  }
  VNAS_RETURN_IF_ERROR(LoadMirrors());  // empty for a fresh store

  if (fresh) {
    Txn t;
    t.batch.Put(meta::SuperKey(), meta::EncodeSuperblock(sb))
        .PermitUncheckedError();
    auto root = std::make_unique<Inode>();
    root->ino = kRootInode;
    Timespec now = Now();
    root->rec.type = static_cast<uint8_t>(FileType::kDirectory);
    root->rec.mode = 0755;
    root->rec.nlink = 2;
    root->rec.generation = generation_;
    root->rec.parent = kRootInode;
    root->rec.next_cookie = 1;
    root->rec.atime_sec = root->rec.mtime_sec = root->rec.ctime_sec = now.sec;
    root->rec.atime_nsec = root->rec.mtime_nsec = root->rec.ctime_nsec =
        now.nsec;
    inodes_[kRootInode] = std::move(root);
    t.inodes.insert(kRootInode);
    t.counters = true;
    CommitTxn(t);
    GroupCommit::Ticket created = std::move(pending_);
    return gc_->Wait(created);  // the leader never takes mu_
  }
  if (sb.version < meta::kFormatVersion) {
    // Every older format is a subset of this one (see keys.h): recording the
    // new version is the whole upgrade.
    sb.version = meta::kFormatVersion;
    Txn t;
    t.batch.Put(meta::SuperKey(), meta::EncodeSuperblock(sb))
        .PermitUncheckedError();
    t.force = true;
    CommitTxn(t);
    GroupCommit::Ticket upgraded = std::move(pending_);
    return gc_->Wait(upgraded);
  }

  return absl::OkStatus();
}

absl::Status ExtentStoreImpl::LoadMirrors() {
  ++reloads_;
  inodes_.clear();
  snaps_.clear();
  logs_.clear();
  next_ino_ = 2;
  next_snap_ = 1;
  total_outstanding_ = 0;
  inline_bytes_ = 0;
  tree_.reset();  // refers to alloc_
  alloc_ = std::make_unique<QuarantineAllocator>(NewBitmapAllocator(nmembers_));
  for (uint32_t i = 0; i < nmembers_; ++i) {
    alloc_->SetLimit(i, (cap_segs_ + nmembers_ - 1) / nmembers_);
  }
  tree_ = std::make_unique<ExtentTree>(alloc_.get());

  // Load every key.
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions()));
  auto corrupt = [](const rocksdb::Slice& k) {
    return absl::DataLossError(
        absl::StrCat("corrupt metadata key ", k.ToString(true)));
  };
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    absl::string_view v(it->value().data(), it->value().size());
    if (k.empty()) return corrupt(k);
    const char tag = k[0];
    auto id8 = [&]() { return meta::DecodeBE8(k.data() + 1); };
    switch (tag) {
      case 'S':
        break;
      case 'N': {
        absl::string_view name(k.data() + 1, k.size() - 1);
        if (v.size() != 8) return corrupt(k);
        uint64_t x = meta::DecodeBE8(v.data());
        if (name == "ino") next_ino_ = x;
        else if (name == "snap") next_snap_ = x;
        else if (name == "page") tree_->set_next_page_id(x);
        break;
      }
      case 'I': {
        if (k.size() != 9) return corrupt(k);
        auto n = std::make_unique<Inode>();
        if (!meta::DecodeInode(v, &n->rec)) return corrupt(k);
        n->ino = id8();
        inodes_[id8()] = std::move(n);
        break;
      }
      case 'D':
      case 'E':
        break;  // second pass (needs the directories)
      case 'L':
        if (k.size() != 9) return corrupt(k);
        VNAS_RETURN_IF_ERROR(tree_->LoadLeaf(id8(), v));
        break;
      case 'M':
        if (k.size() != 9) return corrupt(k);
        VNAS_RETURN_IF_ERROR(tree_->LoadMap(id8(), v));
        break;
      case 'R': {
        if (k.size() != 10) return corrupt(k);
        uint64_t rc;
        absl::string_view in = v;
        if (!meta::GetVarint(&in, &rc)) return corrupt(k);
        tree_->LoadRef(static_cast<meta::RefKind>(k[1]),
                       meta::DecodeBE8(k.data() + 2),
                       static_cast<uint32_t>(rc));
        break;
      }
      case 'B': {
        if (k.size() != 13) return corrupt(k);
        const uint32_t member =  // BE4 at k[1..4]
            (uint32_t{static_cast<uint8_t>(k[1])} << 24) |
                 (uint32_t{static_cast<uint8_t>(k[2])} << 16) |
                 (uint32_t{static_cast<uint8_t>(k[3])} << 8) |
                 uint32_t{static_cast<uint8_t>(k[4])};
        if (member >= nmembers_) return corrupt(k);
        alloc_->LoadChunk(member, meta::DecodeBE8(k.data() + 5), v);
        break;
      }
      case 'T': {
        SnapRec r;
        if (k.size() != 9 || !meta::DecodeSnapshot(v, &r.rec)) {
          return corrupt(k);
        }
        snaps_[id8()] = std::move(r);
        break;
      }
      case 'G': {
        absl::string_view ks(k.data(), k.size());
        size_t z = ks.find('\0');
        if (z == absl::string_view::npos || ks.size() != z + 9) {
          return corrupt(k);
        }
        std::string name(ks.substr(1, z - 1));
        uint64_t seq = meta::DecodeBE8(ks.data() + z + 1);
        auto [lit, inserted] = logs_.try_emplace(name);
        if (inserted) lit->second.first = seq;
        lit->second.next = seq + 1;
        break;
      }
      default:
        return corrupt(k);
    }
  }
  if (!it->status().ok()) return RocksError(it->status(), "scan metadata");
  // Directory entries.
  for (it->Seek("D"); it->Valid() && it->key()[0] == 'D'; it->Next()) {
    rocksdb::Slice k = it->key();
    if (k.size() < 10) return corrupt(k);
    InodeId dir = meta::DecodeBE8(k.data() + 1);
    Dirent d;
    if (!meta::DecodeDirent(
            absl::string_view(it->value().data(), it->value().size()), &d.ino,
            &d.cookie)) {
      return corrupt(k);
    }
    auto dit = inodes_.find(dir);
    if (dit == inodes_.end()) return corrupt(k);
    std::string name(k.data() + 9, k.size() - 9);
    dit->second->by_cookie[d.cookie] = name;
    dit->second->entries[name] = d;
  }
  if (!it->status().ok()) return RocksError(it->status(), "scan entries");
  VNAS_RETURN_IF_ERROR(tree_->FinishLoad());
  for (auto& [ino, n] : inodes_) {
    if (n->rec.reserve) RecomputeOutstanding(n.get());
    inline_bytes_ += n->rec.inline_data.size();
  }
  return absl::OkStatus();
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<ExtentStore>> ExtentStore::Open(
    const StoreOptions& options) {
  auto store = std::make_unique<internal::ExtentStoreImpl>();
  VNAS_RETURN_IF_ERROR(store->Init(options));
  return std::unique_ptr<ExtentStore>(std::move(store));
}

}  // namespace vnas::storage
