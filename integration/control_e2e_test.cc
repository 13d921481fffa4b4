// control_e2e_test — the control plane of a real vnasd, driven by a real
// gRPC client (the generated stub), with VMs written and checked through NFS
// by real clients (libnfs C API, nfs-cp) and qcow2 chains made by qemu-img.
#include <fcntl.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "integration/harness.h"
#include "integration/libnfs_client.h"
#include "proto/vnas.grpc.pb.h"
#include "server/control/test_helpers.h"

extern "C" {
#include <nfsc/libnfs.h>
}

namespace vnas::harness {
namespace {

using ::testing::HasSubstr;
using ::vnas::control::testing::Pattern;
using ::vnas::control::testing::Trailer;

std::string Descriptor(const std::string& cid, const std::string& parent_cid,
                       const std::string& create_type, const std::string& hint,
                       const std::string& kind, const std::string& extent) {
  std::string s = absl::StrCat("# Disk DescriptorFile\nversion=1\nCID=", cid,
                               "\nparentCID=", parent_cid, "\ncreateType=\"",
                               create_type, "\"\n");
  if (!hint.empty()) absl::StrAppend(&s, "parentFileNameHint=\"", hint, "\"\n");
  absl::StrAppend(&s, "\n# Extent description\nRW 4096 ", kind, " \"", extent,
                  "\"\n\n# The Disk Data Base\n#DDB\n",
                  "ddb.adapterType = \"lsilogic\"\n");
  return s;
}

std::string Vmx(const std::string& base, const std::string& disk) {
  return absl::StrCat(".encoding = \"UTF-8\"\nconfig.version = \"8\"\n",
                      "displayName = \"", base, "\"\n",
                      "scsi0:0.present = \"TRUE\"\nscsi0:0.fileName = \"", disk,
                      "\"\n");
}

// Runs `cmd` in `dir` through the shell; expects it to succeed.
void RunIn(const std::string& dir, const std::string& cmd) {
  CommandResult r = RunCommand("cd '" + dir + "' && " + cmd);
  EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
}

class ControlE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    control_port_ = PickFreePort();
    Vnasd::Options o;
    o.extra_flags = {absl::StrCat("--control_listen=127.0.0.1:", control_port_)};
    auto d = Vnasd::Start(o);
    ASSERT_TRUE(d.ok()) << d.status();
    vnasd_ = *std::move(d);
    auto c = NfsClient::Mount(vnasd_->nfs_port());
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = *std::move(c);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", control_port_),
                                   grpc::InsecureChannelCredentials());
    ASSERT_TRUE(channel_->WaitForConnected(std::chrono::system_clock::now() +
                                           std::chrono::seconds(10)))
        << vnasd_->Output();
    stub_ = v1::Control::NewStub(channel_);
  }

  nfs_context* nfs() { return client_->ctx(); }

  void Mkdir(const std::string& path) {
    ASSERT_EQ(nfs_mkdir(nfs(), path.c_str()), 0) << client_->Error();
  }

  void WriteFile(const std::string& path, const std::string& data) {
    nfsfh* fh = nullptr;
    ASSERT_EQ(nfs_creat(nfs(), path.c_str(), 0644, &fh), 0)
        << path << ": " << client_->Error();
    size_t off = 0;
    while (off < data.size()) {
      size_t n = std::min<size_t>(data.size() - off, 256 << 10);
      ASSERT_EQ(nfs_pwrite(nfs(), fh, off, n, const_cast<char*>(data.data() + off)),
                static_cast<int>(n))
          << client_->Error();
      off += n;
    }
    ASSERT_EQ(nfs_close(nfs(), fh), 0);
  }

  void PWrite(const std::string& path, uint64_t off, const std::string& data) {
    nfsfh* fh = nullptr;
    ASSERT_EQ(nfs_open(nfs(), path.c_str(), O_RDWR, &fh), 0) << client_->Error();
    ASSERT_EQ(nfs_pwrite(nfs(), fh, off, data.size(),
                         const_cast<char*>(data.data())),
              static_cast<int>(data.size()));
    ASSERT_EQ(nfs_close(nfs(), fh), 0);
  }

  // Whole file through NFS; "<missing>" when it cannot be opened.
  std::string ReadFile(const std::string& path) {
    nfsfh* fh = nullptr;
    if (nfs_open(nfs(), path.c_str(), O_RDONLY, &fh) != 0) return "<missing>";
    std::string out;
    std::string buf(256 << 10, '\0');
    uint64_t off = 0;
    while (true) {
      int r = nfs_pread(nfs(), fh, off, buf.size(), buf.data());
      if (r <= 0) break;
      out.append(buf.data(), r);
      off += r;
    }
    nfs_close(nfs(), fh);
    return out;
  }

  bool Exists(const std::string& path) {
    nfs_stat_64 st;
    return nfs_stat64(nfs(), path.c_str(), &st) == 0;
  }

  // A VM in `dir`: <base>.vmx naming `vmx_disk`, and the flat disk
  // <base>.vmdk + <base>-flat.vmdk holding `flat`.
  void WriteFlatVm(const std::string& dir, const std::string& base,
                   const std::string& vmx_disk, const std::string& flat) {
    Mkdir(dir);
    WriteFile(dir + "/" + base + ".vmx", Vmx(base, vmx_disk));
    WriteFile(dir + "/" + base + ".vmdk",
              Descriptor("3a5c0f21", "ffffffff", "vmfs", "", "VMFS",
                         base + "-flat.vmdk"));
    WriteFile(dir + "/" + base + "-flat.vmdk", flat);
  }

  // A redo log <name>.vmdk on `parent_hint` in `dir`, with a 64 KiB delta.
  void WriteRedoLog(const std::string& dir, const std::string& name,
                    const std::string& cid, const std::string& parent_cid,
                    const std::string& parent_hint, uint32_t seed) {
    WriteFile(dir + "/" + name + ".vmdk",
              Descriptor(cid, parent_cid, "vmfsSparse", parent_hint,
                         "VMFSSPARSE", name + "-delta.vmdk"));
    WriteFile(dir + "/" + name + "-delta.vmdk", Pattern(64 << 10, seed));
  }

  grpc::Status Clone(const std::string& src, const std::string& dst,
                     uint32_t flags, v1::CloneFileResponse* resp,
                     grpc::ClientContext* ctx) {
    v1::CloneFileRequest req;
    req.set_source(src);
    req.set_destination(dst);
    req.set_flags(flags);
    req.set_client_id("control_e2e_test");
    return stub_->CloneFile(ctx, req, resp);
  }

  // CloneVm with wait = true.
  grpc::Status CloneVmAndWait(const std::string& src, const std::string& dst,
                              v1::CloneVmResponse* resp) {
    grpc::ClientContext ctx;
    v1::CloneVmRequest req;
    req.set_source(src);
    req.set_destination(dst);
    req.set_wait(true);
    return stub_->CloneVm(&ctx, req, resp);
  }

  grpc::Status GetChain(const std::string& path, v1::GetChainResponse* resp) {
    grpc::ClientContext ctx;
    v1::GetChainRequest req;
    req.set_path(path);
    return stub_->GetChain(&ctx, req, resp);
  }

  grpc::Status ExtendedStats(const std::string& path,
                             v1::ExtendedStatsResponse* resp) {
    grpc::ClientContext ctx;
    v1::ExtendedStatsRequest req;
    req.set_path(path);
    return stub_->ExtendedStats(&ctx, req, resp);
  }

  std::vector<v1::Receipt> Receipts() {
    grpc::ClientContext ctx;
    v1::ListReceiptsRequest req;
    req.set_last(1000);
    v1::ListReceiptsResponse resp;
    EXPECT_TRUE(stub_->ListReceipts(&ctx, req, &resp).ok());
    return {resp.receipts().begin(), resp.receipts().end()};
  }

  int control_port_ = 0;
  std::unique_ptr<Vnasd> vnasd_;
  std::unique_ptr<NfsClient> client_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Control::Stub> stub_;
};

TEST_F(ControlE2eTest, FlatVmdkCloneIsIdenticalIndependentAndReceipted) {
  const std::string flat = Pattern(1 << 20, 1);
  WriteFlatVm("/vm1", "vm1", "vm1.vmdk", flat);

  // DRYRUN first: a verdict, and nothing changes.
  v1::ExtendedStatsResponse before;
  ASSERT_TRUE(ExtendedStats("", &before).ok());
  {
    grpc::ClientContext ctx;
    v1::CloneFileResponse resp;
    grpc::Status st = Clone("/vnas/vm1/vm1-flat.vmdk", "/vnas/vm1/copy-flat.vmdk",
                            v1::CLONE_FLAG_DRYRUN, &resp, &ctx);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_TRUE(resp.verdict().offloaded()) << resp.verdict().explanation();
    EXPECT_FALSE(Exists("/vm1/copy-flat.vmdk"));
    v1::ExtendedStatsResponse after;
    ASSERT_TRUE(ExtendedStats("", &after).ok());
    EXPECT_EQ(after.allocated(), before.allocated());
    EXPECT_EQ(after.space().files(), before.space().files());
  }

  // The real clone.
  grpc::ClientContext ctx;
  v1::CloneFileResponse resp;
  grpc::Status st = Clone("vm1/vm1-flat.vmdk", "vm1/copy-flat.vmdk", 0, &resp, &ctx);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.bytes_copied(), 0u);
  EXPECT_EQ(ReadFile("/vm1/copy-flat.vmdk"), flat);

  // Shared in the store: the pair's allocation did not double.
  {
    v1::ExtendedStatsResponse s;
    ASSERT_TRUE(ExtendedStats("vm1", &s).ok());
    EXPECT_GE(s.space().shared(), 2u << 20);
    // Only the two small text files (one 64 KiB segment each) are unique.
    EXPECT_LE(s.unique(), 2u * (64u << 10));
  }

  // Writes through NFS to either side stay on that side.
  PWrite("/vm1/vm1-flat.vmdk", 4096, "written to the source");
  PWrite("/vm1/copy-flat.vmdk", 500000, "written to the clone");
  std::string src = ReadFile("/vm1/vm1-flat.vmdk");
  std::string dst = ReadFile("/vm1/copy-flat.vmdk");
  EXPECT_EQ(src.substr(4096, 21), "written to the source");
  EXPECT_EQ(dst.substr(4096, 21), flat.substr(4096, 21));
  EXPECT_EQ(dst.substr(500000, 20), "written to the clone");
  EXPECT_EQ(src.substr(500000, 20), flat.substr(500000, 20));

  // GUARDED on the now existing destination.
  grpc::ClientContext gctx;
  st = Clone("vm1/vm1-flat.vmdk", "vm1/copy-flat.vmdk", v1::CLONE_FLAG_GUARDED,
             &resp, &gctx);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Trailer(gctx, "vnas-reason-code"), "100");

  auto rs = Receipts();
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_TRUE(rs[0].dry_run());
  EXPECT_TRUE(rs[1].offloaded());
  EXPECT_EQ(rs[1].mechanism(), v1::MECHANISM_EXTENT_CLONE);
  EXPECT_EQ(rs[1].bytes_shared(), 1u << 20);
  EXPECT_EQ(rs[1].client_id(), "control_e2e_test");
  EXPECT_THAT(rs[1].peer(), HasSubstr("127.0.0.1"));
  EXPECT_FALSE(rs[2].offloaded());
  EXPECT_EQ(rs[2].reason(), v1::REASON_DESTINATION_EXISTS);

  // GetStatus sees the NFS traffic.
  grpc::ClientContext sctx;
  v1::GetStatusResponse status;
  ASSERT_TRUE(stub_->GetStatus(&sctx, {}, &status).ok());
  EXPECT_TRUE(status.nfs_stats_available());
  EXPECT_GE(status.nfs_connected_clients(), 1u);
  uint64_t writes = 0;
  for (const auto& c : status.counters()) {
    if (c.program() == "NFS3" && c.procedure() == "WRITE") writes = c.calls();
  }
  EXPECT_GE(writes, 4u);
  ASSERT_EQ(status.exports_size(), 1);
  EXPECT_EQ(status.exports(0), "/vnas");
}

TEST_F(ControlE2eTest, VssSiblingsAreRefusedWithReasonAndReceipt) {
  WriteFlatVm("/win", "vm", "vm-000002.vmdk", Pattern(256 << 10, 2));
  WriteRedoLog("/win", "vm-000001", "7b2e9d44", "3a5c0f21", "vm.vmdk", 3);
  WriteRedoLog("/win", "vm-000002", "5e90b7c1", "3a5c0f21", "vm.vmdk", 4);

  grpc::ClientContext ctx;
  v1::CloneFileResponse resp;
  grpc::Status st = Clone("win/vm-flat.vmdk", "win/clone-flat.vmdk", 0, &resp, &ctx);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Trailer(ctx, "vnas-reason-code"), "1");
  EXPECT_THAT(st.error_message(), HasSubstr("vm-000001.vmdk"));
  EXPECT_THAT(st.error_message(), HasSubstr("vm-000002.vmdk"));
  EXPECT_FALSE(Exists("/win/clone-flat.vmdk"));

  v1::GetChainResponse chain;
  ASSERT_TRUE(GetChain("win", &chain).ok());
  EXPECT_FALSE(chain.linear());
  EXPECT_EQ(chain.clone_vm().refusal().code(), v1::REASON_VSS_SIBLING_REDO_LOGS);

  auto rs = Receipts();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_FALSE(rs[0].offloaded());
  EXPECT_EQ(rs[0].reason(), v1::REASON_VSS_SIBLING_REDO_LOGS);
  EXPECT_THAT(rs[0].reason_text(), HasSubstr("VSS"));
}

TEST_F(ControlE2eTest, LinearChainCloneVmIsSelfConsistent) {
  WriteFlatVm("/lin", "vm", "vm-000002.vmdk", Pattern(512 << 10, 5));
  WriteRedoLog("/lin", "vm-000001", "7b2e9d44", "3a5c0f21", "vm.vmdk", 6);
  WriteRedoLog("/lin", "vm-000002", "c41f0a93", "7b2e9d44", "vm-000001.vmdk", 7);

  v1::CloneVmResponse resp;
  grpc::Status st = CloneVmAndWait("lin", "lin2", &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.operation().state(), v1::OPERATION_SUCCEEDED)
      << resp.operation().error().text();
  EXPECT_EQ(ReadFile("/lin2/lin2-flat.vmdk"), ReadFile("/lin/vm-flat.vmdk"));
  EXPECT_EQ(ReadFile("/lin2/lin2-000002-delta.vmdk"),
            ReadFile("/lin/vm-000002-delta.vmdk"));
  EXPECT_THAT(ReadFile("/lin2/lin2.vmx"), HasSubstr("\"lin2-000002.vmdk\""));
  EXPECT_THAT(ReadFile("/lin2/lin2-000002.vmdk"),
              HasSubstr("parentFileNameHint=\"lin2-000001.vmdk\""));
  // Writes to the clone leave the source alone.
  PWrite("/lin2/lin2-flat.vmdk", 0, "CLONE");
  EXPECT_EQ(ReadFile("/lin/vm-flat.vmdk").substr(0, 5),
            Pattern(512 << 10, 5).substr(0, 5));
  auto rs = Receipts();
  ASSERT_FALSE(rs.empty());
  EXPECT_EQ(rs.back().kind(), v1::RECEIPT_CLONE_VM);
  EXPECT_TRUE(rs.back().offloaded());
}

TEST_F(ControlE2eTest, Qcow2ChainFromQemuImgClonesAndStillOpens) {
  const std::string dir = MakeTempDir("control-qcow2");
  ASSERT_FALSE(dir.empty());
  auto run = [&](const std::string& cmd) { RunIn(dir, cmd); };
  run("qemu-img create -q -f qcow2 base.qcow2 4M");
  run("qemu-io -f qcow2 -c 'write -P 0xab 0 1M' base.qcow2 >/dev/null");
  run("qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2");
  run("qemu-io -f qcow2 -c 'write -P 0xcd 1M 512k' top.qcow2 >/dev/null");
  Mkdir("/qc");
  const std::string base = ::vnas::harness::ReadFile(dir + "/base.qcow2");
  const std::string top = ::vnas::harness::ReadFile(dir + "/top.qcow2");
  ASSERT_FALSE(base.empty());
  WriteFile("/qc/base.qcow2", base);
  WriteFile("/qc/top.qcow2", top);

  v1::GetChainResponse chain;
  ASSERT_TRUE(GetChain("qc/top.qcow2", &chain).ok());
  EXPECT_TRUE(chain.linear());
  ASSERT_EQ(chain.chains_size(), 1) << chain.summary();
  EXPECT_EQ(chain.chains(0).files_size(), 2);
  EXPECT_TRUE(chain.focus().offloaded());

  grpc::ClientContext ctx;
  v1::CloneFileResponse resp;
  grpc::Status st = Clone("qc/top.qcow2", "qc/clone.qcow2", 0, &resp, &ctx);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(ReadFile("/qc/clone.qcow2"), top);

  // Copied out with nfs-cp next to its (relative) backing file, the clone
  // reads the same guest data as the original.
  CommandResult cp = RunCommand("nfs-cp '" + vnasd_->Url("qc/clone.qcow2") + "' '" +
                         dir + "/clone.qcow2'");
  ASSERT_EQ(cp.exit_code, 0) << cp.output;
  run("qemu-img compare -f qcow2 -F qcow2 top.qcow2 clone.qcow2");
}

TEST_F(ControlE2eTest, RunningVmRefusalSnapshotRestoreAndReceiptStream) {
  const std::string flat = Pattern(256 << 10, 8);
  WriteFlatVm("/run", "run", "run.vmdk", flat);
  // ESXi's NFS lock file, just written: the VM is powered on.
  WriteFile("/run/.lck-0000000000000011", std::string(84, 'L'));

  // Watch receipts as they are written: everything after the newest one
  // now, so the watch misses nothing however late the server sets it up.
  grpc::ClientContext lctx;
  v1::ListReceiptsRequest lreq;
  lreq.set_last(1);
  v1::ListReceiptsResponse lresp;
  ASSERT_TRUE(stub_->ListReceipts(&lctx, lreq, &lresp).ok());
  grpc::ClientContext wctx;
  wctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::WatchReceiptsRequest wreq;
  wreq.set_after_seq(lresp.receipts().empty() ? 0
                                              : lresp.receipts().rbegin()->seq());
  auto reader = stub_->WatchReceipts(&wctx, wreq);

  grpc::ClientContext ctx;
  v1::CloneFileResponse resp;
  grpc::Status st = Clone("run/run-flat.vmdk", "run/copy.vmdk", 0, &resp, &ctx);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Trailer(ctx, "vnas-reason-code"), "2");
  v1::Receipt streamed;
  ASSERT_TRUE(reader->Read(&streamed));
  EXPECT_EQ(streamed.reason(), v1::REASON_RUNNING_VM);
  EXPECT_EQ(streamed.source(), "run/run-flat.vmdk");

  // A snapshot of the running VM is allowed (crash-consistent).
  grpc::ClientContext sctx;
  v1::CreateSnapshotRequest sreq;
  sreq.set_path("run");
  sreq.set_name("hot");
  v1::CreateSnapshotResponse sresp;
  st = stub_->CreateSnapshot(&sctx, sreq, &sresp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_THAT(sresp.verdict().explanation(), HasSubstr("crash-consistent"));
  ASSERT_TRUE(reader->Read(&streamed));
  EXPECT_EQ(streamed.kind(), v1::RECEIPT_CREATE_SNAPSHOT);
  EXPECT_TRUE(streamed.offloaded());

  PWrite("/run/run-flat.vmdk", 0, "changed after the snapshot");

  // Restoring under a running VM is refused ...
  grpc::ClientContext rctx;
  v1::RestoreSnapshotRequest rreq;
  rreq.set_id(sresp.snapshot().id());
  v1::RestoreSnapshotResponse rresp;
  st = stub_->RestoreSnapshot(&rctx, rreq, &rresp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Trailer(rctx, "vnas-reason-code"), "2");
  // ... and allowed once the VM is off (lock gone).
  ASSERT_EQ(nfs_unlink(nfs(), "/run/.lck-0000000000000011"), 0)
      << client_->Error();
  grpc::ClientContext rctx2;
  st = stub_->RestoreSnapshot(&rctx2, rreq, &rresp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(ReadFile("/run/run-flat.vmdk"), flat);

  // A linked clone of the snapshot, visible through NFS.
  grpc::ClientContext kctx;
  v1::CloneSnapshotRequest kreq;
  kreq.set_id(sresp.snapshot().id());
  kreq.set_destination("run-linked");
  v1::CloneSnapshotResponse kresp;
  st = stub_->CloneSnapshot(&kctx, kreq, &kresp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(ReadFile("/run-linked/run-flat.vmdk"), flat);

  wctx.TryCancel();
  while (reader->Read(&streamed)) {
  }
  reader->Finish().IgnoreError();
  EXPECT_EQ(Receipts().size(), 5u);
}

// vnasd refuses to expose the control plane off loopback without TLS and a
// token (it exits before binding anything).
TEST(ControlE2eStartTest, NonLoopbackControlWithoutTlsIsRefused) {
  Vnasd::Options o;
  o.extra_flags = {"--control_listen=0.0.0.0:0"};
  auto d = Vnasd::Start(o);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()),
              HasSubstr("--control_token_file"));
}

TEST_F(ControlE2eTest, HostedSparseVmdkChainCloneVmStillOpensInQemu) {
  const std::string dir = MakeTempDir("control-vmdk");
  ASSERT_FALSE(dir.empty());
  auto run = [&](const std::string& cmd) { RunIn(dir, cmd); };
  run("mkdir src out");
  run("qemu-img create -q -f vmdk -o subformat=monolithicSparse src/hv.vmdk 4M");
  run("qemu-io -f vmdk -c 'write -P 0x5a 0 1M' src/hv.vmdk >/dev/null");
  run("cd src && qemu-img create -q -f vmdk -b hv.vmdk -F vmdk hv-000001.vmdk");
  run("qemu-io -f vmdk -c 'write -P 0xa5 1M 256k' src/hv-000001.vmdk >/dev/null");
  Mkdir("/hv");
  for (const char* f : {"hv.vmdk", "hv-000001.vmdk"}) {
    std::string bytes = ::vnas::harness::ReadFile(dir + "/src/" + f);
    ASSERT_FALSE(bytes.empty()) << f;
    WriteFile(std::string("/hv/") + f, bytes);
  }
  WriteFile("/hv/hv.vmx", Vmx("hv", "hv-000001.vmdk"));

  v1::GetChainResponse chain;
  ASSERT_TRUE(GetChain("hv", &chain).ok());
  ASSERT_EQ(chain.chains_size(), 1) << chain.summary();
  EXPECT_EQ(chain.chains(0).files_size(), 2);

  v1::CloneVmResponse resp;
  grpc::Status st = CloneVmAndWait("hv", "hv2", &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.operation().state(), v1::OPERATION_SUCCEEDED)
      << resp.operation().error().text();
  bool patched = false;
  for (const auto& f : resp.plan()) patched |= f.action() == "patch";
  EXPECT_TRUE(patched);

  // Copied out with nfs-cp, the clone's chain opens in qemu under its new
  // names and reads the same guest data as the source chain.
  for (const char* f : {"hv2.vmdk", "hv2-000001.vmdk"}) {
    CommandResult cp = RunCommand("nfs-cp '" + vnasd_->Url(std::string("hv2/") + f) +
                                  "' '" + dir + "/out/" + f + "'");
    ASSERT_EQ(cp.exit_code, 0) << cp.output;
  }
  CommandResult info = RunCommand("qemu-img info --backing-chain '" + dir +
                                  "/out/hv2-000001.vmdk'");
  EXPECT_EQ(info.exit_code, 0) << info.output;
  EXPECT_THAT(info.output, HasSubstr("hv2.vmdk"));
  EXPECT_THAT(info.output, ::testing::Not(HasSubstr("backing file: hv.vmdk")));
  run("qemu-img compare -f vmdk -F vmdk src/hv-000001.vmdk out/hv2-000001.vmdk");
}

}  // namespace
}  // namespace vnas::harness
