// exports_test — vnasd started with an exports file; real clients see the
// rules: a client network not listed is refused at MNT, a read-only export
// refuses changes but serves reads, root_squash maps uid 0 to 65534.
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "integration/harness.h"
#include "integration/libnfs_client.h"

extern "C" {
#include <nfsc/libnfs.h>
}

namespace vnas::harness {
namespace {

TEST(ExportsTest, ClientOutsideEveryNetworkIsRefused) {
  Vnasd::Options o;
  o.exports = "/vnas 10.0.0.0/8(rw,no_root_squash)\n";
  auto d = Vnasd::Start(o);
  ASSERT_TRUE(d.ok()) << d.status();
  auto ls = RunCommand("nfs-ls '" + (*d)->Url("") + "'");
  EXPECT_NE(ls.exit_code, 0) << ls.output;
  EXPECT_NE(ls.output.find("ACCES"), std::string::npos) << ls.output;
}

TEST(ExportsTest, ReadOnlyExportServesReadsOnly) {
  std::string tmp = MakeTempDir("exports");
  std::string src = tmp + "/f";
  ASSERT_TRUE(WriteRandomFile(src, 100000, 5));
  // First put a file there through a rw export, then restart read-only
  // (root keeps its identity: the file is root's, mode 0660 from nfs-cp, so
  // a squashed root could not read it back on any server).
  Vnasd::Options o;
  o.data_dir = tmp + "/data";
  auto d = Vnasd::Start(o);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(RunCommand("nfs-cp " + src + " '" + (*d)->Url("f") + "'").exit_code, 0);
  (*d)->Kill9();
  o.nfs_port = (*d)->nfs_port();
  o.exports = "/vnas 127.0.0.1/32(ro,no_root_squash)\n";
  d->reset();
  d = Vnasd::Start(o);
  ASSERT_TRUE(d.ok()) << d.status();
  auto out = RunCommand("nfs-cp '" + (*d)->Url("f") + "' " + tmp + "/back");
  EXPECT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(ReadFile(tmp + "/back"), ReadFile(src));
  auto in = RunCommand("nfs-cp " + src + " '" + (*d)->Url("g") + "'");
  EXPECT_NE(in.exit_code, 0) << in.output;
  EXPECT_NE(in.output.find("ROFS"), std::string::npos) << in.output;
}

TEST(ExportsTest, RootSquashOwnsNewFilesAsNobody) {
  Vnasd::Options o;
  o.exports = "/vnas 127.0.0.1/32(rw,root_squash)\n";
  auto d = Vnasd::Start(o);
  ASSERT_TRUE(d.ok()) << d.status();
  auto c = NfsClient::Mount((*d)->nfs_port());  // libnfs sends uid 0 as root
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ((*c)->CreateFile("/squashed"), absl::OkStatus());
  nfs_stat_64 st;
  ASSERT_EQ(nfs_stat64((*c)->ctx(), "/squashed", &st), 0);
  EXPECT_EQ(st.nfs_uid, 65534u);
  EXPECT_EQ(st.nfs_gid, 65534u);
}

TEST(ExportsTest, SubdirectoryExport) {
  // Make /vm1 first: libnfs mounts traverse nested exports, so an exported
  // directory should exist before it is exported.
  std::string tmp = MakeTempDir("subexp");
  Vnasd::Options o;
  o.data_dir = tmp + "/data";
  auto d = Vnasd::Start(o);
  ASSERT_TRUE(d.ok()) << d.status();
  {
    auto c = NfsClient::Mount((*d)->nfs_port());
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_EQ(nfs_mkdir((*c)->ctx(), "/vm1"), 0);
    ASSERT_EQ((*c)->CreateFile("/vm1/a"), absl::OkStatus());
  }
  o.nfs_port = (*d)->nfs_port();
  o.exports = "/vnas 127.0.0.1/32(rw,no_root_squash)\n/vnas/vm1 127.0.0.1/32(ro)\n";
  d->reset();
  d = Vnasd::Start(o);
  ASSERT_TRUE(d.ok()) << d.status();
  nfsfh* fh = nullptr;
  auto sub = NfsClient::Mount((*d)->nfs_port(), "/vnas/vm1");
  ASSERT_TRUE(sub.ok()) << sub.status();
  nfs_stat_64 st;
  EXPECT_EQ(nfs_stat64((*sub)->ctx(), "/a", &st), 0);
  EXPECT_NE(nfs_creat((*sub)->ctx(), "/b", 0644, &fh), 0) << "vm1 export is ro";
  auto ls = RunCommand("nfs-ls 'nfs://127.0.0.1/vnas/vm1?nfsport=" +
                       std::to_string((*d)->nfs_port()) + "&mountport=" +
                       std::to_string((*d)->nfs_port()) + "'");
  EXPECT_NE(ls.output.find(" a"), std::string::npos) << ls.output;
}

}  // namespace
}  // namespace vnas::harness

namespace vnas::harness {
namespace {

// Flags from a config file of flag=value lines; the command line wins.
TEST(ConfigFileTest, FlagsComeFromTheConfigFile) {
  std::string tmp = MakeTempDir("config");
  std::string exports = tmp + "/exports";
  { std::ofstream(exports) << "/vnas 127.0.0.1/32(ro)\n"; }
  std::string conf = tmp + "/vnasd.conf";
  {
    std::ofstream(conf) << "# vnasd config\n\nexports_file=" << exports
                        << "\nnfs_workers=2\n--members=2\n"
                        << "nfs_listen=127.0.0.1:1\n";  // overridden below
  }
  Vnasd::Options o;
  o.extra_flags = {"--config=" + conf};
  auto d = Vnasd::Start(o);
  ASSERT_TRUE(d.ok()) << d.status();
  std::string src = tmp + "/f";
  ASSERT_TRUE(WriteRandomFile(src, 1000, 1));
  auto in = RunCommand("nfs-cp " + src + " '" + (*d)->Url("f") + "'");
  EXPECT_NE(in.exit_code, 0);
  EXPECT_NE(in.output.find("ROFS"), std::string::npos) << in.output;
  auto ls = RunCommand("nfs-ls '" + (*d)->Url("") + "'");
  EXPECT_EQ(ls.exit_code, 0) << ls.output;
}

}  // namespace
}  // namespace vnas::harness
