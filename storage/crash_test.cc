// crash_test.cc — power loss at many points of a workload, through FaultEnv
// (member files and RocksDB files both lose what was not synced).
//
// For every crash point: run the same seeded workload on a fresh store until
// the power fails (every later call fails), destroy the store, drop unsynced
// data, reopen, and check that
//  * Fsck is clean (refcounts equal references, no leaked or doubly owned
//    space), and
//  * everything the store acknowledged as durable is there: names created,
//    stable writes, unstable writes followed by a successful Commit, unless a
//    later (even failed) operation touched the same bytes.
#include <errno.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "storage/base/status_util.h"
#include "storage/env/fault_env.h"
#include "storage/env/mem_env.h"
#include "storage/extent_store.h"
#include "storage/store_testutil.h"

namespace vnas::storage {
namespace {

constexpr uint32_t kSeg = 16 << 10;

// A small store (4096 segments of kSeg over `members` member files) in
// TempDir(name) on `env`.
StoreOptions SmallStore(const std::string& name, Env* env, uint32_t members) {
  StoreOptions o;
  o.dir = TempDir(name);
  o.env = env;
  o.segment_size = kSeg;
  o.num_members = members;
  o.capacity = 4096 * kSeg;
  return o;
}

// What must survive.
struct Durable {
  struct Rec {
    uint64_t off;
    std::string data;
    // Unstable writes: the store's write verifier before the write. A
    // COMMIT makes the write durable only if it returns the same verifier
    // (NFS: a changed verifier tells the client to resend).
    uint64_t verf = 0;
  };
  std::set<std::string> must_exist;
  // Names that may share an inode with another name (hard links): writes
  // through one change the other, so no expectations are kept for them.
  std::set<std::string> aliased;
  std::map<std::string, std::vector<Rec>> recs;     // durable
  std::map<std::string, std::vector<Rec>> pending;  // unstable, acked

  void Touch(const std::string& f, uint64_t off, uint64_t len) {
    for (auto* m : {&recs, &pending}) {
      auto& v = (*m)[f];
      v.erase(std::remove_if(v.begin(), v.end(),
                             [&](const Rec& r) {
                               return r.off < off + len &&
                                      off < r.off + r.data.size();
                             }),
              v.end());
    }
  }
  void Drop(const std::string& f) {
    recs.erase(f);
    pending.erase(f);
    must_exist.erase(f);
  }
  // A COMMIT returned OK with write verifier `verf`.
  void Committed(uint64_t verf) {
    for (auto& [f, v] : pending) {
      auto& d = recs[f];
      for (const Rec& r : v) {
        if (r.verf == verf) d.push_back(r);
      }
    }
    pending.clear();
  }
};

class Workload {
 public:
  // `whole_segments`: writes cover whole segments (offsets and lengths
  // rounded to them), so writes of new data take the lock-free path that
  // claims segments before mapping them. `small_files`: writes, truncates
  // and punches stay within the first 6000 bytes, so files go inline
  // (StoreOptions::inline_max) and move to segments and back.
  Workload(ExtentStore* s, uint32_t seed, bool whole_segments = false,
           bool small_files = false)
      : s_(s), rng_(seed), whole_(whole_segments), small_(small_files),
        span_(small_files ? 6000 : 8 * kSeg) {}

  // Runs `ops` operations; records acknowledgements in `d`.
  void Run(int ops, Durable* d) {
    const std::vector<std::string> names = {"a", "b", "c", "d"};
    for (int i = 0; i < ops; ++i) {
      const std::string f = names[rng_() % names.size()];
      const std::string g = names[rng_() % names.size()];
      switch (rng_() % 13) {
        case 0: {  // create
          if (s_->Create(kRootInode, f, CreateRequest{}).ok()) {
            d->must_exist.insert(f);
          }
          break;
        }
        case 1:
        case 2:
        case 3: {  // stable or unstable write
          uint64_t off = rng_() % span_;
          std::string data(1 + rng_() % (small_ ? 2500 : 3 * kSeg), '\0');
          if (whole_) {
            off = off / kSeg * kSeg;
            data.resize((data.size() + kSeg - 1) / kSeg * kSeg);
          }
          char c = static_cast<char>('A' + rng_() % 26);
          for (size_t k = 0; k < data.size(); ++k) {
            data[k] = static_cast<char>(c + (k % 7));
          }
          if (rng_() % 4 == 0) data.assign(data.size(), '\0');
          Stability st = rng_() % 2 ? Stability::kFileSync
                                    : Stability::kUnstable;
          d->Touch(f, off, data.size());
          auto a = s_->Lookup(kRootInode, f);
          if (!a.ok()) break;
          const uint64_t verf = s_->write_verifier();
          if (s_->Write(a->ino, off, data, st).ok() && !d->aliased.count(f)) {
            (st == Stability::kUnstable ? d->pending : d->recs)[f].push_back(
                {off, data, verf});
          }
          break;
        }
        case 4: {  // commit
          auto a = s_->Lookup(kRootInode, f);
          if (a.ok() && s_->Commit(a->ino).ok()) {
            d->Committed(s_->write_verifier());
          }
          break;
        }
        case 5: {  // clone f -> g
          if (f == g) break;
          auto a = s_->Lookup(kRootInode, f);
          if (!a.ok()) break;
          d->Drop(g);
          if (s_->CloneFile(a->ino, kRootInode, g, false).ok()) {
            d->must_exist.insert(g);
            d->recs[g] = d->recs[f];
          }
          break;
        }
        case 6: {  // truncate
          auto a = s_->Lookup(kRootInode, f);
          if (!a.ok()) break;
          uint64_t size = rng_() % span_;
          d->Touch(f, size, ~uint64_t{0} - size);
          SetAttrRequest r;
          r.size = size;
          s_->SetAttr(a->ino, r).IgnoreError();  // outcome checked by fsck
          break;
        }
        case 7: {  // punch
          auto a = s_->Lookup(kRootInode, f);
          if (!a.ok()) break;
          uint64_t off = rng_() % span_, len = rng_() % (span_ / 2);
          d->Touch(f, off, len);
          s_->PunchHole(a->ino, off, len).IgnoreError();  // checked by fsck
          break;
        }
        case 8: {  // remove
          d->Drop(f);
          s_->Remove(kRootInode, f).IgnoreError();  // may not exist
          break;
        }
        case 10: {  // rename f -> g (replacing g)
          if (f == g) break;
          std::vector<Durable::Rec> moved = d->recs[f];
          bool existed = d->must_exist.count(f) > 0;
          d->Drop(f);
          d->Drop(g);
          bool alias = d->aliased.count(f) > 0;
          if (s_->Rename(kRootInode, f, kRootInode, g).ok() && existed) {
            d->must_exist.insert(g);
            d->recs[g] = moved;
          }
          if (alias) d->aliased.insert(g);
          break;
        }
        case 11: {  // restore the newest snapshot of f
          auto a = s_->Lookup(kRootInode, f);
          if (!a.ok()) break;
          auto l = s_->ListSnapshots(a->ino);
          if (!l.ok() || l->empty()) break;
          d->Touch(f, 0, ~uint64_t{0});  // content now = the snapshot's
          s_->RestoreSnapshot(l->back().id).IgnoreError();  // checked by fsck
          break;
        }
        case 12: {  // reserve, or hard link f as g
          auto a = s_->Lookup(kRootInode, f);
          if (!a.ok()) break;
          if (rng_() % 2) {
            s_->Reserve(a->ino, (rng_() % 8) * kSeg).IgnoreError();
          } else if (f != g) {
            d->Drop(g);
            d->Touch(f, 0, ~uint64_t{0});
            d->aliased.insert(f);
            d->aliased.insert(g);
            s_->Link(a->ino, kRootInode, g).IgnoreError();  // fsck checks
          }
          break;
        }
        case 9: {  // snapshot or delete a snapshot
          auto a = s_->Lookup(kRootInode, f);
          if (!a.ok()) break;
          auto l = s_->ListSnapshots(0);
          if (l.ok() && !l->empty() && rng_() % 2) {
            s_->DeleteSnapshot((*l)[rng_() % l->size()].id).IgnoreError();
          } else {
            s_->CreateSnapshot(a->ino, "s" + std::to_string(i)).IgnoreError();
          }
          break;
        }
      }
    }
  }

 private:
  ExtentStore* s_;
  std::mt19937 rng_;
  const bool whole_;
  const bool small_;
  const uint64_t span_;  // offsets and sizes stay below it
};

void ExpectClean(ExtentStore* st, const std::string& when) {
  auto f = st->Fsck();
  EXPECT_TRUE(f.ok()) << when << ": " << f.status();
  if (!f.ok()) return;
  std::string all;
  for (auto& p : f->problems) all += p + "\n";
  EXPECT_TRUE(f->clean) << when << ":\n" << all;
}

// Everything `d` says was acknowledged as durable is there.
void ExpectDurable(ExtentStore* st, const Durable& d,
                   const std::string& when) {
  for (const std::string& name : d.must_exist) {
    EXPECT_TRUE(st->Lookup(kRootInode, name).ok())
        << when << ": lost " << name;
  }
  for (const auto& [name, recs] : d.recs) {
    if (recs.empty()) continue;
    auto a = st->Lookup(kRootInode, name);
    if (!a.ok()) {
      ADD_FAILURE() << when << ": lost file " << name;
      continue;
    }
    for (const auto& r : recs) {
      std::string buf(r.data.size(), '?');
      auto rr = st->Read(a->ino, r.off, r.data.size(), buf.data());
      if (!rr.ok()) {
        ADD_FAILURE() << rr.status();
        continue;
      }
      buf.resize(rr->count);
      size_t at = 0;
      while (at < buf.size() && at < r.data.size() && buf[at] == r.data[at]) {
        ++at;
      }
      EXPECT_TRUE(buf == r.data)
          << when << ": " << name << " @" << r.off << " len "
          << r.data.size() << ": read " << buf.size()
          << " bytes, first difference at +" << at;
    }
  }
}

// Removes every name in the root (the store holds only files there) and
// expects no space left in use: nothing leaked.
void ExpectNothingLeaks(ExtentStore* st, const std::string& when) {
  auto page = st->ReadDir(kRootInode, 0, 1000, false);
  ASSERT_TRUE(page.ok()) << page.status();
  for (const DirEntry& e : page->entries) {
    ASSERT_TRUE(st->Remove(kRootInode, e.name).ok()) << when << ": " << e.name;
  }
  auto l = st->ListSnapshots(0);
  ASSERT_TRUE(l.ok());
  for (const SnapshotInfo& i : *l) {
    ASSERT_TRUE(st->DeleteSnapshot(i.id).ok());
  }
  auto sp = st->GetStoreSpace();
  ASSERT_TRUE(sp.ok());
  EXPECT_EQ(sp->used, 0u) << when << ": segments leaked";
  ExpectClean(st, when + ", everything removed");
}


class CrashTest : public ::testing::Test {
 protected:
  StoreOptions Options(FaultEnv* env) {
    StoreOptions o = SmallStore("crash", env, 3);
    return o;
  }

  // Opens a store with `o` and one empty file "f" (its inode in *ino).
  std::unique_ptr<ExtentStore> OpenWithFile(const StoreOptions& o, InodeId* ino) {
    auto s = ExtentStore::Open(o);
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return nullptr;
    auto f = (*s)->Create(kRootInode, "f", CreateRequest{});
    EXPECT_TRUE(f.ok()) << f.status();
    if (!f.ok()) return nullptr;
    *ino = f->attr.ino;
    return std::move(*s);
  }

  // Returns the number of I/O events the workload made (when not crashed).
  uint64_t RunOnce(uint32_t seed, int ops, uint64_t crash_after,
                   bool whole_segments = false, bool small_files = false) {
    std::unique_ptr<Env> mem = NewMemEnv();
    FaultEnv env(mem.get());
    StoreOptions o = Options(&env);
    Durable d;
    uint64_t events;
    {
      auto s = ExtentStore::Open(o);
      EXPECT_TRUE(s.ok()) << s.status();
      if (!s.ok()) return 0;
      uint64_t start = env.io_events();
      if (crash_after) env.CrashAfter(crash_after);
      Workload w(s->get(), seed, whole_segments, small_files);
      w.Run(ops, &d);
      events = env.io_events() - start;
    }
    EXPECT_TRUE(env.Reboot().ok());
    auto s = ExtentStore::Open(o);
    EXPECT_TRUE(s.ok()) << "reopen after crash at " << crash_after << ": "
                        << s.status();
    if (!s.ok()) return events;
    ExtentStore* st = s->get();
    const std::string when = "crash at event " + std::to_string(crash_after);
    ExpectClean(st, when);
    ExpectDurable(st, d, when);
    // The store keeps working after recovery.
    auto c = st->Create(kRootInode, "after-crash", CreateRequest{});
    EXPECT_TRUE(c.ok()) << c.status();
    return events;
  }
};

TEST_F(CrashTest, PowerLossAtManyPoints) {
  constexpr uint32_t kSeed = 42;
  constexpr int kOps = 120;
  uint64_t total = RunOnce(kSeed, kOps, 0);
  ASSERT_GT(total, 50u);
  // Every point for the first events, then a spread over the rest.
  uint64_t step = std::max<uint64_t>(1, total / 60);
  int points = 0;
  for (uint64_t k = 1; k <= total; k += (k < 20 ? 1 : step)) {
    RunOnce(kSeed, kOps, k);
    ++points;
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(points, 50);
}

// The same workload with whole-segment writes: most writes of new data
// (fresh files, copy-on-write of clones and snapshots) claim their segments,
// write without the store mutex and map them afterwards.
TEST_F(CrashTest, PowerLossAtManyPointsWithWholeSegmentWrites) {
  constexpr uint32_t kSeed = 5;
  constexpr int kOps = 120;
  const uint64_t total = RunOnce(kSeed, kOps, 0, true);
  ASSERT_GT(total, 50u);
  int points = 0;
  for (uint64_t k = 1; k <= total;
       k += std::max<uint64_t>(1, k < 20 ? 1 : total / 50)) {
    RunOnce(kSeed, kOps, k, true);
    ++points;
    if (HasFailure()) return;
  }
  EXPECT_GT(points, 40);
}

// Small files: most writes go into inode records (inline data), some grow
// a file past the limit and move its bytes to a segment in the same batch,
// truncates take files back below it.
TEST_F(CrashTest, PowerLossAtManyPointsWithSmallFiles) {
  constexpr uint32_t kSeed = 11;
  constexpr int kOps = 150;
  const uint64_t total = RunOnce(kSeed, kOps, 0, false, true);
  ASSERT_GT(total, 50u);
  int points = 0;
  for (uint64_t k = 1; k <= total;
       k += std::max<uint64_t>(1, k < 20 ? 1 : total / 50)) {
    RunOnce(kSeed, kOps, k, false, true);
    ++points;
    if (HasFailure()) return;
  }
  EXPECT_GT(points, 40);
}

TEST_F(CrashTest, OtherSeeds) {
  for (uint32_t seed : {7u, 99u}) {
    uint64_t total = RunOnce(seed, 80, 0);
    for (uint64_t k = 3; k <= total; k += std::max<uint64_t>(1, total / 15)) {
      RunOnce(seed, 80, k);
    }
  }
}

// Injected member errors (no crash): the call fails, the store stays
// consistent and usable.
TEST_F(CrashTest, InjectedMemberErrorsKeepStoreConsistent) {
  std::unique_ptr<Env> mem = NewMemEnv();
  FaultEnv env(mem.get());
  const StoreOptions o = Options(&env);
  InodeId ino = 0;
  std::unique_ptr<ExtentStore> s = OpenWithFile(o, &ino);
  ASSERT_NE(s, nullptr);
  ExtentStore* st = s.get();
  std::string data(4 * kSeg, 'x');
  ASSERT_TRUE(st->Write(ino, 0, data, Stability::kFileSync).ok());
  auto used = st->GetStoreSpace()->used;
  ASSERT_TRUE(st->CloneFile(ino, kRootInode, "g", false).ok());
  // ENOSPC from the member file system in the middle of a COW write.
  env.FailWriteAfter(2, ENOSPC);
  auto w = st->Write(ino, 0, std::string(4 * kSeg, 'y'), Stability::kFileSync);
  EXPECT_EQ(ErrnoOf(w.status()), ENOSPC);
  // A torn write.
  env.ShortWriteAfter(1);
  EXPECT_EQ(ErrnoOf(st->Write(ino, 10, "zzzz", Stability::kFileSync).status()),
            EIO);
  // A failed sync.
  env.FailSyncAfter(1);
  EXPECT_FALSE(st->Write(ino, 5 * kSeg, "q", Stability::kFileSync).ok());
  env.ClearFaults();
  auto r = st->Fsck();
  ASSERT_TRUE(r.ok());
  std::string all;
  for (auto& p : r->problems) all += p + "\n";
  EXPECT_TRUE(r->clean) << all;
  s.reset();
  // Reopen: consistent, and the clone still has the original data.
  auto s2 = ExtentStore::Open(o);
  ASSERT_TRUE(s2.ok()) << s2.status();
  auto g = (*s2)->Lookup(kRootInode, "g");
  ASSERT_TRUE(g.ok());
  std::string buf(4 * kSeg, '?');
  ASSERT_TRUE((*s2)->Read(g->ino, 0, buf.size(), buf.data()).ok());
  EXPECT_EQ(buf, data);
  auto r2 = (*s2)->Fsck();
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(r2->clean);
  EXPECT_GE((*s2)->GetStoreSpace()->used, used);
}

// A COMMIT whose member sync fails may have lost acknowledged unstable data
// (a failed write-back, or a write-behind write that failed): it fails, and
// the write verifier changes, so clients resend what they had not seen
// committed instead of trusting a later COMMIT that succeeds.
TEST_F(CrashTest, FailedCommitChangesTheWriteVerifier) {
  std::unique_ptr<Env> mem = NewMemEnv();
  FaultEnv env(mem.get());
  InodeId ino = 0;
  std::unique_ptr<ExtentStore> s = OpenWithFile(Options(&env), &ino);
  ASSERT_NE(s, nullptr);
  ExtentStore* st = s.get();
  ASSERT_TRUE(st->Write(ino, 0, std::string(kSeg, 'a'), Stability::kFileSync).ok());
  const uint64_t verf = st->write_verifier();
  // An unstable overwrite in place: owed a member sync by the next COMMIT.
  ASSERT_TRUE(st->Write(ino, 0, std::string(4096, 'b'), Stability::kUnstable).ok());
  env.FailSyncAfter(1);  // the member's
  EXPECT_FALSE(st->Commit(ino).ok());
  env.ClearFaults();
  EXPECT_NE(st->write_verifier(), verf);
  // The store goes on: the next COMMIT succeeds under the new verifier.
  const uint64_t now = st->write_verifier();
  EXPECT_TRUE(st->Commit(ino).ok());
  EXPECT_EQ(st->write_verifier(), now);
  // The same when the failed sync is another file's stable write's: the
  // unstable data it may have lost is not reported to a later COMMIT.
  auto g = st->Create(kRootInode, "g", CreateRequest{});
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(st->Write(ino, 0, std::string(4096, 'c'), Stability::kUnstable).ok());
  const uint64_t before = st->write_verifier();
  env.FailSyncAfter(1);
  EXPECT_FALSE(st->Write(g->attr.ino, 0, std::string(kSeg, 'g'), Stability::kFileSync).ok());
  env.ClearFaults();
  EXPECT_NE(st->write_verifier(), before);
}

// A stable overwrite of data an unstable write placed (not yet committed) is
// durable only if the mapping it writes through is: the overwrite must make
// that mapping durable too, or a power loss takes its data with it.
TEST_F(CrashTest, StableOverwriteOfUncommittedDataSurvivesPowerLoss) {
  std::unique_ptr<Env> mem = NewMemEnv();
  FaultEnv env(mem.get());
  StoreOptions o = Options(&env);
  InodeId ino;
  {
    auto s = ExtentStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    ExtentStore* st = s->get();
    auto f = st->Create(kRootInode, "f", CreateRequest{});
    ASSERT_TRUE(f.ok());
    ino = f->attr.ino;
    ASSERT_TRUE(
        st->Write(ino, 0, std::string(2 * kSeg, 'u'), Stability::kUnstable)
            .ok());
    ASSERT_TRUE(
        st->Write(ino, 0, std::string(kSeg, 'S'), Stability::kFileSync).ok());
    env.CrashAfter(1);
    st->Write(ino, 2 * kSeg, "x", Stability::kUnstable).IgnoreError();
    ASSERT_TRUE(env.crashed());
  }
  ASSERT_TRUE(env.Reboot().ok());
  auto s = ExtentStore::Open(o);
  ASSERT_TRUE(s.ok()) << s.status();
  std::string buf(kSeg, '?');
  auto r = (*s)->Read(ino, 0, kSeg, buf.data());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->count, kSeg);
  EXPECT_EQ(buf, std::string(kSeg, 'S'));
  auto fs = (*s)->Fsck();
  ASSERT_TRUE(fs.ok());
  EXPECT_TRUE(fs->clean);
}

// Inline data is durable with its batch: a stable write, an unstable one
// and its COMMIT, and a stable write that moves the bytes to a segment,
// each followed at once by power loss.
TEST_F(CrashTest, StableAndCommittedInlineWritesSurvivePowerLoss) {
  const std::string head(3000, 'h');
  for (int step = 0; step < 3; ++step) {
    SCOPED_TRACE(step);
    std::unique_ptr<Env> mem = NewMemEnv();
    FaultEnv env(mem.get());
    StoreOptions o = Options(&env);
    InodeId ino;
    std::string want;
    {
      auto s = OpenWithFile(o, &ino);
      ASSERT_TRUE(s);
      if (step == 0) {
        ASSERT_TRUE(s->Write(ino, 0, head, Stability::kFileSync).ok());
        want = head;
      } else if (step == 1) {
        ASSERT_TRUE(s->Write(ino, 0, head, Stability::kUnstable).ok());
        ASSERT_TRUE(s->Commit(ino).ok());
        want = head;
      } else {
        ASSERT_TRUE(s->Write(ino, 0, head, Stability::kUnstable).ok());
        ASSERT_TRUE(s->Write(ino, 5000, "tail", Stability::kFileSync).ok());
        want = head + std::string(2000, '\0') + "tail";
      }
      env.CrashAfter(1);
      s->Write(ino, 0, "lost", Stability::kUnstable).IgnoreError();
      s->Create(kRootInode, "g", CreateRequest{}).IgnoreError();
      EXPECT_TRUE(env.crashed());
    }
    ASSERT_TRUE(env.Reboot().ok());
    auto s = ExtentStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    std::string buf(want.size() + 10, '?');
    auto r = (*s)->Read(ino, 0, static_cast<uint32_t>(buf.size()), buf.data());
    ASSERT_TRUE(r.ok()) << r.status();
    buf.resize(r->count);
    EXPECT_EQ(buf, want);
    ExpectClean(s->get(), "after power loss");
  }
}

// kill -9 found a clone showing its source's later write: the clone's own
// (unstable) copy-on-write made the source's segment unique in memory, the
// source overwrote it in place, and the crash took the copy-on-write away.
// In place is allowed only once the unsharing is durable.
TEST_F(CrashTest, SourceOverwriteAfterUndurableCopyOnWriteKeepsTheClone) {
  std::unique_ptr<Env> mem = NewMemEnv();
  FaultEnv env(mem.get());
  StoreOptions o = Options(&env);
  InodeId clone_ino;
  const std::string orig(2 * kSeg, 'o');
  {
    auto s = ExtentStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    ExtentStore* st = s->get();
    auto f = st->Create(kRootInode, "src", CreateRequest{});
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(st->Write(f->attr.ino, 0, orig, Stability::kFileSync).ok());
    auto c = st->CloneFile(f->attr.ino, kRootInode, "clone", false);
    ASSERT_TRUE(c.ok()) << c.status();
    clone_ino = c->attr.ino;
    // The clone copies segment 0 (unstable: not durable yet) ...
    ASSERT_TRUE(st->Write(clone_ino, 0, std::string(kSeg, 'c'),
                          Stability::kUnstable)
                    .ok());
    // ... and the source overwrites its segment 0, stable.
    ASSERT_TRUE(st->Write(f->attr.ino, 0, std::string(kSeg, 'S'),
                          Stability::kFileSync)
                    .ok());
    env.CrashAfter(1);
    st->Write(f->attr.ino, kSeg, "x", Stability::kUnstable).IgnoreError();
    ASSERT_TRUE(env.crashed());
  }
  ASSERT_TRUE(env.Reboot().ok());
  auto s = ExtentStore::Open(o);
  ASSERT_TRUE(s.ok()) << s.status();
  std::string buf(kSeg, '?');
  ASSERT_TRUE((*s)->Read(clone_ino, 0, kSeg, buf.data()).ok());
  // The clone shows its own (unstable) write or the original, never the
  // source's later bytes.
  EXPECT_TRUE(buf == std::string(kSeg, 'c') || buf == std::string(kSeg, 'o'))
      << "clone block 0 starts with '" << buf[0] << "'";
  auto src = (*s)->Lookup(kRootInode, "src");
  ASSERT_TRUE(src.ok());
  ASSERT_TRUE((*s)->Read(src->ino, 0, kSeg, buf.data()).ok());
  EXPECT_EQ(buf, std::string(kSeg, 'S'));  // acknowledged FILE_SYNC
  auto fs = (*s)->Fsck();
  ASSERT_TRUE(fs.ok());
  EXPECT_TRUE(fs->clean);
}

// Power loss while writes of new data are held between the claim of their
// segments and their mapping (GateEnv stops their member write before or
// after it reaches the file) and other files' batches and COMMITs are
// persisted meanwhile: those batches carry bitmap chunks in which the
// claimed segments are free. The held write covers two segments shared with
// a clone (copy-on-write) and two holes. After the reboot: Fsck clean; all
// acknowledged data there; every segment of the held range shows the old
// data or the held write's (never other bytes), the new one if the write
// was acknowledged durable; the clone is unchanged; the accounting agrees
// with the files, and removing everything leaves no segment in use.
class HeldFreshWrite {
 public:
  static constexpr char kMark = 'H';
  HeldFreshWrite(bool after_write, Stability stability)
      : after_write_(after_write), stability_(stability) {}

  // Returns the I/O events the other files' operations made while the write
  // was held (none crashed), so the caller can crash at each of them.
  uint64_t Run(uint64_t crash_after) {
    std::unique_ptr<Env> mem = NewMemEnv();
    FaultEnv fault(mem.get());
    GateEnv gate(&fault);
    StoreOptions o = SmallStore("crash-held", &gate, 3);
    const std::string when =
        std::string(after_write_ ? "held after its data write"
                                 : "held before its data write") +
        (stability_ == Stability::kUnstable ? ", unstable" : ", stable") +
        ", crash at event " + std::to_string(crash_after);
    SCOPED_TRACE(when);
    const std::string old_data(2 * kSeg, 'o');
    const std::string held_data = HeldData();
    Durable d;
    uint64_t events = 0;
    bool held_acked = false;  // acknowledged durable
    {
      auto so = ExtentStore::Open(o);
      EXPECT_TRUE(so.ok()) << so.status();
      if (!so.ok()) return 0;
      ExtentStore* st = so->get();
      auto held = st->Create(kRootInode, "held", CreateRequest{});
      EXPECT_TRUE(held.ok());
      if (!held.ok()) return 0;
      const InodeId ino = held->attr.ino;
      EXPECT_TRUE(st->Write(ino, 0, old_data, Stability::kFileSync).ok());
      EXPECT_TRUE(st->CloneFile(ino, kRootInode, "clone", false).ok());
      for (const char* name : {"other", "victim"}) {
        auto c = st->Create(kRootInode, name, CreateRequest{});
        EXPECT_TRUE(c.ok());
        if (!c.ok()) return 0;
        EXPECT_TRUE(st->Write(c->attr.ino, 0, std::string(3 * kSeg, 'v'),
                              Stability::kFileSync)
                        .ok());
      }
      d.must_exist = {"held", "clone", "other"};
      EXPECT_TRUE(st->Commit(ino).ok());

      gate.Close(kMark, after_write_);
      absl::Status held_status;
      const uint64_t verf = st->write_verifier();
      std::thread writer([&] {
        held_status = st->Write(ino, 0, held_data, stability_).status();
      });
      gate.AwaitHeld(1);
      const uint64_t start = fault.io_events();
      if (crash_after) fault.CrashAfter(crash_after);
      absl::Notification others_done;
      std::thread others([&] {
        OtherFiles(st, &d);
        others_done.Notify();
      });
      // After a failed batch the store rolls back, which waits for the held
      // write's data I/O: let it go once the power is off.
      while (!others_done.WaitForNotificationWithTimeout(
                 absl::Milliseconds(1)) &&
             !fault.crashed()) {
      }
      gate.Open();
      others.join();
      writer.join();
      events = fault.io_events() - start;
      if (held_status.ok()) {
        held_acked = stability_ != Stability::kUnstable ||
                     (st->Commit(ino).ok() && st->write_verifier() == verf);
      }
      if (!fault.crashed()) {
        // Alive: the in-memory accounting agrees with the files already.
        ExpectSpaceMatchesFiles(st, "before the reboot");
        ExpectClean(st, "before the reboot");
        fault.CrashAfter(1);  // then the power fails at the next event
      }
    }
    EXPECT_TRUE(fault.Reboot().ok());
    auto so = ExtentStore::Open(o);
    EXPECT_TRUE(so.ok()) << so.status();
    if (!so.ok()) return events;
    ExtentStore* st = so->get();
    ExpectClean(st, when);
    ExpectDurable(st, d, when);
    auto clone = st->Lookup(kRootInode, "clone");
    EXPECT_TRUE(clone.ok());
    if (clone.ok()) {
      EXPECT_EQ(ReadBytes(st, clone->ino, 0, 4 * kSeg), old_data);
    }
    auto held = st->Lookup(kRootInode, "held");
    EXPECT_TRUE(held.ok());
    if (held.ok()) {
      const std::string got = ReadBytes(st, held->ino, 0, 4 * kSeg);
      for (uint32_t k = 0; k < 4; ++k) {
        const std::string now =
            k * kSeg < got.size() ? got.substr(k * kSeg, kSeg) : "";
        const std::string fresh = held_data.substr(k * kSeg, kSeg);
        // Before: 'o' in segments 0-1; 2-3 were past EOF (a shorter file)
        // or holes.
        const bool old = k < 2 ? now == std::string(kSeg, 'o')
                               : now.empty() || now == std::string(kSeg, '\0');
        EXPECT_TRUE(now == fresh || (!held_acked && old))
            << "held segment " << k << " starts with '"
            << (now.empty() ? ' ' : now[0]) << "', "
            << (held_acked ? "acknowledged" : "not acknowledged");
      }
    }
    ExpectSpaceMatchesFiles(st, "after the reboot");
    ExpectNothingLeaks(st, when);
    return events;
  }

 private:
  // Every segment starts with kMark (each member run starts at a segment).
  static std::string HeldData() {
    std::string data(4 * kSeg, '\0');
    for (size_t i = 0; i < data.size(); ++i) {
      data[i] = i % kSeg == 0 ? kMark : static_cast<char>('a' + i / kSeg);
    }
    return data;
  }

  // Batches and COMMITs of other files while the write is held: writes of
  // new data (claims of their own), partial and in-place writes, a create,
  // a remove, unstable writes made durable by COMMIT. No clone or snapshot:
  // they wait for the held write's data I/O.
  static void OtherFiles(ExtentStore* st, Durable* d) {
    auto other = st->Lookup(kRootInode, "other");
    if (!other.ok()) return;
    const InodeId o = other->ino;
    auto write = [&](const std::string& f, InodeId ino, uint64_t off,
                     std::string data, Stability s) {
      d->Touch(f, off, data.size());
      const uint64_t verf = st->write_verifier();
      if (st->Write(ino, off, data, s).ok()) {
        (s == Stability::kUnstable ? d->pending : d->recs)[f].push_back(
            {off, data, verf});
      }
    };
    auto commit = [&](InodeId ino) {
      if (st->Commit(ino).ok()) d->Committed(st->write_verifier());
    };
    write("other", o, 3 * kSeg, std::string(2 * kSeg, 'A'),
          Stability::kFileSync);
    write("other", o, 5000, std::string(100, 'B'), Stability::kFileSync);
    if (st->Create(kRootInode, "n1", CreateRequest{}).ok()) {
      d->must_exist.insert("n1");
    }
    write("other", o, 6 * kSeg, std::string(3 * kSeg, 'C'),
          Stability::kUnstable);
    commit(o);
    d->Drop("victim");
    st->Remove(kRootInode, "victim").IgnoreError();  // checked by fsck
    write("other", o, 0, std::string(kSeg, 'D'), Stability::kFileSync);
    auto n1 = st->Lookup(kRootInode, "n1");
    if (n1.ok()) {
      write("n1", n1->ino, 0, std::string(2 * kSeg, 'E'), Stability::kUnstable);
      write("n1", n1->ino, 2 * kSeg, std::string(kSeg, 'F'),
            Stability::kFileSync);
      commit(n1->ino);
    }
  }

  // GetStoreSpace().used is what the files map: without snapshots, every
  // mapped segment is unique to one file or shared by the two clones.
  static void ExpectSpaceMatchesFiles(ExtentStore* st,
                                      const std::string& when) {
    auto page = st->ReadDir(kRootInode, 0, 1000, false);
    ASSERT_TRUE(page.ok());
    uint64_t unique = 0, shared = 0;
    for (const DirEntry& e : page->entries) {
      auto sp = st->Space(e.ino);
      ASSERT_TRUE(sp.ok());
      unique += sp->unique;
      shared += sp->shared;
    }
    auto all = st->GetStoreSpace();
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->used, unique + shared / 2) << when;
  }

  const bool after_write_;
  const Stability stability_;
};

TEST_F(CrashTest, PowerLossWhileNewDataIsBetweenClaimAndMapping) {
  for (bool after_write : {false, true}) {
    for (Stability st : {Stability::kUnstable, Stability::kFileSync}) {
      HeldFreshWrite h(after_write, st);
      const uint64_t total = h.Run(0);
      ASSERT_GT(total, 10u);
      for (uint64_t k = 1; k <= total + 1; ++k) {
        h.Run(k);
        if (HasFailure()) return;
      }
    }
  }
}


// Segments freed by an unstable change that RocksDB holds but has not
// synced stay quarantined across a rollback: another change's batch fails
// (the metadata file system is full), the store reloads its mirrors (whose
// bitmap shows the segment free), and another file writes new data, whose
// member sync runs before the metadata log is synced. A power loss then
// takes the unstable change back, and with it the old mapping to the
// segment. (The reload rebuilt the allocator with nothing quarantined, so
// the other file got the segment: file a read file b's bytes after the
// reboot.)
TEST_F(CrashTest, FreesOfUnsyncedChangesStayQuarantinedAcrossARollback) {
  for (uint64_t k = 1; k <= 12; ++k) {
    SCOPED_TRACE("crash at event " + std::to_string(k));
    std::unique_ptr<Env> mem = NewMemEnv();
    FaultEnv fault(mem.get());
    StoreOptions o = SmallStore("reload-quarantine", &fault, 1);
    InodeId a_ino;
    {
      auto so = ExtentStore::Open(o);
      ASSERT_TRUE(so.ok()) << so.status();
      ExtentStore* st = so->get();
      auto a = st->Create(kRootInode, "a", CreateRequest{});
      auto b = st->Create(kRootInode, "b", CreateRequest{});
      ASSERT_TRUE(a.ok() && b.ok());
      a_ino = a->attr.ino;
      ASSERT_TRUE(
          st->Write(a_ino, 0, std::string(kSeg, 'a'), Stability::kFileSync)
              .ok());
      auto a2 = st->CloneFile(a_ino, kRootInode, "a2", false);
      ASSERT_TRUE(a2.ok()) << a2.status();
      ASSERT_TRUE(st->Commit(a_ino).ok());
      // The clone copies segment 0 (unstable), so a owns its segment alone
      // but not durably: a's next write copies too, and its unstable batch
      // frees a's old segment.
      ASSERT_TRUE(st->Write(a2->attr.ino, 0, std::string(kSeg, 'c'),
                            Stability::kUnstable)
                      .ok());
      ASSERT_TRUE(
          st->Write(a_ino, 0, std::string(kSeg, 'n'), Stability::kUnstable)
              .ok());
      auto fs = st->Fsck();  // waits until every batch is written
      ASSERT_TRUE(fs.ok() && fs->clean);
      fault.RefuseMetadataAppends(true);  // the store rolls back
      EXPECT_EQ(ErrnoOf(st->Create(kRootInode, "x", CreateRequest{}).status()),
                ENOSPC);
      fault.RefuseMetadataAppends(false);
      fault.CrashAfter(k);
      st->Write(b->attr.ino, 0, std::string(kSeg, 'b'), Stability::kFileSync)
          .IgnoreError();  // the power fails somewhere in it, or after
      if (!fault.crashed()) fault.CrashAfter(1);
    }
    ASSERT_TRUE(fault.Reboot().ok());
    auto so = ExtentStore::Open(o);
    ASSERT_TRUE(so.ok()) << so.status();
    const std::string got = ReadBytes(so->get(), a_ino, 0, kSeg);
    EXPECT_TRUE(got == std::string(kSeg, 'a') || got == std::string(kSeg, 'n'))
        << "file a shows '" << (got.empty() ? ' ' : got[0]) << "'";
    ExpectClean(so->get(), "after the reboot");
    if (HasFailure()) return;
  }
}

// An unstable write of new data into a segment a deleted file left behind:
// even when the kernel writes the metadata log back before the data (the
// power then fails), the file never shows the deleted file's bytes (its
// data is synced before its batch is written at all).
TEST_F(CrashTest, UnstableWriteIntoAReusedSegmentNeverShowsTheOldOwnersBytes) {
  for (uint64_t k = 1; k <= 8; ++k) {
    SCOPED_TRACE("crash at event " + std::to_string(k));
    std::unique_ptr<Env> mem = NewMemEnv();
    FaultEnv fault(mem.get());
    StoreOptions o = SmallStore("reuse-unstable", &fault, 1);
    InodeId b_ino = 0;
    {
      auto so = ExtentStore::Open(o);
      ASSERT_TRUE(so.ok()) << so.status();
      ExtentStore* st = so->get();
      auto a = st->Create(kRootInode, "a", CreateRequest{});
      ASSERT_TRUE(a.ok());
      ASSERT_TRUE(st->Write(a->attr.ino, 0, std::string(kSeg, 'A'),
                            Stability::kFileSync)
                      .ok());
      ASSERT_TRUE(st->Remove(kRootInode, "a").ok());  // durable: reusable
      auto b = st->Create(kRootInode, "b", CreateRequest{});
      ASSERT_TRUE(b.ok());
      b_ino = b->attr.ino;
      fault.CrashAfter(k);
      st->Write(b_ino, 0, std::string(kSeg, 'B'), Stability::kUnstable)
          .IgnoreError();
      auto fs = st->Fsck();  // waits until every batch is written
      (void)fs;
      if (!fault.crashed()) fault.CrashAfter(1);
    }
    ASSERT_TRUE(fault.Reboot(/*keep_unsynced_metadata=*/true).ok());
    auto so = ExtentStore::Open(o);
    ASSERT_TRUE(so.ok()) << so.status();
    auto attr = (*so)->GetAttr(b_ino);
    ASSERT_TRUE(attr.ok()) << attr.status();
    const std::string got = ReadBytes(so->get(), b_ino, 0, kSeg);
    EXPECT_EQ(got.find('A'), std::string::npos)
        << "file b shows the deleted file's bytes (size " << attr->size << ")";
    ExpectClean(so->get(), "after the reboot");
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace vnas::storage
