#include "server/vmformat/vmsd.h"

#include "gtest/gtest.h"

namespace vnas::vmformat {
namespace {

// The linear example of protocol-and-formats.md §3.
constexpr char kLinear[] =
    ".encoding = \"UTF-8\"\n"
    "snapshot.lastUID = \"2\"\n"
    "snapshot.current = \"2\"\n"
    "snapshot0.uid = \"1\"\n"
    "snapshot0.filename = \"vm-Snapshot1.vmsn\"\n"
    "snapshot0.displayName = \"before patch\"\n"
    "snapshot0.numDisks = \"1\"\n"
    "snapshot0.disk0.fileName = \"vm.vmdk\"\n"
    "snapshot0.disk0.node = \"scsi0:0\"\n"
    "snapshot1.uid = \"2\"\n"
    "snapshot1.parent = \"1\"\n"
    "snapshot1.filename = \"vm-Snapshot2.vmsn\"\n"
    "snapshot1.numDisks = \"1\"\n"
    "Snapshot1.Disk0.FileName = \"vm-000001.vmdk\"\n"
    "snapshot.numSnapshots = \"2\"\n";

TEST(Vmsd, LinearTree) {
  absl::StatusOr<Vmsd> v = ParseVmsd(kLinear);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->problems.empty());
  EXPECT_EQ(v->current_uid.value_or(0), 2u);
  ASSERT_EQ(v->snapshots.size(), 2u);
  ASSERT_EQ(v->roots.size(), 1u);
  const VmsdSnapshot& root = v->snapshots[v->roots[0]];
  EXPECT_EQ(root.uid, 1u);
  EXPECT_EQ(root.display_name, "before patch");
  ASSERT_EQ(root.disks.size(), 1u);
  EXPECT_EQ(root.disks[0].file_name, "vm.vmdk");
  EXPECT_EQ(root.disks[0].node, "scsi0:0");
  ASSERT_EQ(root.children.size(), 1u);
  const VmsdSnapshot& s2 = v->snapshots[root.children[0]];
  EXPECT_EQ(s2.uid, 2u);
  EXPECT_EQ(s2.disks[0].file_name, "vm-000001.vmdk");
  EXPECT_EQ(v->Find(2), &s2);
  EXPECT_EQ(v->Find(9), nullptr);
}

TEST(Vmsd, Problems) {
  struct Case {
    const char* name;
    const char* text;
    size_t snapshots;
    size_t problems;
  };
  const Case cases[] = {
      {"empty", "", 0, 0},
      {"no uid", "snapshot0.filename = \"a.vmsn\"\n", 0, 1},
      {"dangling parent", "snapshot0.uid = \"1\"\nsnapshot0.parent = \"7\"\n", 1, 1},
      {"cycle",
       "snapshot0.uid = \"1\"\nsnapshot0.parent = \"2\"\n"
       "snapshot1.uid = \"2\"\nsnapshot1.parent = \"1\"\n",
       2, 2},
      {"duplicate uid", "snapshot0.uid = \"1\"\nsnapshot1.uid = \"1\"\n", 1, 1},
      {"huge index ignored", "snapshot99999999.uid = \"1\"\n", 0, 0},
      {"bad uid", "snapshot0.uid = \"x\"\n", 0, 2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<Vmsd> v = ParseVmsd(c.text);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->snapshots.size(), c.snapshots);
    EXPECT_EQ(v->problems.size(), c.problems);
  }
  EXPECT_FALSE(ParseVmsd(std::string("a=\"\0\"", 5)).ok());
}

}  // namespace
}  // namespace vnas::vmformat
