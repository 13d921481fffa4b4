// space_test — the store on a full file system, through the public API:
//  * RocksDB write errors: a rocksdb::Env whose writable files fail Append
//    with NoSpace while armed (a full file system under meta/). The store
//    must answer ENOSPC (not EIO), not crash, keep serving reads, work
//    again once the condition clears (DB::Resume), and be Fsck-clean after
//    a reopen.
//  * The metadata reserve: data may not grow the member files so far that
//    less than StoreOptions.metadata_reserve stays free on the file system;
//    reserved ranges still take writes; freed segments are reused without
//    new file-system space.
// Members live in an in-memory Env wrapped to report a settable free space
// and to hand the store the injecting rocksdb::Env.
#include <errno.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "rocksdb/env.h"
#include "storage/base/status_util.h"
#include "storage/env/env.h"
#include "storage/env/mem_env.h"
#include "storage/extent_store.h"
#include "storage/store_testutil.h"

namespace vnas::storage {
namespace {

// Writable files whose Append fails NoSpace while *armed.
// `on_refuse`, when set, runs at each refusal (in the writing thread).
class NoSpaceFile final : public rocksdb::WritableFileWrapper {
 public:
  NoSpaceFile(std::unique_ptr<rocksdb::WritableFile> f,
              const std::atomic<bool>* armed,
              const std::function<void()>* on_refuse)
      : rocksdb::WritableFileWrapper(f.get()), own_(std::move(f)),
        armed_(armed), on_refuse_(on_refuse) {}
  rocksdb::Status Append(const rocksdb::Slice& data) override {
    if (armed_->load()) return Refuse();
    return rocksdb::WritableFileWrapper::Append(data);
  }
  rocksdb::Status Append(const rocksdb::Slice& data,
                         const rocksdb::DataVerificationInfo& info) override {
    if (armed_->load()) return Refuse();
    return rocksdb::WritableFileWrapper::Append(data, info);
  }

 private:
  rocksdb::Status Refuse() {
    if (*on_refuse_) (*on_refuse_)();
    return rocksdb::Status::NoSpace("injected ENOSPC");
  }
  std::unique_ptr<rocksdb::WritableFile> own_;
  const std::atomic<bool>* armed_;
  const std::function<void()>* on_refuse_;
};

class NoSpaceRocksEnv final : public rocksdb::EnvWrapper {
 public:
  NoSpaceRocksEnv() : rocksdb::EnvWrapper(rocksdb::Env::Default()) {}
  const char* Name() const override { return "NoSpaceRocksEnv"; }
  rocksdb::Status NewWritableFile(const std::string& f,
                                  std::unique_ptr<rocksdb::WritableFile>* r,
                                  const rocksdb::EnvOptions& o) override {
    std::unique_ptr<rocksdb::WritableFile> base;
    rocksdb::Status s = target()->NewWritableFile(f, &base, o);
    if (s.ok()) r->reset(new NoSpaceFile(std::move(base), &armed, &on_refuse));
    return s;
  }
  rocksdb::Status ReopenWritableFile(const std::string& f,
                                     std::unique_ptr<rocksdb::WritableFile>* r,
                                     const rocksdb::EnvOptions& o) override {
    std::unique_ptr<rocksdb::WritableFile> base;
    rocksdb::Status s = target()->ReopenWritableFile(f, &base, o);
    if (s.ok()) r->reset(new NoSpaceFile(std::move(base), &armed, &on_refuse));
    return s;
  }
  std::atomic<bool> armed{false};
  std::function<void()> on_refuse;  // set while no file is being written
};

// Members in memory; free space settable; metadata through NoSpaceRocksEnv.
class TestEnv final : public Env {
 public:
  absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                 bool create) override {
    return mem_->OpenFile(path, create);
  }
  bool FileExists(const std::string& path) override {
    return mem_->FileExists(path);
  }
  absl::Status CreateDirs(const std::string& path) override {
    return mem_->CreateDirs(path);
  }
  absl::StatusOr<uint64_t> FilesystemSize(const std::string&) override {
    return total;
  }
  absl::StatusOr<FsSpace> FilesystemSpace(const std::string&) override {
    return FsSpace{total, avail.load(), 7};
  }
  rocksdb::Env* rocksdb_env() override { return &rocks; }

  std::unique_ptr<Env> mem_ = NewMemEnv();
  NoSpaceRocksEnv rocks;
  uint64_t total = uint64_t{1} << 40;
  std::atomic<uint64_t> avail{uint64_t{1} << 40};
};

class SpaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    opts_.dir = TempDir("space");
    opts_.env = &env_;
    opts_.segment_size = 64 << 10;
    opts_.num_members = 2;
    opts_.capacity = uint64_t{1} << 30;
    Reopen();
  }
  void Reopen() { ReopenStore(opts_, &store_); }
  void ExpectClean(const std::string& when) {
    auto f = store_->Fsck();
    ASSERT_TRUE(f.ok()) << when << ": " << f.status();
    std::string all;
    for (auto& p : f->problems) all += p + "\n";
    EXPECT_TRUE(f->clean) << when << ":\n" << all;
  }
  std::string Read(InodeId ino, uint64_t off, uint32_t n) {
    return ReadBytes(store_.get(), ino, off, n);
  }

  TestEnv env_;
  StoreOptions opts_;
  std::unique_ptr<ExtentStore> store_;
};

TEST_F(SpaceTest, WalNoSpaceIsEnospcReadsWorkAndWritesResume) {
  auto a = store_->Create(kRootInode, "a", CreateRequest{});
  ASSERT_TRUE(a.ok()) << a.status();
  const InodeId ino = a->attr.ino;
  const std::string data(200 << 10, 'a');
  ASSERT_TRUE(store_->Write(ino, 0, data, Stability::kFileSync).ok());

  const uint64_t verifier = store_->write_verifier();
  env_.rocks.armed = true;  // the metadata file system is full
  for (int i = 0; i < 3; ++i) {
    auto b = store_->Create(kRootInode, "b", CreateRequest{});
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(ErrnoOf(b.status()), ENOSPC) << b.status();
    EXPECT_FALSE(HasDataLossTag(b.status())) << b.status();
  }
  auto w = store_->Write(ino, data.size(), std::string(128 << 10, 'b'),
                         Stability::kFileSync);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(ErrnoOf(w.status()), ENOSPC) << w.status();
  // An in-place overwrite needs no metadata write (its new mtime rides a
  // later batch): it still works while the metadata file system is full.
  auto w2 = store_->Write(ino, 0, std::string(4096, 'c'), Stability::kFileSync);
  EXPECT_TRUE(w2.ok()) << w2.status();
  const std::string expect = std::string(4096, 'c') + data.substr(4096);

  // Reads serve what RocksDB holds: the failed changes are not visible.
  auto attr = store_->GetAttr(ino);
  ASSERT_TRUE(attr.ok()) << attr.status();
  EXPECT_EQ(attr->size, data.size());
  auto look = store_->Lookup(kRootInode, "a");
  ASSERT_TRUE(look.ok()) << look.status();
  EXPECT_EQ(ErrnoOf(store_->Lookup(kRootInode, "b").status()), ENOENT);
  EXPECT_TRUE(Read(ino, 0, data.size()) == expect);
  ExpectClean("while the metadata file system is full");

  // Acknowledged unstable writes may have been lost with a failed batch:
  // clients see a new write verifier and resend.
  EXPECT_NE(store_->write_verifier(), verifier);

  env_.rocks.armed = false;  // space freed
  auto c = store_->Create(kRootInode, "c", CreateRequest{});
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string more(128 << 10, 'm');
  auto w3 = store_->Write(ino, data.size(), more, Stability::kFileSync);
  ASSERT_TRUE(w3.ok()) << w3.status();
  ASSERT_TRUE(store_->Write(c->attr.ino, 0, "hello", Stability::kUnstable).ok());
  ASSERT_TRUE(store_->Commit(c->attr.ino).ok());
  ExpectClean("after the condition cleared");

  Reopen();
  ExpectClean("after reopen");
  EXPECT_TRUE(Read(ino, 0, data.size() + more.size()) == expect + more);
  EXPECT_TRUE(store_->Lookup(kRootInode, "c").ok());
  EXPECT_EQ(Read(c->attr.ino, 0, 5), "hello");
  EXPECT_EQ(ErrnoOf(store_->Lookup(kRootInode, "b").status()), ENOENT);
}

TEST_F(SpaceTest, FreeSpaceIsWhatTheFileSystemCanStillHold) {
  // Capacity 1 GiB, but the file system has 12 MiB left, 4 of them kept for
  // metadata: FSSTAT must not promise more than 8 MiB.
  opts_.metadata_reserve = 4 << 20;
  env_.avail = 12 << 20;
  Reopen();
  auto sp = store_->GetStoreSpace();
  ASSERT_TRUE(sp.ok());
  EXPECT_EQ(sp->capacity, uint64_t{1} << 30);
  EXPECT_EQ(sp->free, uint64_t{8} << 20);
  // A file system with room to spare: the capacity bounds it.
  env_.avail = uint64_t{1} << 40;
  absl::SleepFor(absl::Milliseconds(150));  // past the statvfs cache
  sp = store_->GetStoreSpace();
  ASSERT_TRUE(sp.ok());
  EXPECT_EQ(sp->free, sp->capacity - sp->used - sp->reserved);
}

TEST_F(SpaceTest, MetadataReserveKeepsFreeSpaceAndReservationsHold) {
  opts_.metadata_reserve = 4 << 20;
  env_.avail = 12 << 20;  // 8 MiB above the reserve
  Reopen();
  const uint32_t seg = store_->segment_size();
  auto r = store_->Create(kRootInode, "reserved", CreateRequest{});
  ASSERT_TRUE(r.ok());
  // 2 MiB reserved: backed by the file system, so 6 MiB remain for data.
  ASSERT_TRUE(store_->Reserve(r->attr.ino, 2 << 20).ok());
  auto f = store_->Create(kRootInode, "filler", CreateRequest{});
  ASSERT_TRUE(f.ok());
  const std::string piece(seg, 'f');
  uint64_t written = 0;
  absl::Status st;
  for (int i = 0; i < 1000; ++i) {
    auto w = store_->Write(f->attr.ino, written, piece, Stability::kFileSync);
    if (!w.ok()) {
      st = w.status();
      break;
    }
    written += seg;
    // The file system fills as the members grow.
    env_.avail = env_.avail.load() - seg;
  }
  EXPECT_EQ(ErrnoOf(st), ENOSPC) << st;
  EXPECT_EQ(written, uint64_t{6} << 20);
  EXPECT_GE(env_.avail.load(), uint64_t{6} << 20);  // reserve + reservation

  // The reserved range still takes writes (2 MiB of new file space).
  const std::string rdata(2 << 20, 'r');
  auto rw = store_->Write(r->attr.ino, 0, rdata, Stability::kFileSync);
  ASSERT_TRUE(rw.ok()) << rw.status();
  env_.avail = env_.avail.load() - rdata.size();
  // Beyond it: refused.
  auto rw2 = store_->Write(r->attr.ino, rdata.size(), piece, Stability::kFileSync);
  EXPECT_EQ(ErrnoOf(rw2.status()), ENOSPC) << rw2.status();
  // Metadata operations still work (the reserve is for them).
  ASSERT_TRUE(store_->Create(kRootInode, "empty", CreateRequest{}).ok());

  // Freed segments are reused without new file-system space.
  ASSERT_TRUE(store_->Remove(kRootInode, "filler").ok());
  auto g = store_->Create(kRootInode, "again", CreateRequest{});
  ASSERT_TRUE(g.ok());
  const std::string again(4 << 20, 'g');
  auto gw = store_->Write(g->attr.ino, 0, again, Stability::kFileSync);
  ASSERT_TRUE(gw.ok()) << gw.status();
  EXPECT_TRUE(Read(g->attr.ino, 0, again.size()) == again);
  EXPECT_TRUE(Read(r->attr.ino, 0, rdata.size()) == rdata);
  ExpectClean("after filling to the reserve");
  Reopen();
  ExpectClean("after reopen");
  EXPECT_TRUE(Read(g->attr.ino, 0, again.size()) == again);
}

// A write of new data held between the claim of its segments and their
// mapping (GateEnv: before or after its data write) while another change's
// metadata batch fails (the metadata file system is full) and the store
// rolls its mirrors back: the held write fails or succeeds, never corrupts.
// Its claims went with the old mirrors; Fsck is clean, the accounting
// matches the files, the clone taken before is unchanged, the held range
// shows old or new data per segment (new if acknowledged stable, or
// unstable under an unchanged verifier), writes resume, and a reopened
// store agrees and frees everything when everything is removed.
TEST_F(SpaceTest, WriteOfNewDataRacingAFailedMetadataBatch) {
  constexpr uint32_t kSeg = 64 << 10;
  for (bool after_write : {false, true}) {
    for (Stability stability : {Stability::kUnstable, Stability::kFileSync}) {
      SCOPED_TRACE(std::string(after_write ? "held after" : "held before") +
                   " its data write, " +
                   (stability == Stability::kUnstable ? "unstable" : "stable"));
      GateEnv gate(&env_);
      store_.reset();
      opts_.dir = TempDir("space-held");
      opts_.env = &gate;
      Reopen();
      auto f = store_->Create(kRootInode, "f", CreateRequest{});
      ASSERT_TRUE(f.ok()) << f.status();
      const InodeId ino = f->attr.ino;
      const std::string old_data(2 * kSeg, 'o');
      ASSERT_TRUE(store_->Write(ino, 0, old_data, Stability::kFileSync).ok());
      auto c = store_->CloneFile(ino, kRootInode, "c", false);
      ASSERT_TRUE(c.ok()) << c.status();
      std::string held_data(4 * kSeg, 'h');
      for (uint32_t k = 0; k < 4; ++k) held_data[k * kSeg] = 'H';

      gate.Close('H', after_write);
      const uint64_t verf = store_->write_verifier();
      absl::StatusOr<WriteResult> held;
      std::thread writer(
          [&] { held = store_->Write(ino, 0, held_data, stability); });
      gate.AwaitHeld(1);
      // One refused metadata append; the rollback it causes waits for the
      // held write's data I/O, so the gate opens there.
      env_.rocks.on_refuse = [&] {
        env_.rocks.armed = false;
        gate.Open();
      };
      env_.rocks.armed = true;
      auto x = store_->Create(kRootInode, "x", CreateRequest{});
      writer.join();
      env_.rocks.on_refuse = nullptr;
      EXPECT_EQ(ErrnoOf(x.status()), ENOSPC) << x.status();
      const bool acked = held.ok() && (stability != Stability::kUnstable ||
                                       (store_->Commit(ino).ok() &&
                                        store_->write_verifier() == verf));

      auto check = [&](const std::string& when) {
        SCOPED_TRACE(when);
        ExpectClean(when);
        EXPECT_EQ(Read(c->attr.ino, 0, 4 * kSeg), old_data);
        const std::string got = Read(ino, 0, 4 * kSeg);
        for (uint32_t k = 0; k < 4; ++k) {
          const std::string now =
              k * kSeg < got.size() ? got.substr(k * kSeg, kSeg) : "";
          const bool old = k < 2 ? now == std::string(kSeg, 'o')
                                 : now.empty() || now == std::string(kSeg, 0);
          EXPECT_TRUE(now == held_data.substr(k * kSeg, kSeg) ||
                      (!acked && old))
              << "segment " << k << " starts with '"
              << (now.empty() ? ' ' : now[0]) << "'; write "
              << (held.ok() ? "succeeded" : held.status().ToString());
        }
        auto fs = store_->Space(ino), cs = store_->Space(c->attr.ino);
        auto all = store_->GetStoreSpace();
        ASSERT_TRUE(fs.ok() && cs.ok() && all.ok());
        EXPECT_EQ(all->used, fs->unique + cs->unique + fs->shared)
            << "f unique " << fs->unique << " shared " << fs->shared
            << ", c unique " << cs->unique;
      };
      check("after the rollback");
      // Writes resume (RocksDB is resumed first).
      ASSERT_TRUE(store_->Write(ino, 8 * kSeg, std::string(kSeg, 'r'),
                                Stability::kFileSync)
                      .ok());
      check("after a later write");
      Reopen();
      check("after reopen");
      ASSERT_TRUE(store_->Remove(kRootInode, "f").ok());
      ASSERT_TRUE(store_->Remove(kRootInode, "c").ok());
      EXPECT_EQ(store_->GetStoreSpace()->used, 0u);
      ExpectClean("everything removed");
      store_.reset();  // before `gate` goes
      opts_.env = &env_;
      if (HasFailure()) return;
    }
  }
}

}  // namespace
}  // namespace vnas::storage
