// extent_store_impl.h — private: ExtentStoreImpl, shared by the
// extent_store_*.cc files. Not part of the public API.
#ifndef VNAS_STORAGE_EXTENT_STORE_IMPL_H_
#define VNAS_STORAGE_EXTENT_STORE_IMPL_H_

#include "storage/extent_store.h"

#include <errno.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/cache.h"
#include "rocksdb/write_batch.h"
#include "storage/alloc/allocator.h"
#include "storage/alloc/quarantine_allocator.h"
#include "storage/commit/group_commit.h"
#include "storage/commit/writeback.h"
#include "storage/base/fanout.h"
#include "storage/base/status_util.h"
#include "storage/env/env.h"
#include "storage/extent/extent_tree.h"
#include "storage/meta/keys.h"

namespace vnas::storage {
namespace internal {

using meta::InodeRec;
using meta::kSegsPerMap;

inline constexpr uint64_t kMaxFileSize = uint64_t{1} << 44;  // 16 TiB
inline constexpr uint32_t kMaxName = 255;
// The allocator's stripe unit (see AllocSeg): an allocation policy, not part
// of the on-disk format.
inline constexpr uint64_t kStripeBytes = uint64_t{1} << 20;
// Unstable member runs at least this large (streams, not random 4 KiB
// writes) are handed to Writeback as soon as they are written.
inline constexpr uint64_t kWritebackMinBytes = 256 << 10;

inline Timespec Now() {
  int64_t ns = absl::ToUnixNanos(absl::Now());
  return Timespec{ns / 1000000000, static_cast<uint32_t>(ns % 1000000000)};
}

// Maps a RocksDB failure to the store's errors. A full file system (status
// NoSpace, or an error whose text carries the OS's ENOSPC message, e.g. the
// options file RocksDB failed to persist) is ENOSPC and retryable: it goes
// away when space is freed. Anything else is EIO, tagged data loss.
inline absl::Status RocksError(const rocksdb::Status& s, absl::string_view what) {
  const std::string text = s.ToString();
  if (s.IsNoSpace() || s.subcode() == rocksdb::Status::kNoSpace ||
      absl::StrContains(text, "No space left on device")) {
    return MarkRetryable(FsError(
        ENOSPC, absl::StrCat(what, ": no space left for metadata: ", text)));
  }
  return MarkDataLoss(IoError(EIO, absl::StrCat(what, ": ", text)));
}

inline bool AllZero(const char* p, size_t n) {
  static const char kZeros[4096] = {};
  while (n >= sizeof(kZeros)) {
    if (std::memcmp(p, kZeros, sizeof(kZeros)) != 0) return false;
    p += sizeof(kZeros);
    n -= sizeof(kZeros);
  }
  return std::memcmp(p, kZeros, n) == 0;
}

inline absl::Status CheckName(absl::string_view name) {
  if (name.empty() || name == "." || name == ".." ||
      name.find('/') != absl::string_view::npos ||
      name.find('\0') != absl::string_view::npos) {
    return FsError(EINVAL, absl::StrCat("invalid name '", name, "'"));
  }
  if (name.size() > kMaxName) return FsError(ENAMETOOLONG, "name too long");
  return absl::OkStatus();
}

struct Dirent {
  InodeId ino = 0;
  uint64_t cookie = 0;
};

struct Inode {
  InodeId ino = 0;
  InodeRec rec;
  std::map<std::string, Dirent> entries;      // directories
  std::map<uint64_t, std::string> by_cookie;  // directories
  AlignmentStats align;                       // since open
  uint64_t outstanding = 0;  // reserved segments not uniquely owned
  uint32_t inline_rewrites = 0;  // stable in-place rewrites while inline
  uint64_t last_seq = 0;     // commit sequence of the last batch naming it

  FileType type() const { return static_cast<FileType>(rec.type); }
  bool is_dir() const { return type() == FileType::kDirectory; }
  bool is_reg() const { return type() == FileType::kRegular; }
};

struct MemberState {
  std::string path;
  std::unique_ptr<File> file;
  std::atomic<uint64_t> bytes_read{0}, bytes_written{0}, reads{0}, writes{0};
};

// Groups per-segment I/O into runs that lie end to end in one member, so a
// file's consecutive segments (striped over the members, consecutive within
// each member) cost one system call per member run. Part is
// absl::Span<char> (reads) or absl::string_view (writes).
template <typename Part>
class MemberRuns {
 public:
  struct Run {
    uint32_t member = 0;
    uint64_t offset = 0;  // in the member file
    uint64_t bytes = 0;
    std::vector<Part> parts;
    std::vector<size_t> tags;  // caller's ids of the parts
  };
  explicit MemberRuns(uint32_t members) : open_(members, kNone) {}
  void Add(uint32_t member, uint64_t offset, Part part, size_t tag = 0) {
    size_t& o = open_[member];
    if (o == kNone || runs_[o].offset + runs_[o].bytes != offset) {
      o = runs_.size();
      runs_.push_back(Run{member, offset, 0, {}, {}});
    }
    runs_[o].bytes += part.size();
    runs_[o].parts.push_back(part);
    runs_[o].tags.push_back(tag);
  }
  const std::vector<Run>& Finish() const { return runs_; }

 private:
  static constexpr size_t kNone = ~size_t{0};
  std::vector<size_t> open_;  // per member: its run still growing
  std::vector<Run> runs_;
};

// One metadata change: a batch plus the mirror objects it must persist.
struct Txn {
  rocksdb::WriteBatch batch;
  std::set<InodeId> inodes;      // put (or delete when gone)
  std::set<uint32_t> members;    // member files written by this change
  bool counters = false;
  GroupCommit::Need need = GroupCommit::Need::kDurable;
  // Queue (and wait for) it even with nothing in it; it then also carries
  // the TouchLater() times.
  bool force = false;
};

class ExtentStoreImpl final : public ExtentStore {
 public:
  ExtentStoreImpl() = default;
  ~ExtentStoreImpl() override;

  absl::Status Init(const StoreOptions& options);

  uint64_t store_id() const override { return store_id_; }
  uint64_t write_verifier() const override {
    return verifier_.load(std::memory_order_acquire);
  }
  uint32_t segment_size() const override { return seg_; }

  absl::StatusOr<Attr> GetAttr(InodeId ino) override;
  absl::StatusOr<Attr> GetAttrChecked(InodeId ino,
                                      uint64_t generation) override;
  absl::StatusOr<Attr> Lookup(InodeId dir, absl::string_view name) override;
  absl::StatusOr<CreateResult> Create(InodeId dir, absl::string_view name,
                                      const CreateRequest& req) override;
  absl::StatusOr<CreateResult> Mkdir(InodeId dir, absl::string_view name,
                                     uint32_t mode, uint32_t uid,
                                     uint32_t gid) override;
  absl::StatusOr<CreateResult> Symlink(InodeId dir, absl::string_view name,
                                       absl::string_view target, uint32_t mode,
                                       uint32_t uid, uint32_t gid) override;
  absl::StatusOr<std::string> ReadLink(InodeId ino) override;
  absl::StatusOr<CreateResult> Link(InodeId ino, InodeId dir,
                                    absl::string_view name) override;
  absl::StatusOr<Change> Remove(InodeId dir, absl::string_view name) override;
  absl::StatusOr<Change> Rmdir(InodeId dir, absl::string_view name) override;
  absl::StatusOr<RenameResult> Rename(InodeId from_dir,
                                      absl::string_view from_name,
                                      InodeId to_dir,
                                      absl::string_view to_name) override;
  absl::StatusOr<Change> SetAttr(InodeId ino,
                                 const SetAttrRequest& req) override;
  absl::StatusOr<DirPage> ReadDir(InodeId dir, uint64_t cookie,
                                  uint32_t max_entries,
                                  bool want_attrs) override;
  absl::StatusOr<Attr> ResolvePath(absl::string_view path) override;
  absl::StatusOr<InodeId> Parent(InodeId dir) override;

  absl::StatusOr<ReadResult> Read(InodeId ino, uint64_t offset, uint32_t count,
                                  char* out) override;
  absl::StatusOr<ReadResult> ReadCached(InodeId ino, uint64_t offset,
                                        uint32_t count, char* out) override;
  absl::StatusOr<ReadResult> ReadLent(InodeId ino, uint64_t offset,
                                      uint32_t count, bool may_block,
                                      LentBytes* out) override;
  using ExtentStore::Write;
  absl::StatusOr<WriteResult> Write(InodeId ino, uint64_t offset,
                                    absl::string_view data,
                                    Stability stability,
                                    std::shared_ptr<const void> keep) override;
  absl::StatusOr<Attr> Commit(InodeId ino) override;
  absl::StatusOr<Change> PunchHole(InodeId ino, uint64_t offset,
                                   uint64_t length) override;

  absl::StatusOr<CreateResult> CloneFile(InodeId src, InodeId dst_dir,
                                         absl::string_view dst_name,
                                         bool guarded) override;
  absl::StatusOr<SnapshotInfo> CreateSnapshot(InodeId ino,
                                              absl::string_view name) override;
  absl::StatusOr<std::vector<SnapshotInfo>> ListSnapshots(
      InodeId ino) override;
  absl::Status DeleteSnapshot(uint64_t snapshot_id) override;
  absl::Status RestoreSnapshot(uint64_t snapshot_id) override;
  absl::StatusOr<CreateResult> CloneSnapshot(uint64_t snapshot_id,
                                             InodeId dst_dir,
                                             absl::string_view dst_name) override;
  absl::StatusOr<Attr> Reserve(InodeId ino, uint64_t size) override;

  absl::StatusOr<SpaceStats> Space(InodeId ino) override;
  absl::StatusOr<StoreSpace> GetStoreSpace() override;
  absl::StatusOr<AlignmentStats> Alignment(InodeId ino) override;
  std::vector<MemberStats> Members() override;
  absl::StatusOr<FsckReport> Fsck() override;

  absl::StatusOr<uint64_t> AppendLog(absl::string_view log,
                                     absl::string_view record,
                                     uint64_t max_records) override;
  absl::StatusOr<std::vector<LogRecord>> ReadLog(absl::string_view log,
                                                 uint64_t after_seq,
                                                 uint64_t limit) override;

 private:
  struct SnapRec {
    meta::SnapshotRec rec;
  };
  struct LogState {
    uint64_t first = 1;  // oldest kept seq
    uint64_t next = 1;   // next seq to hand out
  };

  // ---- helpers (mu_ held) ----
  absl::Status Usable() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // A new write verifier (never 0): acknowledged unstable data may be lost,
  // so clients must resend what they have not seen committed.
  void ChangeVerifier() {
    const uint64_t v = verifier_.load() + 1;
    verifier_.store(v ? v : 1, std::memory_order_release);
  }
  absl::StatusOr<Inode*> Get(InodeId ino) ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Inode*> GetDir(InodeId ino) ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Inode*> GetLiveDir(InodeId ino)
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // The inode of the entry `name` of directory `d`; ENOENT if there is none.
  absl::StatusOr<Inode*> GetEntry(Inode* d, absl::string_view name)
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  Attr ToAttr(const Inode& n) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  static WccAttr Wcc(const Inode& n);
  Inode* NewInode(Txn& t, FileType type, uint32_t mode, uint32_t uid,
                  uint32_t gid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddEntry(Txn& t, Inode* dir, const std::string& name, InodeId ino)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveEntry(Txn& t, Inode* dir, const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Mkdir and Symlink (takes mu_): links a new `type` inode as `name` in live
  // directory `dir` (EEXIST if taken); `init(n, d)` completes the new inode
  // `n` and the directory `d` before the change is committed.
  absl::StatusOr<CreateResult> AddNode(
      InodeId dir, absl::string_view name, FileType type, uint32_t mode,
      uint32_t uid, uint32_t gid,
      const std::function<void(Inode* n, Inode* d)>& init)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Drops one link of a non-directory; deletes it at nlink 0.
  void DropLink(Txn& t, Inode* n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DeleteInode(Txn& t, Inode* n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes everything below directory `d` (not `d` itself).
  void DeleteTreeContents(Txn& t, Inode* d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Touch(Txn& t, Inode* n, bool mtime, Timespec now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Puts the mirrors' changes named by `t` into its batch and queues it for
  // the group commit; the enclosing Mutate() waits for it (t.need) after
  // letting go of mu_. Frees made since the last CommitTxn are quarantined
  // until this batch is durable.
  void CommitTxn(Txn& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sets n's mtime and ctime without a batch: they are persisted with the
  // next batch of any change, on Commit() and at close (an in-place write
  // changes nothing else; a crash may lose only these times).
  void TouchLater(Inode* n, Timespec now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues the times TouchLater() set (unsynced).
  void PersistLazyTimes() ABSL_LOCKS_EXCLUDED(mu_);
  // Runs `body` (a mutation ending in CommitTxn calls) under mu_, then waits,
  // without mu_, until its last batch is as durable as it asked. A failure
  // to persist replaces a successful result.
  template <typename F, typename R = std::invoke_result_t<F&>>
  R Mutate(F&& body) ABSL_LOCKS_EXCLUDED(mu_) {
    GroupCommit::Ticket last;
    R result = [&]() -> R {
      absl::MutexLock l(&mu_);
      absl::Status ready = PrepareMutation();
      if (!ready.ok()) return R(ready);
      pending_.reset();
      R r = body();
      last = std::move(pending_);
      return r;
    }();
    absl::Status persisted = gc_->Wait(last);
    if (!persisted.ok() && gc_->needs_reload()) {
      // Roll the mirrors back now, so readers do not see the failed change.
      absl::MutexLock l(&mu_);
      PrepareMutation().IgnoreError();
    }
    if (!persisted.ok() && result.ok()) return R(persisted);
    return result;
  }
  // Before a mutation: reloads the mirrors after a failed batch, lets
  // durable frees be reused, and checks the store is usable.
  absl::Status PrepareMutation() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status LoadMirrors() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // An in-place write prepared under mu_ and carried out without it: only
  // segments the file owns alone, inside its size (no metadata changes but
  // the times). See PlanInPlace.
  struct InPlaceIo {
    std::vector<MemberRuns<absl::string_view>::Run> runs;
    bool durable = false;  // stable: O_DSYNC writes
    // Stable, and the file's mapping or size is not durable yet (an earlier
    // unstable change): make it durable after the data.
    bool flush_after = false;
    uint64_t pin_seq = 0;
  };
  // A write of whole segments that all need fresh ones (new data, or a
  // copy of shared segments), carried out in three steps: fresh segments are
  // claimed under mu_ (PlanFresh; claimed segments are not persisted as
  // used, so a crash leaks nothing), the data is written without mu_, and
  // the segments are mapped under mu_ again (FinishFresh), whatever the file
  // maps there by then. So concurrent writers of new data (sequential
  // streams, copy-on-write storms) copy their data in parallel.
  //
  // Any other write whose every segment needs a fresh one (holes, or
  // segments shared with a clone or snapshot) goes the same way (PlanCow):
  // a segment it covers only in part is read, merged with the data and
  // written to its claimed one without mu_. A merge is stale, and the write
  // is redone under mu_, when by FinishFresh the file maps something else
  // there, an in-place write went into the old segment (copying_), or the
  // file shrank.
  struct FreshIo {
    std::vector<MemberRuns<absl::string_view>::Run> runs;
    std::vector<uint64_t> targets;  // one per segment, from offset / seg_
    uint64_t pin_seq = 0;           // keeps a reload away while writing
    uint64_t reloads = 0;           // reloads_ when the segments were claimed
    bool cow = false;  // PlanCow
    // Per target: what the file mapped there when planned (0: a hole).
    std::vector<uint64_t> cow_old;
    uint64_t cow_size = 0;  // the file's size when planned
  };
  // `redo`: the write already went through here once (a stale lock-free
  // attempt, or a part of a split write), so it is not counted in the
  // alignment figures again. `split` (null: never split): set instead of
  // writing anything when no lock-free plan takes the whole write but its
  // parts, split there, differ in kind (see SplitPoint).
  absl::StatusOr<WriteResult> WriteLocked(InodeId ino, uint64_t offset,
                                          absl::string_view data,
                                          Stability stability, bool fresh_ok,
                                          bool cow_ok, bool redo,
                                          InPlaceIo* io, FreshIo* fresh,
                                          uint64_t* split = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Write() for one part of a write; `counted`: in the alignment figures
  // already.
  absl::StatusOr<WriteResult> WritePart(InodeId ino, uint64_t offset,
                                        absl::string_view data,
                                        Stability stability,
                                        const std::shared_ptr<const void>& keep,
                                        bool counted) ABSL_LOCKS_EXCLUDED(mu_);
  // A write that mixes segments written in place, segments that need a
  // fresh one for data, and the rest (zeros into holes or reclaimed, a
  // partial segment at or past EOF) would do all its I/O under mu_ on the
  // locked path. The first segment boundary inside it where that kind
  // changes, so the parts can each take their own (lock-free) plan; 0 when
  // it is one kind throughout.
  uint64_t SplitPoint(const Inode& n, uint64_t offset,
                      absl::string_view data) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // PlanFresh's and PlanCow's common step: checks the space for `nsegs`
  // fresh segments from si0 (`in_reserve` inside the reservation), claims
  // them into io->targets and pins; false (nothing claimed) when that fails.
  bool ClaimFresh(const Inode& n, uint64_t si0, uint64_t nsegs,
                  uint64_t in_reserve, FreshIo* io)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Claims the segments and pins, when every segment of the write needs a
  // fresh one (and it is not all zeros where holes may stay); false leaves
  // it to the locked path.
  bool PlanCow(const Inode& n, uint64_t offset, absl::string_view data,
               FreshIo* io) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes PlanCow's targets (merged where the write covers a segment in
  // part), without mu_.
  absl::Status WriteCow(uint64_t offset, absl::string_view data,
                        Stability stability, const FreshIo& io);
  // The part of segment `si` that [offset, offset + len) covers.
  struct SegPart {
    uint64_t from = 0, to = 0;  // file offsets
    bool whole = false;
  };
  SegPart PartOf(uint64_t si, uint64_t offset, uint64_t len) const {
    SegPart p;
    p.from = std::max(offset, si * seg_);
    p.to = std::min(offset + len, (si + 1) * seg_);
    p.whole = p.to - p.from == seg_;
    return p;
  }
  // Segments a lock-free copy-on-write is reading (PlanCow), and whether an
  // in-place write went into one since (its copy is then stale).
  struct Copying {
    uint32_t count = 0;
    bool dirty = false;
  };
  absl::flat_hash_map<uint64_t, Copying> copying_ ABSL_GUARDED_BY(mu_);
  // Every in-place data write into segment `e` calls this first.
  void NoteInPlace(uint64_t e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (copying_.empty()) return;
    auto it = copying_.find(e);
    if (it != copying_.end()) it->second.dirty = true;
  }
  // Claims the segments and pins, when every segment of the write (whole
  // segments of nonzero data, `fresh_ok`) needs a fresh one and they fit.
  bool PlanFresh(const Inode& n, uint64_t offset, absl::string_view data,
                 FreshIo* io) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Maps the written segments (or gives them back when `written` failed).
  // A stale copy-on-write (see FreshIo) gives its segment back and sets
  // *redo: the caller then writes again through the locked path.
  absl::StatusOr<WriteResult> FinishFresh(InodeId ino, uint64_t offset,
                                          uint64_t len, Stability stability,
                                          const FreshIo& io,
                                          absl::Status written, bool* redo)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fills `io` and pins when the whole write can go in place lock-free:
  // every touched segment mapped and unique, the size unchanged, and no
  // clone or snapshot waiting to share the file's segments (share_gate_).
  bool PlanInPlace(const Inode& n, uint64_t offset, absl::string_view data,
                   Stability stability, InPlaceIo* io)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Clones and snapshots: closes the lock-free in-place path and waits for
  // the writes on it to finish, so segments about to be shared get no late
  // bytes; ShareGate reopens it.
  void CloseShareGate() ABSL_LOCKS_EXCLUDED(mu_);
  // Waits (releasing mu_ meanwhile) until no lock-free in-place write is in
  // flight.
  void AwaitNoInPlaceWrites() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Pins a write about to run without mu_ (see pin_seqs_) and returns its
  // pin; Unpin (which takes mu_) ends it.
  uint64_t Pin() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unpin(uint64_t seq) ABSL_LOCKS_EXCLUDED(mu_);
  // Gives back the claims of a write of new data that is not mapped.
  void UnclaimAll(const std::vector<uint64_t>& targets)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What a data write's batch must reach for `stability`.
  static GroupCommit::Need WriteNeed(Stability stability) {
    return stability == Stability::kUnstable ? GroupCommit::Need::kWritten
                                             : GroupCommit::Need::kDurable;
  }
  // Holds the share gate closed (CloseShareGate) from construction until
  // Reopen() at the end of the clone's or snapshot's body (mu_ held): from
  // then on the mirrors show the segments shared, so writes copy them. The
  // destructor reopens it if the body never ran.
  class ShareGate {
   public:
    explicit ShareGate(ExtentStoreImpl* s) : store_(s) { s->CloseShareGate(); }
    ~ShareGate() {
      if (open_) return;
      absl::MutexLock l(&store_->mu_);
      --store_->share_gate_;
    }
    void Reopen() ABSL_EXCLUSIVE_LOCKS_REQUIRED(store_->mu_) {
      if (open_) return;
      --store_->share_gate_;
      open_ = true;
    }
    // For the body: reopens the gate when the body ends, however it ends.
    struct BodyScope {
      ShareGate* gate;
      ~BodyScope() ABSL_NO_THREAD_SAFETY_ANALYSIS { gate->Reopen(); }
    };
    BodyScope ReopenAtEnd() { return BodyScope{this}; }

   private:
    ExtentStoreImpl* const store_;
    bool open_ = false;
  };

  // Syncs the members in `ms` in parallel; members whose sync failed are
  // added to `failed`; returns the first error.
  absl::Status SyncMembers(const std::set<uint32_t>& ms,
                           std::set<uint32_t>* failed);

  // Data path.
  absl::Status WriteSeg(Txn& t, Inode* n, uint64_t si, uint32_t a,
                        const char* data, uint32_t len, bool* meta_changed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes `nsegs` whole segments from segment si0 (data not all zero), one
  // system call per run of segments that lie end to end in a member, and maps
  // fresh segments only once their data is written. *done: the segments
  // applied, from si0, before the first failure (whose error is returned).
  absl::Status WriteFullSegs(Txn& t, Inode* n, uint64_t si0, const char* data,
                             uint64_t nsegs, bool* meta_changed,
                             uint64_t* done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A segment may be overwritten in place only when the file owns it alone
  // and that is durable: a reference dropped by a batch not yet durable
  // (another file's copy-on-write, a deleted snapshot) comes back after a
  // crash, and the old sharer would then see the new bytes. Until then,
  // writes copy.
  bool InPlaceOk(const MapList& maps, uint64_t si) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return tree_->Unique(maps, si) && !UnshareInFlight(maps, si);
  }
  // Segment si of `maps` became unique by a reference drop (a clone or
  // snapshot removed, or one copied on write) that is not durable yet: a
  // crash could bring the other reference back, so its bytes must not
  // change in place meanwhile.
  bool UnshareInFlight(const MapList& maps, uint64_t si) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Records the tree's reference drops as made by batch `seq`, and forgets
  // those that are durable.
  void NoteUnshares(uint64_t seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool NeedsAlloc(const Inode& n, uint64_t si, uint32_t a, const char* data,
                  uint32_t len) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Zero reclaim (thin provisioning): a write of a whole segment of zeros
  // (`a`, `len`: the part of segment si it covers) unmaps the segment, so
  // a guest zeroing free space gives it back, as arrays reclaim zero pages.
  // Segments inside a reservation stay (thick files keep their space).
  bool ReclaimsZeros(const Inode& n, uint64_t si, uint32_t a,
                     const char* data, uint32_t len) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // A fresh segment for segment `si` of `n` (striping policy); `claim`: a
  // claim (QuarantineAllocator::Claim) instead of an allocation.
  absl::StatusOr<uint64_t> AllocSeg(const Inode& n, uint64_t si,
                                    bool claim = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fails ENOSPC (changing nothing) when `allocs` fresh segments for `n`,
  // `in_reserve` of them inside its reservation, do not fit: the capacity
  // (used + outstanding reservations) or the file systems' free space
  // (CheckFsSpace). Counts the growth against the cached free space.
  absl::Status CheckSpace(const Inode& n, uint64_t allocs, uint64_t in_reserve)
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Free segments below the members' high-water marks: allocating them
  // reuses file space that is already there (segments are never punched).
  uint64_t BackedFreeSegs() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Bytes the fullest file system under the store can still take beyond its
  // metadata reserve (statvfs, cached like CheckFsSpace's readings).
  uint64_t FsFreeBytes() ABSL_LOCKS_EXCLUDED(fs_mu_);
  // The metadata reserve check for growing the member files by `growth`
  // segments while `unbacked` reserved segments still need file-system
  // space; `reserved_only` growth (writes into reservations) may use half
  // of the reserve. Re-reads statvfs before refusing. When `consume`, the
  // growth is subtracted from the cached readings.
  absl::Status CheckFsSpace(uint64_t growth, uint64_t unbacked,
                            bool reserved_only, bool consume)
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status Truncate(Txn& t, Inode* n, uint64_t size)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Inline data (StoreOptions::inline_max). A write of `len` bytes at
  // `offset` may go into the inode record: the file is inline already, or
  // maps no segment, and stays within inline_max_ (a reservation keeps a
  // file in segments).
  bool InlineFits(const Inode& n, uint64_t offset, uint64_t len) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // An inline file that stable writes keep rewriting in place (a lock
  // file's heartbeat) moves to a segment once this has happened more than
  // kInlineStableRewrites times since open: an in-place stable write to a
  // segment costs less than a metadata batch (512-byte FILE_SYNC rewrites,
  // 1 in flight: ~4,000 against ~3,100 a second here). Counts this write.
  static constexpr uint32_t kInlineStableRewrites = 8;
  bool RewrittenOften(Inode* n, uint64_t offset, uint64_t len,
                      Stability stability) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies such a write to the record (the caller puts the inode).
  void WriteInline(Inode* n, uint64_t offset, absl::string_view data)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves an inline file's bytes into segment 0 (the caller checked space
  // for one segment); on failure the file stays inline.
  absl::Status Spill(Txn& t, Inode* n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ZeroRange(Txn& t, Inode* n, uint64_t off, uint64_t len)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Before the file grows to `new_size`: zeroes the bytes past EOF inside
  // the segment that holds EOF when they are not zero (an in-place write
  // past EOF whose size change died with the process leaves them behind).
  absl::Status ZeroPastEof(Txn& t, Inode* n, uint64_t new_size)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ReadSegment(uint64_t e, uint32_t a, uint32_t len, char* out);
  // `before_sync`: a durable change syncs the member right after, so the
  // bytes go out now (File::PWriteVNow), not through a write-behind.
  absl::Status WriteMember(uint64_t e, uint32_t a, absl::string_view data,
                           bool before_sync);
  // One member run of a read or write (see MemberRuns), counted in the
  // member's statistics; `durable` writes use O_DSYNC.
  // Read / ReadCached (cached_only: see ExtentStore::ReadCached); mu_ is
  // held for reading.
  absl::StatusOr<ReadResult> ReadLocked(InodeId ino, uint64_t offset,
                                        uint32_t count, char* out,
                                        bool cached_only)
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status ReadRun(const MemberRuns<absl::Span<char>>::Run& run,
                       bool cached_only = false);
  // ReadLent with mu_ held for reading.
  absl::StatusOr<ReadResult> ReadLentLocked(InodeId ino, uint64_t offset,
                                            uint32_t count, bool may_block,
                                            LentBytes* out)
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // How a run's bytes go out: durable when written (O_DSYNC); written before
  // the call returns, for a sync that follows (the commit group's
  // data-first sync of a stable write); or unstable (write-behind allowed;
  // `keep`, see ExtentStore::Write, lets it hold the caller's bytes).
  enum class RunMode { kDurable, kBeforeSync, kUnstable };
  absl::Status WriteRun(const MemberRuns<absl::string_view>::Run& run, RunMode mode,
                        const std::shared_ptr<const void>& keep = nullptr);
  // An unstable run just written: large ones start their writeback now.
  void HintWriteback(const MemberRuns<absl::string_view>::Run& run);
  // Maps the fresh segment `p`, just written, as segment si of n in place of
  // `old` (0: a hole), with the copy-on-write and reservation accounting.
  void MapFresh(Txn& t, Inode* n, uint64_t si, uint64_t p, uint64_t old,
                bool partial) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Reservations.
  uint64_t ReserveSegs(const Inode& n) const {
    return (n.rec.reserve + seg_ - 1) / seg_;
  }
  void RecomputeOutstanding(Inode* n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecomputeAllOutstanding() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Segments by which the reservations of the files under `n` would grow if
  // all their data became shared (a clone, snapshot or restore).
  uint64_t ReserveGrowth(const Inode& n) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Mapped segments plus those claimed by writes of new data in flight.
  uint64_t UsedSegs() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return tree_->extents() + alloc_->claimed();
  }

  // Clones and snapshots.
  Inode* CloneInode(Txn& t, const Inode& src, bool read_only)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Inode* CloneTree(Txn& t, const Inode& src, bool read_only, InodeId parent,
                   std::unordered_map<InodeId, InodeId>* links)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckCloneSpace(const Inode& src)
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  SnapshotInfo InfoOf(uint64_t id, const meta::SnapshotRec& r) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void RestoreFile(Txn& t, Inode* live, const Inode& snap, Timespec now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RestoreDir(Txn& t, Inode* live, const Inode& snap, Timespec now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DeleteSnapshotTree(Txn& t, Inode* root)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Accounting.
  // Every inode of the tree at `n` (n itself included), each once.
  void CollectTree(const Inode& n, std::vector<const Inode*>* out,
                   std::unordered_set<InodeId>* seen) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  SpaceStats SpaceOf(const Inode& n, bool with_snapshots) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // ---- constant after Init ----
  Env* env_ = nullptr;
  std::unique_ptr<rocksdb::Env> wal_env_;    // under rocks_env_, or null
  std::unique_ptr<rocksdb::Env> rocks_env_;  // outlives db_
  std::unique_ptr<rocksdb::DB> db_;
  // Runs the fdatasyncs of a commit group's members in parallel; before
  // gc_, so it outlives every sync gc_ asks for.
  std::unique_ptr<Fanout> sync_fanout_;
  static constexpr int kSyncHelpers = 7;  // 8 member syncs at a time
  std::unique_ptr<GroupCommit> gc_;  // after db_: destroyed before it
  uint64_t store_id_ = 0;
  // Changes on every open, and whenever a failed metadata write may have
  // dropped acknowledged unstable writes (clients then resend them).
  std::atomic<uint64_t> verifier_{0};
  uint32_t seg_ = 0;
  uint32_t inline_max_ = 0;  // <= seg_
  uint32_t nmembers_ = 0;
  uint64_t generation_ = 0;
  uint64_t capacity_ = 0;
  uint64_t cap_segs_ = 0;
  std::vector<std::unique_ptr<MemberState>> members_;
  // Early writeback of unstable streams (see Writeback); after members_, so
  // it stops before they close.
  std::unique_ptr<Writeback> writeback_;

  // File systems holding meta/ and the members (one entry per file system),
  // with the metadata reserve and a cached statvfs reading: free space is
  // re-read at most every kFsSpaceCacheMs, and before refusing; the store's
  // own growth since the reading is subtracted, so the cache never lets it
  // use more than was free (space freed by others shows up at the next
  // reading).
  struct FsWatch {
    std::string path;
    uint64_t reserve = 0;     // bytes kept free for metadata
    uint64_t avail = 0;       // at the last reading
    uint64_t used_since = 0;  // bytes the store grew its files by since then
    absl::Time read_at = absl::InfinitePast();
  };
  static constexpr int64_t kFsSpaceCacheMs = 100;
  absl::Mutex fs_mu_;  // after mu_
  std::vector<FsWatch> fs_ ABSL_GUARDED_BY(fs_mu_);

  // ---- guarded by mu_ ----
  mutable absl::Mutex mu_;
  // Set only when reloading the mirrors after a failed batch failed too:
  // nothing can be trusted until the store is reopened.
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<QuarantineAllocator> alloc_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<ExtentTree> tree_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<InodeId, std::unique_ptr<Inode>> inodes_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_ino_ ABSL_GUARDED_BY(mu_) = 2;
  uint64_t next_snap_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, SnapRec> snaps_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, LogState> logs_ ABSL_GUARDED_BY(mu_);
  uint64_t total_outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  // Bytes held inline by all inodes (counted as used store space).
  uint64_t inline_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Per member: segments below this index may have been written (the file
  // already holds them); from the file size at open, raised by AllocSeg.
  std::vector<uint64_t> backed_segs_ ABSL_GUARDED_BY(mu_);
  // The last batch the running mutation queued.
  GroupCommit::Ticket pending_ ABSL_GUARDED_BY(mu_);
  // Pages and extents whose reference drop (ExtentTree::Unshare) is in a
  // batch that may not be durable yet, with the batch's sequence number;
  // in batch order in unshare_order_ (entries there may be outdated). See
  // InPlaceOk. Kept across reloads: ids are those of RocksDB.
  using UnshareKey = std::pair<meta::RefKind, uint64_t>;
  absl::flat_hash_map<UnshareKey, uint64_t> unshared_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<uint64_t, UnshareKey>> unshare_order_
      ABSL_GUARDED_BY(mu_);
  // Lock-free in-place writes in flight, by the commit sequence at which
  // each began (frees sealed from then on stay quarantined), and the number
  // of clones/snapshots waiting for them (see PlanInPlace).
  std::multiset<uint64_t> pin_seqs_ ABSL_GUARDED_BY(mu_);
  int share_gate_ ABSL_GUARDED_BY(mu_) = 0;
  // Times LoadMirrors ran: a fresh write's claims do not survive a reload.
  uint64_t reloads_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<InodeId> lazy_times_ ABSL_GUARDED_BY(mu_);  // see TouchLater
};

}  // namespace internal
}  // namespace vnas::storage

#endif  // VNAS_STORAGE_EXTENT_STORE_IMPL_H_
