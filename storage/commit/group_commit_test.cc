// group_commit_test.cc — GroupCommit over a real RocksDB with simulated
// member files: order, data-before-mapping, grouping and failures.
#include "storage/commit/group_commit.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/utilities/stackable_db.h"

namespace vnas::storage {
namespace {

using Need = GroupCommit::Need;

// Member files as the test sees them: data written (pending) and synced.
struct Members {
  absl::Mutex mu;
  std::map<uint32_t, std::set<int>> pending, durable;
  std::set<uint32_t> fail;  // members whose sync fails
  int calls = 0;
  std::vector<std::set<uint32_t>> synced_sets;
  absl::Duration delay = absl::ZeroDuration();
  std::function<void()> on_sync;  // runs before the sync completes

  void Write(uint32_t m, int id) {
    absl::MutexLock l(&mu);
    pending[m].insert(id);
  }
  bool IsDurable(uint32_t m, int id) {
    absl::MutexLock l(&mu);
    return durable[m].count(id) > 0;
  }
  absl::Status Sync(const std::set<uint32_t>& ms, std::set<uint32_t>* failed) {
    if (on_sync) on_sync();
    absl::SleepFor(delay);
    absl::MutexLock l(&mu);
    ++calls;
    synced_sets.push_back(ms);
    absl::Status first;
    for (uint32_t m : ms) {
      if (fail.count(m)) {
        failed->insert(m);
        if (first.ok()) first = absl::DataLossError("member sync failed");
        continue;
      }
      durable[m].insert(pending[m].begin(), pending[m].end());
      pending[m].clear();
    }
    return first;
  }
};

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(base ? base : "/tmp", "/gc-", ::getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir_, &db).ok());
    db_.reset(db);
    StartGroupCommit();
  }
  // gc_ over db_, syncing the simulated members.
  void StartGroupCommit(absl::Duration linger = absl::ZeroDuration()) {
    gc_.reset();
    gc_ = std::make_unique<GroupCommit>(
        db_.get(),
        [this](const std::set<uint32_t>& ms, std::set<uint32_t>* failed) {
          return members_.Sync(ms, failed);
        },
        [](const rocksdb::Status& s, const char* what) {
          return absl::InternalError(absl::StrCat(what, ": ", s.ToString()));
        },
        linger);
  }
  // Polls RocksDB until key `k` holds `v` (at most 10 s).
  bool AwaitValue(const std::string& k, const std::string& v) {
    const absl::Time end = absl::Now() + absl::Seconds(10);
    while (Get(k) != v) {
      if (absl::Now() > end) return false;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return true;
  }
  void TearDown() override {
    gc_.reset();
    db_.reset();
    rocksdb::DestroyDB(dir_, rocksdb::Options()).PermitUncheckedError();
  }

  std::string Get(const std::string& k) {
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), k, &v);
    return s.ok() ? v : "";
  }

  // One change: data for `id` in member `m`, a batch naming it; enqueued
  // under `store_mu` as the store does.
  GroupCommit::Ticket Change(absl::Mutex* store_mu, int id, uint32_t m,
                             Need need) {
    absl::MutexLock l(store_mu);
    members_.Write(m, id);
    rocksdb::WriteBatch b;
    b.Put(absl::StrCat("r", id), std::to_string(m)).PermitUncheckedError();
    b.Put("last", std::to_string(id)).PermitUncheckedError();
    last_ = id;
    return gc_->Enqueue(std::move(b), {m}, need);
  }

  // Member syncs block until release_ is notified; syncing_ says one began
  // (the committer is inside a group).
  void BlockSyncs() {
    members_.on_sync = [this] {
      if (!syncing_.HasBeenNotified()) syncing_.Notify();
      release_.WaitForNotification();
    };
  }

  absl::Notification syncing_, release_;
  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  Members members_;
  std::unique_ptr<GroupCommit> gc_;
  int last_ = -1;
};

TEST_F(GroupCommitTest, ConcurrentDurableChangesShareSyncsKeepOrderAndData) {
  members_.delay = absl::Milliseconds(3);
  // Inside every sync: no durable change's key is in RocksDB while its data
  // is still only pending (the mapping never gets ahead of the data).
  std::map<int, Need> needs;
  absl::Mutex needs_mu;
  std::atomic<int> violations{0};
  members_.on_sync = [&] {
    absl::MutexLock nl(&needs_mu);
    absl::MutexLock ml(&members_.mu);
    for (const auto& [m, ids] : members_.pending) {
      for (int id : ids) {
        if (needs[id] != Need::kWritten &&
            !Get(absl::StrCat("r", id)).empty()) {
          ++violations;
        }
      }
    }
  };
  absl::Mutex store_mu;
  constexpr int kThreads = 8, kEach = 25;
  std::atomic<int> next{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const int id = next++;
        const Need need = i % 5 == 0 ? Need::kWritten : Need::kDurable;
        {
          absl::MutexLock nl(&needs_mu);
          needs[id] = need;
        }
        const uint32_t m = static_cast<uint32_t>((id + t) % 4);
        GroupCommit::Ticket tk = Change(&store_mu, id, m, need);
        if (!gc_->Wait(tk).ok()) ++failures;
        // Acknowledged: the key is readable (unstable ones once the running
        // leader has written them); durable data is on disk.
        if (need != Need::kWritten &&
            Get(absl::StrCat("r", id)) != std::to_string(m)) {
          ++failures;
        }
        if (need == Need::kDurable && !members_.IsDurable(m, id)) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(gc_->Drain().ok());
  // Every unstable change was written too.
  for (int id = 0; id < kThreads * kEach; ++id) {
    EXPECT_NE(Get(absl::StrCat("r", id)), "") << id;
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(violations.load(), 0);
  // Batches reached RocksDB in enqueue order: the last enqueued wrote last.
  EXPECT_EQ(Get("last"), std::to_string(last_));
  // Grouping: far fewer syncs than durable changes.
  EXPECT_LT(members_.calls, kThreads * kEach / 2) << members_.calls;
  EXPECT_GT(gc_->durable_seq(), 0u);
}

TEST_F(GroupCommitTest, UnstableChangesAreSyncedByTheNextDurableGroup) {
  absl::Mutex store_mu;
  ASSERT_TRUE(gc_->Wait(Change(&store_mu, 1, 2, Need::kWritten)).ok());
  ASSERT_TRUE(gc_->Drain().ok());
  EXPECT_EQ(Get("r1"), "2");
  EXPECT_EQ(members_.calls, 0);  // unstable: nothing synced
  EXPECT_FALSE(members_.IsDurable(2, 1));
  EXPECT_EQ(gc_->durable_seq(), 0u);
  // A durable change in another member also syncs member 2 (its batch
  // becomes durable with the log).
  ASSERT_TRUE(gc_->Wait(Change(&store_mu, 2, 0, Need::kDurable)).ok());
  EXPECT_TRUE(members_.IsDurable(2, 1));
  EXPECT_TRUE(members_.IsDurable(0, 2));
  // Flush with nothing unsynced syncs nothing.
  const int calls = members_.calls;
  ASSERT_TRUE(gc_->Flush().ok());
  EXPECT_EQ(members_.calls, calls);
  // Flush after an unstable change syncs its member.
  ASSERT_TRUE(gc_->Wait(Change(&store_mu, 3, 1, Need::kWritten)).ok());
  ASSERT_TRUE(gc_->Flush().ok());
  EXPECT_TRUE(members_.IsDurable(1, 3));
  // Data written outside any batch (in place), noted: a durable metadata
  // change does not sync it (its mapping is durable already); a flush does.
  members_.Write(3, 4);
  gc_->NoteUnsynced({3});
  ASSERT_TRUE(gc_->Wait(Change(&store_mu, 5, 0, Need::kDurable)).ok());
  EXPECT_FALSE(members_.IsDurable(3, 4));
  ASSERT_TRUE(gc_->Flush().ok());
  EXPECT_TRUE(members_.IsDurable(3, 4));
}

// An unstable change whose batch maps data just written: it does not wait,
// but its member is synced before its batch reaches RocksDB at all (not
// even unsynced), and the log is not synced for it. A failed member sync
// keeps the batch (and every later one) out and asks for a reload.
TEST_F(GroupCommitTest, DataFirstChangeSyncsItsMemberBeforeItsBatchIsWritten) {
  absl::Mutex store_mu;
  std::string seen_at_sync = "unset";
  members_.on_sync = [&] { seen_at_sync = Get("r1"); };
  ASSERT_TRUE(gc_->Wait(Change(&store_mu, 1, 2, Need::kWrittenDataFirst)).ok());
  ASSERT_TRUE(gc_->Drain().ok());
  EXPECT_EQ(seen_at_sync, "");  // the sync ran before the batch was written
  EXPECT_TRUE(members_.IsDurable(2, 1));
  EXPECT_EQ(Get("r1"), "2");
  EXPECT_EQ(gc_->durable_seq(), 0u);  // the log was not synced for it
  // Plain unstable changes still sync nothing.
  const int calls = members_.calls;
  ASSERT_TRUE(gc_->Wait(Change(&store_mu, 2, 1, Need::kWritten)).ok());
  ASSERT_TRUE(gc_->Drain().ok());
  EXPECT_EQ(members_.calls, calls);
  // The member sync fails: the batch is not written, nor the next one, and
  // the store must reload.
  members_.on_sync = nullptr;
  {
    absl::MutexLock l(&members_.mu);
    members_.fail = {3};
  }
  // (Its Wait is OK, or the failure when the group already ran.)
  gc_->Wait(Change(&store_mu, 3, 3, Need::kWrittenDataFirst)).IgnoreError();
  gc_->Drain().IgnoreError();
  EXPECT_EQ(Get("r3"), "");
  EXPECT_TRUE(gc_->needs_reload());
  EXPECT_FALSE(gc_->Wait(Change(&store_mu, 4, 0, Need::kWritten)).ok() &&
               gc_->Drain().ok());
  EXPECT_EQ(Get("r4"), "");
}

// Unstable writes of new data arriving within the linger share one member
// sync (and each still has its data synced before its batch is written).
TEST_F(GroupCommitTest, UnstableDataFirstChangesShareAMemberSyncWithinTheLinger) {
  StartGroupCommit(absl::Milliseconds(300));
  absl::Mutex store_mu;
  std::string seen_at_sync = "unset";
  members_.on_sync = [&] { seen_at_sync = Get("last"); };
  for (int id = 0; id < 5; ++id) {
    ASSERT_TRUE(gc_->Wait(Change(&store_mu, id, id % 2, Need::kWrittenDataFirst)).ok());
  }
  ASSERT_TRUE(AwaitValue("last", "4"));  // no waiter: the committer wrote them
  EXPECT_EQ(members_.calls, 1);
  EXPECT_EQ(seen_at_sync, "");  // before any of the batches
  for (int id = 0; id < 5; ++id) EXPECT_TRUE(members_.IsDurable(id % 2, id)) << id;
  EXPECT_EQ(gc_->durable_seq(), 0u);  // the log was not synced for them
}

// A lingering committer is not woken for each unstable change (that would
// cost every writer two context switches), but a full group (kLingerMax
// changes) still ends the linger at once.
TEST_F(GroupCommitTest, AFullGroupEndsTheLingerAtOnce) {
  StartGroupCommit(absl::Seconds(30));
  absl::Mutex store_mu;
  const absl::Time start = absl::Now();
  const int n = static_cast<int>(GroupCommit::kLingerMax);
  for (int id = 0; id < n; ++id) {
    ASSERT_TRUE(gc_->Wait(Change(&store_mu, id, id % 2, Need::kWrittenDataFirst)).ok());
    // The committer takes the first one and lingers on it (racing it would
    // only make the test pass for other reasons).
    if (id == 0) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(AwaitValue("last", std::to_string(n - 1)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));  // not the 30 s linger
  EXPECT_EQ(members_.calls, 1);  // one group, one member sync
}

// Whatever a client waits for is not held back by a linger: a durable
// change, a Flush or a Drain runs the queue (lingering writes included) on
// its own thread at once, and destruction writes what is queued.
TEST_F(GroupCommitTest, ALingerNeverDelaysWhatIsWaitedFor) {
  StartGroupCommit(absl::Seconds(30));
  absl::Mutex store_mu;
  const absl::Time start = absl::Now();
  ASSERT_TRUE(gc_->Wait(Change(&store_mu, 1, 0, Need::kWrittenDataFirst)).ok());
  ASSERT_TRUE(gc_->Wait(Change(&store_mu, 2, 1, Need::kDurable)).ok());
  EXPECT_TRUE(members_.IsDurable(0, 1));
  EXPECT_EQ(Get("r1"), "0");
  EXPECT_EQ(Get("r2"), "1");
  ASSERT_TRUE(gc_->Wait(Change(&store_mu, 3, 2, Need::kWrittenDataFirst)).ok());
  ASSERT_TRUE(gc_->Flush().ok());
  EXPECT_TRUE(members_.IsDurable(2, 3));
  EXPECT_EQ(Get("r3"), "2");
  ASSERT_TRUE(gc_->Wait(Change(&store_mu, 4, 3, Need::kWrittenDataFirst)).ok());
  ASSERT_TRUE(gc_->Drain().ok());
  EXPECT_EQ(Get("r4"), "3");
  ASSERT_TRUE(gc_->Wait(Change(&store_mu, 5, 0, Need::kWrittenDataFirst)).ok());
  gc_.reset();
  EXPECT_EQ(Get("r5"), "0");
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));  // no 30 s linger waited
}

TEST_F(GroupCommitTest, MemberSyncFailureFailsDurableChangesOnlyAndIsRetried) {
  absl::Mutex store_mu;
  {
    absl::MutexLock l(&members_.mu);
    members_.fail = {2};
  }
  absl::Status s = gc_->Wait(Change(&store_mu, 1, 2, Need::kDurable));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(Get("r1"), "2");  // the change is recorded, unsynced
  EXPECT_TRUE(gc_->Wait(Change(&store_mu, 2, 2, Need::kWritten)).ok());
  EXPECT_FALSE(gc_->Flush().ok());
  EXPECT_FALSE(gc_->needs_reload());
  {
    absl::MutexLock l(&members_.mu);
    members_.fail.clear();
  }
  // The failed member is still owed a sync: the next flush does it.
  ASSERT_TRUE(gc_->Flush().ok());
  EXPECT_TRUE(members_.IsDurable(2, 1));
  EXPECT_TRUE(members_.IsDurable(2, 2));
}

TEST_F(GroupCommitTest, FailedBatchFailsItAndLaterOnesUntilReloaded) {
  absl::Mutex store_mu;
  GroupCommit::Ticket bad, after;
  {
    absl::MutexLock l(&store_mu);
    rocksdb::WriteBatch b;
    // No merge operator is configured: RocksDB refuses the batch.
    b.Merge("m", "x").PermitUncheckedError();
    bad = gc_->Enqueue(std::move(b), {}, Need::kDurable);
    rocksdb::WriteBatch c;
    c.Put("after", "1").PermitUncheckedError();
    after = gc_->Enqueue(std::move(c), {}, Need::kWritten);
  }
  EXPECT_FALSE(gc_->Wait(bad).ok());
  EXPECT_FALSE(gc_->Wait(after).ok());
  EXPECT_EQ(Get("after"), "");
  EXPECT_TRUE(gc_->needs_reload());
  // Until the store reloads its mirrors, nothing new is accepted.
  GroupCommit::Ticket refused = Change(&store_mu, 5, 0, Need::kWritten);
  EXPECT_TRUE(refused->done);  // failed at once, never queued
  EXPECT_FALSE(gc_->Wait(refused).ok());
  EXPECT_EQ(Get("r5"), "");
  // After the reload, changes are queued for RocksDB again.
  gc_->Reloaded();
  EXPECT_FALSE(gc_->needs_reload());
  BlockSyncs();
  GroupCommit::Ticket queued = Change(&store_mu, 6, 0, Need::kDurable);
  std::thread waiter([&] {
    gc_->Wait(queued).IgnoreError();  // RocksDB's answer: it failed a batch
  });
  syncing_.WaitForNotification();  // its group is being committed: queued
  {
    absl::MutexLock l(&store_mu);
    EXPECT_FALSE(queued->done);
  }
  release_.Notify();
  waiter.join();
}

// Counts SyncWAL calls (the log syncs of Flush groups with no batch) and
// refuses, without writing it, every batch that holds the key "refuse" (an
// I/O error).
class CountingDB final : public rocksdb::StackableDB {
 public:
  explicit CountingDB(rocksdb::DB* db) : rocksdb::StackableDB(db) {}
  rocksdb::Status Write(const rocksdb::WriteOptions& o,
                        rocksdb::WriteBatch* b) override {
    if (b->Data().find("refuse") != std::string::npos) {
      return rocksdb::Status::IOError("injected");
    }
    return rocksdb::StackableDB::Write(o, b);
  }
  rocksdb::Status SyncWAL() override {
    ++wal_syncs;
    return rocksdb::StackableDB::SyncWAL();
  }
  rocksdb::Status Resume() override { return db_->Resume(); }
  std::atomic<int> wal_syncs{0};
};

// An unstable batch written (unsynced) in the same group as a later batch
// that failed is in RocksDB, and so in the mirrors the store reloads: the
// next Flush must sync the log before it reports it durable. (The group's
// failure skipped noting the unsynced write, so a COMMIT after the reload
// returned OK with no log sync, and a power loss then lost data it had
// acknowledged; the power-loss test of writes held between claim and
// mapping found it.)
TEST_F(GroupCommitTest, FlushAfterAFailedBatchSyncsUnsyncedBatchesBeforeIt) {
  gc_.reset();
  auto* counting = new CountingDB(db_.release());
  db_.reset(counting);
  StartGroupCommit();
  absl::Mutex store_mu;
  BlockSyncs();
  GroupCommit::Ticket first = Change(&store_mu, 1, 0, Need::kDurable);
  // A durable change is committed by its waiter (nothing else has to).
  absl::Status first_done;
  std::thread waiter([&] { first_done = gc_->Wait(first); });
  syncing_.WaitForNotification();  // the waiter is inside group 1
  // Group 2: an unstable change, then a batch that fails.
  GroupCommit::Ticket unstable = Change(&store_mu, 2, 1, Need::kWritten);
  GroupCommit::Ticket bad;
  {
    absl::MutexLock l(&store_mu);
    rocksdb::WriteBatch b;
    b.Put("refuse", "x").PermitUncheckedError();
    bad = gc_->Enqueue(std::move(b), {}, Need::kDurable);
  }
  release_.Notify();
  waiter.join();
  EXPECT_TRUE(first_done.ok()) << first_done;
  EXPECT_FALSE(gc_->Wait(bad).ok());
  EXPECT_EQ(Get("r2"), "1");  // written before the failure, not synced
  gc_->Reloaded();            // the store reloaded: its mirrors show r2
  const int before = counting->wal_syncs.load();
  absl::Status flushed = gc_->Flush();
  EXPECT_TRUE(flushed.ok()) << flushed;
  EXPECT_GT(counting->wal_syncs.load(), before)
      << "COMMIT reported r2 durable without syncing the log";
}

TEST_F(GroupCommitTest, UnstableChangeDoesNotWaitBehindASyncingGroup) {
  absl::Mutex store_mu;
  BlockSyncs();
  std::thread stable([&] {
    EXPECT_TRUE(gc_->Wait(Change(&store_mu, 1, 0, Need::kDurable)).ok());
  });
  syncing_.WaitForNotification();  // the committer is inside a member sync
  EXPECT_TRUE(gc_->Wait(Change(&store_mu, 2, 1, Need::kWritten)).ok());
  EXPECT_EQ(Get("r2"), "");  // returned at once, not written yet
  // Drain waits even while the group syncs.
  absl::Notification drained;
  std::thread drain([&] {
    EXPECT_TRUE(gc_->Drain().ok());
    drained.Notify();
  });
  EXPECT_FALSE(drained.WaitForNotificationWithTimeout(absl::Milliseconds(50)));
  release_.Notify();
  stable.join();
  drain.join();
  EXPECT_EQ(Get("r2"), "1");
  EXPECT_EQ(Get("last"), "2");
}

TEST_F(GroupCommitTest, DestroyingWritesWhatIsQueued) {
  absl::Mutex store_mu;
  BlockSyncs();
  std::thread stable([&] {
    EXPECT_TRUE(gc_->Wait(Change(&store_mu, 1, 0, Need::kDurable)).ok());
  });
  syncing_.WaitForNotification();
  EXPECT_TRUE(gc_->Wait(Change(&store_mu, 2, 1, Need::kWritten)).ok());
  release_.Notify();
  stable.join();
  gc_.reset();
  EXPECT_EQ(Get("r2"), "1");
}

TEST_F(GroupCommitTest, AnUncontendedDurableChangeIsCommittedByItsWaiter) {
  // No thread hand-off on a synchronous client's latency path: the member
  // sync and the batch write run on the thread that waits.
  absl::Mutex store_mu;
  std::thread::id synced_on;
  members_.on_sync = [&] { synced_on = std::this_thread::get_id(); };
  GroupCommit::Ticket t = Change(&store_mu, 1, 3, Need::kDurable);
  EXPECT_EQ(Get("r1"), "");  // queued, not yet written: the waiter writes it
  ASSERT_TRUE(gc_->Wait(t).ok());
  EXPECT_EQ(synced_on, std::this_thread::get_id());
  EXPECT_TRUE(members_.IsDurable(3, 1));
  EXPECT_EQ(Get("r1"), "3");
  EXPECT_GE(gc_->durable_seq(), t->seq);
}

TEST_F(GroupCommitTest, DurableChangesNobodyWaitsForAreWrittenInOrder) {
  // A durable change whose own ticket is not waited for (an earlier change
  // of a multi-batch mutation) goes with the next request, in order:
  // behind an unstable one the committer thread writes...
  absl::Mutex store_mu;
  Change(&store_mu, 1, 0, Need::kDurable);
  Change(&store_mu, 2, 1, Need::kWritten);
  ASSERT_TRUE(gc_->Drain().ok());
  EXPECT_EQ(Get("r1"), "0");
  EXPECT_EQ(Get("r2"), "1");
  EXPECT_EQ(Get("last"), "2");
  EXPECT_TRUE(members_.IsDurable(0, 1));
  // ...and, with nothing after it, when the store closes.
  Change(&store_mu, 3, 2, Need::kDurable);
  gc_.reset();
  EXPECT_EQ(Get("r3"), "2");
  EXPECT_EQ(Get("last"), "3");
}

TEST_F(GroupCommitTest, NullTicketAndEmptyBarriersAreOk) {
  EXPECT_TRUE(gc_->Wait(nullptr).ok());
  EXPECT_TRUE(gc_->Drain().ok());
  EXPECT_TRUE(gc_->Flush().ok());
  EXPECT_EQ(members_.calls, 0);
}

}  // namespace
}  // namespace vnas::storage
