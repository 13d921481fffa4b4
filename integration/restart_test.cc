// restart_test — vnasd restarted mid-test (clean SIGTERM and kill -9): data,
// names and file handles survive; the write verifier changes.
#include <fcntl.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "integration/harness.h"
#include "integration/libnfs_client.h"

extern "C" {
#include <nfsc/libnfs.h>
}

namespace vnas::harness {
namespace {

void CheckSurvives(bool kill9) {
  auto d = Vnasd::Start({});
  ASSERT_TRUE(d.ok()) << d.status();
  Vnasd& vnasd = **d;
  std::string tmp = MakeTempDir("restart");
  std::string src = tmp + "/disk";
  ASSERT_TRUE(WriteRandomFile(src, 5 << 20, 3));

  std::string fh, verf_before;
  {
    auto c = NfsClient::Mount(vnasd.nfs_port());
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_EQ(nfs_mkdir((*c)->ctx(), "/vm1"), 0) << (*c)->Error();
    auto cp = RunCommand("nfs-cp " + src + " '" + vnasd.Url("vm1/disk.vmdk") + "'");
    ASSERT_EQ(cp.exit_code, 0) << cp.output;
    auto h = (*c)->Handle("/vm1/disk.vmdk");
    ASSERT_TRUE(h.ok()) << h.status();
    fh = *h;
    // FILE_SYNC: durable on return, so it must survive even kill -9.
    auto w = (*c)->RawWrite(fh, 5 << 20, "tail-written-file-sync", 2);
    ASSERT_TRUE(w.ok()) << w.status();
    ASSERT_EQ(w->status, 0u);
    verf_before = w->verf;
    // An ESXi-style lock file, rewritten in place by its holder's FILE_SYNC
    // heartbeats (small files keep their bytes in the metadata).
    ASSERT_TRUE((*c)->CreateFile("/vm1/.lck-00001", "").ok());
    auto lh = (*c)->Handle("/vm1/.lck-00001");
    ASSERT_TRUE(lh.ok()) << lh.status();
    for (const char* beat : {"holder=host-a beat=1", "holder=host-b beat=2"}) {
      auto lw = (*c)->RawWrite(*lh, 0, beat, 2);
      ASSERT_TRUE(lw.ok()) << lw.status();
      ASSERT_EQ(lw->status, 0u);
    }
  }

  ASSERT_TRUE(vnasd.Restart(kill9).ok()) << vnasd.Output();

  auto c = NfsClient::Mount(vnasd.nfs_port());
  ASSERT_TRUE(c.ok()) << c.status();
  // The old handle still names the file.
  auto g = (*c)->RawGetattr(fh);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->first, 0u) << "handle must survive the restart";
  EXPECT_EQ(g->second, (5u << 20) + 22);
  auto h = (*c)->Handle("/vm1/disk.vmdk");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(*h, fh) << "LOOKUP must give the same handle after restart";
  // The data is intact.
  std::string back = tmp + "/back";
  auto cp = RunCommand("nfs-cp '" + vnasd.Url("vm1/disk.vmdk") + "' " + back);
  ASSERT_EQ(cp.exit_code, 0) << cp.output;
  std::string want = ReadFile(src) + "tail-written-file-sync";
  EXPECT_TRUE(ReadFile(back) == want) << "data changed across restart";
  auto lck = RunCommand("nfs-cat '" + vnasd.Url("vm1/.lck-00001") + "'");
  ASSERT_EQ(lck.exit_code, 0) << lck.output;
  EXPECT_EQ(lck.output, "holder=host-b beat=2");
  // A new server instance: a new write verifier.
  auto w = (*c)->RawWrite(fh, 0, "x", 0);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_NE(w->verf, verf_before) << "write verifier must change on restart";
}

TEST(RestartTest, CleanRestartKeepsDataNamesAndHandles) { CheckSurvives(false); }

TEST(RestartTest, KillNineKeepsDurableDataNamesAndHandles) { CheckSurvives(true); }

// fsid and fileids are what clients key their caches (and ESXi its
// .lck-<fileid> files) on: the same after a restart, for files and
// directories, and listed by READDIRPLUS as GETATTR shows them.
TEST(RestartTest, FsidAndFileidsSurviveRestart) {
  auto d = Vnasd::Start({});
  ASSERT_TRUE(d.ok()) << d.status();
  Vnasd& vnasd = **d;
  const std::vector<std::string> paths = {"/", "/vm1", "/vm1/disk.vmdk"};
  std::vector<nfs_stat_64> before(paths.size());
  {
    auto c = NfsClient::Mount(vnasd.nfs_port());
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_EQ(nfs_mkdir((*c)->ctx(), "/vm1"), 0) << (*c)->Error();
    ASSERT_TRUE((*c)->CreateFile("/vm1/disk.vmdk", "x").ok());
    for (size_t i = 0; i < paths.size(); ++i) {
      ASSERT_EQ(nfs_stat64((*c)->ctx(), paths[i].c_str(), &before[i]), 0);
      EXPECT_NE(before[i].nfs_ino, 0u) << paths[i];
    }
  }
  ASSERT_TRUE(vnasd.Restart().ok()) << vnasd.Output();
  auto c = NfsClient::Mount(vnasd.nfs_port());
  ASSERT_TRUE(c.ok()) << c.status();
  for (size_t i = 0; i < paths.size(); ++i) {
    nfs_stat_64 st;
    ASSERT_EQ(nfs_stat64((*c)->ctx(), paths[i].c_str(), &st), 0) << paths[i];
    EXPECT_EQ(st.nfs_dev, before[i].nfs_dev) << "fsid of " << paths[i];
    EXPECT_EQ(st.nfs_ino, before[i].nfs_ino) << "fileid of " << paths[i];
  }
  nfsdir* dir = nullptr;
  ASSERT_EQ(nfs_opendir((*c)->ctx(), "/vm1", &dir), 0) << (*c)->Error();
  bool seen = false;
  while (nfsdirent* e = nfs_readdir((*c)->ctx(), dir)) {
    if (std::string(e->name) != "disk.vmdk") continue;
    seen = true;
    EXPECT_EQ(e->inode, before[2].nfs_ino);
  }
  nfs_closedir((*c)->ctx(), dir);
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace vnas::harness
