// concurrency_test.cc — several threads use one store at once (writes,
// commits, reads, clones, snapshots, accounting, namespace changes); every
// thread's data must read back and Fsck must be clean. GETATTR must not wait
// behind a long COMMIT.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <cstdlib>
#include <map>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "storage/base/status_util.h"
#include "storage/env/env.h"
#include "storage/extent_store.h"
#include "storage/env/mem_env.h"
#include "storage/store_testutil.h"

namespace vnas::storage {
namespace {

std::string Problems(const FsckReport& r) {
  std::string all;
  for (const std::string& p : r.problems) all += p + "\n";
  return all;
}

// The options of a store of 1 GiB in TempDir(name).
StoreOptions Options(const std::string& name, uint32_t segment_size,
                     Env* env = nullptr) {
  StoreOptions o;
  o.dir = TempDir(name);
  o.env = env;
  o.segment_size = segment_size;
  o.capacity = uint64_t{1} << 30;
  return o;
}

// A fresh store of 1 GiB in TempDir(name).
absl::StatusOr<std::unique_ptr<ExtentStore>> OpenStore(const std::string& name,
                                                       uint32_t segment_size,
                                                       Env* env = nullptr) {
  return ExtentStore::Open(Options(name, segment_size, env));
}

// Fsck of `st` runs and finds nothing wrong.
void ExpectFsckClean(ExtentStore* st) {
  auto f = st->Fsck();
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(f->clean) << Problems(*f);
}

// A fresh store (64 KiB segments, 1 GiB) over `env` and the inode of an
// empty file "f" in its root; a null store (the test failed) when either
// fails.
struct StoreAndFile {
  std::unique_ptr<ExtentStore> store;
  InodeId f = 0;
};
StoreAndFile OpenWithFile(const std::string& name, Env* env) {
  StoreAndFile r;
  auto s = OpenStore(name, 64 << 10, env);
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return r;
  auto f = (*s)->Create(kRootInode, "f", CreateRequest{});
  EXPECT_TRUE(f.ok()) << f.status();
  if (!f.ok()) return r;
  r.store = std::move(*s);
  r.f = f->attr.ino;
  return r;
}

// OpenWithFile, and the file then holds `segs` 64 KiB segments of '.',
// written stable (a null store when that failed: a test failure).
StoreAndFile OpenWithDisk(const std::string& name, Env* env, int segs) {
  StoreAndFile r = OpenWithFile(name, env);
  if (!r.store) return r;
  absl::Status w = r.store->Write(r.f, 0, std::string(size_t{64 << 10} * segs, '.'),
                                  Stability::kFileSync).status();
  EXPECT_TRUE(w.ok()) << w;
  if (!w.ok()) r.store.reset();
  return r;
}

// Runs step(t, v) for v = 0, 1, 2, ... on each of `n` threads t until
// Stop(), which returns how many steps failed (returned false).
class Writers {
 public:
  Writers(int n, std::function<bool(int t, int v)> step) : step_(std::move(step)) {
    for (int t = 0; t < n; ++t) {
      threads_.emplace_back([this, t] {
        for (int v = 0; !stop_; ++v) failures_ += step_(t, v) ? 0 : 1;
      });
    }
  }
  ~Writers() { Stop(); }
  int Stop() {
    stop_ = true;
    for (std::thread& th : threads_) {
      if (th.joinable()) th.join();
    }
    return failures_.load();
  }

 private:
  const std::function<bool(int, int)> step_;
  std::atomic<bool> stop_{false};
  std::atomic<int> failures_{0};
  std::vector<std::thread> threads_;
};

// A clone of `ino` taken now, as "name" in the root, and what its first
// `size` bytes read then (ino 0 when that failed: a test failure).
struct TakenClone {
  InodeId ino = 0;
  std::string image;
};
TakenClone TakeClone(ExtentStore* st, InodeId ino, const std::string& name,
                     size_t size) {
  TakenClone t;
  auto cl = st->CloneFile(ino, kRootInode, name, false);
  EXPECT_TRUE(cl.ok()) << cl.status();
  if (!cl.ok()) return t;
  t.image.assign(size, '\0');
  absl::StatusOr<ReadResult> r = st->Read(cl->attr.ino, 0, size, t.image.data());
  EXPECT_TRUE(r.ok()) << r.status();
  if (r.ok()) t.ino = cl->attr.ino;
  return t;
}

// Every clone still reads as it did when it was taken.
void ExpectClonesUnchanged(ExtentStore* st, const std::vector<TakenClone>& clones) {
  for (const TakenClone& c : clones) {
    std::string now(c.image.size(), '\0');
    ASSERT_TRUE(st->Read(c.ino, 0, now.size(), now.data()).ok());
    EXPECT_TRUE(now == c.image) << "clone " << c.ino << " changed after it was taken";
  }
}

TEST(ConcurrencyTest, ThreadsOnOneStore) {
  auto s = OpenStore("conc", 16 << 10);
  ASSERT_TRUE(s.ok()) << s.status();
  ExtentStore* st = s->get();
  constexpr int kThreads = 4;
  constexpr int kOps = 300;
  std::vector<std::string> expect(kThreads);
  std::vector<InodeId> inos(kThreads);
  std::atomic<int> errors{0};
  std::vector<std::thread> th;
  for (int t = 0; t < kThreads; ++t) {
    th.emplace_back([&, t] {
      std::mt19937 rng(t);
      auto dir = st->Mkdir(kRootInode, "d" + std::to_string(t), 0755, 0, 0);
      if (!dir.ok()) {
        ++errors;
        return;
      }
      auto f = st->Create(dir->attr.ino, "f", CreateRequest{});
      if (!f.ok()) {
        ++errors;
        return;
      }
      InodeId ino = f->attr.ino;
      inos[t] = ino;
      std::string& model = expect[t];
      for (int i = 0; i < kOps; ++i) {
        int op = rng() % 10;
        if (op < 5) {
          uint64_t off = rng() % (512 << 10);
          std::string data(1 + rng() % (64 << 10),
                           static_cast<char>('a' + (rng() % 26)));
          auto w = st->Write(ino, off, data,
                             op == 0 ? Stability::kFileSync
                                     : Stability::kUnstable);
          if (!w.ok()) {
            ++errors;
            continue;
          }
          if (model.size() < off + data.size()) {
            model.resize(off + data.size(), '\0');
          }
          model.replace(off, data.size(), data);
        } else if (op == 5) {
          if (!st->Commit(ino).ok()) ++errors;
        } else if (op == 6) {
          std::string buf(model.size(), '?');
          auto r = st->Read(ino, 0, buf.size(), buf.data());
          if (!r.ok() || buf != model) ++errors;
        } else if (op == 7) {
          if (!st->CloneFile(ino, dir->attr.ino, "clone", false).ok()) {
            ++errors;
          }
        } else if (op == 8) {
          if (!st->Space(kRootInode).ok() || !st->GetStoreSpace().ok()) {
            ++errors;
          }
        } else {
          auto sn = st->CreateSnapshot(ino, "s" + std::to_string(i));
          if (!sn.ok() || !st->DeleteSnapshot(sn->id).ok()) ++errors;
        }
      }
    });
  }
  for (auto& x : th) x.join();
  EXPECT_EQ(errors.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    std::string buf(expect[t].size(), '?');
    auto r = st->Read(inos[t], 0, buf.size(), buf.data());
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(buf == expect[t]) << "thread " << t;
  }
  auto f = st->Fsck();
  ASSERT_TRUE(f.ok());
  std::string all;
  for (auto& p : f->problems) all += p + "\n";
  EXPECT_TRUE(f->clean) << all;
}

TEST(ConcurrencyTest, GetAttrDoesNotWaitForCommit) {
  StoreOptions o;
  o.dir = TempDir("commit");
  auto s = ExtentStore::Open(o);
  ASSERT_TRUE(s.ok()) << s.status();
  ExtentStore* st = s->get();
  auto f = st->Create(kRootInode, "big", CreateRequest{});
  ASSERT_TRUE(f.ok());
  const std::string mib(1 << 20, 'x');
  for (int i = 0; i < 128; ++i) {
    ASSERT_TRUE(
        st->Write(f->attr.ino, uint64_t(i) << 20, mib, Stability::kUnstable)
            .ok());
  }
  std::atomic<bool> done{false};
  std::thread committer([&] {
    EXPECT_TRUE(st->Commit(f->attr.ino).ok());
    done = true;
  });
  double worst = 0;
  int calls = 0;
  while (!done) {
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(st->GetAttr(kRootInode).ok());
    worst = std::max(worst, std::chrono::duration<double>(
                                std::chrono::steady_clock::now() - t0)
                                .count());
    ++calls;
  }
  committer.join();
  // A GETATTR never waits for the whole flush (seconds on a slow disk).
  EXPECT_LT(worst, 0.5) << calls << " calls";
}

// Member files whose Sync() takes a while (a slow disk) and is counted.
class SlowSyncEnv final : public Env {
 public:
  std::atomic<int> syncs{0};
  absl::Duration sync_delay = absl::Milliseconds(25);
  absl::Duration write_delay = absl::ZeroDuration();
  std::function<void()> on_sync;  // runs at the start of every Sync()
  std::function<void()> on_write;  // runs at the start of every PWrite()
  // Runs at the start of every PWrite(), with its length.
  std::function<void(size_t)> on_write_of;
  std::atomic<int> writebacks{0};  // StartWriteback calls

  absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                 bool create) override {
    auto f = Env::Posix()->OpenFile(path, create);
    if (!f.ok()) return f.status();
    return std::unique_ptr<File>(new SlowFile(std::move(*f), this));
  }
  bool FileExists(const std::string& p) override {
    return Env::Posix()->FileExists(p);
  }
  absl::Status CreateDirs(const std::string& p) override {
    return Env::Posix()->CreateDirs(p);
  }
  absl::StatusOr<uint64_t> FilesystemSize(const std::string& p) override {
    return Env::Posix()->FilesystemSize(p);
  }
  absl::StatusOr<FsSpace> FilesystemSpace(const std::string& p) override {
    return Env::Posix()->FilesystemSpace(p);
  }

 private:
  class SlowFile final : public File {
   public:
    SlowFile(std::unique_ptr<File> f, SlowSyncEnv* env)
        : f_(std::move(f)), env_(env) {}
    absl::Status PRead(uint64_t o, size_t n, char* b) override {
      return f_->PRead(o, n, b);
    }
    absl::Status PWrite(uint64_t o, absl::string_view d) override {
      if (env_->on_write) env_->on_write();
      if (env_->on_write_of) env_->on_write_of(d.size());
      absl::SleepFor(env_->write_delay);
      return f_->PWrite(o, d);
    }
    absl::Status Sync() override {
      if (env_->on_sync) env_->on_sync();
      absl::SleepFor(env_->sync_delay);
      ++env_->syncs;
      return f_->Sync();
    }
    absl::StatusOr<uint64_t> Size() override { return f_->Size(); }
    void StartWriteback(uint64_t offset, uint64_t len) override {
      ++env_->writebacks;
      f_->StartWriteback(offset, len);
    }

   private:
    std::unique_ptr<File> f_;
    SlowSyncEnv* env_;
  };
};

// Holds every member write of `env` until a second one is under way (at
// most 10 s). Met(): two were under way at once, and none waited in vain.
class WriteRendezvous {
 public:
  explicit WriteRendezvous(SlowSyncEnv* env) : env_(env) {
    env_->on_write = [this] {
      absl::MutexLock l(&mu_);
      if (++inside_ == 2) both_ = true;
      if (!mu_.AwaitWithTimeout(absl::Condition(&both_), absl::Seconds(10))) {
        in_vain_ = true;
      }
    };
  }
  ~WriteRendezvous() { env_->on_write = nullptr; }
  bool Met() {
    env_->on_write = nullptr;
    absl::MutexLock l(&mu_);
    return both_ && !in_vain_;
  }

 private:
  SlowSyncEnv* const env_;
  absl::Mutex mu_;
  int inside_ = 0;
  bool both_ = false, in_vain_ = false;
};

// Lock-free in-place writes and clones: a clone is a point in time. Writes
// in flight when it is taken must not land in its (now shared) segments
// later, and every segment shows one whole write.
TEST(ConcurrencyTest, ClonesTakenDuringInPlaceWritesNeverChangeAfterwards) {
  // Member writes take a while, so clones land while writes are in flight.
  SlowSyncEnv env;
  env.sync_delay = absl::ZeroDuration();
  env.write_delay = absl::Milliseconds(2);
  constexpr uint32_t kSeg = 64 << 10;
  constexpr int kSegs = 32;
  StoreAndFile sd = OpenWithDisk("inplace", &env, kSegs);
  ASSERT_NE(sd.store, nullptr);
  ExtentStore* st = sd.store.get();
  const InodeId ino = sd.f;
  std::vector<std::mt19937> rngs{std::mt19937(0), std::mt19937(1), std::mt19937(2)};
  Writers writers(3, [&](int t, int v) {
    const std::string seg(kSeg, static_cast<char>('A' + (t * 7 + v) % 26));
    const Stability how = v % 2 ? Stability::kUnstable : Stability::kFileSync;
    return st->Write(ino, uint64_t(rngs[t]() % kSegs) * kSeg, seg, how).ok();
  });
  std::vector<TakenClone> clones;
  for (int c = 0; c < 12; ++c) {
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    clones.push_back(TakeClone(st, ino, "c" + std::to_string(c), kSeg * kSegs));
    ASSERT_NE(clones.back().ino, 0u);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(writers.Stop(), 0);
  ExpectClonesUnchanged(st, clones);
  for (const TakenClone& c : clones) {
    for (int k = 0; k < kSegs; ++k) {  // one write per segment, never torn
      const std::string one = c.image.substr(uint64_t(k) * kSeg, kSeg);
      EXPECT_EQ(one.find_first_not_of(one[0]), std::string::npos) << k;
    }
  }
  ExpectFsckClean(st);
}

// Group commit: concurrent stable writers share member syncs instead of
// queuing one sync each behind the metadata lock.
TEST(ConcurrencyTest, ConcurrentStableWritersShareSyncs) {
  SlowSyncEnv env;
  StoreOptions o;
  o.dir = TempDir("group");
  o.env = &env;
  o.num_members = 1;
  o.segment_size = 64 << 10;
  o.capacity = uint64_t{1} << 30;
  auto s = ExtentStore::Open(o);
  ASSERT_TRUE(s.ok()) << s.status();
  ExtentStore* st = s->get();
  constexpr int kThreads = 8, kWrites = 10;
  std::atomic<int> errors{0};
  std::vector<std::thread> th;
  const int syncs_before = env.syncs.load();
  for (int t = 0; t < kThreads; ++t) {
    th.emplace_back([&, t] {
      auto f = st->Create(kRootInode, "w" + std::to_string(t),
                          CreateRequest{});
      if (!f.ok()) {
        ++errors;
        return;
      }
      const std::string seg(64 << 10, static_cast<char>('a' + t));
      for (int i = 0; i < kWrites; ++i) {
        // Each write allocates a segment: data sync, then a synced batch.
        if (!st->Write(f->attr.ino, uint64_t(i) * seg.size(), seg,
                       Stability::kFileSync)
                 .ok()) {
          ++errors;
        }
      }
    });
  }
  for (auto& x : th) x.join();
  ASSERT_EQ(errors.load(), 0);
  const int syncs = env.syncs.load() - syncs_before;
  // One sync each would be kThreads * kWrites; groups share them.
  EXPECT_LT(syncs, kThreads * kWrites / 2) << syncs << " member syncs";
  for (int t = 0; t < kThreads; ++t) {
    auto a = st->Lookup(kRootInode, "w" + std::to_string(t));
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->size, uint64_t{kWrites} << 16);
    std::string back(64 << 10, '\0');
    auto r = st->Read(a->ino, uint64_t{kWrites - 1} << 16, back.size(),
                      back.data());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(back, std::string(64 << 10, static_cast<char>('a' + t)));
  }
  ExpectFsckClean(st);
}

// The metadata lock is never held across a sync: while a stable write's
// member sync is stuck, GETATTR and LOOKUP still answer.
TEST(ConcurrencyTest, MetadataReadsAnswerWhileAStableWriteIsInItsSync) {
  SlowSyncEnv env;
  env.sync_delay = absl::ZeroDuration();
  auto [store, ino] = OpenWithFile("stuck", &env);
  ASSERT_TRUE(store);
  ExtentStore* st = store.get();
  absl::Notification syncing, release, write_done, reads_done;
  env.on_sync = [&] {
    if (!syncing.HasBeenNotified()) syncing.Notify();
    release.WaitForNotification();
  };
  std::thread writer([&] {
    EXPECT_TRUE(st->Write(ino, 0, std::string(64 << 10, 'w'),
                          Stability::kFileSync)
                    .ok());
    write_done.Notify();
  });
  syncing.WaitForNotification();  // the write's member sync is under way
  std::thread reader([&] {
    EXPECT_TRUE(st->GetAttr(kRootInode).ok());
    EXPECT_TRUE(st->Lookup(kRootInode, "f").ok());
    EXPECT_TRUE(st->GetAttr(ino).ok());
    reads_done.Notify();
  });
  // A deadlock detector, not a speed bound: the reads do not wait for the
  // sync at all, so they finish while it is still held.
  EXPECT_TRUE(reads_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_FALSE(write_done.HasBeenNotified());
  release.Notify();
  reader.join();
  writer.join();
  EXPECT_TRUE(write_done.HasBeenNotified());
}

// Writes of new data (whole segments) copy their bytes without the store
// mutex: two writers of different files are inside their member writes at
// the same time. (Under the mutex the second would wait for the first,
// which waits for the second: the 30 s timeout, a deadlock detector, fails.)
TEST(ConcurrencyTest, NewDataOfTwoFilesIsWrittenInParallel) {
  SlowSyncEnv env;
  env.sync_delay = absl::ZeroDuration();
  auto s = OpenStore("parallel", 64 << 10, &env);
  ASSERT_TRUE(s.ok()) << s.status();
  ExtentStore* st = s->get();
  auto a = st->Create(kRootInode, "a", CreateRequest{});
  auto b = st->Create(kRootInode, "b", CreateRequest{});
  ASSERT_TRUE(a.ok() && b.ok());
  // Written one after the other, the first waits in vain.
  WriteRendezvous meet(&env);
  const std::string da(1 << 20, 'a'), db(1 << 20, 'b');
  std::thread ta([&] {
    EXPECT_TRUE(st->Write(a->attr.ino, 0, da, Stability::kUnstable).ok());
  });
  std::thread tb([&] {
    EXPECT_TRUE(st->Write(b->attr.ino, 1 << 20, db, Stability::kFileSync).ok());
  });
  ta.join();
  tb.join();
  EXPECT_TRUE(meet.Met()) << "the second write waited for the first";
  std::string got(2 << 20, '?');
  auto ra = st->Read(a->attr.ino, 0, 1 << 20, got.data());
  ASSERT_TRUE(ra.ok());
  EXPECT_EQ(ra->count, 1u << 20);
  EXPECT_TRUE(got.compare(0, 1 << 20, da) == 0);
  auto rb = st->Read(b->attr.ino, 0, 2 << 20, got.data());
  ASSERT_TRUE(rb.ok());
  EXPECT_EQ(rb->count, 2u << 20);
  EXPECT_EQ(got, std::string(1 << 20, '\0') + db);  // the gap reads zeros
  ExpectFsckClean(st);
}

// Copy-on-write of shared segments (a write inside a segment a clone
// shares) runs without the store lock: two such writes are in their member
// writes at once.
TEST(ConcurrencyTest, CopiesOnWriteOfTwoFilesRunInParallel) {
  SlowSyncEnv env;
  env.sync_delay = absl::ZeroDuration();
  auto s = OpenStore("cowpar", 64 << 10, &env);
  ASSERT_TRUE(s.ok()) << s.status();
  ExtentStore* st = s->get();
  auto a = st->Create(kRootInode, "a", CreateRequest{});
  ASSERT_TRUE(a.ok());
  const std::string base(1 << 20, 'o');
  ASSERT_TRUE(st->Write(a->attr.ino, 0, base, Stability::kFileSync).ok());
  auto b = st->CloneFile(a->attr.ino, kRootInode, "b", false);
  ASSERT_TRUE(b.ok()) << b.status();
  // With the copies under the store lock the first waits in vain.
  WriteRendezvous meet(&env);
  std::thread ta([&] {
    EXPECT_TRUE(st->Write(a->attr.ino, 70000, std::string(4096, 'a'),
                          Stability::kUnstable)
                    .ok());
  });
  std::thread tb([&] {
    EXPECT_TRUE(st->Write(b->attr.ino, 300000, std::string(4096, 'b'),
                          Stability::kFileSync)
                    .ok());
  });
  ta.join();
  tb.join();
  EXPECT_TRUE(meet.Met()) << "the second copy-on-write waited for the first";
  std::string want_a = base, want_b = base;
  want_a.replace(70000, 4096, std::string(4096, 'a'));
  want_b.replace(300000, 4096, std::string(4096, 'b'));
  std::string got(1 << 20, '?');
  ASSERT_TRUE(st->Read(a->attr.ino, 0, got.size(), got.data()).ok());
  EXPECT_TRUE(got == want_a);
  ASSERT_TRUE(st->Read(b->attr.ino, 0, got.size(), got.data()).ok());
  EXPECT_TRUE(got == want_b);
  ExpectFsckClean(st);
}

// The race the copy-on-write's stale check exists for, made to happen: a
// copy of segment 0 has read it and is writing its merge when the clone
// that shared it goes away, and a write of other bytes of segment 0 then
// goes in place into the old segment. Mapping the merge would lose that
// write; the copy is redone instead, and both writes are there.
TEST(ConcurrencyTest, AnInPlaceWriteDuringACopyOfItsSegmentIsNotLost) {
  SlowSyncEnv env;
  env.sync_delay = absl::ZeroDuration();
  constexpr uint64_t kSeg = 64 << 10;
  StoreAndFile sd = OpenWithDisk("cowstale", &env, 2);
  ASSERT_NE(sd.store, nullptr);
  ExtentStore* st = sd.store.get();
  ASSERT_TRUE(st->CloneFile(sd.f, kRootInode, "c", false).ok());
  // The copy's merged segment is the only 64 KiB member write: hold it.
  absl::Notification copying, go_on;
  std::atomic<bool> armed{true};
  env.on_write_of = [&](size_t len) {
    if (len == kSeg && armed.exchange(false)) {
      copying.Notify();
      go_on.WaitForNotification();
    }
  };
  std::thread copy([&] {
    EXPECT_TRUE(st->Write(sd.f, 100, std::string(100, 'A'), Stability::kUnstable).ok());
  });
  copying.WaitForNotification();
  ASSERT_TRUE(st->Remove(kRootInode, "c").ok());  // segment 0 is the file's alone
  ASSERT_TRUE(st->Write(sd.f, 8192, std::string(100, 'B'), Stability::kFileSync).ok());
  go_on.Notify();
  copy.join();
  env.on_write_of = nullptr;
  std::string want(kSeg, '.');
  want.replace(100, 100, std::string(100, 'A'));
  want.replace(8192, 100, std::string(100, 'B'));
  std::string got(kSeg, '?');
  ASSERT_TRUE(st->Read(sd.f, 0, kSeg, got.data()).ok());
  EXPECT_EQ(got.substr(8192, 100), std::string(100, 'B')) << "the in-place write was lost";
  EXPECT_TRUE(got == want);
  ExpectFsckClean(st);
}

// Writes inside segments that clones keep sharing and unsharing (a clone
// taken makes them copy on write; its removal makes them unique again, so
// other writes go in place while a copy of the same segment is under way):
// each writer owns 4 KiB slots of the same segments (the last writer's
// slots straddle two segments), and the last version of every slot must be
// in the file at the end (no copy may bring back an older one), with every
// clone a point in time and Fsck clean.
TEST(ConcurrencyTest, WritesRacingCopiesOnWriteOfTheirSegmentsLoseNothing) {
  SlowSyncEnv env;
  env.sync_delay = absl::ZeroDuration();
  env.write_delay = absl::Microseconds(300);
  constexpr uint64_t kSeg = 64 << 10;
  constexpr int kSegs = 6, kWriters = 5;
  StoreAndFile sd = OpenWithDisk("cowrace", &env, kSegs);
  ASSERT_NE(sd.store, nullptr);
  ExtentStore* st = sd.store.get();
  const InodeId ino = sd.f;
  // Slot of writer t in segment k: 4 KiB at k * kSeg + 4 KiB + t * 8 KiB;
  // the last writer's: the 2 KiB on each side of the end of segment k.
  auto slot = [](int t, int k) {
    return t == kWriters - 1 ? (k + 1) * kSeg - 2048 : k * kSeg + 4096 + t * 8192;
  };
  auto segs = [](int t) { return t == kWriters - 1 ? kSegs - 1 : kSegs; };
  auto bytes = [](int t, int v) {
    std::string b(4096, static_cast<char>('A' + t));
    std::memcpy(&b[0], &v, sizeof v);
    return b;
  };
  std::vector<std::vector<int>> last(kWriters, std::vector<int>(kSegs, -1));
  std::vector<std::mt19937> rngs;
  for (int t = 0; t < kWriters; ++t) rngs.emplace_back(77 + t);
  Writers writers(kWriters, [&](int t, int v) {
    const int k = static_cast<int>(rngs[t]() % segs(t));
    const Stability how = v % 3 ? Stability::kUnstable : Stability::kFileSync;
    if (!st->Write(ino, slot(t, k), bytes(t, v), how).ok()) return false;
    last[t][k] = v;
    return true;
  });
  std::vector<TakenClone> clones;
  for (int c = 0; c < 40; ++c) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    clones.push_back(TakeClone(st, ino, "c" + std::to_string(c), kSeg * kSegs));
    ASSERT_NE(clones.back().ino, 0u);
    if (c % 2) {  // the odd ones go again: their segments become unique
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      ASSERT_TRUE(st->Remove(kRootInode, "c" + std::to_string(c)).ok());
      clones.pop_back();
    }
  }
  EXPECT_EQ(writers.Stop(), 0);
  std::string got(kSeg * kSegs, '\0');
  ASSERT_TRUE(st->Read(ino, 0, got.size(), got.data()).ok());
  for (int t = 0; t < kWriters; ++t) {
    for (int k = 0; k < segs(t); ++k) {
      const std::string want =
          last[t][k] < 0 ? std::string(4096, '.') : bytes(t, last[t][k]);
      EXPECT_TRUE(got.compare(slot(t, k), 4096, want) == 0)
          << "writer " << t << " segment " << k << ": not its last write "
          << last[t][k];
    }
  }
  ExpectClonesUnchanged(st, clones);
  ExpectFsckClean(st);
}

// A file removed while its new data is being written: the write fails
// (stale), its segments go back, nothing leaks, and a reopened store agrees.
TEST(ConcurrencyTest, RemoveDuringAWriteOfNewDataLeaksNothing) {
  SlowSyncEnv env;
  env.sync_delay = absl::ZeroDuration();
  const StoreOptions o = Options("removed", 64 << 10, &env);
  auto s = ExtentStore::Open(o);
  ASSERT_TRUE(s.ok()) << s.status();
  ExtentStore* st = s->get();
  auto f = st->Create(kRootInode, "f", CreateRequest{});
  ASSERT_TRUE(f.ok());
  absl::Notification writing, removed;
  env.on_write = [&] {
    if (!writing.HasBeenNotified()) writing.Notify();
    removed.WaitForNotification();
  };
  absl::Status w;
  std::thread writer([&] {
    w = st->Write(f->attr.ino, 0, std::string(1 << 20, 'x'),
                  Stability::kFileSync)
            .status();
  });
  writing.WaitForNotification();
  ASSERT_TRUE(st->Remove(kRootInode, "f").ok());
  // The claimed segments count as used while the data is on its way.
  auto mid = st->GetStoreSpace();
  ASSERT_TRUE(mid.ok());
  EXPECT_EQ(mid->used, 1u << 20);
  removed.Notify();
  writer.join();
  env.on_write = nullptr;
  EXPECT_FALSE(w.ok());
  auto after = st->GetStoreSpace();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->used, 0u);
  ExpectFsckClean(st);
  // The space is reusable, and a reopened store agrees.
  auto g = st->Create(kRootInode, "g", CreateRequest{});
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(st->Write(g->attr.ino, 0, std::string(1 << 20, 'y'),
                        Stability::kFileSync)
                  .ok());
  s->reset();
  auto again = ExtentStore::Open(o);
  ASSERT_TRUE(again.ok()) << again.status();
  auto sp = (*again)->GetStoreSpace();
  ASSERT_TRUE(sp.ok());
  EXPECT_EQ(sp->used, 1u << 20);
  ExpectFsckClean(again->get());
}

// A stream of unstable writes has its writeback started at once (so a
// later COMMIT has little left to write); stable writes and small random
// unstable writes do not.
TEST(ConcurrencyTest, UnstableStreamsStartTheirWritebackEarly) {
  SlowSyncEnv env;
  env.sync_delay = absl::ZeroDuration();
  auto [store, ino] = OpenWithFile("writeback", &env);
  ASSERT_TRUE(store);
  ExtentStore* st = store.get();
  ASSERT_TRUE(st->Write(ino, 0, std::string(1 << 20, 's'), Stability::kFileSync)
                  .ok());
  for (int i = 0; i < 16; ++i) {  // small unstable writes, in place
    ASSERT_TRUE(st->Write(ino, uint64_t(i) * 8192, std::string(4096, 'r'),
                          Stability::kUnstable)
                    .ok());
  }
  // 1 MiB of new data, then an unstable rewrite of it in place.
  ASSERT_TRUE(st->Write(ino, 1 << 20, std::string(1 << 20, 'n'),
                        Stability::kUnstable)
                  .ok());
  ASSERT_TRUE(st->Write(ino, 1 << 20, std::string(1 << 20, 'o'),
                        Stability::kUnstable)
                  .ok());
  // Hints are started in order on their own thread: once the last two
  // arrived, nothing else came before them.
  for (int i = 0; i < 3000 && env.writebacks.load() < 2; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(env.writebacks.load(), 2);
  std::string got(4, '?');
  ASSERT_TRUE(st->Read(ino, (1 << 20) - 2, 4, got.data()).ok());
  EXPECT_EQ(got, "ssoo");
}

// Fsck on a live store while a write of new data is between the claim of
// its segments and their mapping: the claims are used in memory but free in
// the persisted bitmap by design, so they are no inconsistency. (Fsck
// compared the allocator's in-memory count, claims included, with the
// persisted bitmap and reported "in-memory state differs" for every write
// of new data in flight.)
TEST(ConcurrencyTest, FsckIsCleanWhileAWriteOfNewDataIsInFlight) {
  std::unique_ptr<Env> mem = NewMemEnv();
  GateEnv gate(mem.get());
  auto [store, ino] = OpenWithFile("fsck-inflight", &gate);
  ASSERT_TRUE(store);
  ExtentStore* st = store.get();
  gate.Close('N', /*after_write=*/false);
  std::thread writer([&] {
    EXPECT_TRUE(st->Write(ino, 0, std::string(4 << 16, 'N'),
                          Stability::kFileSync)
                    .ok());
  });
  gate.AwaitHeld(1);
  auto mid = st->GetStoreSpace();
  ASSERT_TRUE(mid.ok());
  EXPECT_EQ(mid->used, 4u << 16);  // the claims count as used
  ExpectFsckClean(st);
  gate.Open();
  writer.join();
  ExpectFsckClean(st);
  EXPECT_EQ(st->GetStoreSpace()->used, 4u << 16);
}

// A fresh store over a GateEnv over memory, with an empty file.
struct GatedStore {
  explicit GatedStore(const std::string& name)
      : mem(NewMemEnv()), gate(mem.get()) {
    StoreAndFile sf = OpenWithFile(name, &gate);
    store = std::move(sf.store);
    st = store.get();
    ino = sf.f;
  }
  std::unique_ptr<Env> mem;
  GateEnv gate;
  std::unique_ptr<ExtentStore> store;
  ExtentStore* st = nullptr;  // null when the open failed (a test failure)
  InodeId ino = 0;
};

// `ino` of `st` holds exactly `want` in `allocated` bytes, its writes were
// counted `writes` times, and Fsck (which reads what RocksDB holds) is clean.
void ExpectFile(ExtentStore* st, InodeId ino, const std::string& want,
                uint64_t allocated, uint64_t writes) {
  std::string buf(want.size() + 1, '?');
  auto r = st->Read(ino, 0, static_cast<uint32_t>(buf.size()), buf.data());
  ASSERT_TRUE(r.ok()) << r.status();
  buf.resize(r->count);
  EXPECT_TRUE(buf == want);
  EXPECT_EQ(r->attr.allocated, allocated);
  auto al = st->Alignment(ino);
  ASSERT_TRUE(al.ok());
  EXPECT_EQ(al->writes, writes);
  ExpectFsckClean(st);
}

// A write of new data is between the claim of its segment and the mapping
// when a small write makes the (still empty) file inline: the new data's
// write is redone under the store mutex, which moves the inline bytes to a
// segment first. (Mapping it anyway would leave an inode with inline bytes
// and a segment, one it could not even encode.)
TEST(ConcurrencyTest, ANewDataWriteRacingAnInlineWriteIsRedone) {
  constexpr uint32_t kSeg = 64 << 10;
  GatedStore g("inline-race");
  ASSERT_TRUE(g.st);
  g.gate.Close('N', /*after_write=*/false);
  std::string big(2 * kSeg, 'n');
  big[0] = 'N';
  std::thread writer([&] {
    auto w = g.st->Write(g.ino, kSeg, big, Stability::kFileSync);
    EXPECT_TRUE(w.ok()) << w.status();
  });
  g.gate.AwaitHeld(1);
  auto small = g.st->Write(g.ino, 0, "small", Stability::kFileSync);
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(small->file.after.allocated, 5u);  // inline meanwhile
  g.gate.Open();
  writer.join();
  // Two writes, each counted once (the redone one is not counted again).
  ExpectFile(g.st, g.ino, "small" + std::string(kSeg - 5, '\0') + big, 3u * kSeg, 2);
}

// A write mixing a segment the file owns (written in place) with a hole
// (new data) is split at the segment boundary, and each part takes its
// lock-free path: while the in-place part is in its member write, the store
// serves other calls. (On the locked path that write held the store mutex
// through its I/O, and every other call waited for it.)
TEST(ConcurrencyTest, AMixedWriteDoesItsIoWithoutTheStoreLock) {
  constexpr uint32_t kSeg = 64 << 10;
  GatedStore g("mixed");
  ASSERT_TRUE(g.st);
  ASSERT_TRUE(g.st->Write(g.ino, 0, std::string(kSeg, 'o'), Stability::kFileSync).ok());
  auto other = g.st->Create(kRootInode, "other", CreateRequest{});
  ASSERT_TRUE(other.ok());
  g.gate.Close('M', /*after_write=*/false);
  std::string data(2 * kSeg, 'n');
  data[0] = 'M';  // the in-place part's member write is held
  std::thread writer([&] {
    auto w = g.st->Write(g.ino, 0, data, Stability::kFileSync);
    EXPECT_TRUE(w.ok()) << w.status();
    if (w.ok()) EXPECT_EQ(w->count, data.size());
  });
  g.gate.AwaitHeld(1);
  absl::Notification served;
  std::thread other_calls([&] {
    EXPECT_TRUE(g.st->GetAttr(other->attr.ino).ok());
    EXPECT_TRUE(g.st->Write(other->attr.ino, 0, std::string(kSeg, 'p'),
                          Stability::kFileSync)
                    .ok());
    served.Notify();
  });
  EXPECT_TRUE(served.WaitForNotificationWithTimeout(absl::Seconds(20)))
      << "the store was locked during the mixed write's I/O";
  g.gate.Open();
  writer.join();
  other_calls.join();
  ExpectFile(g.st, g.ino, data, 2u * kSeg, 2);  // the split write counts once
}

// Two writes of new data to the same segments of a reserved file, both
// claimed before either is mapped: the second replaces segments the first
// made unique, so the reservation's outstanding count drops only once per
// segment. (It dropped for both, so the store reported less reserved space
// than the file still needed and could give it to other files.)
TEST(ConcurrencyTest, OverlappingNewDataWritesCountAReservationOnce) {
  constexpr uint32_t kSeg = 64 << 10;
  std::unique_ptr<Env> mem = NewMemEnv();
  GateEnv gate(mem.get());
  const StoreOptions o = Options("reserve-twice", kSeg, &gate);
  auto s = ExtentStore::Open(o);
  ASSERT_TRUE(s.ok()) << s.status();
  ExtentStore* st = s->get();
  auto f = st->Create(kRootInode, "f", CreateRequest{});
  ASSERT_TRUE(f.ok());
  const InodeId ino = f->attr.ino;
  ASSERT_TRUE(st->Reserve(ino, 8 * kSeg).ok());
  ASSERT_EQ(st->GetStoreSpace()->reserved, 8u * kSeg);
  gate.Close('R', /*after_write=*/false);
  std::vector<std::thread> writers;
  for (char c : {'1', '2'}) {
    writers.emplace_back([&, c] {
      std::string data(2 * kSeg, c);
      data[0] = data[kSeg] = 'R';  // every member run starts at a segment
      EXPECT_TRUE(st->Write(ino, 0, data, Stability::kUnstable).ok());
    });
  }
  gate.AwaitHeld(2);  // both claimed, neither mapped
  gate.Open();
  for (auto& t : writers) t.join();
  // Segments 0 and 1 are unique now; 2..7 are still owed.
  auto sp = st->GetStoreSpace();
  ASSERT_TRUE(sp.ok());
  EXPECT_EQ(sp->reserved, 6u * kSeg);
  EXPECT_EQ(sp->used, 2u * kSeg);
  auto fsp = st->Space(ino);
  ASSERT_TRUE(fsp.ok());
  EXPECT_EQ(fsp->reserved, 6u * kSeg);
  // What a reopen computes from scratch agrees.
  s->reset();
  auto again = ExtentStore::Open(o);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->GetStoreSpace()->reserved, 6u * kSeg);
}

// Writes of whole segments of new data from many threads to the same file
// at overlapping offsets, while other threads truncate it (to segment
// boundaries), remove and recreate it, clone it, snapshot it, read it and
// run Fsck; on the POSIX Env, so stable in-place overwrites go O_DIRECT next
// to the buffered writes. Every segment a write covers holds only that
// write's 8-byte tag (file, writer, sequence), so:
//  * a read while the threads run sees, per 8-byte word, zeros or the tag
//    of a write to that file that covered that segment (never another
//    file's or segment's data, never garbage);
//  * once the threads stop, each segment is zeros or one whole write;
//  * a clone, or a snapshot (read through a clone of it), reads the same
//    from the moment it is taken until the end;
//  * Fsck is clean meanwhile and at the end, and removing everything leaves
//    no segment in use, also after a reopen.
TEST(ConcurrencyTest, OverlappingWritesOfNewDataWithTruncatesClonesAndSnapshots) {
  constexpr uint32_t kSeg = 16 << 10;
  constexpr uint64_t kSegs = 16;  // writes land in the first 16 segments
  StoreOptions o;
  o.dir = TempDir("overlap");
  o.segment_size = kSeg;
  o.num_members = 2;
  o.capacity = uint64_t{1} << 30;
  auto opened = ExtentStore::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<ExtentStore> store = std::move(*opened);
  ExtentStore* st = store.get();
  ASSERT_TRUE(st->Create(kRootInode, "f", CreateRequest{}).ok());

  // What was written: tag -> (inode, first segment, segments). Recorded
  // before the write starts.
  struct Span {
    InodeId ino;
    uint64_t first, n;
  };
  absl::Mutex mu;
  std::map<uint64_t, Span> writes;
  std::atomic<int> problems{0};
  auto fail = [&](const std::string& what) {
    if (problems.fetch_add(1) < 10) ADD_FAILURE() << what;
  };
  // Checks `data` (read from `ino` at 0): each word is 0 or a tag of a
  // write to `ino` covering its segment; with `whole`, each segment is all
  // zeros or one tag.
  auto check = [&](InodeId ino, const std::string& data, bool whole,
                   const std::string& what) {
    absl::MutexLock l(&mu);
    for (size_t seg = 0; seg * kSeg < data.size(); ++seg) {
      const size_t end = std::min<size_t>(data.size(), (seg + 1) * kSeg);
      uint64_t first = 0;
      std::memcpy(&first, data.data() + seg * kSeg, 8);
      for (size_t at = seg * kSeg; at + 8 <= end; at += 8) {
        uint64_t w;
        std::memcpy(&w, data.data() + at, 8);
        if (whole && w != first) {
          fail(what + ": segment " + std::to_string(seg) +
               " mixes two writes");
          return;
        }
        if (w == 0) continue;
        auto it = writes.find(w);
        if (it == writes.end() || it->second.ino != ino ||
            seg < it->second.first || seg >= it->second.first + it->second.n) {
          fail(what + ": segment " + std::to_string(seg) + " holds " +
               (it == writes.end() ? "bytes no write wrote"
                                   : "another place's write"));
          return;
        }
      }
    }
  };
  auto read_all = [&](InodeId ino, std::string* out) -> bool {
    auto a = st->GetAttr(ino);
    if (!a.ok()) return false;
    out->assign(a->size, '?');
    auto r = st->Read(ino, 0, static_cast<uint32_t>(a->size), out->data());
    if (!r.ok()) return false;
    out->resize(r->count);
    return true;
  };

  constexpr int kWriters = 4;
  constexpr int kWrites = 300;
  std::atomic<int> writers_left{kWriters};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(100 + w);
      for (int i = 0; i < kWrites; ++i) {
        auto f = st->Lookup(kRootInode, "f");
        if (!f.ok()) continue;  // removed; recreated soon
        const uint64_t first = rng() % kSegs;
        const uint64_t n = 1 + rng() % 4;
        const uint64_t tag = (uint64_t(w + 1) << 40) | (uint64_t(i) << 8) | 0xA5;
        {
          absl::MutexLock l(&mu);
          writes[tag] = Span{f->ino, first, n};
        }
        std::string data(n * kSeg, '\0');
        for (size_t at = 0; at < data.size(); at += 8) {
          std::memcpy(data.data() + at, &tag, 8);
        }
        // One thread writes stable (in place: O_DIRECT), the others
        // unstable, with COMMITs now and then.
        const Stability stab =
            w == 0 ? Stability::kFileSync : Stability::kUnstable;
        absl::Status s = st->Write(f->ino, first * kSeg, data, stab).status();
        if (!s.ok() && ErrnoOf(s) != ENOENT && ErrnoOf(s) != ESTALE) {
          fail("write: " + s.ToString());
        }
        if (w != 0 && i % 16 == 0) st->Commit(f->ino).IgnoreError();
      }
      writers_left.fetch_sub(1);
    });
  }
  // Truncates (to segment boundaries), removes and recreates, reads.
  threads.emplace_back([&] {
    std::mt19937 rng(7);
    for (int i = 0; writers_left.load() > 0; ++i) {
      if (i % 25 == 24) {
        st->Remove(kRootInode, "f").IgnoreError();
        st->Create(kRootInode, "f", CreateRequest{}).IgnoreError();
        continue;
      }
      auto f = st->Lookup(kRootInode, "f");
      if (!f.ok()) continue;
      if (i % 3 == 0) {
        SetAttrRequest r;
        r.size = (rng() % (kSegs + 2)) * kSeg;
        st->SetAttr(f->ino, r).IgnoreError();
      } else {
        std::string data;
        if (read_all(f->ino, &data)) check(f->ino, data, false, "read of f");
      }
    }
  });
  // Clones and snapshots; each is read when taken and again later.
  struct Frozen {
    std::string name;
    std::string data;
  };
  std::vector<Frozen> frozen;
  threads.emplace_back([&] {
    for (int i = 0; writers_left.load() > 0; ++i) {
      auto f = st->Lookup(kRootInode, "f");
      if (!f.ok()) continue;
      std::string name = "c" + std::to_string(i);
      if (i % 2 == 0) {
        if (!st->CloneFile(f->ino, kRootInode, name, false).ok()) continue;
      } else {
        auto snap = st->CreateSnapshot(f->ino, "s" + std::to_string(i));
        if (!snap.ok()) continue;
        name = "sc" + std::to_string(i);
        auto c = st->CloneSnapshot(snap->id, kRootInode, name);
        if (!c.ok()) {
          fail("clone of a snapshot: " + c.status().ToString());
          continue;
        }
        if (i % 4 == 1) st->DeleteSnapshot(snap->id).IgnoreError();
      }
      auto c = st->Lookup(kRootInode, name);
      std::string data;
      if (!c.ok() || !read_all(c->ino, &data)) {
        fail("cannot read " + name);
        continue;
      }
      frozen.push_back(Frozen{name, data});
      for (const Frozen& fz : frozen) {
        auto again = st->Lookup(kRootInode, fz.name);
        std::string now;
        if (!again.ok() || !read_all(again->ino, &now) || now != fz.data) {
          fail(fz.name + " changed after it was taken");
        }
      }
      if (i % 5 == 4 && frozen.size() > 2) {  // frees shared segments
        st->Remove(kRootInode, frozen.front().name).IgnoreError();
        frozen.erase(frozen.begin());
      }
      if (i % 10 == 9) {
        auto fs = st->Fsck();
        if (!fs.ok() || !fs->clean) {
          fail("live Fsck: " + (fs.ok() ? Problems(*fs) : fs.status().ToString()));
        }
      }
    }
  });
  for (auto& t : threads) t.join();
  ASSERT_EQ(problems.load(), 0);

  // Quiet now: every segment is zeros or one whole write.
  auto f = st->Lookup(kRootInode, "f");
  ASSERT_TRUE(f.ok());
  std::string data;
  ASSERT_TRUE(read_all(f->ino, &data));
  check(f->ino, data, true, "f at the end");
  for (const Frozen& fz : frozen) {
    auto c = st->Lookup(kRootInode, fz.name);
    std::string now;
    ASSERT_TRUE(c.ok() && read_all(c->ino, &now));
    EXPECT_TRUE(now == fz.data) << fz.name << " changed after it was taken";
  }
  ExpectFsckClean(st);
  EXPECT_GT(frozen.size(), 0u);

  // A reopened store agrees, and removing everything frees everything.
  store.reset();
  opened = ExtentStore::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status();
  store = std::move(*opened);
  st = store.get();
  ExpectFsckClean(st);
  for (const Frozen& fz : frozen) {
    auto c = st->Lookup(kRootInode, fz.name);
    std::string now;
    ASSERT_TRUE(c.ok() && read_all(c->ino, &now));
    EXPECT_TRUE(now == fz.data) << fz.name << " changed across the reopen";
  }
  auto page = st->ReadDir(kRootInode, 0, 10000, false);
  ASSERT_TRUE(page.ok());
  for (const DirEntry& e : page->entries) {
    ASSERT_TRUE(st->Remove(kRootInode, e.name).ok()) << e.name;
  }
  auto snaps = st->ListSnapshots(0);
  ASSERT_TRUE(snaps.ok());
  for (const SnapshotInfo& i : *snaps) {
    ASSERT_TRUE(st->DeleteSnapshot(i.id).ok());
  }
  EXPECT_EQ(st->GetStoreSpace()->used, 0u);
  ExpectFsckClean(st);
}

}  // namespace
}  // namespace vnas::storage
