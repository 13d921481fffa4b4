// nfs_utils_test — libnfs-utils (nfs-cp both ways, nfs-ls, nfs-cat) against
// vnasd, with checksums; and the start-up banner's client command, run
// exactly as printed.
#include <string>

#include "gtest/gtest.h"
#include "integration/harness.h"
#include "server/nfs/client_addr.h"

namespace vnas::harness {
namespace {

class NfsUtilsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = Vnasd::Start({});
    ASSERT_TRUE(d.ok()) << d.status();
    vnasd_ = *std::move(d);
    tmp_ = MakeTempDir("utils");
  }
  std::string Sum(const std::string& path) {
    auto r = RunCommand("sha256sum " + path + " | cut -d' ' -f1");
    return r.output;
  }
  std::unique_ptr<Vnasd> vnasd_;
  std::string tmp_;
};

TEST_F(NfsUtilsTest, CopyInAndOutKeepsEveryByte) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{4095}, size_t{1} << 20,
                      (size_t{9} << 20) + 17}) {
    SCOPED_TRACE(size);
    std::string name = "f" + std::to_string(size);
    std::string src = tmp_ + "/" + name, back = tmp_ + "/" + name + ".back";
    ASSERT_TRUE(WriteRandomFile(src, size, static_cast<uint32_t>(size)));
    auto in = RunCommand("nfs-cp " + src + " '" + vnasd_->Url(name) + "'");
    ASSERT_EQ(in.exit_code, 0) << in.output;
    auto out = RunCommand("nfs-cp '" + vnasd_->Url(name) + "' " + back);
    ASSERT_EQ(out.exit_code, 0) << out.output;
    EXPECT_EQ(Sum(src), Sum(back));
    EXPECT_EQ(ReadFile(back).size(), size);
  }
  auto ls = RunCommand("nfs-ls '" + vnasd_->Url("") + "'");
  ASSERT_EQ(ls.exit_code, 0) << ls.output;
  EXPECT_NE(ls.output.find(" 9437201 f9437201"), std::string::npos) << ls.output;
  EXPECT_NE(ls.output.find("f0"), std::string::npos) << ls.output;
}

TEST_F(NfsUtilsTest, CatShowsContent) {
  std::string src = tmp_ + "/hello.txt";
  ASSERT_EQ(RunCommand("printf 'hello from vnas\\n' > " + src).exit_code, 0);
  ASSERT_EQ(RunCommand("nfs-cp " + src + " '" + vnasd_->Url("hello.txt") + "'").exit_code, 0);
  auto cat = RunCommand("nfs-cat '" + vnasd_->Url("hello.txt") + "'");
  ASSERT_EQ(cat.exit_code, 0) << cat.output;
  EXPECT_EQ(cat.output, "hello from vnas\n");
  auto missing = RunCommand("nfs-cat '" + vnasd_->Url("nope.txt") + "'");
  EXPECT_NE(missing.exit_code, 0);
}

// libnfs 4.0's nfs-cp creates with GUARDED (RFC 1813 §3.3.8): copying onto
// an existing file must fail with EXIST and leave the file as it was.
TEST_F(NfsUtilsTest, GuardedCreateKeepsExistingFile) {
  std::string a = tmp_ + "/a", b = tmp_ + "/b", back = tmp_ + "/back";
  ASSERT_TRUE(WriteRandomFile(a, 300000, 1));
  ASSERT_TRUE(WriteRandomFile(b, 1000, 2));
  ASSERT_EQ(RunCommand("nfs-cp " + a + " '" + vnasd_->Url("x") + "'").exit_code, 0);
  auto again = RunCommand("nfs-cp " + b + " '" + vnasd_->Url("x") + "'");
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.output.find("NFS3ERR_EXIST"), std::string::npos) << again.output;
  ASSERT_EQ(RunCommand("nfs-cp '" + vnasd_->Url("x") + "' " + back).exit_code, 0);
  EXPECT_EQ(ReadFile(back), ReadFile(a));
}

TEST_F(NfsUtilsTest, BannerCommandWorksAsPrinted) {
  std::string out = vnasd_->Output();
  size_t at = out.find("try: ");
  ASSERT_NE(at, std::string::npos) << out;
  std::string cmd = out.substr(at + 5, out.find('\n', at) - at - 5);
  EXPECT_NE(cmd.find("nfs-ls"), std::string::npos) << cmd;
  auto r = RunCommand(cmd);
  EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
  EXPECT_NE(out.find("control endpoint 127.0.0.1:"), std::string::npos) << out;
}

// An IPv6 client (libnfs over ::1) against a dual-stack listener: a copy
// both ways keeps every byte, the exports are checked per family (an IPv4
// client that only an IPv6 rule would admit is refused), and MOUNT's DUMP
// names the client as ::1.
TEST(NfsUtilsIpv6, IpV6ClientsCopyBothWaysUnderIpV6ExportRules) {
  if (!nfs::HostHasIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  Vnasd::Options o;
  o.dual_stack = true;
  o.exports = "/vnas ::1(rw,no_root_squash)\n";
  auto d = Vnasd::Start(o);
  ASSERT_TRUE(d.ok()) << d.status();
  const std::string tmp = MakeTempDir("utils6");
  const std::string src = tmp + "/six.bin", back = tmp + "/six.back";
  ASSERT_TRUE(WriteRandomFile(src, (size_t{3} << 20) + 5, 66));
  auto in = RunCommand("nfs-cp " + src + " '" + (*d)->Url6("six.bin") + "'");
  ASSERT_EQ(in.exit_code, 0) << in.output;
  auto out = RunCommand("nfs-cp '" + (*d)->Url6("six.bin") + "' " + back);
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(ReadFile(src), ReadFile(back));
  auto ls = RunCommand("nfs-ls '" + (*d)->Url6("") + "'");
  ASSERT_EQ(ls.exit_code, 0) << ls.output;
  EXPECT_NE(ls.output.find(" 3145733 six.bin"), std::string::npos) << ls.output;
  // The same server over IPv4 loopback: no rule for it.
  auto v4 = RunCommand("nfs-ls '" + (*d)->Url("") + "'");
  EXPECT_NE(v4.exit_code, 0) << v4.output;
  // The banner names the listener as a socket address.
  EXPECT_NE((*d)->Output().find("on [::1]:" + std::to_string((*d)->nfs_port())),
            std::string::npos)
      << (*d)->Output();
}

TEST_F(NfsUtilsTest, SigtermShutsDownCleanly) {
  auto st = vnasd_->Stop();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(*st, 0) << vnasd_->Output();
  EXPECT_NE(vnasd_->Output().find("vnasd: stopped"), std::string::npos);
}

}  // namespace
}  // namespace vnas::harness
