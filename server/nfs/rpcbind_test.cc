// rpcbind_test.cc — registrations per listener family, universal
// addresses, lookups and the XDR of rpcb.
#include "server/nfs/rpcbind.h"

#include "gtest/gtest.h"
#include "server/nfs/mount_types.h"
#include "server/nfs/nfs3_types.h"

namespace vnas::nfs {
namespace {

ClientAddr A(const char* s) { return *ClientAddr::Parse(s); }

rpcb Want(uint32_t prog, uint32_t vers, const char* netid) {
  return rpcb{prog, vers, netid, "", ""};
}

TEST(Rpcbind, UniversalAddressesOfBothFamilies) {
  EXPECT_EQ(UniversalAddress(A("127.0.0.1"), 2049), "127.0.0.1.8.1");
  EXPECT_EQ(UniversalAddress(A("10.1.2.3"), 111), "10.1.2.3.0.111");
  EXPECT_EQ(UniversalAddress(A("::1"), 2049), "::1.8.1");
  EXPECT_EQ(UniversalAddress(A("fd00::5"), 65535), "fd00::5.255.255");
}

TEST(Rpcbind, EachListenerIsRegisteredUnderItsFamiliesNetids) {
  // NFS on IPv4 loopback, the portmapper dual-stack; the caller came in
  // over IPv6 loopback.
  const auto regs = Registrations({"127.0.0.1", 2049}, {"::", 111}, A("::1"));
  const ClientAddr local6 = A("::1");
  EXPECT_EQ(LookUpAddress(regs, Want(kNfsProgram, 3, "tcp"), local6, true),
            "127.0.0.1.8.1");
  EXPECT_EQ(LookUpAddress(regs, Want(kMountProgram, 3, "tcp"), local6, true),
            "127.0.0.1.8.1");
  EXPECT_EQ(LookUpAddress(regs, Want(kNfsProgram, 3, "tcp6"), local6, true), "")
      << "NFS is not on IPv6";
  EXPECT_EQ(LookUpAddress(regs, Want(kPmapProgram, 4, "tcp6"), local6, true),
            "::1.0.111");
  EXPECT_EQ(LookUpAddress(regs, Want(kPmapProgram, 2, "tcp"), local6, true),
            "0.0.0.0.0.111")
      << "an IPv6 caller learns no IPv4 address of ours";
  EXPECT_EQ(LookUpAddress(regs, Want(kNfsProgram, 3, "udp"), local6, true), "");
  // An empty netid means the caller's own: tcp6 here.
  EXPECT_EQ(LookUpAddress(regs, Want(kPmapProgram, 3, ""), local6, true),
            "::1.0.111");
  EXPECT_EQ(regs.size(), 3u * 2 + 2u);  // 100000 v2-v4 on tcp and tcp6; NFS, MOUNT
  for (const rpcb& r : regs) EXPECT_EQ(r.owner, "vnasd");
}

TEST(Rpcbind, AWildcardListenerReportsTheAddressTheCallerReached) {
  const auto regs = Registrations({"::", 2049}, {"0.0.0.0", 111}, A("10.0.0.7"));
  const ClientAddr local4 = A("10.0.0.7");
  EXPECT_EQ(LookUpAddress(regs, Want(kNfsProgram, 3, "tcp"), local4, true),
            "10.0.0.7.8.1");
  EXPECT_EQ(LookUpAddress(regs, Want(kNfsProgram, 3, "tcp6"), local4, true),
            "::.8.1");
  EXPECT_EQ(LookUpAddress(regs, Want(kPmapProgram, 2, "tcp"), local4, true),
            "10.0.0.7.0.111");
  EXPECT_EQ(LookUpAddress(regs, Want(kPmapProgram, 2, "tcp6"), local4, true), "");
  // Not serving: not registered.
  EXPECT_TRUE(Registrations({"::1", 0}, {"::1", 0}, A("::1")).empty());
}

TEST(Rpcbind, GetaddrTakesAnotherVersionGetversaddrDoesNot) {
  const auto regs = Registrations({"::1", 2049}, {"::1", 111}, A("::1"));
  const ClientAddr local6 = A("::1");
  EXPECT_EQ(LookUpAddress(regs, Want(kNfsProgram, 4, "tcp6"), local6, true),
            "::1.8.1");
  EXPECT_EQ(LookUpAddress(regs, Want(kNfsProgram, 4, "tcp6"), local6, false), "");
  EXPECT_EQ(LookUpAddress(regs, Want(kNfsProgram, 3, "tcp6"), local6, false),
            "::1.8.1");
  EXPECT_EQ(LookUpAddress(regs, Want(kNfsProgram, 3, "tcp"), local6, true), "");
  EXPECT_EQ(LookUpAddress(regs, Want(400000, 1, "tcp6"), local6, true), "");
}

TEST(Rpcbind, RpcbRoundTripsAndRejectsOverlongStrings) {
  ByteBuffer b;
  XdrEncoder e(&b);
  const rpcb r{100003, 3, "tcp6", "::1.8.1", "vnasd"};
  Encode(e, r);
  XdrDecoder d(b.data(), b.size());
  rpcb back;
  ASSERT_TRUE(Decode(d, &back));
  EXPECT_EQ(back.prog, r.prog);
  EXPECT_EQ(back.vers, r.vers);
  EXPECT_EQ(back.netid, r.netid);
  EXPECT_EQ(back.addr, r.addr);
  EXPECT_EQ(back.owner, r.owner);
  EXPECT_EQ(d.remaining(), 0u);
  ByteBuffer bad;
  XdrEncoder be(&bad);
  be.U32(100003);
  be.U32(3);
  be.Var(std::string(2000, 'x'));  // netid far too long
  be.Var("");
  be.Var("");
  XdrDecoder bd(bad.data(), bad.size());
  EXPECT_FALSE(Decode(bd, &back));
  XdrDecoder truncated(b.data(), b.size() - 3);
  EXPECT_FALSE(Decode(truncated, &back));
}

}  // namespace
}  // namespace vnas::nfs
