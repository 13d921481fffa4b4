#include "server/admin/chain_tree.h"

#include "gtest/gtest.h"

namespace vnas::admin {
namespace {

vnas::v1::DiskNode* Disk(vnas::v1::GetChainResponse* c, const std::string& file,
                         const std::string& cid, const std::string& parent) {
  auto* d = c->add_disks();
  d->set_file(file);
  d->set_cid(cid);
  d->set_parent(parent);
  d->set_create_type(parent.empty() ? "vmfs" : "vmfsSparse");
  return d;
}

TEST(ChainTreeTest, VssSiblingsDrawnAsBranches) {
  vnas::v1::GetChainResponse c;
  c.set_directory("vm");
  auto* base = Disk(&c, "vm.vmdk", "3a5c0f21", "");
  base->add_children("vm-000001.vmdk");
  base->add_children("vm-000002.vmdk");
  Disk(&c, "vm-000001.vmdk", "7b2e9d44", "vm.vmdk");
  Disk(&c, "vm-000002.vmdk", "5e90b7c1", "vm.vmdk")->set_in_use_by_vmx(true);
  c.set_linear(false);
  auto* f = c.add_findings();
  f->set_code(vnas::v1::REASON_VSS_SIBLING_REDO_LOGS);
  f->set_name("VSS_SIBLING_REDO_LOGS");
  f->set_text("vm.vmdk has 2 child redo logs");
  c.add_findings_block(true);
  c.mutable_clone_vm()->mutable_refusal()->set_name("VSS_SIBLING_REDO_LOGS");
  c.mutable_clone_vm()->mutable_refusal()->set_text("two children");
  EXPECT_EQ(RenderChain(c),
            "vm \u2014 3 disks, NOT linear (a tree)\n"
            "vm.vmdk  [vmfs, CID 3a5c0f21]\n"
            "\u251c\u2500\u2500 vm-000001.vmdk  [vmfsSparse, CID 7b2e9d44]\n"
            "\u2514\u2500\u2500 vm-000002.vmdk  [vmfsSparse, CID 5e90b7c1]  <- .vmx (running leaf)\n"
            "verdict (clone VM): NOT offloadable: VSS_SIBLING_REDO_LOGS: two children\n"
            "findings:\n"
            "  \u2717 blocks  VSS_SIBLING_REDO_LOGS: vm.vmdk has 2 child redo logs\n");
}

TEST(ChainTreeTest, LinearChainIndentsAndCycleIsCut) {
  vnas::v1::GetChainResponse c;
  c.set_directory("lin");
  c.set_linear(true);
  c.set_offloadable(true);
  Disk(&c, "a.vmdk", "1", "")->add_children("b.vmdk");
  Disk(&c, "b.vmdk", "2", "a.vmdk")->add_children("c.vmdk");
  Disk(&c, "c.vmdk", "3", "b.vmdk");
  // x <-> y: a cycle without a root.
  Disk(&c, "x.vmdk", "", "y.vmdk")->add_children("y.vmdk");
  Disk(&c, "y.vmdk", "", "x.vmdk")->add_children("x.vmdk");
  std::string s = RenderChain(c);
  EXPECT_NE(s.find("a.vmdk  [vmfs, CID 1]\n\u2514\u2500\u2500 b.vmdk  [vmfsSparse, CID 2]\n"
                   "    \u2514\u2500\u2500 c.vmdk"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("(cycle)"), std::string::npos) << s;
  EXPECT_NE(s.find("verdict (clone VM): offloadable\n"), std::string::npos) << s;
}

}  // namespace
}  // namespace vnas::admin
