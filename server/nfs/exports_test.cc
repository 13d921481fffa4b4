#include "server/nfs/exports.h"

#include <vector>

#include "gtest/gtest.h"

namespace vnas::nfs {
namespace {

ClientAddr Ip(const char* s) {
  std::optional<ClientAddr> a = ClientAddr::Parse(s);
  EXPECT_TRUE(a.has_value()) << s;
  return a.value_or(ClientAddr());
}

TEST(Exports, ParsesTheFamiliarShape) {
  auto t = ExportTable::Parse(
      "# comment\n"
      "/vnas 127.0.0.1/32(rw,no_root_squash) 10.0.0.0/8(ro,root_squash)\n"
      "/vnas/vm1  192.168.1.0/24(rw,sync,no_subtree_check)\n");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->exports().size(), 2u);
  EXPECT_EQ(t->exports()[0].store_path, "");
  EXPECT_EQ(t->exports()[1].store_path, "vm1");

  auto a = t->Check(0, Ip("127.0.0.1"));
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->rw);
  EXPECT_FALSE(a->root_squash);
  auto b = t->Check(0, Ip("10.1.2.3"));
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->rw);
  EXPECT_TRUE(b->root_squash);
  EXPECT_FALSE(t->Check(0, Ip("192.168.1.5")));
  EXPECT_TRUE(t->Check(1, Ip("192.168.1.5")));
  EXPECT_FALSE(t->Check(1, Ip("127.0.0.1")));
  EXPECT_FALSE(t->Check(7, Ip("127.0.0.1")));
}

TEST(Exports, DefaultsAreRoAndRootSquash) {
  auto t = ExportTable::Parse("/ds *\n");
  ASSERT_TRUE(t.ok());
  auto a = t->Check(0, Ip("1.2.3.4"));
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->rw);
  EXPECT_TRUE(a->root_squash);
  EXPECT_FALSE(a->all_squash);
}

TEST(Exports, AllSquash) {
  auto t = ExportTable::Parse("/ds 10.0.0.0/8(rw,all_squash) *(ro,no_all_squash)\n");
  ASSERT_TRUE(t.ok()) << t.status();
  auto a = t->Check(0, Ip("10.1.1.1"));
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->all_squash);
  auto b = t->Check(0, Ip("1.2.3.4"));
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->all_squash);
}

TEST(Exports, RejectsMalformedLines) {
  for (const char* bad : {"", "vnas 127.0.0.1", "/vnas", "/vnas 1.2.3/8(rw)",
                          "/vnas 1.2.3.4/33(rw)", "/vnas 1.2.3.4(bogus)",
                          "/vnas/../x 1.2.3.4(rw)", "/vnas 1.2.3.4(rw",
                          "/vnas ::1/129(rw)", "/vnas fd00::g(rw)",
                          "/vnas [::1](rw)", "/vnas ::1/-1(rw)"}) {
    EXPECT_FALSE(ExportTable::Parse(bad).ok()) << bad;
  }
}

TEST(Exports, IpV6RulesMatchIpV6ClientsAndIpV4RulesIpV4Ones) {
  auto t = ExportTable::Parse(
      "/vnas ::1(rw,no_root_squash) fd00:1::/64(ro) 10.0.0.0/8(rw) "
      "::ffff:192.168.0.0/112(rw)\n"
      "/open *(ro)\n");
  ASSERT_TRUE(t.ok()) << t.status();
  auto a = t->Check(0, Ip("::1"));
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->rw);
  EXPECT_FALSE(a->root_squash);
  EXPECT_FALSE(t->Check(0, Ip("::2")));
  auto b = t->Check(0, Ip("fd00:1::abcd"));
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->rw);
  EXPECT_FALSE(t->Check(0, Ip("fd00:2::1")));
  EXPECT_TRUE(t->Check(0, Ip("10.4.5.6")));
  // An IPv4 client is its IPv4 address, however it is written; the mapped
  // IPv6 form in a rule is an IPv4 network.
  EXPECT_TRUE(t->Check(0, Ip("::ffff:10.4.5.6")));
  EXPECT_TRUE(t->Check(0, Ip("192.168.7.8")));
  EXPECT_FALSE(t->Check(0, Ip("192.169.7.8")));
  // Loopback of one family is not the other's.
  EXPECT_FALSE(t->Check(0, Ip("127.0.0.1")));
  // A network of one family never covers the other's addresses, not even
  // the whole address space.
  auto all = ExportTable::Parse("/a ::/0(rw)\n/b 0.0.0.0/0(rw)\n");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(all->Check(0, Ip("2001:db8::1")));
  EXPECT_FALSE(all->Check(0, Ip("10.0.0.1")));
  EXPECT_TRUE(all->Check(1, Ip("10.0.0.1")));
  EXPECT_FALSE(all->Check(1, Ip("2001:db8::1")));
  EXPECT_FALSE(all->Check(1, Ip("::1")));
  // "*" is anyone, of either family.
  EXPECT_TRUE(t->Check(1, Ip("fe80::1")));
  EXPECT_TRUE(t->Check(1, Ip("8.8.8.8")));
  // The default allows loopback of both families only.
  ExportTable d = ExportTable::Default();
  EXPECT_TRUE(d.Check(0, Ip("127.0.0.1")));
  EXPECT_TRUE(d.Check(0, Ip("::1")));
  EXPECT_FALSE(d.Check(0, Ip("127.0.0.2")));
  EXPECT_FALSE(d.Check(0, Ip("fd00::1")));
}

TEST(Exports, FindForPathPicksLongestExport) {
  auto t = ExportTable::Parse("/vnas *(rw)\n/vnas/vm1 *(rw)\n");
  ASSERT_TRUE(t.ok());
  auto m = t->FindForPath("/vnas/vm2/sub");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->index, 0u);
  EXPECT_EQ(m->store_path, "vm2/sub");
  m = t->FindForPath("/vnas/vm1");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->index, 1u);
  EXPECT_EQ(m->store_path, "vm1");
  m = t->FindForPath("/vnas/");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->store_path, "");
  EXPECT_FALSE(t->FindForPath("/other"));
  EXPECT_FALSE(t->FindForPath("/vnas/../etc"));
  EXPECT_FALSE(t->FindForPath("/vnasx"));
}

// Nested exports are per client: the export that applies to a path is the
// innermost one around it that lists the client.
TEST(Exports, NestedExportsArePerClient) {
  auto t = ExportTable::Parse(
      "/vnas 127.0.0.1/32(rw)\n"
      "/vnas/a 127.0.0.1/32(ro) 10.0.0.0/8(rw)\n"
      "/vnas/a/b/c 127.0.0.1/32(rw)\n"
      "/vnas/x/c 10.0.0.0/8(rw)\n");
  ASSERT_TRUE(t.ok()) << t.status();
  const ClientAddr local = Ip("127.0.0.1"), ten = Ip("10.1.2.3");
  struct Case {
    const char* path;
    ClientAddr addr;
    int want;  // export index, -1 for none
  };
  const Case cases[] = {
      {"/vnas/a/b", local, 1},   {"/vnas/a/b/c/d", local, 2},
      {"/vnas/a/b", ten, 1},     {"/vnas/a/b/c/d", ten, 1},
      {"/vnas/x/c", local, 0},   {"/vnas/x/c/d", ten, 3},
      {"/vnas/y", ten, -1},      {"/vnas", Ip("1.2.3.4"), -1},
      {"/other", local, -1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    auto m = t->FindForClient(c.path, c.addr);
    if (c.want < 0) {
      EXPECT_FALSE(m);
      continue;
    }
    ASSERT_TRUE(m);
    EXPECT_EQ(m->index, static_cast<uint32_t>(c.want));
    EXPECT_EQ(m->store_path, t->FindForPath(c.path)->store_path);
  }
  EXPECT_EQ(t->FindForClient("/vnas/a/b", local)->store_path, "a/b");
  using V = std::vector<uint32_t>;
  EXPECT_EQ(t->NestedNamed(0, "a", local), V{1});
  EXPECT_EQ(t->NestedNamed(0, "c", local), V{2});
  EXPECT_EQ(t->NestedNamed(0, "c", ten), V{3});
  EXPECT_EQ(t->NestedNamed(1, "c", ten), V{});
  EXPECT_EQ(t->NestedNamed(0, "b", local), V{});
  EXPECT_EQ(t->NestedNamed(9, "a", local), V{});
  EXPECT_EQ(t->Enclosing(2, local), (V{1, 0}));
  EXPECT_EQ(t->Enclosing(2, ten), V{1});
  EXPECT_EQ(t->Enclosing(1, ten), V{});
  EXPECT_EQ(t->Enclosing(0, local), V{});
  EXPECT_EQ(t->Enclosing(9, local), V{});
}

}  // namespace
}  // namespace vnas::nfs
