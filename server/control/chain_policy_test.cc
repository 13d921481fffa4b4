// chain_policy_test.cc — which findings block which operation, on
// hand-built chain reports (independent of the parsers).
#include "server/control/chain_policy.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vnas::control {
namespace {

using ::testing::HasSubstr;
using vmformat::ChainReport;
using vmformat::DiskNode;
using vmformat::Finding;
using vmformat::Reason;

DiskNode Disk(const std::string& file, const std::string& parent,
              std::vector<std::string> children, const std::string& extent) {
  DiskNode d;
  d.file = file;
  d.format = vmformat::DiskFormat::kVmdkDescriptor;
  d.create_type = parent.empty() ? "vmfs" : "vmfsSparse";
  d.parent = parent;
  d.parent_hint = parent;
  d.children = std::move(children);
  d.extent_files = {extent};
  return d;
}

// vm.vmdk <- a.vmdk, vm.vmdk <- b.vmdk (VSS), plus an unrelated disk.
ChainReport Vss() {
  ChainReport r;
  r.disks = {Disk("vm.vmdk", "", {"a.vmdk", "b.vmdk"}, "vm-flat.vmdk"),
             Disk("a.vmdk", "vm.vmdk", {}, "a-delta.vmdk"),
             Disk("b.vmdk", "vm.vmdk", {}, "b-delta.vmdk"),
             Disk("data.vmdk", "", {}, "data-flat.vmdk")};
  r.disks[2].in_use_by_vmx = true;
  r.chains = {{"vm.vmdk", "a.vmdk"}, {"vm.vmdk", "b.vmdk"}, {"data.vmdk"}};
  r.linear = false;
  Finding f;
  f.reason = Reason::kVssSiblingRedoLogs;
  f.blocks_offload = true;
  f.detail =
      "vm.vmdk has 2 child redo logs (a.vmdk, b.vmdk): the disk is a tree, not "
      "a chain; likely cause: an application-consistent (VSS-quiesced) "
      "snapshot of Windows Server 2008/2008 R2";
  f.files = {"vm.vmdk", "a.vmdk", "b.vmdk"};
  r.findings = {f};
  r.offloadable = false;
  return r;
}

TEST(ChainPolicyTest, VssBlocksEveryFileOfTheTreeAndCloneVm) {
  ChainReport r = Vss();
  for (const char* file : {"vm.vmdk", "vm-flat.vmdk", "a.vmdk", "b-delta.vmdk"}) {
    SCOPED_TRACE(file);
    v1::Verdict v = DecideCloneFile(r, file, v1::MECHANISM_EXTENT_CLONE);
    EXPECT_FALSE(v.offloaded());
    EXPECT_EQ(v.refusal().code(), v1::REASON_VSS_SIBLING_REDO_LOGS);
    EXPECT_THAT(v.refusal().text(), HasSubstr("a.vmdk, b.vmdk"));
    EXPECT_THAT(v.refusal().text(), HasSubstr("VSS"));
    EXPECT_THAT(v.refusal().text(), HasSubstr("runs on b.vmdk"));
  }
  // Another disk of the same VM, and a non-disk file, still offload.
  EXPECT_TRUE(DecideCloneFile(r, "data-flat.vmdk", v1::MECHANISM_EXTENT_CLONE)
                  .offloaded());
  EXPECT_TRUE(
      DecideCloneFile(r, "vmware.log", v1::MECHANISM_EXTENT_CLONE).offloaded());
  v1::Verdict vm = DecideCloneVm(r);
  EXPECT_FALSE(vm.offloaded());
  EXPECT_EQ(vm.refusal().code(), v1::REASON_VSS_SIBLING_REDO_LOGS);
}

// The refusal text used to append "Likely cause: a VSS-quiesced snapshot"
// to every tree, contradicting an analyzer that had found a snapshot tree.
TEST(ChainPolicyTest, TreeRefusalKeepsTheAnalyzersCause) {
  ChainReport r = Vss();
  r.findings[0].detail =
      "vm.vmdk has 2 child redo logs (a.vmdk, b.vmdk): the disk is a tree, not a "
      "chain; every branch is recorded in the .vmsd/.vmx, so this is a snapshot "
      "tree (a revert followed by new snapshots)";
  v1::Verdict v = DecideCloneVm(r);
  EXPECT_FALSE(v.offloaded());
  EXPECT_EQ(v.refusal().code(), v1::REASON_VSS_SIBLING_REDO_LOGS);
  EXPECT_THAT(v.refusal().text(), HasSubstr("snapshot tree"));
  EXPECT_THAT(v.refusal().text(), ::testing::Not(HasSubstr("VSS")));
}

TEST(ChainPolicyTest, RunningVmBlocksLeavesNotFrozenParents) {
  ChainReport r;
  r.disks = {Disk("vm.vmdk", "", {"vm-000001.vmdk"}, "vm-flat.vmdk"),
             Disk("vm-000001.vmdk", "vm.vmdk", {}, "vm-000001-delta.vmdk")};
  r.disks[1].in_use_by_vmx = true;
  r.chains = {{"vm.vmdk", "vm-000001.vmdk"}};
  Finding f;
  f.reason = Reason::kRunningVm;
  f.blocks_offload = false;  // the analyzer may call it informational
  f.detail = "fresh lock";
  f.files = {".lck-1"};
  r.findings = {f};
  EXPECT_FALSE(DecideCloneFile(r, "vm-000001-delta.vmdk",
                               v1::MECHANISM_EXTENT_CLONE).offloaded());
  v1::Verdict parent =
      DecideCloneFile(r, "vm-flat.vmdk", v1::MECHANISM_EXTENT_CLONE);
  EXPECT_TRUE(parent.offloaded());
  EXPECT_THAT(parent.explanation(), HasSubstr("linear chain"));
  EXPECT_FALSE(DecideCloneVm(r).offloaded());
  EXPECT_EQ(DecideCloneVm(r).refusal().code(), v1::REASON_RUNNING_VM);
  EXPECT_TRUE(DecideSnapshot(r, "", false).offloaded());
  EXPECT_THAT(DecideSnapshot(r, "", false).explanation(),
              HasSubstr("crash-consistent"));
  EXPECT_FALSE(DecideSnapshot(r, "", true).offloaded());
}

// A snapshot with an independent disk: VMware leaves the disk out of its
// snapshots; a snapshot/restore of the directory does not, and says so.
TEST(ChainPolicyTest, SnapshotNamesIndependentDisks) {
  ChainReport r;
  r.disks = {Disk("vm.vmdk", "", {}, "vm-flat.vmdk"),
             Disk("vm_1.vmdk", "", {}, "vm_1-flat.vmdk")};
  r.disks[1].independent = true;
  r.chains = {{"vm.vmdk"}, {"vm_1.vmdk"}};
  v1::Verdict restore = DecideSnapshot(r, "", true);
  EXPECT_TRUE(restore.offloaded());
  ASSERT_EQ(restore.findings_size(), 1);
  EXPECT_THAT(restore.findings(0).text(), HasSubstr("vm_1.vmdk is an independent disk"));
  EXPECT_THAT(restore.findings(0).text(), HasSubstr("rolls it back"));
  EXPECT_EQ(DecideSnapshot(r, "vm_1-flat.vmdk", false).findings_size(), 1);
  EXPECT_EQ(DecideSnapshot(r, "vm-flat.vmdk", false).findings_size(), 0);
  EXPECT_THAT(DecideSnapshot(r, "", false).explanation(),
              ::testing::Not(HasSubstr("crash-consistent")));
}

TEST(ChainPolicyTest, CleanFlatDiskOffloads) {
  ChainReport r;
  r.disks = {Disk("vm.vmdk", "", {}, "vm-flat.vmdk")};
  r.chains = {{"vm.vmdk"}};
  v1::Verdict v = DecideCloneFile(r, "vm-flat.vmdk", v1::MECHANISM_EXTENT_CLONE);
  EXPECT_TRUE(v.offloaded());
  EXPECT_EQ(v.mechanism(), v1::MECHANISM_EXTENT_CLONE);
  EXPECT_EQ(v.refusal().code(), v1::REASON_NONE);
  EXPECT_TRUE(DecideCloneVm(r).offloaded());
}

TEST(ChainPolicyTest, ReasonNumbersMirrorVmformat) {
  for (int i = 0; i <= static_cast<int>(Reason::kMissingExtent); ++i) {
    EXPECT_EQ(static_cast<int>(ToProtoReason(static_cast<Reason>(i))), i);
    EXPECT_EQ(vmformat::ReasonName(static_cast<Reason>(i)),
              v1::ReasonCode_Name(static_cast<v1::ReasonCode>(i)).substr(7));
  }
}

}  // namespace
}  // namespace vnas::control
