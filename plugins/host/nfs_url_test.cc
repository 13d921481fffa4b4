#include "plugins/host/nfs_url.h"

#include "gtest/gtest.h"

namespace vnas::plugin {
namespace {

TEST(ParseNfsUrlTest, FullUrlWithPorts) {
  auto u = ParseNfsUrl("nfs://127.0.0.1/vnas//vm1/vm1.vmdk?nfsport=2049&mountport=20048&uid=0");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->server, "127.0.0.1");
  EXPECT_EQ(u->path, "/vnas/vm1/vm1.vmdk");
  EXPECT_EQ(u->nfsport, 2049u);
  EXPECT_EQ(u->mountport, 20048u);
  ASSERT_EQ(u->extra.size(), 1u);
  EXPECT_EQ(u->extra[0].first, "uid");
}

TEST(ParseNfsUrlTest, Rejects) {
  for (const char* bad :
       {"http://x/a", "nfs://", "nfs:///vnas/a", "nfs://host", "nfs://h:2049/vnas/a",
        "nfs://h/vnas/../etc/passwd", "nfs://h/a?nfsport=0", "nfs://h/a?mountport=x",
        "nfs://h/a?nfsport=70000"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(ParseNfsUrl(bad).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

Datastore Session() {
  Datastore d;
  d.server = "127.0.0.1";
  d.export_path = "/vnas";
  d.nfsport = 2049;
  d.mountport = 2049;
  return d;
}

TEST(ResolvePathTest, RelativeAndAbsoluteOnSession) {
  auto a = ResolvePath("vm1/vm1.vmdk", Session());
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->path, "vm1/vm1.vmdk");
  EXPECT_TRUE(a->datastore.SameAs(Session()));
  auto b = ResolvePath("/vnas/vm1//vm1.vmdk", Session());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->path, "vm1/vm1.vmdk");
  EXPECT_FALSE(ResolvePath("/other/vm1.vmdk", Session()).ok());
  EXPECT_FALSE(ResolvePath("/vnas", Session()).ok());
  EXPECT_FALSE(ResolvePath("/vnasx/a", Session()).ok());
  EXPECT_FALSE(ResolvePath("vm1/../x", Session()).ok());
  EXPECT_FALSE(ResolvePath("", Session()).ok());
}

TEST(ResolvePathTest, UrlOnSameDatastore) {
  auto a = ResolvePath("nfs://127.0.0.1/vnas/vm2/vm2.vmdk?nfsport=2049&mountport=2049", Session());
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->datastore.export_path, "/vnas");
  EXPECT_EQ(a->path, "vm2/vm2.vmdk");
  EXPECT_TRUE(a->datastore.SameAs(Session()));
}

TEST(ResolvePathTest, UrlOnOtherDatastore) {
  auto a = ResolvePath("nfs://10.0.0.9/other/vm2/vm2.vmdk", Session());
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->datastore.server, "10.0.0.9");
  EXPECT_EQ(a->datastore.export_path, "/other/vm2");  // unknown export: parent dir
  EXPECT_EQ(a->path, "vm2.vmdk");
  EXPECT_FALSE(a->datastore.SameAs(Session()));
  auto b = ResolvePath("nfs://10.0.0.9/other/vm2/vm2.vmdk", Session(), {"/other"});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->datastore.export_path, "/other");
  EXPECT_EQ(b->path, "vm2/vm2.vmdk");
  // Same server, different port: another datastore.
  auto c = ResolvePath("nfs://127.0.0.1/vnas/a?nfsport=3000", Session());
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->datastore.SameAs(Session()));
}

TEST(DatastoreTest, Url) {
  EXPECT_EQ(Session().Url("vm1/a"), "nfs://127.0.0.1/vnas/vm1/a?nfsport=2049&mountport=2049");
  Datastore d;
  d.server = "h";
  d.export_path = "/";
  EXPECT_EQ(d.Url("a"), "nfs://h/a");
  EXPECT_EQ(d.Url(), "nfs://h/");
}

}  // namespace
}  // namespace vnas::plugin
