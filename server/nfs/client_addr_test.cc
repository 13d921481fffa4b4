// client_addr_test.cc — parsing, printing, families and networks.
#include "server/nfs/client_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace vnas::nfs {
namespace {

ClientAddr P(const char* s) {
  std::optional<ClientAddr> a = ClientAddr::Parse(s);
  EXPECT_TRUE(a.has_value()) << s;
  return a.value_or(ClientAddr());
}

TEST(ClientAddr, ParsesAndPrintsBothFamilies) {
  EXPECT_TRUE(P("127.0.0.1").is_v4());
  EXPECT_EQ(P("127.0.0.1").v4(), 0x7f000001u);
  EXPECT_EQ(P("127.0.0.1").ToString(), "127.0.0.1");
  EXPECT_FALSE(P("::1").is_v4());
  EXPECT_EQ(P("::1").ToString(), "::1");
  EXPECT_EQ(P("2001:DB8:0:0:0:0:0:1").ToString(), "2001:db8::1");
  // The mapped form of an IPv4 address is that address.
  EXPECT_EQ(P("::ffff:10.1.2.3"), P("10.1.2.3"));
  EXPECT_EQ(P("::ffff:10.1.2.3").ToString(), "10.1.2.3");
  EXPECT_EQ(ClientAddr::V4(0x0a010203), P("10.1.2.3"));
  for (const char* bad : {"", "1.2.3", "1.2.3.256", "[::1]", "::1%lo", "host",
                          "1.2.3.4/8", "::g"}) {
    EXPECT_FALSE(ClientAddr::Parse(bad).has_value()) << bad;
  }
}

TEST(ClientAddr, FromSocketAddressesOfBothFamilies) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(0xc0a80105);
  EXPECT_EQ(ClientAddr::FromSockaddr(reinterpret_cast<sockaddr*>(&in)),
            P("192.168.1.5"));
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  ASSERT_EQ(inet_pton(AF_INET6, "fd00::7", &in6.sin6_addr), 1);
  EXPECT_EQ(ClientAddr::FromSockaddr(reinterpret_cast<sockaddr*>(&in6)),
            P("fd00::7"));
  // An IPv4 peer of a dual-stack socket.
  ASSERT_EQ(inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6.sin6_addr), 1);
  EXPECT_EQ(ClientAddr::FromSockaddr(reinterpret_cast<sockaddr*>(&in6)),
            ClientAddr::V4(0x7f000001));
  sockaddr other{};
  other.sa_family = AF_UNIX;
  EXPECT_FALSE(ClientAddr::FromSockaddr(&other).has_value());
}

TEST(ClientAddr, NetworksCompareTheLeadingBits) {
  EXPECT_TRUE(P("10.9.8.7").InNetwork(P("10.0.0.0"), 96 + 8));
  EXPECT_FALSE(P("11.9.8.7").InNetwork(P("10.0.0.0"), 96 + 8));
  EXPECT_TRUE(P("192.168.1.130").InNetwork(P("192.168.1.128"), 96 + 25));
  EXPECT_FALSE(P("192.168.1.127").InNetwork(P("192.168.1.128"), 96 + 25));
  EXPECT_TRUE(P("fd00:1::5").InNetwork(P("fd00::"), 8));
  EXPECT_FALSE(P("fe80::5").InNetwork(P("fd00::"), 8));
  EXPECT_TRUE(P("2001:db8:abcd:12::1").InNetwork(P("2001:db8:abcd:10::"), 60));
  EXPECT_FALSE(P("2001:db8:abcd:22::1").InNetwork(P("2001:db8:abcd:10::"), 60));
  EXPECT_TRUE(P("::1").InNetwork(P("::1"), 128));
  EXPECT_FALSE(P("::2").InNetwork(P("::1"), 128));
  EXPECT_TRUE(P("::2").InNetwork(P("::1"), 0));
  EXPECT_EQ(P("10.9.8.7").Masked(96 + 16), P("10.9.0.0"));
}

TEST(ClientAddr, HashesAndOrders) {
  absl::flat_hash_set<ClientAddr> set{P("::1"), P("127.0.0.1"),
                                      P("::ffff:127.0.0.1")};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(P("10.0.0.1") < P("10.0.0.2") || P("10.0.0.2") < P("10.0.0.1"));
  EXPECT_FALSE(P("10.0.0.1") < P("10.0.0.1"));
}

}  // namespace
}  // namespace vnas::nfs
