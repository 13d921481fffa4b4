// qemu_test — qemu-img and qemu-io through nfs:// URLs against vnasd.
// qemu's nfs:// driver always asks the portmapper on port 111, so this test
// runs in a private network namespace (netns_gtest_main) where vnasd serves
// PMAP2 on 127.0.0.1:111.
#include <string>

#include "gtest/gtest.h"
#include "integration/harness.h"
#include "integration/libnfs_client.h"

extern "C" {
#include <nfsc/libnfs.h>
}

namespace vnas::harness {
namespace {

class QemuTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!InPrivateNetns()) return;
    Vnasd::Options o;
    o.portmap = true;
    o.nfs_port = 2049;
    auto d = Vnasd::Start(o);
    ASSERT_TRUE(d.ok()) << d.status();
    vnasd_ = d->release();
    // qemu's nfs:// driver mounts the directory holding the image.
    ASSERT_EQ(RunCommand("nfs-ls '" + vnasd_->PortmapUrl("") + "'").exit_code, 0);
    tmp_ = MakeTempDir("qemu");
  }
  static void TearDownTestSuite() {
    delete vnasd_;
    vnasd_ = nullptr;
  }
  void SetUp() override {
    if (!InPrivateNetns()) GTEST_SKIP() << "needs a private network namespace (root)";
  }

  static std::string Url(const std::string& path) { return vnasd_->PortmapUrl(path); }
  static CommandResult Q(const std::string& cmd) { return RunCommand(cmd, 45); }

  static Vnasd* vnasd_;
  static std::string tmp_;
};
Vnasd* QemuTest::vnasd_ = nullptr;
std::string QemuTest::tmp_;

TEST_F(QemuTest, CreateInfoCheckForEachFormat) {
  for (const char* fmt : {"raw", "qcow2", "vmdk"}) {
    SCOPED_TRACE(fmt);
    std::string u = Url(std::string("img.") + fmt);
    auto c = Q("qemu-img create -f " + std::string(fmt) + " '" + u + "' 64M");
    ASSERT_EQ(c.exit_code, 0) << c.output;
    auto i = Q("qemu-img info --output=json '" + u + "'");
    ASSERT_EQ(i.exit_code, 0) << i.output;
    EXPECT_NE(i.output.find("\"virtual-size\": 67108864"), std::string::npos)
        << i.output;
    EXPECT_NE(i.output.find(std::string("\"format\": \"") + fmt + "\""),
              std::string::npos)
        << i.output;
    if (std::string(fmt) != "raw") {
      auto k = Q("qemu-img check '" + u + "'");
      EXPECT_EQ(k.exit_code, 0) << k.output;
    }
  }
}

TEST_F(QemuTest, QemuIoPatternsSurviveReopen) {
  std::string u = Url("io.qcow2");
  ASSERT_EQ(Q("qemu-img create -f qcow2 '" + u + "' 32M").exit_code, 0);
  auto w = Q("qemu-io -c 'write -P 0xa5 0 1M' -c 'write -P 0x5a 4M 3M' "
             "-c 'write -P 0x11 512 4096' '" + u + "'");
  ASSERT_EQ(w.exit_code, 0) << w.output;
  EXPECT_EQ(w.output.find("error"), std::string::npos) << w.output;
  auto r = Q("qemu-io -c 'read -P 0xa5 0 512' -c 'read -P 0x11 512 4096' "
             "-c 'read -P 0xa5 4608 1043968' -c 'read -P 0x5a 4M 3M' "
             "-c 'read -P 0 7M 1M' '" + u + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("Pattern verification failed"), std::string::npos)
      << r.output;
  auto bad = Q("qemu-io -c 'read -P 0x77 0 512' '" + u + "'");
  EXPECT_NE(bad.output.find("Pattern verification failed"), std::string::npos)
      << "a wrong pattern must be noticed: " << bad.output;
}

// A guest zeroing part of its disk (qemu-io's write -z: qemu's nfs driver
// has no write-zeroes, so whole zero buffers go out as WRITEs) gives the
// space back: the file's used bytes drop, and it still reads zeros there.
TEST_F(QemuTest, ZeroedRangesOfARawDiskGiveTheirSpaceBack) {
  std::string u = Url("thin.raw");
  ASSERT_EQ(Q("qemu-img create -f raw '" + u + "' 8M").exit_code, 0);
  auto w = Q("qemu-io -f raw -c 'write -P 0xab 0 8M' '" + u + "'");
  ASSERT_EQ(w.exit_code, 0) << w.output;
  auto c = NfsClient::Mount(vnasd_->nfs_port());
  ASSERT_TRUE(c.ok()) << c.status();
  nfs_stat_64 before;
  ASSERT_EQ(nfs_stat64((*c)->ctx(), "/thin.raw", &before), 0) << (*c)->Error();
  EXPECT_EQ(before.nfs_used, 8u << 20);
  auto z = Q("qemu-io -f raw -c 'write -z 1M 4M' -c 'write -P 0 6M 1M' '" + u + "'");
  ASSERT_EQ(z.exit_code, 0) << z.output;
  nfs_stat_64 after;
  ASSERT_EQ(nfs_stat64((*c)->ctx(), "/thin.raw", &after), 0) << (*c)->Error();
  EXPECT_EQ(after.nfs_used, 3u << 20);
  EXPECT_EQ(after.nfs_size, 8u << 20);
  auto r = Q("qemu-io -f raw -c 'read -P 0xab 0 1M' -c 'read -P 0 1M 4M' "
             "-c 'read -P 0xab 5M 1M' -c 'read -P 0 6M 1M' -c 'read -P 0xab 7M 1M' '" +
             u + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("Pattern verification failed"), std::string::npos) << r.output;
}

TEST_F(QemuTest, ConvertBetweenFormatsAndCompare) {
  // A local raw image with data, converted onto the datastore as qcow2 and
  // vmdk (inside a VM directory: qemu mounts /vnas/vm1), and back.
  std::string local = tmp_ + "/src.raw";
  ASSERT_TRUE(WriteRandomFile(local, 8 << 20, 7));
  ASSERT_EQ(RunCommand("nfs-ls '" + vnasd_->Url("") + "' >/dev/null").exit_code, 0);
  auto mk = Q("qemu-img convert -f raw -O qcow2 " + local + " '" + Url("a.qcow2") + "'");
  ASSERT_EQ(mk.exit_code, 0) << mk.output;
  auto v = Q("qemu-img convert -O vmdk '" + Url("a.qcow2") + "' '" + Url("a.vmdk") + "'");
  ASSERT_EQ(v.exit_code, 0) << v.output;
  auto cmp = Q("qemu-img compare '" + Url("a.qcow2") + "' '" + Url("a.vmdk") + "'");
  EXPECT_EQ(cmp.exit_code, 0) << cmp.output;
  auto cmp2 = Q("qemu-img compare -f raw " + local + " '" + Url("a.vmdk") + "'");
  EXPECT_EQ(cmp2.exit_code, 0) << cmp2.output;
  std::string back = tmp_ + "/back.raw";
  auto out = Q("qemu-img convert -O raw '" + Url("a.vmdk") + "' " + back);
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(ReadFile(back), ReadFile(local));
  // Changing one byte on the datastore copy must make compare fail.
  ASSERT_EQ(Q("qemu-io -c 'write -P 0x01 1M 512' '" + Url("a.qcow2") + "'").exit_code, 0);
  auto diff = Q("qemu-img compare '" + Url("a.qcow2") + "' '" + Url("a.vmdk") + "'");
  EXPECT_EQ(diff.exit_code, 1) << diff.output;
}

TEST_F(QemuTest, ImagesInsideAVmDirectory) {
  // qemu mounts the parent directory of the image: MNT /vnas/vm1.
  auto c = NfsClient::Mount(vnasd_->nfs_port());
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(nfs_mkdir((*c)->ctx(), "/vm1"), 0) << (*c)->Error();
  std::string local = tmp_ + "/vm.raw";
  ASSERT_TRUE(WriteRandomFile(local, 4 << 20, 9));
  std::string u = Url("vm1/vm1.vmdk");
  auto cv = Q("qemu-img convert -f raw -O vmdk " + local + " '" + u + "'");
  ASSERT_EQ(cv.exit_code, 0) << cv.output;
  auto i = Q("qemu-img info '" + u + "'");
  EXPECT_EQ(i.exit_code, 0) << i.output;
  EXPECT_NE(i.output.find("file format: vmdk"), std::string::npos) << i.output;
  auto cmp = Q("qemu-img compare -f raw " + local + " '" + u + "'");
  EXPECT_EQ(cmp.exit_code, 0) << cmp.output;
  auto io = Q("qemu-io -c 'write -P 0x42 0 64k' -c 'read -P 0x42 0 64k' '" + u + "'");
  EXPECT_EQ(io.exit_code, 0) << io.output;
  EXPECT_EQ(io.output.find("failed"), std::string::npos) << io.output;
  auto ls = RunCommand("nfs-ls '" + vnasd_->Url("vm1") + "'");
  EXPECT_NE(ls.output.find("vm1.vmdk"), std::string::npos) << ls.output;
}

TEST_F(QemuTest, HyperVAndOtherFormatsRoundTrip) {
  // VHDX and VHD (vpc) as Hyper-V keeps them, plus QED and VDI, each
  // converted onto the datastore, compared with the source and checked.
  std::string local = tmp_ + "/fmt.raw";
  ASSERT_TRUE(WriteRandomFile(local, 6 << 20, 11));
  // A zero stretch, so the sparse formats leave part unallocated.
  ASSERT_EQ(RunCommand("dd if=/dev/zero of=" + local +
                       " bs=1M seek=2 count=2 conv=notrunc status=none").exit_code, 0);
  for (const char* fmt : {"vhdx", "vpc", "qed", "vdi"}) {
    SCOPED_TRACE(fmt);
    std::string u = Url(std::string("fmt.") + fmt);
    auto c = Q("qemu-img convert -f raw -O " + std::string(fmt) + " " + local + " '" + u + "'");
    ASSERT_EQ(c.exit_code, 0) << c.output;
    auto cmp = Q("qemu-img compare -f raw -F " + std::string(fmt) + " " + local + " '" + u + "'");
    EXPECT_EQ(cmp.exit_code, 0) << cmp.output;
    if (std::string(fmt) != "vpc") {  // qemu cannot check vpc
      auto k = Q("qemu-img check -f " + std::string(fmt) + " '" + u + "'");
      EXPECT_EQ(k.exit_code, 0) << k.output;
    }
  }
}

TEST_F(QemuTest, BackingChainsInternalSnapshotsAndResize) {
  std::string base = Url("chain-base.qcow2");
  std::string top = Url("chain-top.qcow2");
  ASSERT_EQ(Q("qemu-img create -f qcow2 '" + base + "' 16M").exit_code, 0);
  ASSERT_EQ(Q("qemu-io -c 'write -P 0x21 0 4M' '" + base + "'").exit_code, 0);
  // A linked clone's overlay on the datastore, its backing file an nfs:// URL.
  auto mk = Q("qemu-img create -f qcow2 -b '" + base + "' -F qcow2 '" + top + "'");
  ASSERT_EQ(mk.exit_code, 0) << mk.output;
  ASSERT_EQ(Q("qemu-io -c 'write -P 0x43 1M 1M' '" + top + "'").exit_code, 0);
  auto r = Q("qemu-io -c 'read -P 0x21 0 1M' -c 'read -P 0x43 1M 1M' "
             "-c 'read -P 0x21 2M 2M' -c 'read -P 0 4M 1M' '" + top + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("Pattern verification failed"), std::string::npos) << r.output;
  auto chain = Q("qemu-img info --backing-chain '" + top + "'");
  ASSERT_EQ(chain.exit_code, 0) << chain.output;
  EXPECT_NE(chain.output.find("chain-base.qcow2"), std::string::npos) << chain.output;
  // The base is untouched by the overlay's write.
  auto b = Q("qemu-io -c 'read -P 0x21 1M 1M' '" + base + "'");
  EXPECT_EQ(b.output.find("Pattern verification failed"), std::string::npos) << b.output;

  // An internal snapshot, a write after it, and a revert.
  ASSERT_EQ(Q("qemu-img snapshot -c s1 '" + top + "'").exit_code, 0);
  ASSERT_EQ(Q("qemu-io -c 'write -P 0x65 1M 1M' '" + top + "'").exit_code, 0);
  auto l = Q("qemu-img snapshot -l '" + top + "'");
  EXPECT_NE(l.output.find("s1"), std::string::npos) << l.output;
  ASSERT_EQ(Q("qemu-img snapshot -a s1 '" + top + "'").exit_code, 0);
  auto back = Q("qemu-io -c 'read -P 0x43 1M 1M' '" + top + "'");
  ASSERT_EQ(back.exit_code, 0) << back.output;
  EXPECT_EQ(back.output.find("Pattern verification failed"), std::string::npos) << back.output;
  auto k = Q("qemu-img check '" + top + "'");
  EXPECT_EQ(k.exit_code, 0) << k.output;

  // A raw disk grown and shrunk (SETATTR size): the kept bytes survive.
  std::string raw = Url("resize.raw");
  ASSERT_EQ(Q("qemu-img create -f raw '" + raw + "' 8M").exit_code, 0);
  ASSERT_EQ(Q("qemu-io -f raw -c 'write -P 0x5c 0 4M' -c 'write -P 0x6d 6M 1M' '" + raw + "'").exit_code, 0);
  ASSERT_EQ(Q("qemu-img resize -f raw '" + raw + "' 32M").exit_code, 0);
  ASSERT_EQ(Q("qemu-img resize -f raw --shrink '" + raw + "' 5M").exit_code, 0);
  auto info = Q("qemu-img info --output=json '" + raw + "'");
  EXPECT_NE(info.output.find("\"virtual-size\": 5242880"), std::string::npos) << info.output;
  auto rr = Q("qemu-io -f raw -c 'read -P 0x5c 0 4M' -c 'read -P 0 4M 1M' '" + raw + "'");
  ASSERT_EQ(rr.exit_code, 0) << rr.output;
  EXPECT_EQ(rr.output.find("Pattern verification failed"), std::string::npos) << rr.output;
  // Grown again, the cut-off stretch reads as zeros, not the old 0x6d.
  ASSERT_EQ(Q("qemu-img resize -f raw '" + raw + "' 8M").exit_code, 0);
  auto z = Q("qemu-io -f raw -c 'read -P 0 5M 3M' '" + raw + "'");
  EXPECT_EQ(z.output.find("Pattern verification failed"), std::string::npos) << z.output;
}

}  // namespace
}  // namespace vnas::harness
