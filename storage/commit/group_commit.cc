// group_commit.cc — the ordered commit queue and its committer thread
// (contract in the header).
#include "storage/commit/group_commit.h"

#include <utility>

#include "absl/time/clock.h"

namespace vnas::storage {

GroupCommit::GroupCommit(rocksdb::DB* db, SyncMembersFn sync_members,
                         RocksErrorFn rocks_error,
                         absl::Duration data_first_linger)
    : db_(db),
      sync_members_(std::move(sync_members)),
      rocks_error_(std::move(rocks_error)),
      linger_(data_first_linger),
      committer_([this] { CommitterLoop(); }) {}

GroupCommit::~GroupCommit() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    work_cv_.Signal();
  }
  committer_.join();  // it drains the queue first
}

GroupCommit::Ticket GroupCommit::Enqueue(rocksdb::WriteBatch batch,
                                         std::set<uint32_t> members,
                                         Need need) {
  auto r = std::make_shared<Request>();
  r->batch = std::move(batch);
  r->members = std::move(members);
  r->need = need;
  return Push(std::move(r));
}

GroupCommit::Ticket GroupCommit::Push(Ticket r) {
  absl::MutexLock l(&mu_);
  r->seq = next_seq_++;
  if (needs_reload_) {
    // Built on mirrors that hold a change RocksDB refused.
    r->done = true;
    r->status = reload_cause_;
    return r;
  }
  queue_.push_back(r);
  // A durable request's waiter runs its group itself (see Wait): waking the
  // committer too would only race it for the queue. Anything else is the
  // committer's.
  if (r->need != Need::kDurable) {
    ++committer_work_;
    // A lingering committer waits for just such requests until its group
    // is full: waking it for each would only cost the writer two context
    // switches (it would check and wait on).
    const bool more_of_the_same = !r->barrier && !r->flush;
    if (!lingering_ || !more_of_the_same || queue_.size() >= kLingerMax) {
      work_cv_.Signal();
    }
  }
  return r;
}

uint64_t GroupCommit::next_seq() const {
  absl::MutexLock l(&mu_);
  return next_seq_;
}

bool GroupCommit::needs_reload() const {
  absl::MutexLock l(&mu_);
  return needs_reload_;
}

void GroupCommit::Reloaded() {
  absl::MutexLock l(&mu_);
  needs_reload_ = false;
  reload_cause_ = absl::OkStatus();
}

absl::Status GroupCommit::Wait(const Ticket& t) {
  if (!t) return absl::OkStatus();
  absl::MutexLock l(&mu_);
  // An unstable change does not wait: the committer writes it in order.
  if (!t->done && t->need != Need::kDurable && !t->barrier) {
    return absl::OkStatus();
  }
  // The waiter commits: when no group is running, it takes the role and
  // runs the queue (its own request in it) on this thread. An uncontended
  // durable change then costs no thread hand-off at all; under load, the
  // waiters that find a group running wait and then commit the next one
  // together.
  while (!t->done) {
    if (!busy_ && !queue_.empty()) {
      RunQueuedGroup();
    } else {
      done_cv_.Wait(&mu_);
    }
  }
  return t->status;
}

void GroupCommit::RunQueuedGroup() {
  std::deque<Ticket> group;
  group.swap(queue_);
  committer_work_ = 0;
  inplace_unsynced_.insert(noted_unsynced_.begin(), noted_unsynced_.end());
  noted_unsynced_.clear();
  busy_ = true;
  mu_.Unlock();
  absl::Status write_err = RunGroup(group);
  mu_.Lock();
  busy_ = false;
  for (const Ticket& r : group) r->done = true;
  if (!write_err.ok()) {
    needs_reload_ = true;
    reload_cause_ = write_err;
    for (const Ticket& r : queue_) {
      r->status = write_err;
      r->done = true;
    }
    queue_.clear();
    committer_work_ = 0;
  }
  done_cv_.SignalAll();
  // Unstable work queued while this group ran had its signal consumed by a
  // busy committer role: hand it on.
  if (committer_work_ > 0) work_cv_.Signal();
}

void GroupCommit::CommitterLoop() {
  absl::MutexLock l(&mu_);
  for (;;) {
    // Durable requests alone are their waiters' (see Push); at the end,
    // everything left is the committer's.
    while ((committer_work_ == 0 || busy_) && !stopping_) work_cv_.Wait(&mu_);
    if (busy_) {  // stopping while a waiter commits: let it finish
      done_cv_.Wait(&mu_);
      continue;
    }
    if (queue_.empty()) return;  // stopping, and nothing left
    if (linger_ > absl::ZeroDuration() && !stopping_ && Lingerable()) {
      // More unstable writes of new data share the member sync; a waiter
      // that arrives meanwhile takes the role and runs the queue itself.
      const absl::Time deadline = absl::Now() + linger_;
      lingering_ = true;
      while (!stopping_ && !busy_ && Lingerable() &&
             queue_.size() < kLingerMax &&
             !work_cv_.WaitWithDeadline(&mu_, deadline)) {
      }
      lingering_ = false;
      if (busy_ || queue_.empty()) continue;
    }
    RunQueuedGroup();
  }
}

bool GroupCommit::Lingerable() const {
  bool data_first = false;
  for (const Ticket& r : queue_) {
    if (r->need == Need::kDurable || r->barrier || r->flush) return false;
    data_first |= r->need == Need::kWrittenDataFirst;
  }
  return data_first;
}

void GroupCommit::NoteUnsynced(const std::set<uint32_t>& members) {
  absl::MutexLock l(&mu_);
  noted_unsynced_.insert(members.begin(), members.end());
}

absl::Status GroupCommit::Flush() {
  // A barrier with no batch and no members of its own; it also syncs the
  // members written in place (NoteUnsynced).
  auto r = std::make_shared<Request>();
  r->need = Need::kDurable;
  r->flush = true;
  return Wait(Push(std::move(r)));
}

absl::Status GroupCommit::Drain() {
  auto r = std::make_shared<Request>();
  r->need = Need::kWritten;
  r->barrier = true;  // waits even while a group is being synced
  return Wait(Push(std::move(r)));
}

absl::Status GroupCommit::WriteOne(rocksdb::WriteBatch* batch, bool sync) {
  if (db_error_) {
    // The cause of the earlier failure (a full file system) may be gone.
    rocksdb::Status rs = db_->Resume();
    if (!rs.ok()) return rocks_error_(rs, "resume metadata database");
    db_error_ = false;
  }
  if (batch == nullptr) {
    // Only the log needs syncing. SyncWAL on a WAL writer that failed aborts
    // in Debian's RocksDB build (an assertion): Resume() ran first, above.
    rocksdb::Status rs = db_->SyncWAL();
    if (!rs.ok()) {
      db_error_ = true;
      return rocks_error_(rs, "sync metadata log");
    }
    return absl::OkStatus();
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  rocksdb::Status rs = db_->Write(wo, batch);
  if (!rs.ok()) {
    // RocksDB may now hold a background error that only Resume() clears.
    db_error_ = true;
    return rocks_error_(rs, "metadata write");
  }
  return absl::OkStatus();
}

absl::Status GroupCommit::RunGroup(std::deque<Ticket>& group) {
  bool durable = false, flush = false, data_first = false;
  std::set<uint32_t> members;
  int last = -1;  // the last request with a non-empty batch
  for (size_t i = 0; i < group.size(); ++i) {
    const Request& r = *group[i];
    members.insert(r.members.begin(), r.members.end());
    durable |= r.need == Need::kDurable;
    data_first |= r.need == Need::kWrittenDataFirst;
    flush |= r.flush;
    if (r.batch.Count() > 0) last = static_cast<int>(i);
  }

  // 1. Member data first: a mapping must never be durable before its data,
  // nor, for kWrittenDataFirst, even written.
  absl::Status sync_err;
  if (durable || data_first) {
    // In-place data maps through mappings that are durable already: only a
    // flush (COMMIT) needs it synced, not every durable metadata change.
    std::set<uint32_t> to_sync = members;
    to_sync.insert(unsynced_members_.begin(), unsynced_members_.end());
    if (flush) {
      to_sync.insert(inplace_unsynced_.begin(), inplace_unsynced_.end());
    }
    std::set<uint32_t> failed;
    if (!to_sync.empty()) sync_err = sync_members_(to_sync, &failed);
    for (uint32_t m : to_sync) {
      if (failed.count(m)) {
        unsynced_members_.insert(m);
      } else {
        unsynced_members_.erase(m);
        inplace_unsynced_.erase(m);  // the whole file is synced
      }
    }
  } else {
    unsynced_members_.insert(members.begin(), members.end());
  }

  // 2. The batches, in order; the last one synced when the group must be
  // durable (a synced write syncs the log, and so every batch before it).
  const bool sync_log = durable && sync_err.ok();
  absl::Status write_err;
  size_t fail_at = group.size();
  bool wrote_unsynced = false;
  for (size_t i = 0; i < group.size(); ++i) {
    Request& r = *group[i];
    if (r.need == Need::kWrittenDataFirst && !sync_err.ok()) {
      write_err = sync_err;  // its data may not be on disk: not written
      fail_at = i;
      break;
    }
    if (r.batch.Count() == 0) continue;
    const bool sync = sync_log && static_cast<int>(i) == last;
    write_err = WriteOne(&r.batch, sync);
    if (!write_err.ok()) {
      fail_at = i;
      break;
    }
    wrote_unsynced |= !sync;
  }
  absl::Status log_err;
  if (write_err.ok() && sync_log && last < 0 && db_unsynced_) {
    log_err = WriteOne(nullptr, true);
  }
  if (write_err.ok() && sync_log && log_err.ok()) {
    db_unsynced_ = false;
    durable_seq_.store(group.back()->seq, std::memory_order_release);
  } else if (wrote_unsynced) {
    // Also when a later batch of the group failed: the ones before it are
    // in RocksDB (and in the mirrors the store reloads), so the next
    // durable group must sync the log.
    db_unsynced_ = true;
  }

  for (size_t i = 0; i < group.size(); ++i) {
    Request& r = *group[i];
    if (i >= fail_at) {
      r.status = write_err;
    } else if (r.need != Need::kDurable) {
      r.status = absl::OkStatus();
    } else if (!write_err.ok()) {
      r.status = write_err;  // written, but the group's sync never came
    } else if (!sync_err.ok()) {
      r.status = sync_err;
    } else if (r.need == Need::kDurable && !log_err.ok()) {
      r.status = log_err;
    } else {
      r.status = absl::OkStatus();
    }
  }
  return write_err;
}

}  // namespace vnas::storage
