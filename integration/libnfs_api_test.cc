// libnfs_api_test — drives vnasd with libnfs's C API: namespace operations,
// READDIRPLUS, stable vs unstable writes + COMMIT, MNT of a subdirectory.
#include <fcntl.h>

#include <set>
#include <string>

#include "gtest/gtest.h"
#include "integration/harness.h"
#include "integration/libnfs_client.h"

extern "C" {
#include <nfsc/libnfs.h>
}

namespace vnas::harness {
namespace {

class LibnfsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = Vnasd::Start({});
    ASSERT_TRUE(d.ok()) << d.status();
    vnasd_ = *std::move(d);
    auto c = NfsClient::Mount(vnasd_->nfs_port());
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = *std::move(c);
  }

  nfs_context* nfs() { return client_->ctx(); }

  void WriteFile(const std::string& path, const std::string& data) {
    nfsfh* fh = nullptr;
    ASSERT_EQ(nfs_creat(nfs(), path.c_str(), 0644, &fh), 0) << client_->Error();
    ASSERT_EQ(nfs_pwrite(nfs(), fh, 0, data.size(), const_cast<char*>(data.data())),
              static_cast<int>(data.size()))
        << client_->Error();
    ASSERT_EQ(nfs_close(nfs(), fh), 0);
  }

  std::string ReadFile(const std::string& path, size_t n) {
    nfsfh* fh = nullptr;
    if (nfs_open(nfs(), path.c_str(), O_RDONLY, &fh) != 0) return "<open failed>";
    std::string buf(n + 16, '\0');
    int r = nfs_pread(nfs(), fh, 0, buf.size(), buf.data());
    nfs_close(nfs(), fh);
    if (r < 0) return "<read failed>";
    buf.resize(static_cast<size_t>(r));
    return buf;
  }

  std::unique_ptr<Vnasd> vnasd_;
  std::unique_ptr<NfsClient> client_;
};

TEST_F(LibnfsApiTest, MkdirRenameStatRemove) {
  ASSERT_EQ(nfs_mkdir(nfs(), "/vm1"), 0) << client_->Error();
  EXPECT_NE(nfs_mkdir(nfs(), "/vm1"), 0);  // EXIST
  WriteFile("/vm1/disk.vmdk", "hello vnas");
  nfs_stat_64 st;
  ASSERT_EQ(nfs_stat64(nfs(), "/vm1/disk.vmdk", &st), 0) << client_->Error();
  EXPECT_EQ(st.nfs_size, 10u);
  EXPECT_NE(st.nfs_ino, 0u);
  const uint64_t ino = st.nfs_ino;

  ASSERT_EQ(nfs_rename(nfs(), "/vm1/disk.vmdk", "/vm1/disk2.vmdk"), 0)
      << client_->Error();
  EXPECT_NE(nfs_stat64(nfs(), "/vm1/disk.vmdk", &st), 0);
  ASSERT_EQ(nfs_stat64(nfs(), "/vm1/disk2.vmdk", &st), 0);
  EXPECT_EQ(st.nfs_ino, ino) << "fileid must survive a rename";
  EXPECT_EQ(ReadFile("/vm1/disk2.vmdk", 10), "hello vnas");
  // Directories have a size, as on knfsd (clients mistrust size 0).
  ASSERT_EQ(nfs_stat64(nfs(), "/vm1", &st), 0) << client_->Error();
  EXPECT_GT(st.nfs_size, 0u);

  EXPECT_NE(nfs_rmdir(nfs(), "/vm1"), 0);  // NOTEMPTY
  ASSERT_EQ(nfs_unlink(nfs(), "/vm1/disk2.vmdk"), 0) << client_->Error();
  EXPECT_NE(nfs_stat64(nfs(), "/vm1/disk2.vmdk", &st), 0);
  ASSERT_EQ(nfs_rmdir(nfs(), "/vm1"), 0) << client_->Error();
  EXPECT_NE(nfs_stat64(nfs(), "/vm1", &st), 0);
}

TEST_F(LibnfsApiTest, ReaddirplusListsEveryEntryWithAttributes) {
  ASSERT_EQ(nfs_mkdir(nfs(), "/d"), 0);
  std::set<std::string> want;
  // Enough entries to need several READDIRPLUS round trips.
  for (int i = 0; i < 300; ++i) {
    std::string name = "file-with-a-longish-name-" + std::to_string(i);
    WriteFile("/d/" + name, std::string(i % 7, 'x'));
    want.insert(name);
  }
  nfsdir* dir = nullptr;
  ASSERT_EQ(nfs_opendir(nfs(), "/d", &dir), 0) << client_->Error();
  std::set<std::string> got;
  nfsdirent* e;
  while ((e = nfs_readdir(nfs(), dir)) != nullptr) {
    std::string n = e->name;
    if (n == "." || n == "..") continue;
    EXPECT_TRUE(got.insert(n).second) << "duplicate " << n;
    int i = std::stoi(n.substr(n.rfind('-') + 1));
    EXPECT_EQ(e->size, static_cast<uint64_t>(i % 7)) << n;
    EXPECT_NE(e->inode, 0u);
  }
  nfs_closedir(nfs(), dir);
  EXPECT_EQ(got, want);
}

TEST_F(LibnfsApiTest, StableAndUnstableWritesWithCommit) {
  WriteFile("/w", "");
  auto fh = client_->Handle("/w");
  ASSERT_TRUE(fh.ok()) << fh.status();
  EXPECT_LE(fh->size(), 56u) << "ESXi needs handles of at most 56 bytes";

  auto u = client_->RawWrite(*fh, 0, "unstable-data", 0 /*UNSTABLE*/);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->status, 0u);
  EXPECT_EQ(u->count, 13u);
  EXPECT_GE(u->committed, 0u);
  ASSERT_EQ(u->verf.size(), 8u);

  auto f = client_->RawWrite(*fh, 13, "-filesync", 2 /*FILE_SYNC*/);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->status, 0u);
  EXPECT_EQ(f->committed, 2u) << "FILE_SYNC must be answered FILE_SYNC";
  EXPECT_EQ(f->verf, u->verf) << "one verifier per server instance";

  auto c = client_->RawCommit(*fh);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->first, 0u);
  EXPECT_EQ(c->second, u->verf) << "COMMIT and WRITE verifiers must match";

  EXPECT_EQ(ReadFile("/w", 22), "unstable-data-filesync");
}

TEST_F(LibnfsApiTest, LargeWritesAndReadsRoundTrip) {
  std::string data(3 * 1024 * 1024 + 123, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + (i >> 12));
  WriteFile("/big", data);
  EXPECT_EQ(ReadFile("/big", data.size()), data);
}

// Small reads fill vnasd's chunk cache a 64 KiB chunk at a time; small
// and bulk rewrites in between must never leave old bytes there. One
// client, one operation at a time, checked against a model of the file.
TEST_F(LibnfsApiTest, SmallReadsSeeEveryRewriteOfTheFile) {
  constexpr size_t kSize = 4 << 20;
  std::string model(kSize, '\0');
  for (size_t i = 0; i < kSize; ++i) model[i] = static_cast<char>(i * 7 + (i >> 16));
  WriteFile("/img", model);
  nfsfh* fh = nullptr;
  ASSERT_EQ(nfs_open(nfs(), "/img", O_RDWR, &fh), 0) << client_->Error();
  uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 17;
  };
  for (int op = 0; op < 1500; ++op) {
    const uint64_t kind = next() % 10;
    if (kind < 6) {  // a small read, the kind that fills the cache
      const size_t len = 1 + next() % 8192;
      const uint64_t off = next() % (kSize - len);
      std::string got(len, '?');
      ASSERT_EQ(nfs_pread(nfs(), fh, off, len, got.data()), static_cast<int>(len))
          << client_->Error();
      ASSERT_EQ(got, model.substr(off, len)) << "op " << op << ": " << len
                                             << " bytes at " << off;
    } else {
      const bool bulk = kind == 9;
      const size_t len = bulk ? (1 + next() % 8) * (64 << 10) : 1 + next() % 9000;
      const uint64_t off = bulk ? (next() % (kSize / (64 << 10))) * (64 << 10) % (kSize - len)
                                : next() % (kSize - len);
      std::string data(len, '\0');
      for (size_t i = 0; i < len; ++i) data[i] = static_cast<char>(next());
      ASSERT_EQ(nfs_pwrite(nfs(), fh, off, len, data.data()), static_cast<int>(len))
          << client_->Error();
      model.replace(off, len, data);
    }
  }
  ASSERT_EQ(nfs_close(nfs(), fh), 0);
  EXPECT_TRUE(ReadFile("/img", kSize) == model);
}

// Small files keep their bytes in the metadata (vnasd --inline_max, 4 KiB)
// until they grow past it; through every move, with truncates and stable
// and unstable writes, and across a restart, libnfs reads what it wrote.
TEST_F(LibnfsApiTest, SmallFilesGrowShrinkAndSurviveARestart) {
  std::string model;
  nfsfh* fh = nullptr;
  ASSERT_EQ(nfs_creat(nfs(), "/vm.vmx.lck", 0644, &fh), 0) << client_->Error();
  uint64_t state = 777;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 17;
  };
  // A lock file's first write: inline.
  model = "lock holder";
  ASSERT_EQ(nfs_pwrite(nfs(), fh, 0, model.size(), model.data()),
            static_cast<int>(model.size()))
      << client_->Error();
  for (int op = 0; op < 400; ++op) {
    const uint64_t kind = next() % 10;
    if (kind < 6) {  // write, mostly small, sometimes past the inline limit
      const size_t len = 1 + next() % (kind == 0 ? 70000 : 3000);
      const uint64_t off = next() % (kind == 1 ? 9000 : 3000);
      std::string data(len, '\0');
      for (size_t i = 0; i < len; ++i) data[i] = static_cast<char>('a' + next() % 26);
      ASSERT_EQ(nfs_pwrite(nfs(), fh, off, len, data.data()), static_cast<int>(len))
          << client_->Error();
      if (model.size() < off + len) model.resize(off + len, '\0');
      model.replace(off, len, data);
    } else if (kind < 8) {  // truncate: below the limit, to nothing, or up
      const uint64_t size = kind == 6 ? next() % 5000 : next() % 2 ? 0 : next() % 100000;
      ASSERT_EQ(nfs_ftruncate(nfs(), fh, size), 0) << client_->Error();
      model.resize(size, '\0');
    } else {  // read it all back
      std::string got(model.size() + 100, '?');
      const int r = nfs_pread(nfs(), fh, 0, got.size(), got.data());
      ASSERT_EQ(r, static_cast<int>(model.size())) << client_->Error();
      got.resize(static_cast<size_t>(r));
      ASSERT_TRUE(got == model) << "op " << op << ", size " << model.size();
    }
  }
  ASSERT_EQ(nfs_fsync(nfs(), fh), 0) << client_->Error();  // COMMIT
  ASSERT_EQ(nfs_close(nfs(), fh), 0);
  client_.reset();
  ASSERT_TRUE(vnasd_->Restart().ok()) << vnasd_->Output();
  auto c = NfsClient::Mount(vnasd_->nfs_port());
  ASSERT_TRUE(c.ok()) << c.status();
  client_ = *std::move(c);
  EXPECT_TRUE(ReadFile("/vm.vmx.lck", model.size()) == model) << model.size();
}

// A data cache size that is neither MiB, 0 nor -1 is refused at start,
// with the flag named.
TEST(LibnfsApiStartTest, ANegativeDataCacheSizeIsRefused) {
  Vnasd::Options o;
  o.extra_flags = {"--data_cache_mb=-5"};
  auto d = Vnasd::Start(o);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(std::string(d.status().message()).find("--data_cache_mb=-5"),
            std::string::npos)
      << d.status();
}

// A bulk data cache is committed at start: one larger than the memory vnasd
// may use is refused with the flag named, instead of an OOM kill.
TEST(LibnfsApiStartTest, ADataCacheLargerThanMemoryIsRefused) {
  Vnasd::Options o;
  o.extra_flags = {"--data_cache_mb=100000000"};  // ~95 TiB
  auto d = Vnasd::Start(o);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(std::string(d.status().message()).find("--data_cache_mb=100000000"),
            std::string::npos)
      << d.status();
  EXPECT_NE(std::string(d.status().message()).find("committed at start"), std::string::npos)
      << d.status();
}

TEST_F(LibnfsApiTest, MountOfASubdirectoryGivesTheLookupHandle) {
  ASSERT_EQ(nfs_mkdir(nfs(), "/vm2"), 0);
  WriteFile("/vm2/x", "inside");
  auto sub = NfsClient::Mount(vnasd_->nfs_port(), "/vnas/vm2");
  ASSERT_TRUE(sub.ok()) << sub.status();
  nfs_stat_64 st;
  ASSERT_EQ(nfs_stat64((*sub)->ctx(), "/x", &st), 0) << (*sub)->Error();
  EXPECT_EQ(st.nfs_size, 6u);
  // The same directory spelled with "." and extra slashes.
  auto dotted = NfsClient::Mount(vnasd_->nfs_port(), "/vnas/./vm2//");
  ASSERT_TRUE(dotted.ok()) << dotted.status();
  ASSERT_EQ(nfs_stat64((*dotted)->ctx(), "/x", &st), 0) << (*dotted)->Error();
  EXPECT_EQ(st.nfs_size, 6u);
  EXPECT_FALSE(NfsClient::Mount(vnasd_->nfs_port(), "/vnas/../etc").ok());
  auto missing = NfsClient::Mount(vnasd_->nfs_port(), "/vnas/nope");
  EXPECT_FALSE(missing.ok());
  auto other = NfsClient::Mount(vnasd_->nfs_port(), "/elsewhere");
  EXPECT_FALSE(other.ok());
}

TEST_F(LibnfsApiTest, ForgedAndStaleHandlesAreRefused) {
  WriteFile("/gone", "x");
  auto fh = client_->Handle("/gone");
  ASSERT_TRUE(fh.ok());
  std::string forged = *fh;
  forged[5] ^= 1;  // another inode number, same MAC
  auto g = client_->RawGetattr(forged);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->first, 10001u) << "NFS3ERR_BADHANDLE";
  ASSERT_EQ(nfs_unlink(nfs(), "/gone"), 0);
  auto s = client_->RawGetattr(*fh);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->first, 70u) << "NFS3ERR_STALE";
}

// libnfs's open(O_CREAT) without O_EXCL sends CREATE UNCHECKED with its
// mode; on an existing file that must not chmod it (nor lose its data).
TEST_F(LibnfsApiTest, OpenWithCreateKeepsAnExistingFilesModeAndData) {
  nfsfh* fh = nullptr;
  ASSERT_EQ(nfs_creat(nfs(), "/shared", 0644, &fh), 0) << client_->Error();
  ASSERT_EQ(nfs_pwrite(nfs(), fh, 0, 4, const_cast<char*>("data")), 4);
  ASSERT_EQ(nfs_close(nfs(), fh), 0);
  ASSERT_EQ(nfs_open2(nfs(), "/shared", O_CREAT | O_RDWR, 0600, &fh), 0)
      << client_->Error();
  nfs_close(nfs(), fh);
  nfs_stat_64 st;
  ASSERT_EQ(nfs_stat64(nfs(), "/shared", &st), 0) << client_->Error();
  EXPECT_EQ(st.nfs_mode & 07777, 0644u);
  EXPECT_EQ(st.nfs_size, 4u);
  EXPECT_EQ(ReadFile("/shared", 4), "data");
}

}  // namespace
}  // namespace vnas::harness
