// control_service_test.cc — every rpc of vnas.v1.Control against a real
// extent store (temp dir) through a real gRPC channel on 127.0.0.1.
#include <atomic>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/vnas.grpc.pb.h"
#include "server/control/test_helpers.h"
#include "server/control/test_util.h"

namespace vnas::control {
namespace {

using ::testing::HasSubstr;
using testing::ControlFixture;
using testing::Pattern;
using testing::Trailer;

std::string Descriptor(const std::string& cid, const std::string& parent_cid,
                       const std::string& create_type,
                       const std::string& parent_hint,
                       const std::string& extent_kind,
                       const std::string& extent_file) {
  std::string s = absl::StrCat(
      "# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\nCID=", cid,
      "\nparentCID=", parent_cid, "\ncreateType=\"", create_type, "\"\n");
  if (!parent_hint.empty()) {
    absl::StrAppend(&s, "parentFileNameHint=\"", parent_hint, "\"\n");
  }
  absl::StrAppend(&s, "\n# Extent description\nRW 2048 ", extent_kind, " \"",
                  extent_file, "\"\n\n# The Disk Data Base\n#DDB\n\n",
                  "ddb.adapterType = \"lsilogic\"\n",
                  "ddb.virtualHWVersion = \"19\"\n");
  return s;
}

std::string Vmx(const std::string& base, const std::string& disk) {
  return absl::StrCat(".encoding = \"UTF-8\"\nconfig.version = \"8\"\n",
                      "virtualHW.version = \"19\"\ndisplayName = \"", base,
                      "\"\nnvram = \"", base, ".nvram\"\n",
                      "scsi0.present = \"TRUE\"\nscsi0:0.present = \"TRUE\"\n",
                      "scsi0:0.fileName = \"", disk, "\"\n");
}

class ControlServiceTest : public ::testing::Test {
 protected:
  explicit ControlServiceTest(ControlServerOptions opts = {}) : f_(opts) {}

  // GetChain of `path` must show one offloadable chain of exactly `files`
  // (base first).
  void ExpectOneChain(const std::string& path,
                      const std::vector<std::string>& files) {
    grpc::ClientContext cctx;
    v1::GetChainRequest creq;
    creq.set_path(path);
    v1::GetChainResponse chain;
    ASSERT_TRUE(f_.stub()->GetChain(&cctx, creq, &chain).ok());
    EXPECT_TRUE(chain.offloadable()) << chain.summary();
    ASSERT_EQ(chain.chains_size(), 1) << chain.summary();
    ASSERT_EQ(chain.chains(0).files_size(), static_cast<int>(files.size()))
        << chain.summary();
    for (size_t i = 0; i < files.size(); ++i) {
      EXPECT_EQ(chain.chains(0).files(static_cast<int>(i)), files[i]);
    }
  }

  // CloneVm src -> dst, waiting for the operation, which must succeed.
  void CloneVmAndWait(const std::string& src, const std::string& dst,
                      v1::CloneVmResponse* resp) {
    grpc::ClientContext ctx;
    v1::CloneVmRequest req;
    req.set_source(src);
    req.set_destination(dst);
    req.set_wait(true);
    req.set_client_id("test");
    grpc::Status st = f_.stub()->CloneVm(&ctx, req, resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(resp->operation().state(), v1::OPERATION_SUCCEEDED)
        << resp->operation().error().text();
  }

  // dir/base.vmx naming `vmx_disk`, and a flat disk base.vmdk +
  // base-flat.vmdk (`size` bytes of Pattern(seed)).
  void MakeFlatDisk(const std::string& dir, const std::string& base,
                    const std::string& vmx_disk, size_t size, uint32_t seed) {
    f_.WriteFile(absl::StrCat(dir, "/", base, ".vmx"), Vmx(base, vmx_disk));
    f_.WriteFile(absl::StrCat(dir, "/", base, ".vmdk"),
                 Descriptor("3a5c0f21", "ffffffff", "vmfs", "", "VMFS",
                            absl::StrCat(base, "-flat.vmdk")));
    f_.WriteFile(absl::StrCat(dir, "/", base, "-flat.vmdk"),
                 Pattern(size, seed));
  }

  // A redo log dir/name.vmdk on `parent_hint`, with a 64 KiB delta.
  void MakeRedoLog(const std::string& dir, const std::string& name,
                   const std::string& cid, const std::string& parent_cid,
                   const std::string& parent_hint, uint32_t seed) {
    f_.WriteFile(absl::StrCat(dir, "/", name, ".vmdk"),
                 Descriptor(cid, parent_cid, "vmfsSparse", parent_hint,
                            "VMFSSPARSE", absl::StrCat(name, "-delta.vmdk")));
    f_.WriteFile(absl::StrCat(dir, "/", name, "-delta.vmdk"),
                 Pattern(64 << 10, seed));
  }

  // A powered-off VM with one flat disk: dir/base.vmx, base.vmdk,
  // base-flat.vmdk (`size` bytes).
  void MakeFlatVm(const std::string& dir, const std::string& base,
                  size_t size = 256 << 10) {
    MakeFlatDisk(dir, base, absl::StrCat(base, ".vmdk"), size, 1);
  }

  // Linear chain vm.vmdk <- vm-000001 <- vm-000002 (vmx on the leaf).
  void MakeLinearVm(const std::string& dir) {
    MakeFlatDisk(dir, "vm", "vm-000002.vmdk", 128 << 10, 2);
    MakeRedoLog(dir, "vm-000001", "7b2e9d44", "3a5c0f21", "vm.vmdk", 3);
    MakeRedoLog(dir, "vm-000002", "c41f0a93", "7b2e9d44", "vm-000001.vmdk", 4);
  }

  // VSS case: vm.vmdk has two children, vm-000001 and vm-000002.
  void MakeVssVm(const std::string& dir) {
    MakeFlatDisk(dir, "vm", "vm-000002.vmdk", 128 << 10, 5);
    MakeRedoLog(dir, "vm-000001", "7b2e9d44", "3a5c0f21", "vm.vmdk", 6);
    MakeRedoLog(dir, "vm-000002", "5e90b7c1", "3a5c0f21", "vm.vmdk", 7);
  }

  grpc::Status CloneFile(const std::string& src, const std::string& dst,
                         uint32_t flags, v1::CloneFileResponse* resp,
                         grpc::ClientContext* ctx = nullptr) {
    v1::CloneFileRequest req;
    req.set_source(src);
    req.set_destination(dst);
    req.set_flags(flags);
    req.set_client_id("test");
    grpc::ClientContext local;
    return f_.stub()->CloneFile(ctx != nullptr ? ctx : &local, req, resp);
  }

  std::vector<v1::Receipt> Receipts(uint32_t n = 100) {
    grpc::ClientContext ctx;
    v1::ListReceiptsRequest req;
    req.set_last(n);
    v1::ListReceiptsResponse resp;
    grpc::Status st = f_.stub()->ListReceipts(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return {resp.receipts().begin(), resp.receipts().end()};
  }

  ControlFixture f_;
};

TEST_F(ControlServiceTest, CapabilitiesListEveryPrimitive) {
  grpc::ClientContext ctx;
  v1::Capabilities caps;
  ASSERT_TRUE(f_.stub()->GetCapabilities(&ctx, {}, &caps).ok());
  EXPECT_EQ(caps.primitives_size(), 8);
  for (const auto& p : caps.primitives()) EXPECT_TRUE(p.offloaded());
  EXPECT_EQ(caps.segment_size(), 64u << 10);
  EXPECT_EQ(caps.api_version(), 1u);
  EXPECT_EQ(caps.export_path(), "/vnas");
}

TEST_F(ControlServiceTest, CloneFileSharesExtentsAndStaysIndependent) {
  MakeFlatVm("vm1", "vm1", 512 << 10);
  const std::string before = *f_.ReadFile("vm1/vm1-flat.vmdk");
  v1::CloneFileResponse resp;
  grpc::Status st = CloneFile("vm1/vm1-flat.vmdk", "vm1/copy-flat.vmdk", 0, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(resp.verdict().offloaded());
  EXPECT_EQ(resp.verdict().mechanism(), v1::MECHANISM_EXTENT_CLONE);
  EXPECT_EQ(resp.bytes_shared(), 512u << 10);
  EXPECT_EQ(resp.bytes_copied(), 0u);
  EXPECT_EQ(*f_.ReadFile("vm1/copy-flat.vmdk"), before);

  // Shared, not copied: the source's unique bytes dropped to 0.
  grpc::ClientContext sctx;
  v1::ExtendedStatsRequest sreq;
  sreq.set_path("vm1/vm1-flat.vmdk");
  v1::ExtendedStatsResponse stats;
  ASSERT_TRUE(f_.stub()->ExtendedStats(&sctx, sreq, &stats).ok());
  EXPECT_EQ(stats.total(), 512u << 10);
  EXPECT_EQ(stats.unique(), 0u);
  EXPECT_EQ(stats.space().shared(), stats.allocated());

  // Writes to either side stay on that side.
  auto src = f_.store()->ResolvePath("vm1/vm1-flat.vmdk");
  auto dst = f_.store()->ResolvePath("vm1/copy-flat.vmdk");
  ASSERT_TRUE(f_.store()->Write(src->ino, 100, "SOURCE",
                                storage::Stability::kFileSync).ok());
  ASSERT_TRUE(f_.store()->Write(dst->ino, 70000, "CLONE",
                                storage::Stability::kFileSync).ok());
  std::string s = *f_.ReadFile("vm1/vm1-flat.vmdk");
  std::string d = *f_.ReadFile("vm1/copy-flat.vmdk");
  EXPECT_EQ(s.substr(100, 6), "SOURCE");
  EXPECT_EQ(d.substr(100, 6), before.substr(100, 6));
  EXPECT_EQ(d.substr(70000, 5), "CLONE");
  EXPECT_EQ(s.substr(70000, 5), before.substr(70000, 5));

  // The receipt.
  auto rs = Receipts();
  ASSERT_FALSE(rs.empty());
  const v1::Receipt& r = rs.back();
  EXPECT_EQ(r.seq(), resp.receipt_seq());
  EXPECT_EQ(r.kind(), v1::RECEIPT_CLONE_FILE);
  EXPECT_TRUE(r.offloaded());
  EXPECT_EQ(r.mechanism(), v1::MECHANISM_EXTENT_CLONE);
  EXPECT_EQ(r.source(), "vm1/vm1-flat.vmdk");
  EXPECT_EQ(r.destination(), "vm1/copy-flat.vmdk");
  EXPECT_EQ(r.client_id(), "test");
  EXPECT_THAT(r.peer(), HasSubstr("127.0.0.1"));
  EXPECT_EQ(r.bytes_shared(), 512u << 10);
  EXPECT_EQ(r.reason(), v1::REASON_NONE);
  EXPECT_GT(r.time_unix_ns(), 0);
}

TEST_F(ControlServiceTest, AbsolutePathWithExportPrefixIsAccepted) {
  f_.WriteFile("a.img", Pattern(1000, 9));
  v1::CloneFileResponse resp;
  ASSERT_TRUE(CloneFile("/vnas/a.img", "/vnas/b.img", 0, &resp).ok());
  EXPECT_EQ(*f_.ReadFile("b.img"), Pattern(1000, 9));
}

TEST_F(ControlServiceTest, DryRunChangesNothing) {
  MakeFlatVm("vm1", "vm1");
  auto before = f_.store()->GetStoreSpace();
  v1::CloneFileResponse resp;
  ASSERT_TRUE(CloneFile("vm1/vm1-flat.vmdk", "vm1/x.vmdk",
                        v1::CLONE_FLAG_DRYRUN, &resp).ok());
  EXPECT_TRUE(resp.verdict().offloaded());
  EXPECT_FALSE(resp.verdict().explanation().empty());
  EXPECT_FALSE(resp.has_destination());
  EXPECT_FALSE(f_.Exists("vm1/x.vmdk"));
  auto after = f_.store()->GetStoreSpace();
  EXPECT_EQ(before->used, after->used);
  EXPECT_EQ(before->files, after->files);
  auto rs = Receipts();
  ASSERT_FALSE(rs.empty());
  EXPECT_TRUE(rs.back().dry_run());
  EXPECT_TRUE(rs.back().offloaded());
}

// DRYRUN asks "could this source be offloaded?": the source's chain
// verdict is the answer even when the destination directory is missing too
// (it used to fail NOT_FOUND / DESTINATION_PARENT_MISSING first and hide the
// verdict). Destination problems only fail a dry run of an offloadable source.
TEST_F(ControlServiceTest, DryRunReportsSourceVerdictBeforeDestinationProblems) {
  MakeVssVm("win");
  {
    v1::CloneFileResponse dry;
    grpc::Status st = CloneFile("win/vm-000001.vmdk", "nowhere/copy.vmdk",
                                v1::CLONE_FLAG_DRYRUN, &dry);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_FALSE(dry.verdict().offloaded());
    EXPECT_EQ(dry.verdict().refusal().code(), v1::REASON_VSS_SIBLING_REDO_LOGS);
    EXPECT_THAT(dry.verdict().explanation(), HasSubstr("nowhere"));
    EXPECT_EQ(dry.bytes_shared(), 0u);
    EXPECT_FALSE(f_.Exists("nowhere"));
    auto rs = Receipts();
    ASSERT_FALSE(rs.empty());
    EXPECT_TRUE(rs.back().dry_run());
    EXPECT_FALSE(rs.back().offloaded());
  }
  {
    // The real request still fails on the destination first.
    v1::CloneFileResponse resp;
    grpc::ClientContext ctx;
    grpc::Status st =
        CloneFile("win/vm-000001.vmdk", "nowhere/copy.vmdk", 0, &resp, &ctx);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(Trailer(ctx, "vnas-reason-code"),
              std::to_string(v1::REASON_DESTINATION_PARENT_MISSING));
  }
  {
    // An offloadable source: the destination problem is the answer.
    MakeFlatVm("vm1", "vm1");
    v1::CloneFileResponse dry;
    grpc::ClientContext ctx;
    grpc::Status st = CloneFile("vm1/vm1-flat.vmdk", "nowhere/x.vmdk",
                                v1::CLONE_FLAG_DRYRUN, &dry, &ctx);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(Trailer(ctx, "vnas-reason-code"),
              std::to_string(v1::REASON_DESTINATION_PARENT_MISSING));
  }
}

TEST_F(ControlServiceTest, GuardedRefusesExistingDestination) {
  f_.WriteFile("a.img", "AAAA");
  f_.WriteFile("b.img", "BBBB");
  v1::CloneFileResponse resp;
  grpc::ClientContext ctx;
  grpc::Status st =
      CloneFile("a.img", "b.img", v1::CLONE_FLAG_GUARDED, &resp, &ctx);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(st.error_message(), HasSubstr("DESTINATION_EXISTS"));
  EXPECT_EQ(Trailer(ctx, "vnas-reason-code"), "100");
  EXPECT_FALSE(Trailer(ctx, "vnas-receipt-seq").empty());
  EXPECT_EQ(*f_.ReadFile("b.img"), "BBBB");
  auto rs = Receipts();
  EXPECT_FALSE(rs.back().offloaded());
  EXPECT_EQ(rs.back().reason(), v1::REASON_DESTINATION_EXISTS);
  EXPECT_EQ(rs.back().grpc_code(), 6);

  // Without GUARDED the destination is replaced.
  ASSERT_TRUE(CloneFile("a.img", "b.img", 0, &resp).ok());
  EXPECT_EQ(*f_.ReadFile("b.img"), "AAAA");
}

TEST_F(ControlServiceTest, LazyCloneGoesThroughASnapshot) {
  f_.WriteFile("base.qcow2", Pattern(200000, 11));
  v1::CloneFileResponse resp;
  grpc::Status st =
      CloneFile("base.qcow2", "linked.qcow2", v1::CLONE_FLAG_LAZY, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.verdict().mechanism(), v1::MECHANISM_SNAPSHOT_CLONE);
  EXPECT_NE(resp.snapshot_id(), 0u);
  EXPECT_EQ(*f_.ReadFile("linked.qcow2"), Pattern(200000, 11));
  grpc::ClientContext ctx;
  v1::ListSnapshotsRequest lreq;
  lreq.set_path("base.qcow2");
  v1::ListSnapshotsResponse snaps;
  ASSERT_TRUE(f_.stub()->ListSnapshots(&ctx, lreq, &snaps).ok());
  ASSERT_EQ(snaps.snapshots_size(), 1);
  EXPECT_EQ(snaps.snapshots(0).id(), resp.snapshot_id());
  EXPECT_EQ(snaps.snapshots(0).source_path(), "base.qcow2");
}

TEST_F(ControlServiceTest, HostileRequestsAreRefused) {
  f_.WriteFile("vm1/a.img", "data");
  f_.WriteFile("other/b.img", "data");
  ASSERT_TRUE(f_.store()
                  ->Symlink(f_.Mkdirs("vm1"), "link", "/etc", 0777, 0, 0)
                  .ok());
  struct Case {
    std::string src, dst;
    grpc::StatusCode code;
    const char* reason;
  };
  const std::string nul("vm1/a\0.img", 10);
  const std::vector<Case> cases = {
      {"../etc/passwd", "vm1/x", grpc::StatusCode::INVALID_ARGUMENT, "103"},
      {"vm1/../other/b.img", "vm1/x", grpc::StatusCode::INVALID_ARGUMENT, "103"},
      {"vm1/./a.img", "vm1/x", grpc::StatusCode::INVALID_ARGUMENT, "103"},
      {"vm1//a.img", "vm1/x", grpc::StatusCode::INVALID_ARGUMENT, "103"},
      {"/etc/passwd", "vm1/x", grpc::StatusCode::INVALID_ARGUMENT, "101"},
      {"/vnasX/vm1/a.img", "vm1/x", grpc::StatusCode::INVALID_ARGUMENT, "101"},
      {"vm1/a.img", "/tmp/x", grpc::StatusCode::INVALID_ARGUMENT, "101"},
      {"vm1/a.img", "vm1/../../x", grpc::StatusCode::INVALID_ARGUMENT, "103"},
      {nul, "vm1/x", grpc::StatusCode::INVALID_ARGUMENT, "103"},
      {std::string(300, 'a'), "vm1/x", grpc::StatusCode::INVALID_ARGUMENT, "103"},
      {std::string(5000, 'a'), "vm1/x", grpc::StatusCode::INVALID_ARGUMENT, "103"},
      {"vm1/link/passwd", "vm1/x", grpc::StatusCode::INVALID_ARGUMENT, "103"},
      {"vm1/link", "vm1/x", grpc::StatusCode::INVALID_ARGUMENT, "103"},
      {"vm1/a.img", "vm1/link/x", grpc::StatusCode::INVALID_ARGUMENT, "103"},
      {"vm1/missing.img", "vm1/x", grpc::StatusCode::NOT_FOUND, "102"},
      {"vm1/a.img", "nodir/x", grpc::StatusCode::NOT_FOUND, "109"},
      {"vm1", "vm1/x", grpc::StatusCode::FAILED_PRECONDITION, "104"},
      {"", "vm1/x", grpc::StatusCode::INVALID_ARGUMENT, "103"},
      {"vm1/a.img", "", grpc::StatusCode::INVALID_ARGUMENT, "103"},
      {"vm1/a.img", "vm1/a.img", grpc::StatusCode::INVALID_ARGUMENT, "103"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.src.substr(0, 40) + " -> " + c.dst);
    grpc::ClientContext ctx;
    v1::CloneFileResponse resp;
    grpc::Status st = CloneFile(c.src, c.dst, 0, &resp, &ctx);
    EXPECT_EQ(st.error_code(), c.code) << st.error_message();
    EXPECT_EQ(Trailer(ctx, "vnas-reason-code"), c.reason);
  }
  EXPECT_FALSE(f_.Exists("vm1/x"));
  // Every request left a receipt, none offloaded.
  auto rs = Receipts(1000);
  EXPECT_EQ(rs.size(), cases.size());
  for (const auto& r : rs) EXPECT_FALSE(r.offloaded());

  // Unknown flags and oversized fields.
  {
    grpc::ClientContext ctx;
    v1::CloneFileResponse resp;
    EXPECT_EQ(CloneFile("vm1/a.img", "vm1/y", 0x80, &resp, &ctx).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    v1::ReserveSpaceRequest req;
    req.set_path("vm1/a.img");
    req.set_size(~uint64_t{0});
    v1::ReserveSpaceResponse resp;
    EXPECT_EQ(f_.stub()->ReserveSpace(&ctx, req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    v1::ListReceiptsRequest req;
    req.set_last(1000000);
    v1::ListReceiptsResponse resp;
    EXPECT_EQ(f_.stub()->ListReceipts(&ctx, req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    v1::CloneFileRequest req;
    req.set_source("vm1/a.img");
    req.set_destination("vm1/z");
    req.set_client_id(std::string(1000, 'c'));
    v1::CloneFileResponse resp;
    EXPECT_EQ(f_.stub()->CloneFile(&ctx, req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    v1::ExtendedStatsRequest req;
    req.set_path("../../");
    v1::ExtendedStatsResponse resp;
    EXPECT_EQ(f_.stub()->ExtendedStats(&ctx, req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST_F(ControlServiceTest, VssSiblingsBlockCloneWithReasons) {
  MakeVssVm("win");
  v1::CloneFileResponse resp;
  grpc::ClientContext ctx;
  grpc::Status st = CloneFile("win/vm-flat.vmdk", "win/copy.vmdk", 0, &resp, &ctx);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Trailer(ctx, "vnas-reason-code"), "1");
  EXPECT_THAT(st.error_message(), HasSubstr("VSS_SIBLING_REDO_LOGS"));
  EXPECT_THAT(st.error_message(), HasSubstr("vm-000001.vmdk"));
  EXPECT_THAT(st.error_message(), HasSubstr("vm-000002.vmdk"));
  EXPECT_THAT(st.error_message(), HasSubstr("VSS"));
  EXPECT_FALSE(f_.Exists("win/copy.vmdk"));

  // DRYRUN explains the same refusal with OK.
  v1::CloneFileResponse dry;
  ASSERT_TRUE(CloneFile("win/vm-000001.vmdk", "win/copy.vmdk",
                        v1::CLONE_FLAG_DRYRUN, &dry).ok());
  EXPECT_FALSE(dry.verdict().offloaded());
  EXPECT_EQ(dry.verdict().refusal().code(), v1::REASON_VSS_SIBLING_REDO_LOGS);

  // GetChain shows the tree.
  grpc::ClientContext cctx;
  v1::GetChainRequest creq;
  creq.set_path("win");
  v1::GetChainResponse chain;
  ASSERT_TRUE(f_.stub()->GetChain(&cctx, creq, &chain).ok());
  EXPECT_FALSE(chain.linear());
  EXPECT_FALSE(chain.offloadable());
  EXPECT_FALSE(chain.clone_vm().offloaded());
  EXPECT_EQ(chain.clone_vm().refusal().code(), v1::REASON_VSS_SIBLING_REDO_LOGS);
  bool found = false;
  for (const auto& d : chain.disks()) {
    if (d.file() == "vm.vmdk") {
      EXPECT_EQ(d.children_size(), 2);
      found = true;
    }
  }
  EXPECT_TRUE(found);

  // CloneVm is refused too; the plugin falls back to a host copy.
  grpc::ClientContext vctx;
  v1::CloneVmRequest vreq;
  vreq.set_source("win");
  vreq.set_destination("win2");
  vreq.set_wait(true);
  v1::CloneVmResponse vresp;
  st = f_.stub()->CloneVm(&vctx, vreq, &vresp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Trailer(vctx, "vnas-reason-code"), "1");
  EXPECT_FALSE(f_.Exists("win2"));

  // An unrelated file in the same directory still offloads.
  f_.WriteFile("win/notes.txt", "hello");
  ASSERT_TRUE(CloneFile("win/notes.txt", "win/notes2.txt", 0, &resp).ok());
}

TEST_F(ControlServiceTest, LinearChainCloneFileOffloadsAndExplains) {
  MakeLinearVm("lin");
  v1::CloneFileResponse resp;
  grpc::Status st =
      CloneFile("lin/vm-000002-delta.vmdk", "lin/x-delta.vmdk", 0, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(resp.verdict().offloaded());
  EXPECT_THAT(resp.verdict().explanation(), HasSubstr("linear chain"));

  grpc::ClientContext cctx;
  v1::GetChainRequest creq;
  creq.set_path("lin/vm-000002.vmdk");
  v1::GetChainResponse chain;
  ASSERT_TRUE(f_.stub()->GetChain(&cctx, creq, &chain).ok());
  EXPECT_TRUE(chain.linear());
  EXPECT_TRUE(chain.offloadable());
  ASSERT_EQ(chain.chains_size(), 1);
  EXPECT_EQ(chain.chains(0).files_size(), 3);
  EXPECT_EQ(chain.chains(0).files(2), "vm-000002.vmdk");
  EXPECT_TRUE(chain.focus().offloaded());
  EXPECT_TRUE(chain.clone_vm().offloaded());
}

TEST_F(ControlServiceTest, BrokenChainIsRefused) {
  MakeFlatDisk("brk", "vm", "vm-000001.vmdk", 64 << 10, 1);
  MakeRedoLog("brk", "vm-000001", "7b2e9d44", "deadbeef", "vm.vmdk", 2);
  grpc::ClientContext ctx;
  v1::CloneFileResponse resp;
  grpc::Status st =
      CloneFile("brk/vm-000001.vmdk", "brk/copy.vmdk", 0, &resp, &ctx);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Trailer(ctx, "vnas-reason-code"), "3");
}

TEST_F(ControlServiceTest, RunningVmBlocksCloneOfItsLeaf) {
  MakeFlatVm("run", "run");
  int64_t now = absl::ToUnixSeconds(absl::Now());
  f_.WriteFile("run/.lck-00000000000000ab", std::string(84, 'L'));
  f_.SetMtime("run/.lck-00000000000000ab", now);
  grpc::ClientContext ctx;
  v1::CloneFileResponse resp;
  grpc::Status st = CloneFile("run/run-flat.vmdk", "run/c.vmdk", 0, &resp, &ctx);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << st.error_message();
  EXPECT_EQ(Trailer(ctx, "vnas-reason-code"), "2");

  grpc::ClientContext vctx;
  v1::CloneVmRequest vreq;
  vreq.set_source("run");
  vreq.set_destination("run2");
  vreq.set_flags(v1::CLONE_FLAG_DRYRUN);
  v1::CloneVmResponse vresp;
  ASSERT_TRUE(f_.stub()->CloneVm(&vctx, vreq, &vresp).ok());
  EXPECT_FALSE(vresp.verdict().offloaded());
  EXPECT_EQ(vresp.verdict().refusal().code(), v1::REASON_RUNNING_VM);

  // A stale lock (older than 35 s) is not a running VM.
  f_.SetMtime("run/.lck-00000000000000ab", now - 3600);
  ASSERT_TRUE(CloneFile("run/run-flat.vmdk", "run/c.vmdk", 0, &resp).ok());
}

TEST_F(ControlServiceTest, CloneVmRewritesAndStaysConsistent) {
  MakeLinearVm("src");
  f_.WriteFile("src/vm.nvram", Pattern(8192, 20));
  f_.WriteFile("src/vmware.log", "log line\n");

  // DRYRUN: the plan, nothing made.
  {
    grpc::ClientContext ctx;
    v1::CloneVmRequest req;
    req.set_source("src");
    req.set_destination("dst");
    req.set_flags(v1::CLONE_FLAG_DRYRUN);
    v1::CloneVmResponse resp;
    grpc::Status st = f_.stub()->CloneVm(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_TRUE(resp.verdict().offloaded()) << resp.verdict().explanation();
    EXPECT_FALSE(resp.has_operation());
    EXPECT_GE(resp.plan_size(), 9);
    EXPECT_FALSE(f_.Exists("dst"));
  }
  v1::CloneVmResponse resp;
  ASSERT_NO_FATAL_FAILURE(CloneVmAndWait("src", "dst", &resp));
  EXPECT_EQ(resp.operation().files_done(), 9u);
  EXPECT_EQ(resp.operation().bytes_done(), resp.operation().bytes_total());

  // Data files are identical clones under new names.
  EXPECT_EQ(*f_.ReadFile("dst/dst-flat.vmdk"), *f_.ReadFile("src/vm-flat.vmdk"));
  EXPECT_EQ(*f_.ReadFile("dst/dst-000002-delta.vmdk"),
            *f_.ReadFile("src/vm-000002-delta.vmdk"));
  EXPECT_EQ(*f_.ReadFile("dst/dst.nvram"), *f_.ReadFile("src/vm.nvram"));
  EXPECT_EQ(*f_.ReadFile("dst/vmware.log"), "log line\n");
  // Text files name the new files only.
  std::string vmx = *f_.ReadFile("dst/dst.vmx");
  EXPECT_THAT(vmx, HasSubstr("dst-000002.vmdk"));
  EXPECT_THAT(vmx, HasSubstr("displayName = \"dst\""));
  EXPECT_THAT(vmx, ::testing::Not(HasSubstr("\"vm-")));
  std::string leaf = *f_.ReadFile("dst/dst-000002.vmdk");
  EXPECT_THAT(leaf, HasSubstr("parentFileNameHint=\"dst-000001.vmdk\""));
  EXPECT_THAT(leaf, HasSubstr("\"dst-000002-delta.vmdk\""));
  // The clone is a consistent linear chain of its own.
  grpc::ClientContext cctx;
  v1::GetChainRequest creq;
  creq.set_path("dst");
  v1::GetChainResponse chain;
  ASSERT_TRUE(f_.stub()->GetChain(&cctx, creq, &chain).ok());
  EXPECT_TRUE(chain.offloadable()) << chain.summary();
  ASSERT_EQ(chain.chains_size(), 1);
  EXPECT_EQ(chain.chains(0).files(2), "dst-000002.vmdk");
  // The source is untouched.
  EXPECT_THAT(*f_.ReadFile("src/vm.vmx"), HasSubstr("vm-000002.vmdk"));

  // The receipt, written when the operation ended.
  auto rs = Receipts();
  ASSERT_FALSE(rs.empty());
  const v1::Receipt& r = rs.back();
  EXPECT_EQ(r.seq(), resp.receipt_seq());
  EXPECT_EQ(r.kind(), v1::RECEIPT_CLONE_VM);
  EXPECT_TRUE(r.offloaded());
  EXPECT_EQ(r.operation_id(), resp.operation().id());
  EXPECT_EQ(r.files(), 9u);
  EXPECT_GT(r.bytes_shared(), 256u << 10);
  EXPECT_GT(r.bytes_copied(), 0u);
  EXPECT_LT(r.bytes_copied(), 8192u);

  // An existing destination is refused.
  grpc::ClientContext ctx2;
  v1::CloneVmRequest again;
  again.set_source("src");
  again.set_destination("dst");
  again.set_wait(true);
  v1::CloneVmResponse resp2;
  EXPECT_EQ(f_.stub()->CloneVm(&ctx2, again, &resp2).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
}

// A minimal qcow2 v3 image: a 104-byte header (64 KiB clusters, 64 MiB
// virtual size) naming `backing` (may be empty) at byte 112, in a 192 KiB
// file. Enough for the chain analyzer, which reads headers only.
std::string Qcow2Image(const std::string& backing, const std::string& backing_fmt) {
  std::string img(192 << 10, '\0');
  auto be = [&](size_t off, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) img[off + i] = static_cast<char>(v >> (8 * (n - 1 - i)));
  };
  be(0, 0x514649fb, 4);  // "QFI\xfb"
  be(4, 3, 4);
  be(20, 16, 4);         // cluster_bits
  be(24, 64 << 20, 8);   // size
  be(100, 104, 4);       // header_length
  size_t pos = 104;
  if (!backing_fmt.empty()) {  // backing format extension
    be(pos, 0xe2792aca, 4);
    be(pos + 4, backing_fmt.size(), 4);
    img.replace(pos + 8, backing_fmt.size(), backing_fmt);
    pos += 8 + ((backing_fmt.size() + 7) & ~size_t{7});
  }
  pos += 8;  // end of extensions
  if (!backing.empty()) {
    be(8, pos, 8);
    be(16, backing.size(), 4);
    img.replace(pos, backing.size(), backing);
  }
  return img;
}

// CloneVm renames the files that start with the VM's base name; a qcow2
// overlay names its backing file in its binary header, which the clone
// does not rewrite. The clone of web/ (web.qcow2 <- web-top.qcow2) used to
// hold web2.qcow2 and web2-top.qcow2 still naming web.qcow2: MISSING_PARENT,
// the copy did not open. Backing files now keep their names.
TEST_F(ControlServiceTest, CloneVmKeepsTheNamesQcow2HeadersUse) {
  f_.WriteFile("web/web.qcow2", Qcow2Image("", ""));
  f_.WriteFile("web/web-top.qcow2", Qcow2Image("web.qcow2", "qcow2"));
  v1::CloneVmResponse resp;
  ASSERT_NO_FATAL_FAILURE(CloneVmAndWait("web", "web2", &resp));
  EXPECT_TRUE(f_.Exists("web2/web.qcow2"));
  EXPECT_TRUE(f_.Exists("web2/web2-top.qcow2"));
  EXPECT_FALSE(f_.Exists("web2/web2.qcow2"));
  ASSERT_NO_FATAL_FAILURE(ExpectOneChain("web2", {"web.qcow2", "web2-top.qcow2"}));
}

// A libvirt overlay names its backing file by the absolute host path it was
// opened by (here the export mounted at /var/lib/libvirt/images). CloneVm
// used to refuse it as PARENT_OUTSIDE_DATASTORE; keeping the path in the
// clone would have made the clone read the source's base. The clone's
// header now names the base by its bare name.
TEST_F(ControlServiceTest, CloneVmOfQcow2OverlayWithAbsoluteBacking) {
  const std::string kAbs = "/var/lib/libvirt/images/web/web.qcow2";
  f_.WriteFile("web/web.qcow2", Qcow2Image("", ""));
  const std::string top = Qcow2Image(kAbs, "qcow2");
  f_.WriteFile("web/web-top.qcow2", top);
  v1::CloneVmResponse resp;
  ASSERT_NO_FATAL_FAILURE(CloneVmAndWait("web", "web2", &resp));
  std::string patched = *f_.ReadFile("web2/web2-top.qcow2");
  ASSERT_EQ(patched.size(), top.size());
  // backing_file_size (u32 at 16) and the name at its offset; the rest of
  // the old name zeroed, everything else as in the source.
  EXPECT_EQ(patched.substr(16, 4), std::string("\0\0\0\x09", 4));
  const size_t at = top.find(kAbs);
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(patched.substr(at, kAbs.size()),
            "web.qcow2" + std::string(kAbs.size() - 9, '\0'));
  std::string rest = patched;
  rest.replace(16, 4, top.substr(16, 4)).replace(at, kAbs.size(), kAbs);
  EXPECT_EQ(rest, top);
  EXPECT_EQ(*f_.ReadFile("web/web-top.qcow2"), top);  // the source is untouched
  EXPECT_EQ(resp.operation().files_done(), 2u);
  ASSERT_NO_FATAL_FAILURE(ExpectOneChain("web2", {"web.qcow2", "web2-top.qcow2"}));

  // With a web.qcow2 at the export root as well, the path could name either
  // (export mounted at .../images or at .../images/web): refused, not guessed.
  f_.WriteFile("web.qcow2", Qcow2Image("", ""));
  grpc::ClientContext vctx;
  v1::CloneVmRequest vreq;
  vreq.set_source("web");
  vreq.set_destination("web3");
  vreq.set_wait(true);
  v1::CloneVmResponse vresp;
  grpc::Status st = f_.stub()->CloneVm(&vctx, vreq, &vresp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Trailer(vctx, "vnas-reason-code"), "5");
  EXPECT_THAT(st.error_message(), HasSubstr("could be any of web/web.qcow2, web.qcow2"));
  EXPECT_FALSE(f_.Exists("web3"));
}

// The header patch is written only over the bytes the plan saw: a source
// rebased between the plan and its clone fails the clone (and leaves
// nothing) instead of receiving a stale backing name.
TEST_F(ControlServiceTest, Qcow2PatchRefusesAnImageChangedSinceThePlan) {
  const std::string kAbs = "/var/lib/libvirt/images/web/web.qcow2";
  const std::string top = Qcow2Image(kAbs, "qcow2");
  const size_t at = top.find(kAbs);
  ControlServerOptions opts;
  ControlFixture* fx = nullptr;
  opts.service.TEST_before_vm_clone_file = [&](const std::string& name) {
    if (name != "web-top.qcow2") return;
    absl::StatusOr<storage::Attr> a = fx->store()->ResolvePath("web/web-top.qcow2");
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(fx->store()
                    ->Write(a->ino, at + 1, "srv", storage::Stability::kFileSync)
                    .ok());
  };
  ControlFixture f(opts);
  fx = &f;
  f.WriteFile("web/web.qcow2", Qcow2Image("", ""));
  f.WriteFile("web/web-top.qcow2", top);
  grpc::ClientContext ctx;
  v1::CloneVmRequest req;
  req.set_source("web");
  req.set_destination("web2");
  req.set_wait(true);
  v1::CloneVmResponse resp;
  ASSERT_TRUE(f.stub()->CloneVm(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.operation().state(), v1::OPERATION_FAILED);
  EXPECT_THAT(resp.operation().error().text(),
              HasSubstr("changed since the clone was planned"));
  EXPECT_FALSE(f.Exists("web2"));
}

// ESXi snapshot deltas and a .vmx that name their own directory by
// /vmfs/volumes/<datastore>/<dir>/... (a VM whose working directory vCenter
// set): CloneVm used to refuse them as PARENT_OUTSIDE_DATASTORE. The clone
// names its files by bare names, so it opens its own layers.
TEST_F(ControlServiceTest, CloneVmMapsAbsoluteEsxiHintsIntoItsDirectory) {
  const std::string ds = "/vmfs/volumes/5f1e2d3c-8a9b0c1d-2e3f-0050568a1b2c/web01/";
  MakeFlatDisk("web01", "vm", ds + "vm-000002.vmdk", 128 << 10, 2);
  MakeRedoLog("web01", "vm-000001", "7b2e9d44", "3a5c0f21", ds + "vm.vmdk", 3);
  MakeRedoLog("web01", "vm-000002", "c41f0a93", "7b2e9d44", ds + "vm-000001.vmdk", 4);
  v1::CloneVmResponse resp;
  ASSERT_NO_FATAL_FAILURE(CloneVmAndWait("web01", "web02", &resp));
  EXPECT_THAT(*f_.ReadFile("web02/web02-000002.vmdk"),
              HasSubstr("parentFileNameHint=\"web02-000001.vmdk\""));
  EXPECT_THAT(*f_.ReadFile("web02/web02-000001.vmdk"),
              HasSubstr("parentFileNameHint=\"web02.vmdk\""));
  std::string vmx = *f_.ReadFile("web02/web02.vmx");
  EXPECT_THAT(vmx, HasSubstr("scsi0:0.fileName = \"web02-000002.vmdk\""));
  EXPECT_THAT(vmx, ::testing::Not(HasSubstr("/vmfs/volumes")));
  grpc::ClientContext cctx;
  v1::GetChainRequest creq;
  creq.set_path("web02");
  v1::GetChainResponse chain;
  ASSERT_TRUE(f_.stub()->GetChain(&cctx, creq, &chain).ok());
  EXPECT_TRUE(chain.offloadable()) << chain.summary();
  ASSERT_EQ(chain.chains_size(), 1);
  ASSERT_EQ(chain.chains(0).files_size(), 3);
  EXPECT_EQ(chain.chains(0).files(2), "web02-000002.vmdk");
  // The source keeps its own absolute hints.
  EXPECT_THAT(*f_.ReadFile("web01/vm-000002.vmdk"), HasSubstr(ds + "vm-000001.vmdk"));
}

// An absolute hint into another VM directory of the export (a vSphere linked
// clone of base/) stays refused — a clone would share a parent no analysis
// covered — and the refusal now says where the parent is.
TEST_F(ControlServiceTest, AbsoluteHintIntoAnotherDirectoryIsRefusedWithItsPath) {
  MakeFlatVm("base", "base");
  f_.WriteFile("lc/lc.vmx", Vmx("lc", "lc-000001.vmdk"));
  MakeRedoLog("lc", "lc-000001", "7b2e9d44", "3a5c0f21",
              "/vmfs/volumes/datastore1/base/base.vmdk", 3);
  grpc::ClientContext ctx;
  v1::CloneVmRequest req;
  req.set_source("lc");
  req.set_destination("lc2");
  req.set_wait(true);
  v1::CloneVmResponse resp;
  grpc::Status st = f_.stub()->CloneVm(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Trailer(ctx, "vnas-reason-code"), "5");
  EXPECT_THAT(st.error_message(),
              HasSubstr("it is base/base.vmdk in this export, in another directory"));
  EXPECT_FALSE(f_.Exists("lc2"));
  auto rs = Receipts();
  ASSERT_FALSE(rs.empty());
  EXPECT_EQ(rs.back().reason(), v1::REASON_PARENT_OUTSIDE_DATASTORE);
  EXPECT_THAT(rs.back().reason_text(), HasSubstr("base/base.vmdk in this export"));
}

// The .vmxf names its .vmx (<vmxPathName>): CloneVm renamed the .vmxf and
// the .vmx's extendedConfigFile but left the clone's .vmxf naming the source's
// .vmx. Snapshot state (.vmsn) and memory (.vmem) keep their names: binary
// checkpoints with the configuration embedded, which vnas cannot rewrite
// (vmformat/rewrite.h, PinUnrewritableNames); the .vmsd keeps naming them.
TEST_F(ControlServiceTest, CloneVmRewritesVmxfAndKeepsSnapshotStateNames) {
  MakeLinearVm("snap");
  f_.WriteFile("snap/vm.vmx", Vmx("vm", "vm-000002.vmdk") +
                                  "extendedConfigFile = \"vm.vmxf\"\n");
  f_.WriteFile("snap/vm.vmsd",
               "snapshot.lastUID = \"2\"\nsnapshot.current = \"2\"\n"
               "snapshot0.uid = \"1\"\nsnapshot0.filename = \"vm-Snapshot1.vmsn\"\n"
               "snapshot0.numDisks = \"1\"\nsnapshot0.disk0.fileName = \"vm.vmdk\"\n"
               "snapshot1.uid = \"2\"\nsnapshot1.parent = \"1\"\n"
               "snapshot1.filename = \"vm-Snapshot2.vmsn\"\n"
               "snapshot1.numDisks = \"1\"\n"
               "snapshot1.disk0.fileName = \"vm-000001.vmdk\"\n"
               "snapshot.numSnapshots = \"2\"\n");
  f_.WriteFile("snap/vm.vmxf",
               "<?xml version=\"1.0\"?>\n<Foundry>\n<VM>\n<VMId type=\"string\">52 8a 6c 77 "
               "0d 5e 2c 4e-f3 a7 d2 1e 9b 3a 0c 44</VMId>\n<vmxPathName "
               "type=\"string\">vm.vmx</vmxPathName></VM></Foundry>\n");
  f_.WriteFile("snap/vm-Snapshot1.vmsn", Pattern(8192, 30));
  f_.WriteFile("snap/vm-Snapshot2.vmsn", Pattern(8192, 31));
  f_.WriteFile("snap/vm-Snapshot2.vmem", Pattern(64 << 10, 32));
  v1::CloneVmResponse resp;
  ASSERT_NO_FATAL_FAILURE(CloneVmAndWait("snap", "snap2", &resp));

  std::string vmxf = *f_.ReadFile("snap2/snap2.vmxf");
  EXPECT_THAT(vmxf, HasSubstr("<vmxPathName type=\"string\">snap2.vmx</vmxPathName>"));
  EXPECT_THAT(vmxf, HasSubstr("<VMId type=\"string\">52 8a 6c 77"));
  EXPECT_THAT(*f_.ReadFile("snap2/snap2.vmx"),
              HasSubstr("extendedConfigFile = \"snap2.vmxf\""));
  for (const char* kept : {"vm-Snapshot1.vmsn", "vm-Snapshot2.vmsn", "vm-Snapshot2.vmem"}) {
    SCOPED_TRACE(kept);
    ASSERT_TRUE(f_.Exists(absl::StrCat("snap2/", kept)));
    EXPECT_EQ(*f_.ReadFile(absl::StrCat("snap2/", kept)),
              *f_.ReadFile(absl::StrCat("snap/", kept)));
  }
  EXPECT_FALSE(f_.Exists("snap2/snap2-Snapshot1.vmsn"));
  EXPECT_FALSE(f_.Exists("snap2/snap2-Snapshot2.vmem"));
  std::string vmsd = *f_.ReadFile("snap2/snap2.vmsd");
  EXPECT_THAT(vmsd, HasSubstr("snapshot0.filename = \"vm-Snapshot1.vmsn\""));
  EXPECT_THAT(vmsd, HasSubstr("snapshot1.filename = \"vm-Snapshot2.vmsn\""));
  EXPECT_THAT(vmsd, HasSubstr("snapshot0.disk0.fileName = \"snap2.vmdk\""));
  EXPECT_THAT(vmsd, HasSubstr("snapshot1.disk0.fileName = \"snap2-000001.vmdk\""));
  bool planned = false;
  grpc::ClientContext ctx;
  v1::CloneVmRequest dry;
  dry.set_source("snap");
  dry.set_destination("snap3");
  dry.set_flags(v1::CLONE_FLAG_DRYRUN);
  v1::CloneVmResponse plan;
  ASSERT_TRUE(f_.stub()->CloneVm(&ctx, dry, &plan).ok());
  for (const v1::RenamedFile& f : plan.plan()) {
    if (f.old_name() == "vm.vmxf") {
      EXPECT_EQ(f.new_name(), "snap3.vmxf");
      EXPECT_EQ(f.action(), "rewrite");
      planned = true;
    }
    if (absl::EndsWith(f.old_name(), ".vmsn") || absl::EndsWith(f.old_name(), ".vmem")) {
      EXPECT_EQ(f.new_name(), f.old_name());
      EXPECT_EQ(f.action(), "clone");
    }
  }
  EXPECT_TRUE(planned);
}

TEST_F(ControlServiceTest, SnapshotsCreateListRestoreCloneDelete) {
  MakeFlatVm("vm1", "vm1", 128 << 10);
  grpc::ClientContext c1;
  v1::CreateSnapshotRequest creq;
  creq.set_path("vm1");
  creq.set_name("before-upgrade");
  v1::CreateSnapshotResponse cresp;
  grpc::Status st = f_.stub()->CreateSnapshot(&c1, creq, &cresp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  const uint64_t id = cresp.snapshot().id();
  EXPECT_NE(id, 0u);
  EXPECT_TRUE(cresp.snapshot().directory());
  EXPECT_EQ(cresp.snapshot().source_path(), "vm1");

  // Change the live VM, then restore.
  const std::string orig = *f_.ReadFile("vm1/vm1-flat.vmdk");
  auto ino = f_.store()->ResolvePath("vm1/vm1-flat.vmdk");
  ASSERT_TRUE(f_.store()->Write(ino->ino, 0, "CHANGED",
                                storage::Stability::kFileSync).ok());
  grpc::ClientContext c2;
  v1::ListSnapshotsRequest lreq;
  v1::ListSnapshotsResponse lresp;
  ASSERT_TRUE(f_.stub()->ListSnapshots(&c2, lreq, &lresp).ok());
  ASSERT_EQ(lresp.snapshots_size(), 1);
  EXPECT_EQ(lresp.snapshots(0).name(), "before-upgrade");

  grpc::ClientContext c3;
  v1::CloneSnapshotRequest kreq;
  kreq.set_id(id);
  kreq.set_destination("vm1-linked");
  v1::CloneSnapshotResponse kresp;
  st = f_.stub()->CloneSnapshot(&c3, kreq, &kresp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(*f_.ReadFile("vm1-linked/vm1-flat.vmdk"), orig);

  grpc::ClientContext c4;
  v1::RestoreSnapshotRequest rreq;
  rreq.set_id(id);
  v1::RestoreSnapshotResponse rresp;
  st = f_.stub()->RestoreSnapshot(&c4, rreq, &rresp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(*f_.ReadFile("vm1/vm1-flat.vmdk"), orig);

  grpc::ClientContext c5;
  v1::DeleteSnapshotRequest dreq;
  dreq.set_id(id);
  v1::DeleteSnapshotResponse dresp;
  ASSERT_TRUE(f_.stub()->DeleteSnapshot(&c5, dreq, &dresp).ok());
  grpc::ClientContext c6;
  EXPECT_EQ(f_.stub()->DeleteSnapshot(&c6, dreq, &dresp).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // Receipts of each kind.
  std::set<int> kinds;
  for (const auto& r : Receipts()) kinds.insert(r.kind());
  EXPECT_TRUE(kinds.count(v1::RECEIPT_CREATE_SNAPSHOT));
  EXPECT_TRUE(kinds.count(v1::RECEIPT_CLONE_SNAPSHOT));
  EXPECT_TRUE(kinds.count(v1::RECEIPT_RESTORE_SNAPSHOT));
  EXPECT_TRUE(kinds.count(v1::RECEIPT_DELETE_SNAPSHOT));
}

TEST_F(ControlServiceTest, ReserveSpaceAndListVmsAddUp) {
  MakeFlatVm("vm1", "vm1", 256 << 10);
  MakeFlatVm("vm2", "vm2", 128 << 10);
  f_.WriteFile("loose.iso", Pattern(64 << 10, 3));
  v1::CloneFileResponse cresp;
  ASSERT_TRUE(CloneFile("vm1/vm1-flat.vmdk", "vm2/shared-flat.vmdk", 0, &cresp).ok());

  grpc::ClientContext rctx;
  v1::ReserveSpaceRequest rreq;
  rreq.set_path("vm2/vm2-flat.vmdk");
  rreq.set_size(1 << 20);
  v1::ReserveSpaceResponse rresp;
  grpc::Status st = f_.stub()->ReserveSpace(&rctx, rreq, &rresp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_GT(rresp.space().reserved(), 0u);

  grpc::ClientContext ctx;
  v1::ListVmsResponse vms;
  ASSERT_TRUE(f_.stub()->ListVms(&ctx, {}, &vms).ok());
  ASSERT_EQ(vms.vms_size(), 2);
  EXPECT_EQ(vms.vms(0).name(), "vm1");
  EXPECT_TRUE(vms.vms(0).has_vmx());
  EXPECT_EQ(vms.root_files().files(), 1u);
  uint64_t unique = vms.root_files().unique() + vms.root_files().snapshot_only();
  for (const auto& v : vms.vms()) {
    unique += v.space().unique() + v.space().snapshot_only();
    EXPECT_EQ(v.space().allocated(), v.space().unique() + v.space().shared());
  }
  EXPECT_EQ(unique + vms.shared_counted_once(), vms.store().used());
  EXPECT_EQ(vms.shared_counted_once(), 256u << 10);
  EXPECT_GT(vms.store().capacity(), 0u);
}

TEST_F(ControlServiceTest, OperationsProgressWatchAndCancel) {
  ControlServerOptions opts;
  std::atomic<int> started{0};
  opts.service.TEST_before_vm_clone_file = [&](const std::string&) {
    ++started;
    absl::SleepFor(absl::Milliseconds(100));
  };
  ControlFixture f(opts);
  for (int i = 0; i < 30; ++i) {
    f.WriteFile(absl::StrCat("big/file", i, ".dat"), Pattern(4096, i));
  }
  grpc::ClientContext ctx;
  v1::CloneVmRequest req;
  req.set_source("big");
  req.set_destination("big2");
  v1::CloneVmResponse resp;
  ASSERT_TRUE(f.stub()->CloneVm(&ctx, req, &resp).ok());
  const std::string id = resp.operation().id();
  ASSERT_FALSE(id.empty());

  // Watch it in a thread.
  std::vector<v1::Operation> seen;
  grpc::Status watch_status;
  grpc::ClientContext wctx;
  std::thread watcher([&] {
    v1::WatchOperationRequest wreq;
    wreq.set_id(id);
    auto reader = f.stub()->WatchOperation(&wctx, wreq);
    v1::Operation op;
    while (reader->Read(&op)) seen.push_back(op);
    watch_status = reader->Finish();
  });

  while (started.load() < 3) absl::SleepFor(absl::Milliseconds(10));
  {
    grpc::ClientContext gctx;
    v1::GetOperationRequest greq;
    greq.set_id(id);
    v1::Operation op;
    ASSERT_TRUE(f.stub()->GetOperation(&gctx, greq, &op).ok());
    EXPECT_EQ(op.state(), v1::OPERATION_RUNNING);
    EXPECT_EQ(op.files_total(), 30u);
    EXPECT_EQ(op.bytes_total(), 30u * 4096);
    EXPECT_GT(op.files_done(), 0u);
  }
  {
    grpc::ClientContext lctx;
    v1::ListOperationsRequest lreq;
    v1::ListOperationsResponse lresp;
    ASSERT_TRUE(f.stub()->ListOperations(&lctx, lreq, &lresp).ok());
    EXPECT_EQ(lresp.operations_size(), 1);
  }
  grpc::ClientContext cctx;
  v1::CancelOperationRequest creq;
  creq.set_id(id);
  v1::Operation cancelled;
  ASSERT_TRUE(f.stub()->CancelOperation(&cctx, creq, &cancelled).ok());
  EXPECT_TRUE(cancelled.cancel_requested());
  watcher.join();
  EXPECT_TRUE(watch_status.ok()) << watch_status.error_message();
  ASSERT_GE(seen.size(), 3u);
  EXPECT_EQ(seen.back().state(), v1::OPERATION_CANCELLED);
  EXPECT_EQ(seen.back().error().code(), v1::REASON_CANCELLED);
  EXPECT_NE(seen.back().receipt_seq(), 0u);
  for (size_t i = 1; i < seen.size(); ++i) {
    EXPECT_GE(seen[i].bytes_done(), seen[i - 1].bytes_done());
  }
  EXPECT_LT(seen.back().files_done(), 30u);
  EXPECT_FALSE(f.Exists("big2"));  // the partial clone was removed

  grpc::ClientContext c2;
  v1::Operation again;
  EXPECT_EQ(f.stub()->CancelOperation(&c2, creq, &again).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  grpc::ClientContext c3;
  v1::GetOperationRequest bad;
  bad.set_id("op-999");
  EXPECT_EQ(f.stub()->GetOperation(&c3, bad, &again).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ControlServiceTest, WatchReceiptsSendsTailThenNewOnes) {
  f_.WriteFile("a.img", "x");
  v1::CloneFileResponse resp;
  ASSERT_TRUE(CloneFile("a.img", "b.img", 0, &resp).ok());
  ASSERT_TRUE(CloneFile("a.img", "c.img", 0, &resp).ok());

  grpc::ClientContext wctx;
  v1::WatchReceiptsRequest wreq;
  wreq.set_tail(1);
  auto reader = f_.stub()->WatchReceipts(&wctx, wreq);
  v1::Receipt r;
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.destination(), "c.img");
  ASSERT_TRUE(CloneFile("a.img", "d.img", 0, &resp).ok());
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.destination(), "d.img");
  EXPECT_EQ(r.seq(), resp.receipt_seq());
  wctx.TryCancel();
  while (reader->Read(&r)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

// A client that saw receipt S resumes with after_seq = S: it gets every
// receipt written since, including those written before the watch existed.
TEST_F(ControlServiceTest, WatchReceiptsResumesAfterSeqWithoutGaps) {
  f_.WriteFile("a.img", "x");
  v1::CloneFileResponse first, second, third;
  ASSERT_TRUE(CloneFile("a.img", "b.img", 0, &first).ok());
  ASSERT_TRUE(CloneFile("a.img", "c.img", 0, &second).ok());

  grpc::ClientContext wctx;
  v1::WatchReceiptsRequest wreq;
  wreq.set_tail(5);  // ignored when after_seq is set
  wreq.set_after_seq(first.receipt_seq());
  auto reader = f_.stub()->WatchReceipts(&wctx, wreq);
  v1::Receipt r;
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.seq(), second.receipt_seq());
  EXPECT_EQ(r.destination(), "c.img");
  ASSERT_TRUE(CloneFile("a.img", "d.img", 0, &third).ok());
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.seq(), third.receipt_seq());
  EXPECT_EQ(r.destination(), "d.img");
  wctx.TryCancel();
  while (reader->Read(&r)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

// Alignment of a directory (a VM) or of the whole datastore: totals over
// its files, and the files with the most misaligned writes first.
TEST_F(ControlServiceTest, AlignmentOfATreeSumsFilesAndNamesTheWorst) {
  storage::InodeId aligned = f_.WriteFile("vm1/aligned.vmdk", "");
  storage::InodeId bad = f_.WriteFile("vm1/bad.vmdk", "");
  storage::InodeId other = f_.WriteFile("vm2/other.vmdk", "");
  const std::string four_k(4096, 'a'), odd(1000, 'b');
  auto write = [&](storage::InodeId ino, uint64_t off, const std::string& d) {
    ASSERT_TRUE(
        f_.store()->Write(ino, off, d, storage::Stability::kUnstable).ok());
  };
  write(aligned, 0, four_k);
  write(aligned, 65536, four_k);
  write(bad, 0, std::string(64 << 10, 'c'));  // one whole segment
  ASSERT_TRUE(f_.store()->CloneFile(bad, f_.store()->ResolvePath("vm1")->ino,
                                    "bad-clone.vmdk", true).ok());
  write(bad, 100, odd);   // misaligned; the shared segment is copied (RMW)
  // Once that copy is durable the segment is the file's alone: in place.
  ASSERT_TRUE(f_.store()->Commit(bad).ok());
  write(bad, 8192, odd);  // misaligned length; now unique, in place
  write(other, 512, four_k);  // misaligned offset into a hole

  auto get = [&](const std::string& path) {
    grpc::ClientContext ctx;
    v1::GetAlignmentRequest req;
    req.set_path(path);
    v1::GetAlignmentResponse r;
    grpc::Status st = f_.stub()->GetAlignment(&ctx, req, &r);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return r;
  };
  v1::GetAlignmentResponse vm1 = get("vm1");
  EXPECT_EQ(vm1.files(), 3u);
  EXPECT_EQ(vm1.writes(), 5u);
  EXPECT_EQ(vm1.offset_aligned_4k(), 4u);
  EXPECT_EQ(vm1.length_aligned_4k(), 3u);
  EXPECT_EQ(vm1.partial_segment_writes(), 1u);
  EXPECT_EQ(vm1.cow_segments(), 1u);
  ASSERT_EQ(vm1.worst_size(), 1);  // the others have nothing misaligned
  EXPECT_EQ(vm1.worst(0).path(), "vm1/bad.vmdk");
  EXPECT_EQ(vm1.worst(0).writes(), 3u);
  EXPECT_EQ(vm1.worst(0).offset_misaligned_4k(), 1u);
  EXPECT_EQ(vm1.worst(0).length_misaligned_4k(), 2u);
  EXPECT_EQ(vm1.worst(0).partial_segment_writes(), 1u);

  v1::GetAlignmentResponse all = get("");
  EXPECT_EQ(all.files(), 4u);
  EXPECT_EQ(all.writes(), 6u);
  EXPECT_EQ(all.offset_aligned_4k(), 4u);
  ASSERT_EQ(all.worst_size(), 2);
  EXPECT_EQ(all.worst(0).path(), "vm1/bad.vmdk");
  EXPECT_EQ(all.worst(1).path(), "vm2/other.vmdk");

  v1::GetAlignmentResponse one = get("vm2/other.vmdk");
  EXPECT_EQ(one.files(), 1u);
  EXPECT_EQ(one.writes(), 1u);
  EXPECT_EQ(one.worst_size(), 0);
}

TEST_F(ControlServiceTest, AdminRpcs) {
  f_.WriteFile("a.img", Pattern(70000, 1));
  {
    grpc::ClientContext ctx;
    v1::GetStatusResponse s;
    ASSERT_TRUE(f_.stub()->GetStatus(&ctx, {}, &s).ok());
    EXPECT_GE(s.uptime_sec(), 0);
    ASSERT_EQ(s.exports_size(), 1);
    EXPECT_EQ(s.exports(0), "/vnas");
    EXPECT_GT(s.store().capacity(), 0u);
    EXPECT_EQ(s.store_id(), f_.store()->store_id());
    EXPECT_FALSE(s.nfs_stats_available());
    EXPECT_FALSE(s.has_data_cache()) << "no data_cache hook here";
  }
  {
    grpc::ClientContext ctx;
    v1::FsckResponse r;
    ASSERT_TRUE(f_.stub()->Fsck(&ctx, {}, &r).ok());
    EXPECT_TRUE(r.clean());
    EXPECT_GT(r.inodes(), 0u);
  }
  {
    grpc::ClientContext ctx;
    v1::GetAlignmentRequest req;
    req.set_path("a.img");
    v1::GetAlignmentResponse r;
    ASSERT_TRUE(f_.stub()->GetAlignment(&ctx, req, &r).ok());
    EXPECT_EQ(r.segment_size(), 64u << 10);
  }
  {
    grpc::ClientContext ctx;
    v1::ListMembersResponse r;
    ASSERT_TRUE(f_.stub()->ListMembers(&ctx, {}, &r).ok());
    EXPECT_EQ(r.members_size(), 2);
  }
}

TEST_F(ControlServiceTest, CloneCopiesNoDataWhateverTheSize) {
  const size_t big = 32 << 20;
  f_.WriteFile("small.img", Pattern(64 << 10, 1));
  f_.WriteFile("big.img", Pattern(big, 2));
  auto before = f_.store()->GetStoreSpace();
  ASSERT_TRUE(before.ok());
  v1::CloneFileResponse small_resp, big_resp;
  ASSERT_TRUE(CloneFile("small.img", "small2.img", 0, &small_resp).ok());
  ASSERT_TRUE(CloneFile("big.img", "big2.img", 0, &big_resp).ok());
  auto after = f_.store()->GetStoreSpace();
  // No data segment was allocated by either clone.
  EXPECT_EQ(after->used, before->used);
  EXPECT_EQ(big_resp.bytes_shared(), big);
  auto rs = Receipts();
  ASSERT_EQ(rs.size(), 2u);
  std::cout << "[ figures ] CloneFile 64 KiB: " << rs[0].duration_us()
            << " us, 32 MiB: " << rs[1].duration_us() << " us (server side)\n";
  EXPECT_EQ(*f_.ReadFile("big2.img"), Pattern(big, 2));
}

TEST_F(ControlServiceTest, ParentOutsideTheDatastoreIsRefused) {
  f_.WriteFile("ext/vm.vmx", Vmx("vm", "vm-000001.vmdk"));
  MakeRedoLog("ext", "vm-000001", "7b2e9d44", "3a5c0f21",
              "/vmfs/volumes/5f1e-other/base/base.vmdk", 3);
  grpc::ClientContext ctx;
  v1::CloneFileResponse resp;
  grpc::Status st =
      CloneFile("ext/vm-000001.vmdk", "ext/copy.vmdk", 0, &resp, &ctx);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << st.error_message();
  EXPECT_EQ(Trailer(ctx, "vnas-reason-code"), "5");
  EXPECT_THAT(st.error_message(), HasSubstr("/vmfs/volumes/5f1e-other"));
}

TEST_F(ControlServiceTest, FileSnapshotRestore) {
  f_.WriteFile("d.img", "original");
  grpc::ClientContext c1;
  v1::CreateSnapshotRequest creq;
  creq.set_path("d.img");
  creq.set_name("s");
  v1::CreateSnapshotResponse cresp;
  ASSERT_TRUE(f_.stub()->CreateSnapshot(&c1, creq, &cresp).ok());
  EXPECT_FALSE(cresp.snapshot().directory());
  auto a = f_.store()->ResolvePath("d.img");
  ASSERT_TRUE(f_.store()->Write(a->ino, 0, "CHANGED!",
                                storage::Stability::kFileSync).ok());
  grpc::ClientContext c2;
  v1::RestoreSnapshotRequest rreq;
  rreq.set_id(cresp.snapshot().id());
  v1::RestoreSnapshotResponse rresp;
  grpc::Status st = f_.stub()->RestoreSnapshot(&c2, rreq, &rresp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(*f_.ReadFile("d.img"), "original");
}

}  // namespace
}  // namespace vnas::control
