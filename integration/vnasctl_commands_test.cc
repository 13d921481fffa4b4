// Every vnasctl command against a live vnasd, checking its --json output
// against what was done through NFS and the control plane.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/plugin_testutil.h"

namespace vnas::plugintest {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kMiB = 1 << 20;

class VnasctlCommandsTest : public LiveTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(LiveTest::SetUp());
    ASSERT_TRUE(live_->Write("vm1/vm1.vmdk",
                             "# Disk DescriptorFile\nversion=1\nCID=11111111\n"
                             "parentCID=ffffffff\ncreateType=\"vmfs\"\n"
                             "RW 4096 VMFS \"vm1-flat.vmdk\"\n")
                    .ok());
    ASSERT_TRUE(live_->Write("vm1/vm1-flat.vmdk", RandomBytes(2 * kMiB, 1)).ok());
    ASSERT_TRUE(live_->Write("vm1/vm1.vmx", "displayName = \"vm1\"\n"
                                            "scsi0:0.fileName = \"vm1.vmdk\"\n")
                    .ok());
  }

  std::string Human(const std::string& args, int want_exit = 0) {
    auto r = RunCmd(live_->Vnasctl() + args, /*with_stderr=*/true);
    EXPECT_EQ(r.exit_code, want_exit) << args << ": " << r.output;
    return r.output;
  }

  void WriteVss() {
    ASSERT_TRUE(live_->Write("vss/vm.vmdk", "version=1\nCID=3a5c0f21\nparentCID=ffffffff\n"
                                            "createType=\"vmfs\"\nRW 2048 VMFS \"vm-flat.vmdk\"\n")
                    .ok());
    for (int i = 1; i <= 2; ++i) {
      ASSERT_TRUE(live_->Write(absl::StrCat("vss/vm-00000", i, ".vmdk"),
                               absl::StrCat("version=1\nCID=", i == 1 ? "7b2e9d44" : "5e90b7c1",
                                            "\nparentCID=3a5c0f21\ncreateType=\"vmfsSparse\"\n"
                                            "parentFileNameHint=\"vm.vmdk\"\n"
                                            "RW 2048 VMFSSPARSE \"vm-00000",
                                            i, "-delta.vmdk\"\n"))
                      .ok());
      ASSERT_TRUE(live_->Write(absl::StrCat("vss/vm-00000", i, "-delta.vmdk"),
                               RandomBytes(64 << 10, 20 + i))
                      .ok());
    }
    ASSERT_TRUE(live_->Write("vss/vm-flat.vmdk", RandomBytes(kMiB, 30)).ok());
    ASSERT_TRUE(live_->Write("vss/vm.vmx", "scsi0:0.fileName = \"vm-000002.vmdk\"\n").ok());
  }
};

TEST_F(VnasctlCommandsTest, StatusCapabilitiesMembersFsck) {
  Json st = Ctl("status");
  ASSERT_EQ(st.At("exports").size(), 1u);
  EXPECT_EQ(st.At("exports.0").Str(), "/vnas");
  EXPECT_FALSE(st.At("version").Str().empty());
  EXPECT_GT(st.At("store.capacity").AsUint(), 0u);
  EXPECT_GE(st.At("store.used").AsUint(), 2 * kMiB);
  // The descriptor and the .vmx are small files: their bytes are kept in
  // the metadata, and counted in used.
  const uint64_t small = live_->Read("vm1/vm1.vmdk")->size() +
                         live_->Read("vm1/vm1.vmx")->size();
  EXPECT_EQ(st.At("store.inline_bytes").AsUint(), small);
  EXPECT_THAT(Human("status"), HasSubstr("inline in the metadata"));
  EXPECT_EQ(st.At("control_listen").Str().empty(), false);
  EXPECT_THAT(Human("status"), HasSubstr("exports     /vnas"));
  // vnasd's data cache is on by default and, as bulk data fills it, all
  // of its memory is committed at start (the harness asks for 64 MiB).
  EXPECT_EQ(st.At("data_cache.capacity_bytes").AsUint(), 64 * kMiB);
  EXPECT_EQ(st.At("data_cache.resident_bytes").AsUint(), 64 * kMiB);
  EXPECT_THAT(Human("status"), HasSubstr("data cache  "));
  EXPECT_THAT(Human("status"), HasSubstr("64.0 MiB resident"));
  // The 1 MiB flat disk went over NFS as one WRITE, received straight into
  // the cache's memory: its 16 chunks were kept there, not copied.
  EXPECT_GE(st.At("data_cache.filled_in_place").AsUint(), 16u);
  EXPECT_THAT(Human("status"), HasSubstr(" where received)"));

  Json caps = Ctl("capabilities");
  EXPECT_EQ(caps.At("export_path").Str(), "/vnas");
  EXPECT_GT(caps.At("primitives").size(), 0u);

  Json m = Ctl("members");
  EXPECT_EQ(m.At("members").size(), st.At("store.members").AsUint());
  uint64_t written = 0;
  for (const Json& x : m.At("members").items) written += x.At("bytes_written").AsUint();
  EXPECT_GE(written, 2 * kMiB);

  Json f = Ctl("fsck");
  EXPECT_TRUE(f.At("clean").Bool()) << Human("fsck");
  EXPECT_GT(f.At("inodes").AsUint(), 3u);
  EXPECT_THAT(Human("fsck"), HasSubstr("fsck: clean"));
}

TEST_F(VnasctlCommandsTest, StatCloneSpaceAndAlignment) {
  Json s = Ctl("stat vm1/vm1-flat.vmdk");
  EXPECT_EQ(s.At("total").AsUint(), 2 * kMiB);
  EXPECT_EQ(s.At("allocated").AsUint(), 2 * kMiB);
  EXPECT_EQ(s.At("unique").AsUint(), 2 * kMiB);
  EXPECT_FALSE(s.At("file.directory").Bool());

  const uint64_t used = Ctl("space").At("store.used").AsUint();
  Json c = Ctl("clone vm1/vm1-flat.vmdk vm1/copy-flat.vmdk");
  EXPECT_TRUE(c.At("verdict.offloaded").Bool());
  EXPECT_EQ(c.At("bytes_shared").AsUint(), 2 * kMiB);
  EXPECT_EQ(Ctl("stat vm1/copy-flat.vmdk").At("unique").AsUint(), 0u);
  EXPECT_EQ(Ctl("stat vm1/vm1-flat.vmdk").At("space.shared").AsUint(), 2 * kMiB);

  Json sp = Ctl("space");
  EXPECT_EQ(sp.At("store.used").AsUint(), used) << "an offloaded clone copies nothing";
  // The per-VM rows add up to the datastore's used bytes.
  uint64_t sum = sp.At("shared_counted_once").AsUint() + sp.At("root_files.unique").AsUint() +
                 sp.At("root_files.snapshot_only").AsUint();
  bool saw_vm1 = false;
  for (const Json& vm : sp.At("vms").items) {
    sum += vm.At("space.unique").AsUint() + vm.At("space.snapshot_only").AsUint();
    if (vm.At("name").Str() == "vm1") {
      saw_vm1 = true;
      EXPECT_TRUE(vm.At("has_vmx").Bool());
      EXPECT_EQ(vm.At("space.files").AsUint(), 4u);
      EXPECT_EQ(vm.At("space.shared").AsUint(), 4 * kMiB);  // both flat files
    }
  }
  EXPECT_TRUE(saw_vm1);
  EXPECT_EQ(sum, sp.At("store.used").AsUint());
  EXPECT_THAT(Human("space"), HasSubstr("(adds up)"));

  Json a = Ctl("alignment vm1/vm1-flat.vmdk");
  EXPECT_GE(a.At("writes").AsUint(), 2u);  // 2 MiB written in 1 MiB requests
  EXPECT_EQ(a.At("offset_aligned_4k").AsUint(), a.At("writes").AsUint());
  EXPECT_GT(a.At("segment_size").AsUint(), 0u);
  // The VM and the whole datastore sum their files.
  Json vm_align = Ctl("alignment vm1");
  EXPECT_GE(vm_align.At("files").AsUint(), 2u);
  EXPECT_GE(vm_align.At("writes").AsUint(), a.At("writes").AsUint());
  Json all_align = Ctl("alignment");
  EXPECT_GE(all_align.At("files").AsUint(), vm_align.At("files").AsUint());
  EXPECT_GE(all_align.At("writes").AsUint(), vm_align.At("writes").AsUint());

  // Errors are clear, in JSON too.
  Json missing = Ctl("stat vm1/nope", 1);
  EXPECT_EQ(missing.At("error").Str(), "NOT_FOUND");
  auto down = RunCmd(BinPath("server/admin/vnasctl") + " --control 127.0.0.1:1 status", true);
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_THAT(down.output, HasSubstr("cannot reach vnasd at 127.0.0.1:1: is it running?"));
}

TEST_F(VnasctlCommandsTest, ChainDryRunAndReceipts) {
  WriteVss();
  Json ch = Ctl("chain vss");
  EXPECT_FALSE(ch.At("linear").Bool());
  EXPECT_EQ(ch.At("disks").size(), 3u);
  EXPECT_FALSE(ch.At("offloadable").Bool());
  bool vss = false;
  for (size_t i = 0; i < ch.At("findings").size(); ++i) {
    const Json& f = ch.At("findings").items[i];
    if (f.At("code").Str() == "REASON_VSS_SIBLING_REDO_LOGS") {
      vss = true;
      EXPECT_TRUE(ch.At("findings_block").items.at(i).Bool());
    }
  }
  EXPECT_TRUE(vss);
  const std::string tree = Human("chain vss");
  EXPECT_THAT(tree, HasSubstr("vm.vmdk  [vmfs, CID 3a5c0f21"));
  EXPECT_THAT(tree, HasSubstr("\u251c\u2500\u2500 vm-000001.vmdk"));
  EXPECT_THAT(tree, HasSubstr("\u2514\u2500\u2500 vm-000002.vmdk"));
  EXPECT_THAT(tree, HasSubstr("VSS_SIBLING_REDO_LOGS"));

  // A dry run of a file of that tree is refused with the reason.
  auto dry = RunCmd(live_->Vnasctl() + "clone --dry-run vss/vm-flat.vmdk vss/x.vmdk --json");
  EXPECT_EQ(dry.exit_code, 1) << dry.output;
  EXPECT_THAT(dry.output, HasSubstr("VSS_SIBLING_REDO_LOGS"));
  EXPECT_FALSE(live_->Exists("vss/x.vmdk"));

  // An offloaded clone, then the newest receipts show both, newest last.
  Ctl("clone vm1/vm1-flat.vmdk vm1/c2-flat.vmdk");
  Json rc = Ctl("receipts --last 2");
  ASSERT_EQ(rc.At("receipts").size(), 2u);
  const Json& first = rc.At("receipts.0");
  const Json& last = rc.At("receipts.1");
  EXPECT_EQ(first.At("source").Str(), "vss/vm-flat.vmdk");
  EXPECT_TRUE(first.At("dry_run").Bool());
  EXPECT_FALSE(first.At("offloaded").Bool());
  EXPECT_EQ(first.At("reason").Str(), "REASON_VSS_SIBLING_REDO_LOGS");
  EXPECT_EQ(last.At("destination").Str(), "vm1/c2-flat.vmdk");
  EXPECT_TRUE(last.At("offloaded").Bool());
  EXPECT_EQ(last.At("client_id").Str(), "vnasctl");
  EXPECT_GT(last.At("seq").AsUint(), first.At("seq").AsUint());

  // --follow: the tail, then a receipt written while following.
  auto follow = RunCmd(absl::StrCat("(sleep 1; ", live_->Vnasctl(),
                                    "clone vm1/vm1-flat.vmdk vm1/c3-flat.vmdk >/dev/null) & ",
                                    "timeout 4 ", live_->Vnasctl(),
                                    "receipts --follow --last 1 --json; wait"));
  std::vector<std::string> lines = absl::StrSplit(follow.output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << follow.output;
  auto tail = Json::Parse(lines[0]);
  auto live_line = Json::Parse(lines[1]);
  ASSERT_TRUE(tail.ok() && live_line.ok()) << follow.output;
  EXPECT_EQ(tail->At("destination").Str(), "vm1/c2-flat.vmdk");
  EXPECT_EQ(live_line->At("destination").Str(), "vm1/c3-flat.vmdk");
}

TEST_F(VnasctlCommandsTest, CloneVmWaitAndOps) {
  Json c = Ctl("clone vm1 vm5 --wait");
  EXPECT_EQ(c.At("operation.state").Str(), "OPERATION_SUCCEEDED") << c.At("operation.error.text").Str();
  const std::string id = c.At("operation.id").Str();
  ASSERT_FALSE(id.empty());
  EXPECT_GT(c.At("plan").size(), 0u);
  EXPECT_TRUE(live_->Exists("vm5/vm5.vmx"));
  EXPECT_TRUE(live_->Exists("vm5/vm5-flat.vmdk"));
  auto data = live_->Read("vm5/vm5-flat.vmdk");
  ASSERT_TRUE(data.ok());
  EXPECT_TRUE(*data == RandomBytes(2 * kMiB, 1));

  Json ops = Ctl("ops --all");
  bool found = false;
  for (const Json& op : ops.At("operations").items) {
    if (op.At("id").Str() != id) continue;
    found = true;
    EXPECT_EQ(op.At("kind").Str(), "CloneVm");
    EXPECT_EQ(op.At("source").Str(), "vm1");
    EXPECT_EQ(op.At("files_done").AsUint(), op.At("files_total").AsUint());
  }
  EXPECT_TRUE(found) << "operation " << id << " missing from ops --all";
  EXPECT_EQ(Ctl("ops").At("operations").size(), 0u);  // nothing running now
  // Cancelling a finished operation is refused or a no-op, never a crash.
  auto cancel = RunCmd(live_->Vnasctl() + "ops cancel " + id + " --json");
  EXPECT_TRUE(cancel.exit_code == 0 || cancel.exit_code == 1) << cancel.output;
  // Human form with a progress bar.
  const std::string out = Human("clone vm1 vm6 --wait");
  EXPECT_THAT(out, HasSubstr("SUCCEEDED"));

  // Without --wait the reply names the operation; ops watch follows it to
  // its final state.
  Json started = Ctl("clone vm1 vm8");
  const std::string id8 = started.At("operation.id").Str();
  ASSERT_FALSE(id8.empty());
  Json watched = Ctl("ops watch " + id8);
  EXPECT_EQ(watched.At("id").Str(), id8);
  EXPECT_EQ(watched.At("state").Str(), "OPERATION_SUCCEEDED");
  EXPECT_EQ(watched.At("bytes_done").AsUint(), watched.At("bytes_total").AsUint());
  EXPECT_TRUE(live_->Exists("vm8/vm8-flat.vmdk"));
}

TEST_F(VnasctlCommandsTest, SnapshotsAndReserve) {
  Json cr = Ctl("snapshot create vm1 before");
  const uint64_t id = cr.At("snapshot.id").AsUint();
  ASSERT_GT(id, 0u);
  EXPECT_EQ(cr.At("snapshot.name").Str(), "before");
  EXPECT_TRUE(cr.At("snapshot.directory").Bool());

  Json list = Ctl("snapshot list");
  ASSERT_EQ(list.At("snapshots").size(), 1u);
  EXPECT_EQ(list.At("snapshots.0.id").AsUint(), id);
  EXPECT_EQ(list.At("snapshots.0.source_path").Str(), "vm1");
  EXPECT_EQ(Ctl("snapshot list vm1").At("snapshots").size(), 1u);

  // Overwrite, restore, and the old data is back.
  const std::string orig = *live_->Read("vm1/vm1-flat.vmdk");
  ASSERT_TRUE(live_->WriteAt("vm1/vm1-flat.vmdk", 0, RandomBytes(kMiB, 99)).ok());
  // The snapshot now holds the overwritten MiB alone, and vm1's row in the
  // space table counts it as snapshot-only. So are its copies of the small
  // files (the descriptor and the .vmx keep their bytes inline, and a
  // snapshot copies inline bytes instead of sharing them).
  const uint64_t small = live_->Read("vm1/vm1.vmdk")->size() +
                         live_->Read("vm1/vm1.vmx")->size();
  EXPECT_EQ(Ctl("snapshot list").At("snapshots.0.space.unique").AsUint(),
            kMiB + small);
  for (const Json& vm : Ctl("space").At("vms").items) {
    if (vm.At("name").Str() == "vm1") {
      EXPECT_EQ(vm.At("space.snapshot_only").AsUint(), kMiB + small);
      EXPECT_EQ(vm.At("snapshots").AsUint(), 1u);
    }
  }
  Ctl(absl::StrCat("snapshot restore ", id));
  EXPECT_TRUE(*live_->Read("vm1/vm1-flat.vmdk") == orig);

  // A linked clone of the snapshot.
  Ctl(absl::StrCat("snapshot clone ", id, " vm7"));
  EXPECT_TRUE(*live_->Read("vm7/vm1-flat.vmdk") == orig);

  Ctl(absl::StrCat("snapshot delete ", id));
  EXPECT_EQ(Ctl("snapshot list").At("snapshots").size(), 0u);
  Ctl(absl::StrCat("snapshot delete ", id), 1);  // gone

  // Reserve: the store and the file both account for it; 0 drops it.
  ASSERT_TRUE(live_->Write("res/disk.img", RandomBytes(kMiB, 4)).ok());
  const uint64_t before = Ctl("space").At("store.reserved").AsUint();
  Json r = Ctl("reserve res/disk.img 8M");
  const uint64_t reserved = r.At("space.reserved").AsUint();
  EXPECT_EQ(reserved, 7 * kMiB) << "8 MiB guaranteed, 1 MiB already written";
  EXPECT_EQ(Ctl("stat res/disk.img").At("space.reserved").AsUint(), reserved);
  EXPECT_EQ(Ctl("space").At("store.reserved").AsUint(), before + reserved);
  Ctl("reserve res/disk.img 0");
  EXPECT_EQ(Ctl("space").At("store.reserved").AsUint(), before);
  EXPECT_EQ(RunCmd(live_->Vnasctl() + "reserve res/disk.img 8Q").exit_code, 2);
}

}  // namespace
}  // namespace vnas::plugintest
