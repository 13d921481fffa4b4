// portmap_test — clients that find vnasd's ports through its portmapper,
// in a private network namespace (port 111): libnfs over IPv4 asks PMAP2
// GETPORT, over IPv6 rpcbind v3 GETADDR (universal addresses); qemu-img
// always asks PMAP2 on 127.0.0.1:111.
#include <string>

#include "gtest/gtest.h"
#include "integration/harness.h"
#include "server/nfs/client_addr.h"

namespace vnas::harness {
namespace {

TEST(Portmap, ClientsOfBothFamiliesFindTheDualStackServer) {
  if (!InPrivateNetns()) GTEST_SKIP() << "needs the private network namespace";
  if (!nfs::HostHasIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback here";
  Vnasd::Options o;
  o.portmap = true;
  o.dual_stack = true;
  auto d = Vnasd::Start(o);
  ASSERT_TRUE(d.ok()) << d.status();
  const std::string tmp = MakeTempDir("pmap");
  const std::string src = tmp + "/disk.raw", back = tmp + "/back.raw";
  ASSERT_TRUE(WriteRandomFile(src, (size_t{2} << 20) + 512, 7));
  // No ports in the URLs: libnfs over IPv6 asks rpcbind v3 GETADDR.
  auto in = RunCommand("nfs-cp " + src + " 'nfs://::1/vnas/disk.raw'");
  ASSERT_EQ(in.exit_code, 0) << in.output << "\n" << (*d)->Output();
  auto ls6 = RunCommand("nfs-ls 'nfs://::1/vnas'");
  ASSERT_EQ(ls6.exit_code, 0) << ls6.output;
  EXPECT_NE(ls6.output.find(" 2097664 disk.raw"), std::string::npos) << ls6.output;
  // Over IPv4 (PMAP2 GETPORT), the same file.
  auto out = RunCommand("nfs-cp 'nfs://127.0.0.1/vnas/disk.raw' " + back);
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(ReadFile(src), ReadFile(back));
  auto info = RunCommand("qemu-img info -f raw 'nfs://127.0.0.1/vnas/disk.raw'");
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_NE(info.output.find("2097664"), std::string::npos) << info.output;
}

}  // namespace
}  // namespace vnas::harness
