// model_test.cc — long seeded random sequences of write / clone / snapshot /
// restore / linked clone / truncate / punch / rename / remove against a
// simple in-memory model; contents compared after every few steps, Fsck and
// reopen at intervals, and at the end everything is deleted and the store
// must hold no space at all.
#include <errno.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "storage/base/status_util.h"
#include "storage/env/mem_env.h"
#include "storage/extent_store.h"
#include "storage/store_testutil.h"

namespace vnas::storage {
namespace {

constexpr uint32_t kSeg = 4096;
constexpr uint64_t kMaxSize = 1200 * kSeg;  // > 4 leaves of 256 segments
// Seeds from kSmallSeeds on keep files within a few KiB, so they go inline
// (StoreOptions::inline_max, 4 KiB here), move to segments and come back.
constexpr uint32_t kSmallSeeds = 100;

struct FileM {
  InodeId ino = 0;
  std::string data;
};
using DirM = std::map<std::string, FileM>;

struct SnapM {
  bool dir = false;
  InodeId source = 0;
  std::string data;  // file snapshot
  DirM tree;         // dir snapshot (inos unused)
};

class ModelTest : public ::testing::TestWithParam<uint32_t> {
 protected:
  void SetUp() override {
    env_ = NewMemEnv();
    const char* base = std::getenv("TEST_TMPDIR");
    opts_.dir = std::string(base ? base : "/tmp") + "/model-" +
                std::to_string(GetParam()) + "-" + std::to_string(::getpid());
    opts_.env = env_.get();
    opts_.segment_size = kSeg;
    opts_.num_members = 3;
    opts_.capacity = uint64_t{1} << 30;
    Reopen();
  }
  void Reopen() { ReopenStore(opts_, &s_); }
  void CheckFsck(int step) {
    auto f = s_->Fsck();
    ASSERT_TRUE(f.ok()) << f.status();
    std::string all;
    for (auto& p : f->problems) all += p + "\n";
    ASSERT_TRUE(f->clean) << "step " << step << "\n" << all;
  }
  void CheckFile(const std::string& where, const FileM& f) {
    auto a = s_->GetAttr(f.ino);
    ASSERT_TRUE(a.ok()) << where << ": " << a.status();
    ASSERT_EQ(a->size, f.data.size()) << where;
    std::string buf(f.data.size() + 10, '?');
    auto r = s_->Read(f.ino, 0, buf.size(), buf.data());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->eof);
    buf.resize(r->count);
    ASSERT_TRUE(buf == f.data) << where << " differs";
    auto sp = s_->Space(f.ino);
    ASSERT_TRUE(sp.ok());
    EXPECT_EQ(sp->allocated, a->allocated);
    EXPECT_EQ(sp->unique + sp->shared, sp->allocated);
    EXPECT_LE(sp->allocated, (f.data.size() + kSeg - 1) / kSeg * kSeg);
  }
  void CheckAll(int step) {
    for (auto& [dname, d] : dirs_) {
      for (auto& [name, f] : d) {
        CheckFile("step " + std::to_string(step) + " " + dname + "/" + name,
                  f);
        if (HasFatalFailure()) return;
      }
    }
  }
  InodeId DirIno(const std::string& d) {
    auto a = s_->Lookup(kRootInode, d);
    EXPECT_TRUE(a.ok()) << d;
    return a.ok() ? a->ino : 0;
  }
  std::string RandomData(std::mt19937& rng, size_t n) {
    std::string s(n, '\0');
    int kind = rng() % 4;
    if (kind == 0) return s;  // zeros: allocate nothing
    char c = static_cast<char>(rng());
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(c + i * 7 + (i >> 9));
    return s;
  }
  // Re-reads the inode numbers of a directory after a restore or clone.
  void RefreshInos(const std::string& dname) {
    InodeId d = DirIno(dname);
    for (auto& [name, f] : dirs_[dname]) {
      auto a = s_->Lookup(d, name);
      ASSERT_TRUE(a.ok()) << dname << "/" << name << ": " << a.status();
      f.ino = a->ino;
    }
  }

  std::unique_ptr<Env> env_;
  StoreOptions opts_;
  std::unique_ptr<ExtentStore> s_;
  std::map<std::string, DirM> dirs_;
  std::map<uint64_t, SnapM> snaps_;
};

TEST_P(ModelTest, RandomOperationsMatchTheModel) {
  std::mt19937 rng(GetParam());
  ASSERT_TRUE(s_->Mkdir(kRootInode, "vm", 0755, 0, 0).ok());
  dirs_["vm"];
  const bool small = GetParam() >= kSmallSeeds;
  const uint64_t max_size = small ? 3 * kSeg : kMaxSize;
  int clones = 0;
  constexpr int kSteps = 1500;
  for (int step = 0; step < kSteps; ++step) {
    std::string dname;
    {
      auto it = dirs_.begin();
      std::advance(it, rng() % dirs_.size());
      dname = it->first;
    }
    DirM& dir = dirs_[dname];
    InodeId dino = DirIno(dname);
    std::string fname = "f" + std::to_string(rng() % 5);
    auto fit = dir.find(fname);
    const int op = rng() % 100;
    SCOPED_TRACE("step " + std::to_string(step) + " op " + std::to_string(op) +
                 " " + dname + "/" + fname);
    if (fit == dir.end()) {  // create
      auto r = s_->Create(dino, fname, CreateRequest{});
      ASSERT_TRUE(r.ok()) << r.status();
      dir[fname] = FileM{r->attr.ino, ""};
      continue;
    }
    FileM& f = fit->second;
    if (op < 35) {  // write
      uint64_t off = rng() % max_size;
      if (rng() % 3 == 0) off = off / kSeg * kSeg;
      size_t len = 1 + rng() % (small               ? 5000
                                : rng() % 4 == 0 ? 40 * kSeg
                                                 : 3 * kSeg);
      if (off + len > max_size) len = max_size - off;
      std::string data = RandomData(rng, len);
      auto st = rng() % 2 ? Stability::kFileSync : Stability::kUnstable;
      auto w = s_->Write(f.ino, off, data, st);
      ASSERT_TRUE(w.ok()) << w.status();
      if (f.data.size() < off + len) f.data.resize(off + len, '\0');
      f.data.replace(off, len, data);
    } else if (op < 45) {  // clone within the dir
      std::string to = "f" + std::to_string(rng() % 5);
      if (to == fname) continue;
      auto r = s_->CloneFile(f.ino, dino, to, false);
      ASSERT_TRUE(r.ok()) << r.status();
      FileM copy{r->attr.ino, dir[fname].data};
      dir[to] = copy;
    } else if (op < 52) {  // truncate
      uint64_t size = rng() % max_size;
      if (rng() % 2) size = size / kSeg * kSeg;
      SetAttrRequest q;
      q.size = size;
      ASSERT_TRUE(s_->SetAttr(f.ino, q).ok());
      f.data.resize(size, '\0');
    } else if (op < 58) {  // punch
      uint64_t off = rng() % max_size,
               len = rng() % (small ? 2 * kSeg : 20 * kSeg);
      ASSERT_TRUE(s_->PunchHole(f.ino, off, len).ok());
      if (off < f.data.size()) {
        uint64_t end = std::min<uint64_t>(off + len, f.data.size());
        std::fill(f.data.begin() + off, f.data.begin() + end, '\0');
      }
    } else if (op < 62) {  // remove
      ASSERT_TRUE(s_->Remove(dino, fname).ok());
      dir.erase(fit);
    } else if (op < 66) {  // rename (maybe across dirs, maybe replacing)
      auto it = dirs_.begin();
      std::advance(it, rng() % dirs_.size());
      std::string to = "f" + std::to_string(rng() % 5);
      if (it->first == dname && to == fname) continue;
      auto r = s_->Rename(dino, fname, DirIno(it->first), to);
      ASSERT_TRUE(r.ok()) << r.status();
      FileM moved = f;
      dir.erase(fname);
      it->second[to] = moved;
    } else if (op < 74) {  // snapshot a file or the directory
      SnapM sm;
      absl::StatusOr<SnapshotInfo> info;
      if (rng() % 2) {
        sm.source = f.ino;
        sm.data = f.data;
        info = s_->CreateSnapshot(f.ino, "s" + std::to_string(step));
      } else {
        sm.dir = true;
        sm.source = dino;
        sm.tree = dir;
        info = s_->CreateSnapshot(dino, "s" + std::to_string(step));
      }
      ASSERT_TRUE(info.ok()) << info.status();
      snaps_[info->id] = sm;
    } else if (op < 82 && !snaps_.empty()) {  // restore
      auto it = snaps_.begin();
      std::advance(it, rng() % snaps_.size());
      const SnapM& sm = it->second;
      absl::Status st = s_->RestoreSnapshot(it->first);
      if (sm.dir) {
        std::string which;
        for (auto& [n, d] : dirs_) {
          if (DirIno(n) == sm.source) which = n;
        }
        ASSERT_FALSE(which.empty());
        ASSERT_TRUE(st.ok()) << st;
        dirs_[which] = sm.tree;
        RefreshInos(which);
      } else {
        FileM* target = nullptr;
        for (auto& [n, d] : dirs_) {
          for (auto& [fn, fm] : d) {
            if (fm.ino == sm.source) target = &fm;
          }
        }
        if (!target) {
          EXPECT_EQ(ErrnoOf(st), ENOENT);
        } else {
          ASSERT_TRUE(st.ok()) << st;
          // Every name of that inode sees the restored data.
          for (auto& [n, d] : dirs_) {
            for (auto& [fn, fm] : d) {
              if (fm.ino == sm.source) fm.data = sm.data;
            }
          }
        }
      }
    } else if (op < 87 && !snaps_.empty()) {  // delete a snapshot
      auto it = snaps_.begin();
      std::advance(it, rng() % snaps_.size());
      ASSERT_TRUE(s_->DeleteSnapshot(it->first).ok());
      snaps_.erase(it);
    } else if (op < 90 && !snaps_.empty() && clones < 3) {  // linked clone
      auto it = snaps_.begin();
      std::advance(it, rng() % snaps_.size());
      if (!it->second.dir) continue;
      std::string name = "lc" + std::to_string(++clones);
      auto r = s_->CloneSnapshot(it->first, kRootInode, name);
      ASSERT_TRUE(r.ok()) << r.status();
      dirs_[name] = it->second.tree;
      RefreshInos(name);
    } else if (op < 93) {
      Reopen();
    } else {
      CheckAll(step);
    }
    if (HasFatalFailure()) return;
    if (step % 100 == 99) {
      CheckAll(step);
      CheckFsck(step);
      if (HasFatalFailure()) return;
    }
  }
  CheckAll(kSteps);
  CheckFsck(kSteps);
  // Tear everything down: the store must hold nothing afterwards.
  for (auto& [id, sm] : snaps_) ASSERT_TRUE(s_->DeleteSnapshot(id).ok());
  for (auto& [dname, d] : dirs_) {
    InodeId dino = DirIno(dname);
    for (auto& [name, f] : d) ASSERT_TRUE(s_->Remove(dino, name).ok());
    ASSERT_TRUE(s_->Rmdir(kRootInode, dname).ok());
  }
  auto sp = s_->GetStoreSpace();
  ASSERT_TRUE(sp.ok());
  EXPECT_EQ(sp->used, 0u);
  EXPECT_EQ(sp->files, 1u);  // the root
  CheckFsck(kSteps + 1);
  Reopen();
  EXPECT_EQ(s_->GetStoreSpace()->used, 0u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ModelTest,
                         ::testing::Values(1u, 2u, 3u, kSmallSeeds,
                                           kSmallSeeds + 1));

}  // namespace
}  // namespace vnas::storage
