// Tests of the plugin's decisions against the generated mock stub
// (MockControlStub) with the host copy replaced by a recording fake.
#include "plugins/host/offload_session.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/vnas_mock.grpc.pb.h"

namespace vnas::plugin {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::Return;
using ::testing::SaveArg;
using ::testing::SetArgPointee;

class OffloadSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stub_ = std::make_shared<vnas::v1::MockControlStub>();
    SessionOptions o;
    o.datastore.server = "127.0.0.1";
    o.datastore.export_path = "/vnas/";
    o.datastore.nfsport = 2049;
    o.datastore.mountport = 2049;
    o.timeout = absl::Seconds(5);
    auto client = std::make_unique<cli::ControlClient>(stub_, "127.0.0.1:50051", "",
                                                       absl::Seconds(5));
    auto s = OffloadSession::Start(o, std::move(client));
    ASSERT_TRUE(s.ok()) << s.status();
    session_ = *std::move(s);
    session_->set_copy_for_testing([this](const NfsLocation& src, const NfsLocation& dst,
                                          const CopyOptions& opt, const CopyProgress& progress)
                                       -> absl::StatusOr<CopyResult> {
      ++copies_;
      copy_src_ = src;
      copy_dst_ = dst;
      copy_opts_ = opt;
      // Pretend to copy 4 chunks of 1 MiB, one of them zero.
      for (uint64_t done = 1 << 20; done <= 4u << 20; done += 1 << 20) {
        if (progress && !progress(done, 4u << 20)) {
          return absl::CancelledError("copy cancelled by the progress callback");
        }
      }
      CopyResult r;
      r.size = 4 << 20;
      r.bytes_read = 4 << 20;
      r.bytes_written = 3 << 20;
      r.bytes_skipped = 1 << 20;
      return r;
    });
  }

  // The next CloneFile call answers `code` with `message`.
  void CloneFileFailsWith(grpc::StatusCode code, const std::string& message) {
    EXPECT_CALL(*stub_, CloneFile(_, _, _)).WillOnce(Return(grpc::Status(code, message)));
  }

  static CloneRequest Request(const std::string& source, const std::string& destination) {
    CloneRequest req;
    req.source = source;
    req.destination = destination;
    return req;
  }

  std::shared_ptr<vnas::v1::MockControlStub> stub_;
  std::unique_ptr<OffloadSession> session_;
  int copies_ = 0;
  NfsLocation copy_src_, copy_dst_;
  CopyOptions copy_opts_;
};

TEST_F(OffloadSessionTest, OffloadedWhenServerClones) {
  vnas::v1::CloneFileRequest sent;
  vnas::v1::CloneFileResponse resp;
  resp.mutable_verdict()->set_offloaded(true);
  resp.mutable_verdict()->set_mechanism(vnas::v1::MECHANISM_EXTENT_CLONE);
  resp.mutable_destination()->set_size(8 << 20);
  resp.set_bytes_shared(8 << 20);
  resp.set_receipt_seq(42);
  EXPECT_CALL(*stub_, CloneFile(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&sent), SetArgPointee<2>(resp), Return(grpc::Status::OK)));
  CloneRequest req = Request("nfs://127.0.0.1/vnas/vm1/vm1.vmdk?nfsport=2049&mountport=2049",
                             "/vnas/vm2/vm2.vmdk");
  req.guarded = true;
  req.lazy = true;
  auto r = session_->Clone(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, CloneOutcome::kOffloaded);
  EXPECT_EQ(r->receipt_seq, 42u);
  EXPECT_EQ(r->bytes_shared, 8u << 20);
  EXPECT_EQ(r->bytes_copied, 0u);
  EXPECT_EQ(r->reason_name, "");
  EXPECT_EQ(copies_, 0);
  EXPECT_EQ(sent.source(), "vm1/vm1.vmdk");
  EXPECT_EQ(sent.destination(), "vm2/vm2.vmdk");
  EXPECT_EQ(sent.flags(), vnas::v1::CLONE_FLAG_LAZY | vnas::v1::CLONE_FLAG_GUARDED);
  EXPECT_EQ(sent.client_id(), "vnas-offload");
}

TEST_F(OffloadSessionTest, RefusalFallsBackWithReason) {
  CloneFileFailsWith(grpc::StatusCode::FAILED_PRECONDITION,
                     "VSS_SIBLING_REDO_LOGS: vm.vmdk has 2 child redo logs "
                     "(vm-000001.vmdk, vm-000002.vmdk)");
  CloneRequest req = Request("vm/vm.vmdk", "copy/vm.vmdk");
  auto r = session_->Clone(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, CloneOutcome::kFellBack);
  EXPECT_EQ(r->reason_name, "VSS_SIBLING_REDO_LOGS");
  EXPECT_THAT(r->reason, HasSubstr("2 child redo logs"));
  EXPECT_EQ(r->bytes_copied, 3u << 20);
  EXPECT_EQ(r->bytes_skipped, 1u << 20);
  EXPECT_EQ(r->bytes_total, 4u << 20);
  ASSERT_EQ(copies_, 1);
  EXPECT_EQ(copy_src_.path, "vm/vm.vmdk");
  EXPECT_EQ(copy_dst_.path, "copy/vm.vmdk");
  EXPECT_EQ(copy_src_.datastore.export_path, "/vnas");
  EXPECT_FALSE(copy_opts_.guarded);
}

TEST_F(OffloadSessionTest, RefusalWithNoFallbackIsAnError) {
  CloneFileFailsWith(grpc::StatusCode::FAILED_PRECONDITION, "RUNNING_VM: vm.vmx is locked");
  CloneRequest req = Request("vm/vm.vmdk", "copy/vm.vmdk");
  req.no_fallback = true;
  auto r = session_->Clone(req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("RUNNING_VM"));
  EXPECT_EQ(copies_, 0);
}

TEST_F(OffloadSessionTest, UnreachableFallsBack) {
  CloneFileFailsWith(grpc::StatusCode::UNAVAILABLE, "failed to connect");
  CloneRequest req = Request("vm1/a.vmdk", "vm1/b.vmdk");
  req.guarded = true;
  auto r = session_->Clone(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, CloneOutcome::kFellBack);
  EXPECT_EQ(r->reason_name, "UNREACHABLE");
  EXPECT_THAT(r->reason, HasSubstr("cannot reach vnasd at 127.0.0.1:50051"));
  EXPECT_EQ(copies_, 1);
  EXPECT_TRUE(copy_opts_.guarded);
}

TEST_F(OffloadSessionTest, RealUnreachableEndpointFallsBack) {
  SessionOptions o;
  o.datastore.server = "127.0.0.1";
  o.control_endpoint = "127.0.0.1:1";  // nothing listens there
  o.timeout = absl::Seconds(3);
  auto s = OffloadSession::Start(o);
  ASSERT_TRUE(s.ok());
  int copies = 0;
  (*s)->set_copy_for_testing([&](const NfsLocation&, const NfsLocation&, const CopyOptions&,
                                 const CopyProgress&) -> absl::StatusOr<CopyResult> {
    ++copies;
    return CopyResult{};
  });
  CloneRequest req = Request("a", "b");
  auto r = (*s)->Clone(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, CloneOutcome::kFellBack);
  EXPECT_EQ(r->reason_name, "UNREACHABLE");
  EXPECT_EQ(copies, 1);
}

TEST_F(OffloadSessionTest, CrossDatastoreCopiesWithoutAsking) {
  EXPECT_CALL(*stub_, CloneFile(_, _, _)).Times(0);
  CloneRequest req = Request("vm1/vm1.vmdk", "nfs://10.1.2.3/other/vm1/vm1.vmdk");
  auto r = session_->Clone(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, CloneOutcome::kFellBack);
  EXPECT_EQ(r->reason_name, "CROSS_DATASTORE");
  EXPECT_EQ(copy_dst_.datastore.server, "10.1.2.3");
}

TEST_F(OffloadSessionTest, CancelThroughProgressCallback) {
  CloneFileFailsWith(grpc::StatusCode::FAILED_PRECONDITION, "BROKEN_CHAIN: parentCID mismatch");
  CloneRequest req = Request("vm/vm.vmdk", "copy/vm.vmdk");
  int calls = 0;
  req.progress = [&](uint64_t done, uint64_t total) {
    ++calls;
    EXPECT_EQ(total, 4u << 20);
    return done < (2u << 20);  // stop after the second chunk
  };
  auto r = session_->Clone(req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(calls, 2);
}

TEST_F(OffloadSessionTest, ErrorsACopyWouldHitAreNotFallbacks) {
  for (grpc::StatusCode code : {grpc::StatusCode::NOT_FOUND, grpc::StatusCode::ALREADY_EXISTS,
                                grpc::StatusCode::RESOURCE_EXHAUSTED}) {
    CloneFileFailsWith(code, "X: y");
    CloneRequest req = Request("a/b", "a/c");
    auto r = session_->Clone(req);
    EXPECT_EQ(static_cast<int>(r.status().code()), static_cast<int>(code));
  }
  EXPECT_EQ(copies_, 0);
}

TEST_F(OffloadSessionTest, MissingParentIsCreatedThenRetried) {
  int mkdirs = 0;
  session_->set_mkdir_for_testing([&](const NfsLocation& loc, absl::Duration) {
    ++mkdirs;
    EXPECT_EQ(loc.path, "new/vm2.vmdk");
    return absl::OkStatus();
  });
  vnas::v1::CloneFileResponse ok;
  ok.mutable_verdict()->set_offloaded(true);
  EXPECT_CALL(*stub_, CloneFile(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                    "DESTINATION_PARENT_MISSING: new does not exist")))
      .WillOnce(DoAll(SetArgPointee<2>(ok), Return(grpc::Status::OK)));
  CloneRequest req = Request("vm1/vm1.vmdk", "new/vm2.vmdk");
  auto r = session_->Clone(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, CloneOutcome::kOffloaded);
  EXPECT_EQ(mkdirs, 1);
}

TEST_F(OffloadSessionTest, DryRunReportsVerdictAndCopiesNothing) {
  vnas::v1::CloneFileRequest sent;
  vnas::v1::CloneFileResponse resp;
  resp.mutable_verdict()->set_offloaded(false);
  resp.mutable_verdict()->mutable_refusal()->set_code(vnas::v1::REASON_VSS_SIBLING_REDO_LOGS);
  resp.mutable_verdict()->mutable_refusal()->set_text("two children");
  EXPECT_CALL(*stub_, CloneFile(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&sent), SetArgPointee<2>(resp), Return(grpc::Status::OK)));
  CloneRequest req = Request("vm/vm.vmdk", "c/vm.vmdk");
  req.dry_run = true;
  auto r = session_->Clone(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, CloneOutcome::kDryRun);
  EXPECT_FALSE(r->would_offload);
  EXPECT_EQ(r->reason_name, "VSS_SIBLING_REDO_LOGS");
  EXPECT_EQ(sent.flags(), vnas::v1::CLONE_FLAG_DRYRUN);
  EXPECT_EQ(copies_, 0);
}

TEST_F(OffloadSessionTest, DryRunOfRefusalStatus) {
  CloneFileFailsWith(grpc::StatusCode::FAILED_PRECONDITION, "RUNNING_VM: locked");
  CloneRequest req = Request("vm/vm.vmdk", "c/vm.vmdk");
  req.dry_run = true;
  auto r = session_->Clone(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, CloneOutcome::kDryRun);
  EXPECT_FALSE(r->would_offload);
  EXPECT_EQ(r->reason_name, "RUNNING_VM");
  EXPECT_EQ(copies_, 0);
}

TEST_F(OffloadSessionTest, DryRunWithMissingParentAsksChainFocus) {
  CloneFileFailsWith(grpc::StatusCode::NOT_FOUND,
                     "DESTINATION_PARENT_MISSING: \"c\" does not exist");
  vnas::v1::GetChainRequest asked;
  vnas::v1::GetChainResponse chain;
  chain.mutable_focus()->set_offloaded(false);
  chain.mutable_focus()->mutable_refusal()->set_name("VSS_SIBLING_REDO_LOGS");
  chain.mutable_focus()->mutable_refusal()->set_text("two children");
  EXPECT_CALL(*stub_, GetChain(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&asked), SetArgPointee<2>(chain), Return(grpc::Status::OK)));
  int mkdirs = 0;
  session_->set_mkdir_for_testing([&](const NfsLocation&, absl::Duration) {
    ++mkdirs;
    return absl::OkStatus();
  });
  CloneRequest req = Request("vm/vm-flat.vmdk", "c/vm-flat.vmdk");
  req.dry_run = true;
  auto r = session_->Clone(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, CloneOutcome::kDryRun);
  EXPECT_FALSE(r->would_offload);
  EXPECT_EQ(r->reason_name, "VSS_SIBLING_REDO_LOGS");
  EXPECT_EQ(asked.path(), "vm/vm-flat.vmdk");
  EXPECT_EQ(mkdirs, 0);
  EXPECT_EQ(copies_, 0);
}

TEST_F(OffloadSessionTest, NoOffloadAlwaysCopies) {
  EXPECT_CALL(*stub_, CloneFile(_, _, _)).Times(0);
  CloneRequest req = Request("a/b", "a/c");
  req.no_offload = true;
  auto r = session_->Clone(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, CloneOutcome::kFellBack);
  EXPECT_EQ(r->reason_name, "NO_OFFLOAD");
}

TEST_F(OffloadSessionTest, StatsAndReserve) {
  vnas::v1::ExtendedStatsRequest stats_req;
  vnas::v1::ExtendedStatsResponse stats;
  stats.set_total(100);
  stats.set_allocated(64);
  stats.set_unique(32);
  EXPECT_CALL(*stub_, ExtendedStats(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&stats_req), SetArgPointee<2>(stats), Return(grpc::Status::OK)));
  auto s = session_->Stats("/vnas/vm1/vm1.vmdk");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(stats_req.path(), "vm1/vm1.vmdk");
  EXPECT_EQ(s->unique(), 32u);

  vnas::v1::ReserveSpaceRequest res_req;
  EXPECT_CALL(*stub_, ReserveSpace(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&res_req),
                      Return(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "NO_SPACE: full"))));
  auto r = session_->Reserve("vm1/vm1.vmdk", 10ull << 30);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(res_req.size(), 10ull << 30);
  EXPECT_FALSE(session_->Stats("nfs://10.0.0.1/x/y").ok());  // other datastore
}

}  // namespace
}  // namespace vnas::plugin
