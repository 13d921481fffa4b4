// The host plugin against a live vnasd: offloaded clones (receipt, space),
// the VSS two-sibling refusal and its host-copy fallback, an unreachable
// control plane, and cancellation through the C ABI's progress callback.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/plugin_testutil.h"
#include "plugins/host/vnas_offload.h"

namespace vnas::plugintest {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kMiB = 1 << 20;

class PluginCloneTest : public LiveTest {
 protected:
  Json Offload(const std::string& args, int want_exit) {
    return RunJson(live_->Offload(), args, want_exit);
  }

  // The VSS-quiesced layout (protocol-and-formats.md §3): base vm.vmdk with
  // two child redo logs; the .vmx runs vm-000002.vmdk.
  void WriteVssVm(const std::string& dir, const std::string& flat_data) {
    ASSERT_TRUE(live_->Write(dir + "/vm.vmdk",
                             "# Disk DescriptorFile\nversion=1\nCID=3a5c0f21\n"
                             "parentCID=ffffffff\ncreateType=\"vmfs\"\n\n"
                             "RW 8192 VMFS \"vm-flat.vmdk\"\n\n"
                             "ddb.adapterType = \"lsilogic\"\n")
                    .ok());
    ASSERT_TRUE(live_->Write(dir + "/vm-000001.vmdk",
                             "# Disk DescriptorFile\nversion=1\nCID=7b2e9d44\n"
                             "parentCID=3a5c0f21\ncreateType=\"vmfsSparse\"\n"
                             "parentFileNameHint=\"vm.vmdk\"\n\n"
                             "RW 8192 VMFSSPARSE \"vm-000001-delta.vmdk\"\n")
                    .ok());
    ASSERT_TRUE(live_->Write(dir + "/vm-000002.vmdk",
                             "# Disk DescriptorFile\nversion=1\nCID=5e90b7c1\n"
                             "parentCID=3a5c0f21\ncreateType=\"vmfsSparse\"\n"
                             "parentFileNameHint=\"vm.vmdk\"\n\n"
                             "RW 8192 VMFSSPARSE \"vm-000002-delta.vmdk\"\n")
                    .ok());
    ASSERT_TRUE(live_->Write(dir + "/vm-flat.vmdk", flat_data).ok());
    ASSERT_TRUE(live_->Write(dir + "/vm-000001-delta.vmdk", RandomBytes(64 << 10, 11)).ok());
    ASSERT_TRUE(live_->Write(dir + "/vm-000002-delta.vmdk", RandomBytes(64 << 10, 12)).ok());
    ASSERT_TRUE(live_->Write(dir + "/vm.vmx",
                             ".encoding = \"UTF-8\"\ndisplayName = \"vm\"\n"
                             "scsi0:0.present = \"TRUE\"\nscsi0:0.fileName = \"vm-000002.vmdk\"\n")
                    .ok());
  }
};

TEST_F(PluginCloneTest, OffloadedCloneSharesExtentsAndLeavesReceipt) {
  // 8 MiB file: 2 MiB data, 4 MiB hole, 2 MiB data.
  const std::string a = RandomBytes(2 * kMiB, 1), b = RandomBytes(2 * kMiB, 2);
  ASSERT_TRUE(live_->WriteAt("vm1/vm1-flat.vmdk", 0, a).ok());
  ASSERT_TRUE(live_->WriteAt("vm1/vm1-flat.vmdk", 6 * kMiB, b).ok());
  const uint64_t used_before = Ctl("space").At("store.used").AsUint();
  ASSERT_GE(used_before, 4 * kMiB);

  Json r = Offload(absl::StrCat("clone '", live_->Url("vm1/vm1-flat.vmdk"), "' '",
                                live_->Url("vm2/vm2-flat.vmdk"), "'"),
                   0);
  EXPECT_EQ(r.At("outcome").Str(), "offloaded");
  EXPECT_EQ(r.At("bytes_copied").AsUint(), 0u);
  EXPECT_EQ(r.At("bytes_shared").AsUint(), 8 * kMiB);
  const uint64_t seq = r.At("receipt_seq").AsUint();
  EXPECT_GT(seq, 0u);

  // Nothing was copied: the datastore's used space did not move.
  EXPECT_EQ(Ctl("space").At("store.used").AsUint(), used_before);

  // The receipt says so.
  Json receipts = Ctl("receipts --last 10").At("receipts");
  bool found = false;
  for (const Json& rc : receipts.items) {
    if (rc.At("seq").AsUint() != seq) continue;
    found = true;
    EXPECT_TRUE(rc.At("offloaded").Bool());
    EXPECT_EQ(rc.At("kind").Str(), "RECEIPT_CLONE_FILE");
    EXPECT_EQ(rc.At("source").Str(), "vm1/vm1-flat.vmdk");
    EXPECT_EQ(rc.At("destination").Str(), "vm2/vm2-flat.vmdk");
    EXPECT_EQ(rc.At("client_id").Str(), "vnas-offload");
    EXPECT_EQ(rc.At("bytes_copied").AsUint(), 0u);
  }
  EXPECT_TRUE(found) << "no receipt #" << seq;

  // Both files share every allocated byte; neither has unique bytes.
  for (const char* f : {"vm1/vm1-flat.vmdk", "vm2/vm2-flat.vmdk"}) {
    SCOPED_TRACE(f);
    Json s = Ctl(absl::StrCat("stat ", f));
    EXPECT_EQ(s.At("total").AsUint(), 8 * kMiB);
    EXPECT_EQ(s.At("allocated").AsUint(), 4 * kMiB);
    EXPECT_EQ(s.At("unique").AsUint(), 0u);
    EXPECT_EQ(s.At("space.shared").AsUint(), 4 * kMiB);
  }
  auto data = live_->Read("vm2/vm2-flat.vmdk");
  ASSERT_TRUE(data.ok());
  EXPECT_TRUE(*data == a + std::string(4 * kMiB, '\0') + b) << "clone content differs";

  // A write to the clone makes exactly its segments unique (copy on write).
  ASSERT_TRUE(live_->WriteAt("vm2/vm2-flat.vmdk", 0, RandomBytes(64 << 10, 3)).ok());
  Json s = Ctl("stat vm2/vm2-flat.vmdk");
  const uint64_t seg = Ctl("capabilities").At("segment_size").AsUint();
  ASSERT_GT(seg, 0u);
  EXPECT_EQ(s.At("unique").AsUint(), std::max<uint64_t>(seg, 64 << 10));
  EXPECT_EQ(Ctl("stat vm1/vm1-flat.vmdk").At("unique").AsUint(), s.At("unique").AsUint());
}

TEST_F(PluginCloneTest, VssSiblingsAreRefusedAndCopiedOnTheHost) {
  // 3 MiB of data then 1 MiB of zeros: the zeros must not be written.
  const std::string flat = RandomBytes(3 * kMiB, 7) + std::string(kMiB, '\0');
  WriteVssVm("vm", flat);
  const std::string src = live_->Url("vm/vm-flat.vmdk");
  const std::string dst = live_->Url("copy/vm-flat.vmdk");

  Json dry = Offload(absl::StrCat("clone --dry-run '", src, "' '", dst, "'"), 3);
  EXPECT_EQ(dry.At("outcome").Str(), "dry_run");
  EXPECT_FALSE(dry.At("would_offload").Bool());
  EXPECT_EQ(dry.At("reason_name").Str(), "VSS_SIBLING_REDO_LOGS");
  EXPECT_FALSE(live_->Exists("copy/vm-flat.vmdk"));

  Json r = Offload(absl::StrCat("clone '", src, "' '", dst, "'"), 3);
  EXPECT_EQ(r.At("outcome").Str(), "fell_back");
  EXPECT_EQ(r.At("reason_name").Str(), "VSS_SIBLING_REDO_LOGS");
  EXPECT_THAT(r.At("reason").Str(), HasSubstr("vm.vmdk"));
  EXPECT_EQ(r.At("bytes_total").AsUint(), 4 * kMiB);
  EXPECT_EQ(r.At("bytes_copied").AsUint(), 3 * kMiB);
  EXPECT_EQ(r.At("bytes_skipped").AsUint(), kMiB);
  EXPECT_EQ(r.At("bytes_shared").AsUint(), 0u);

  auto copy = live_->Read("copy/vm-flat.vmdk");
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_TRUE(*copy == flat) << "host copy differs from the source";
  // Sparse stays sparse, and a copy shares nothing.
  Json s = Ctl("stat copy/vm-flat.vmdk");
  EXPECT_EQ(s.At("total").AsUint(), 4 * kMiB);
  EXPECT_EQ(s.At("allocated").AsUint(), 3 * kMiB);
  EXPECT_EQ(s.At("unique").AsUint(), 3 * kMiB);

  // The refusal left a receipt naming the reason.
  bool refused = false;
  Json all = Ctl("receipts --last 10");
  for (const Json& rc : all.At("receipts").items) {
    if (rc.At("source").Str() == "vm/vm-flat.vmdk" && !rc.At("dry_run").Bool()) {
      refused = !rc.At("offloaded").Bool() &&
                rc.At("reason").Str() == "REASON_VSS_SIBLING_REDO_LOGS";
    }
  }
  EXPECT_TRUE(refused) << RunCmd(live_->Vnasctl() + "receipts").output;

  // The descriptor of a sibling is refused for the same reason.
  Json d = Offload(absl::StrCat("clone '", live_->Url("vm/vm-000002.vmdk"), "' '",
                                live_->Url("copy/vm-000002.vmdk"), "'"),
                   3);
  EXPECT_EQ(d.At("reason_name").Str(), "VSS_SIBLING_REDO_LOGS");
  auto desc = live_->Read("copy/vm-000002.vmdk");
  ASSERT_TRUE(desc.ok());
  EXPECT_THAT(*desc, HasSubstr("parentCID=3a5c0f21"));
}

TEST_F(PluginCloneTest, UnreachableControlPlaneFallsBack) {
  const std::string data = RandomBytes(1536 << 10, 9);
  ASSERT_TRUE(live_->Write("vm3/disk.img", data).ok());
  auto r = RunCmd(absl::StrCat(BinPath("plugins/host/vnas-offload"),
                               " --control 127.0.0.1:1 --timeout 5 --json clone '",
                               live_->Url("vm3/disk.img"), "' '", live_->Url("vm4/disk.img"), "'"));
  ASSERT_EQ(r.exit_code, 3) << r.output;
  auto j = Json::Parse(r.output);
  ASSERT_TRUE(j.ok()) << r.output;
  EXPECT_EQ(j->At("reason_name").Str(), "UNREACHABLE");
  EXPECT_THAT(j->At("reason").Str(), HasSubstr("cannot reach vnasd at 127.0.0.1:1"));
  EXPECT_EQ(j->At("bytes_copied").AsUint(), data.size());
  auto copy = live_->Read("vm4/disk.img");
  ASSERT_TRUE(copy.ok());
  EXPECT_TRUE(*copy == data);
}

TEST_F(PluginCloneTest, GuardedCloneOfExistingDestinationFails) {
  ASSERT_TRUE(live_->Write("g/a.img", "aaaa").ok());
  ASSERT_TRUE(live_->Write("g/b.img", "bbbb").ok());
  auto r = RunCmd(absl::StrCat(live_->Offload(), "--guarded clone '", live_->Url("g/a.img"),
                               "' '", live_->Url("g/b.img"), "'"),
                  /*with_stderr=*/true);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("exists"));
  EXPECT_EQ(*live_->Read("g/b.img"), "bbbb");
}

struct CancelCtx {
  int calls = 0;
};

int CancelAfterTwo(void* ctx, uint64_t, uint64_t) {
  return ++static_cast<CancelCtx*>(ctx)->calls >= 2 ? 1 : 0;
}

TEST_F(PluginCloneTest, ProgressCallbackCancelsHostCopyThroughCAbi) {
  ASSERT_TRUE(live_->Write("big/src.img", RandomBytes(16 * kMiB, 5)).ok());
  const std::string control = live_->Control();
  vnas_session_params p{};
  p.server = "127.0.0.1";
  p.export_path = "/vnas";
  p.nfs_port = live_->vnasd->nfs_port();
  p.mount_port = live_->vnasd->nfs_port();
  p.control_endpoint = control.c_str();
  p.timeout_ms = 10000;
  p.copy_depth = 2;  // few chunks in flight: the cancel lands early
  vnas_session* s = nullptr;
  ASSERT_EQ(vnas_session_start(&p, &s), VNAS_OK) << vnas_last_error(nullptr);

  CancelCtx ctx;
  vnas_primitive_args a{};
  a.primitive = VNAS_PRIM_CLONE_FILE;
  a.src_path = "big/src.img";
  a.dst_path = "/vnas/big/dst.img";
  a.flags = VNAS_CLONE_NO_OFFLOAD;
  a.progress = &CancelAfterTwo;
  a.progress_ctx = &ctx;
  vnas_primitive_result r;
  EXPECT_EQ(vnas_execute_primitive(s, &a, &r), VNAS_ERR_CANCELLED) << vnas_last_error(s);
  EXPECT_EQ(ctx.calls, 2);
  EXPECT_THAT(vnas_last_error(s), HasSubstr("cancelled"));
  EXPECT_FALSE(live_->Exists("big/dst.img")) << "partial copy left behind";

  // The same session then offloads, and extended stats work through it.
  a.progress = nullptr;
  a.flags = 0;
  ASSERT_EQ(vnas_execute_primitive(s, &a, &r), VNAS_OK) << vnas_last_error(s);
  EXPECT_EQ(r.outcome, VNAS_OUTCOME_OFFLOADED);
  EXPECT_GT(r.receipt_seq, 0u);
  a.primitive = VNAS_PRIM_EXTENDED_STATS;
  a.src_path = "big/dst.img";
  ASSERT_EQ(vnas_execute_primitive(s, &a, &r), VNAS_OK) << vnas_last_error(s);
  EXPECT_EQ(r.logical, 16 * kMiB);
  EXPECT_EQ(r.unique, 0u);
  a.primitive = VNAS_PRIM_RESERVE_SPACE;
  a.size = 32 * kMiB;
  ASSERT_EQ(vnas_execute_primitive(s, &a, &r), VNAS_OK) << vnas_last_error(s);
  // Every byte of the clone is shared, so all 32 MiB may need new space.
  EXPECT_EQ(r.reserved, 32 * kMiB);
  vnas_session_end(s);
}

}  // namespace
}  // namespace vnas::plugintest
