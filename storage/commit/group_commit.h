// group_commit.h — ordered group commit of the extent store's metadata.
//
// The store changes its in-memory mirrors under its metadata lock and hands
// the RocksDB batch that persists the change to Enqueue() before it lets go of
// that lock, so the queue's order is the order of the changes. Then, with no
// store lock held, the caller Wait()s. One thread at a time holds the
// committer role: it takes everything queued as one group, syncs the member
// files the group wrote, and then writes the group's batches in queue order,
// syncing the metadata log once for the whole group. Concurrent stable
// writers and namespace changes thus share one fsync of each file instead of
// queuing behind each other's. A durable request is committed by its own
// waiter when no group is running (no thread hand-off on the latency path of
// a synchronous client); unstable ones, which nobody waits for, by the
// committer thread.
//
// Contract (what the crash tests check):
//  * Order: batches reach RocksDB in Enqueue() order, only from the
//    holder of the committer role (the committer thread or a waiter; one
//    at a time).
//  * Data before mapping: a group's member files are synced before any of
//    its batches is written with sync, so a durable mapping never points at
//    data that was not durable. Batches of unstable changes (kWritten) are
//    written unsynced; their members are remembered and synced, with every
//    earlier unsynced batch, by the next durable group. A group holding a
//    kWrittenDataFirst batch syncs its members before writing any batch
//    (so not even an unsynced log page can reach the disk ahead of the
//    data); if that sync fails, that batch and every later one fail.
//  * A kDurable ticket's Wait() returns OK only once its member data, its
//    batch and all batches before it are durable. A kWritten (unstable) one
//    does not wait at all: the committer writes it in order. Its write may
//    then still fail; the failure shows as needs_reload() (and as an error
//    from every later Wait until Reloaded()), so the store changes its write
//    verifier and clients resend unstable data (NFS semantics). Drain()
//    waits for every batch to be written.
//  * Linger: when everything queued is unstable and some of it needs its
//    data first, the committer thread waits up to `data_first_linger`
//    (or until kLingerMax requests are queued) before it runs the group, so
//    a stream of unstable writes of new data costs one member sync per
//    linger, not one per write. Nobody waits for those requests; anything
//    that is waited for (a durable change, Flush, Drain) is run at once by
//    its waiter, together with what is queued.
//  * Failure: when a batch write fails, that batch and every later one (in
//    the group and still queued) fail with the error, as do requests that
//    are enqueued afterwards, until the store reloads its mirrors from
//    RocksDB and calls Reloaded(). Member sync errors fail only the requests
//    that needed durability; the batches are still written, unsynced.
//
// Thread safety: all methods are thread-safe. Enqueue() is called with the
// store's metadata lock held; the committer never takes that lock, so a
// caller may Flush() or Drain() while holding it.
#ifndef VNAS_STORAGE_COMMIT_GROUP_COMMIT_H_
#define VNAS_STORAGE_COMMIT_GROUP_COMMIT_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace vnas::storage {

class GroupCommit {
 public:
  enum class Need {
    kWritten,  // unstable: in RocksDB in time, not synced
    // Unstable, and the batch maps data just written to the request's
    // members: like kWritten (no wait), but the committer syncs those
    // members before it writes the batch, even unsynced. Otherwise the
    // kernel could write the batch's log page back before the data, and a
    // power loss would leave the mapping pointing at whatever the segment
    // held before (a deleted file's bytes).
    kWrittenDataFirst,
    kDurable,  // data and metadata durable
  };

  // Syncs the member files in `members`; puts those whose sync failed into
  // `failed` and returns the first error.
  using SyncMembersFn = std::function<absl::Status(
      const std::set<uint32_t>& members, std::set<uint32_t>* failed)>;
  // Maps a RocksDB failure to the store's error.
  using RocksErrorFn =
      std::function<absl::Status(const rocksdb::Status&, const char* what)>;

  struct Request;
  using Ticket = std::shared_ptr<Request>;

  static constexpr size_t kLingerMax = 64;
  GroupCommit(rocksdb::DB* db, SyncMembersFn sync_members,
              RocksErrorFn rocks_error,
              absl::Duration data_first_linger = absl::ZeroDuration());
  ~GroupCommit();  // writes what is queued, then stops the committer
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Queues `batch` (may be empty: a pure durability barrier) with the member
  // files its change wrote. Never blocks on I/O. A kDurable ticket is
  // committed by Wait() (or with a later request): every kDurable ticket
  // must be waited for, or followed by a request that is.
  Ticket Enqueue(rocksdb::WriteBatch batch, std::set<uint32_t> members,
                 Need need);

  // Blocks until the ticket's need is met or it failed, running the queued
  // group on the calling thread when no other is running it. A null ticket
  // is OK. The caller may hold the store's lock (the commit never takes it).
  absl::Status Wait(const Ticket& ticket);

  // Records member files written outside any batch (in-place unstable
  // writes), once their data is written: the next Flush() syncs them. (A
  // durable metadata change need not: their mappings are durable already.)
  void NoteUnsynced(const std::set<uint32_t>& members);

  // Makes everything queued so far durable (the members written by unstable
  // changes and the metadata log included): NFS COMMIT.
  absl::Status Flush();

  // Waits until every batch enqueued so far is written (or failed).
  absl::Status Drain();

  // True after a batch write failed, until Reloaded(): the store's mirrors
  // hold changes RocksDB does not; it must reload them before changing
  // anything.
  bool needs_reload() const;
  void Reloaded();

  // The newest ticket sequence number known durable; every change enqueued
  // up to it is durable. Cheap (atomic).
  uint64_t durable_seq() const {
    return durable_seq_.load(std::memory_order_acquire);
  }
  // The sequence number the next Enqueue() will get.
  uint64_t next_seq() const;

  struct Request {
    uint64_t seq = 0;
    rocksdb::WriteBatch batch;
    std::set<uint32_t> members;
    Need need = Need::kWritten;
    bool barrier = false;  // Drain(): waits even for kWritten
    bool flush = false;    // Flush(): also syncs in-place data
    bool done = false;  // guarded by the GroupCommit's mutex
    absl::Status status;
  };

 private:
  void CommitterLoop();
  // Everything queued is the committer's (no waiter runs it), and some of
  // it needs a member sync before its batch: worth waiting for more.
  bool Lingerable() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes the committer role for everything queued and runs it as one
  // group; called with mu_ held and !busy_, returns with mu_ held.
  void RunQueuedGroup() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Numbers and queues a request (or fails it at once, see needs_reload).
  Ticket Push(Ticket r);
  // Runs one group on the committer (no lock held), setting each request's
  // status; returns the batch write error, if any (the mirrors then need a
  // reload).
  absl::Status RunGroup(std::deque<Ticket>& group);
  // Writes `batch` (nullptr: only syncs the log), resuming RocksDB first
  // after an earlier failure.
  absl::Status WriteOne(rocksdb::WriteBatch* batch, bool sync);

  rocksdb::DB* const db_;
  const SyncMembersFn sync_members_;
  const RocksErrorFn rocks_error_;
  const absl::Duration linger_;

  mutable absl::Mutex mu_;
  absl::CondVar work_cv_;  // unstable work queued, or stopping_
  absl::CondVar done_cv_;  // a group finished
  std::deque<Ticket> queue_ ABSL_GUARDED_BY(mu_);
  // Requests in queue_ that are the committer thread's (not kDurable: no
  // waiter runs them). Only these wake it, so a durable request is always
  // committed by its waiter (or with later work), never raced for.
  size_t committer_work_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;  // the committer role is held
  // The committer thread waits for more unstable work (linger): only what
  // ends the wait (a full group, a barrier, stopping) wakes it early.
  bool lingering_ ABSL_GUARDED_BY(mu_) = false;
  std::set<uint32_t> noted_unsynced_ ABSL_GUARDED_BY(mu_);  // NoteUnsynced
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool needs_reload_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status reload_cause_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> durable_seq_{0};

  // ---- the committer role's holder only (handed over under mu_) ----
  std::set<uint32_t> unsynced_members_;  // written by unsynced batches
  std::set<uint32_t> inplace_unsynced_;  // NoteUnsynced, since the last flush
  bool db_unsynced_ = false;             // an unsynced batch was written
  bool db_error_ = false;                // RocksDB may need Resume()

  std::thread committer_;  // last: starts once everything above exists
};

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_COMMIT_GROUP_COMMIT_H_
