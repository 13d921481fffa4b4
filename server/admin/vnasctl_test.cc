// vnasctl commands against the generated MockControlStub: requests sent,
// tables and JSON printed, errors and exit codes.
#include "server/admin/vnasctl.h"

#include <sstream>

#include "gmock/gmock.h"
#include "grpcpp/test/mock_stream.h"
#include "gtest/gtest.h"
#include "proto/vnas_mock.grpc.pb.h"

namespace vnas::admin {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::HasSubstr;
using ::testing::Return;
using ::testing::SaveArg;
using ::testing::SetArgPointee;

class VnasctlTest : public ::testing::Test {
 protected:
  VnasctlTest()
      : stub_(std::make_shared<vnas::v1::MockControlStub>()),
        client_(stub_, "127.0.0.1:50051", "", absl::Seconds(5)) {}

  int Run(std::vector<std::string> args, CtlOptions o = {}) {
    out_.str("");
    err_.str("");
    Vnasctl ctl(&client_, o, &out_, &err_);
    return ctl.Run(args);
  }
  static CtlOptions Json() {
    CtlOptions o;
    o.json = true;
    return o;
  }

  std::shared_ptr<vnas::v1::MockControlStub> stub_;
  cli::ControlClient client_;
  std::ostringstream out_, err_;
};

vnas::v1::SpaceStats Space(uint64_t files, uint64_t logical, uint64_t unique, uint64_t shared,
                           uint64_t snap) {
  vnas::v1::SpaceStats s;
  s.set_files(files);
  s.set_logical(logical);
  s.set_allocated(unique + shared);
  s.set_unique(unique);
  s.set_shared(shared);
  s.set_snapshot_only(snap);
  return s;
}

vnas::v1::ListVmsResponse TwoVms() {
  vnas::v1::ListVmsResponse r;
  auto* a = r.add_vms();
  a->set_name("vm1");
  a->set_has_vmx(true);
  *a->mutable_space() = Space(2, 8 << 20, 0, 4 << 20, 0);
  auto* b = r.add_vms();
  b->set_name("vm2");
  b->set_has_vmx(true);
  b->set_snapshots(1);
  *b->mutable_space() = Space(1, 8 << 20, 1 << 20, 4 << 20, 1 << 20);
  *r.mutable_total() = Space(3, 16 << 20, 1 << 20, 8 << 20, 1 << 20);
  r.set_shared_counted_once(4 << 20);
  r.mutable_store()->set_used(6 << 20);
  r.mutable_store()->set_capacity(1ull << 30);
  r.mutable_store()->set_free((1ull << 30) - (6 << 20));
  r.mutable_store()->set_segment_size(64 << 10);
  r.mutable_store()->set_members(4);
  return r;
}

TEST_F(VnasctlTest, SpaceTableAddsUp) {
  EXPECT_CALL(*stub_, ListVms(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(TwoVms()), Return(grpc::Status::OK)));
  ASSERT_EQ(Run({"space"}), kExitOk) << err_.str();
  const std::string s = out_.str();
  EXPECT_THAT(s, HasSubstr("VM     FILES   LOGICAL      USED    UNIQUE    SHARED  SNAP-ONLY  RESERVED  SNAPS"));
  EXPECT_THAT(s, HasSubstr("vm2        1  8.00 MiB  5.00 MiB  1.00 MiB  4.00 MiB   1.00 MiB"));
  EXPECT_THAT(s, HasSubstr("total      3  16.0 MiB"));
  EXPECT_THAT(s, HasSubstr("= 6.00 MiB  (adds up)"));
}

TEST_F(VnasctlTest, SpaceSaysWhenItDoesNotAddUp) {
  auto r = TwoVms();
  r.mutable_store()->set_used(7 << 20);
  EXPECT_CALL(*stub_, ListVms(_, _, _)).WillOnce(DoAll(SetArgPointee<2>(r), Return(grpc::Status::OK)));
  ASSERT_EQ(Run({"space"}), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("differs from used by -1.00 MiB"));
}

TEST_F(VnasctlTest, SpaceJsonHasNumbers) {
  EXPECT_CALL(*stub_, ListVms(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(TwoVms()), Return(grpc::Status::OK)));
  ASSERT_EQ(Run({"space"}, Json()), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("\"shared_counted_once\": 4194304"));
  EXPECT_THAT(out_.str(), HasSubstr("\"name\": \"vm2\""));
}

TEST_F(VnasctlTest, UnreachableIsClear) {
  EXPECT_CALL(*stub_, GetStatus(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused")));
  EXPECT_EQ(Run({"status"}), kExitFailed);
  EXPECT_THAT(err_.str(),
              HasSubstr("vnasctl: cannot reach vnasd at 127.0.0.1:50051: is it running?"));
}

TEST_F(VnasctlTest, CloneFileRefusedShowsReason) {
  vnas::v1::ExtendedStatsResponse file;
  file.mutable_file()->set_directory(false);
  vnas::v1::CloneFileRequest sent;
  EXPECT_CALL(*stub_, ExtendedStats(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(file), Return(grpc::Status::OK)));
  EXPECT_CALL(*stub_, CloneFile(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&sent),
                      Return(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                          "VSS_SIBLING_REDO_LOGS: vm.vmdk has 2 children"))));
  CtlOptions o;
  o.lazy = true;
  o.guarded = true;
  EXPECT_EQ(Run({"clone", "vm/vm-000002.vmdk", "c/x.vmdk"}, o), kExitFailed);
  EXPECT_THAT(err_.str(), HasSubstr("CloneFile: VSS_SIBLING_REDO_LOGS: vm.vmdk has 2 children"));
  EXPECT_EQ(sent.flags(), vnas::v1::CLONE_FLAG_LAZY | vnas::v1::CLONE_FLAG_GUARDED);
  EXPECT_EQ(sent.client_id(), "vnasctl");
}

TEST_F(VnasctlTest, CloneVmWaitShowsProgressUntilFinal) {
  vnas::v1::ExtendedStatsResponse dir;
  dir.mutable_file()->set_directory(true);
  EXPECT_CALL(*stub_, ExtendedStats(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(dir), Return(grpc::Status::OK)));
  vnas::v1::CloneVmResponse started;
  started.mutable_operation()->set_id("op-7");
  started.mutable_operation()->set_state(vnas::v1::OPERATION_RUNNING);
  vnas::v1::CloneVmRequest sent;
  EXPECT_CALL(*stub_, CloneVm(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&sent), SetArgPointee<2>(started), Return(grpc::Status::OK)));
  auto* reader = new grpc::testing::MockClientReader<vnas::v1::Operation>();
  vnas::v1::Operation half, done;
  half.set_id("op-7");
  half.set_state(vnas::v1::OPERATION_RUNNING);
  half.set_bytes_total(100);
  half.set_bytes_done(50);
  done = half;
  done.set_state(vnas::v1::OPERATION_SUCCEEDED);
  done.set_bytes_done(100);
  done.set_files_done(3);
  done.set_files_total(3);
  EXPECT_CALL(*reader, Read(_))
      .WillOnce(DoAll(SetArgPointee<0>(half), Return(true)))
      .WillOnce(DoAll(SetArgPointee<0>(done), Return(true)));
  EXPECT_CALL(*reader, Finish()).WillOnce(Return(grpc::Status::OK));
  EXPECT_CALL(*stub_, WatchOperationRaw(_, _)).WillOnce(Return(reader));
  CtlOptions o;
  o.wait = true;
  EXPECT_EQ(Run({"clone", "vm1", "vm3"}, o), kExitOk) << err_.str();
  EXPECT_FALSE(sent.wait());  // progress comes from WatchOperation
  EXPECT_THAT(out_.str(), HasSubstr("op-7: 50% 50 B / 100 B"));
  EXPECT_THAT(out_.str(), HasSubstr("operation op-7 SUCCEEDED: 3/3 files"));
}

TEST_F(VnasctlTest, ReserveParsesSize) {
  vnas::v1::ReserveSpaceRequest sent;
  EXPECT_CALL(*stub_, ReserveSpace(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&sent), Return(grpc::Status::OK)));
  EXPECT_EQ(Run({"reserve", "vm1/vm1-flat.vmdk", "10G"}), kExitOk);
  EXPECT_EQ(sent.size(), 10ull << 30);
  EXPECT_EQ(sent.path(), "vm1/vm1-flat.vmdk");
  EXPECT_THAT(out_.str(), HasSubstr("reserved 10.0 GiB for vm1/vm1-flat.vmdk"));
  EXPECT_EQ(Run({"reserve", "x", "10Q"}), kExitUsage);
}

TEST_F(VnasctlTest, AlignmentOfTheDatastoreListsTheWorstFiles) {
  vnas::v1::GetAlignmentRequest sent;
  vnas::v1::GetAlignmentResponse resp;
  resp.set_writes(10);
  resp.set_files(3);
  resp.set_offset_aligned_4k(7);
  resp.set_segment_size(64 << 10);
  vnas::v1::FileAlignment* f = resp.add_worst();
  f->set_path("vm1/vm1-flat.vmdk");
  f->set_writes(4);
  f->set_offset_misaligned_4k(3);
  f->set_partial_segment_writes(2);
  EXPECT_CALL(*stub_, GetAlignment(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&sent), SetArgPointee<2>(resp), Return(grpc::Status::OK)));
  EXPECT_EQ(Run({"alignment"}), kExitOk);
  EXPECT_EQ(sent.path(), "");  // the whole datastore
  EXPECT_THAT(out_.str(), HasSubstr("datastore: 10 writes in 3 files"));
  EXPECT_THAT(out_.str(), HasSubstr("offset 4 KiB-aligned"));
  EXPECT_THAT(out_.str(), HasSubstr("most misaligned files:"));
  EXPECT_THAT(out_.str(), HasSubstr("vm1/vm1-flat.vmdk"));
}

TEST_F(VnasctlTest, SnapshotCommandsMapToRpcs) {
  vnas::v1::CreateSnapshotRequest create;
  vnas::v1::CreateSnapshotResponse created;
  created.mutable_snapshot()->set_id(5);
  created.mutable_snapshot()->set_name("before");
  EXPECT_CALL(*stub_, CreateSnapshot(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&create), SetArgPointee<2>(created), Return(grpc::Status::OK)));
  EXPECT_EQ(Run({"snapshot", "create", "vm1", "before"}), kExitOk);
  EXPECT_EQ(create.path(), "vm1");
  EXPECT_THAT(out_.str(), HasSubstr("snapshot 5 \"before\" of vm1 created"));

  vnas::v1::DeleteSnapshotRequest del;
  EXPECT_CALL(*stub_, DeleteSnapshot(_, _, _)).WillOnce(DoAll(SaveArg<1>(&del), Return(grpc::Status::OK)));
  EXPECT_EQ(Run({"snapshot", "delete", "5"}), kExitOk);
  EXPECT_EQ(del.id(), 5u);
  vnas::v1::RestoreSnapshotRequest res;
  EXPECT_CALL(*stub_, RestoreSnapshot(_, _, _)).WillOnce(DoAll(SaveArg<1>(&res), Return(grpc::Status::OK)));
  EXPECT_EQ(Run({"snapshot", "restore", "5"}), kExitOk);
  EXPECT_EQ(res.id(), 5u);
  EXPECT_EQ(Run({"snapshot", "delete", "five"}), kExitUsage);
  EXPECT_EQ(Run({"snapshot", "frobnicate"}), kExitUsage);

  vnas::v1::ListSnapshotsResponse list;
  auto* s = list.add_snapshots();
  s->set_id(5);
  s->set_name("before");
  s->set_source_path("vm1");
  s->set_directory(true);
  EXPECT_CALL(*stub_, ListSnapshots(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(list), Return(grpc::Status::OK)));
  EXPECT_EQ(Run({"snapshot", "list"}), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr(" 5  before  vm1/"));
}

TEST_F(VnasctlTest, ReceiptsTableAndJson) {
  vnas::v1::ListReceiptsRequest sent;
  vnas::v1::ListReceiptsResponse resp;
  auto* r = resp.add_receipts();
  r->set_seq(9);
  r->set_kind(vnas::v1::RECEIPT_CLONE_FILE);
  r->set_source("vm/vm.vmdk");
  r->set_destination("c/vm.vmdk");
  r->set_reason(vnas::v1::REASON_VSS_SIBLING_REDO_LOGS);
  r->set_reason_name("VSS_SIBLING_REDO_LOGS");
  r->set_reason_text("two children");
  EXPECT_CALL(*stub_, ListReceipts(_, _, _))
      .Times(2)
      .WillRepeatedly(DoAll(SaveArg<1>(&sent), SetArgPointee<2>(resp), Return(grpc::Status::OK)));
  CtlOptions o;
  o.last = 3;
  EXPECT_EQ(Run({"receipts"}, o), kExitOk);
  EXPECT_EQ(sent.last(), 3u);
  EXPECT_THAT(out_.str(), HasSubstr("CLONE_FILE  vm/vm.vmdk  c/vm.vmdk    refused"));
  EXPECT_THAT(out_.str(), HasSubstr("VSS_SIBLING_REDO_LOGS: two children"));
  EXPECT_EQ(Run({"receipts"}, Json()), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("\"reason\": \"REASON_VSS_SIBLING_REDO_LOGS\""));
}

TEST_F(VnasctlTest, UsageErrors) {
  EXPECT_EQ(Run({}), kExitUsage);
  EXPECT_EQ(Run({"bogus"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("unknown command \"bogus\""));
  EXPECT_EQ(Run({"stat"}), kExitUsage);
  EXPECT_EQ(Run({"alignment", "a", "b"}), kExitUsage);
  EXPECT_EQ(Run({"ops", "cancel"}), kExitUsage);
}

TEST_F(VnasctlTest, FsckExitCodeFollowsCleanliness) {
  vnas::v1::FsckResponse bad;
  bad.set_clean(false);
  bad.add_problems("extent 7: refcount 2, 1 reference");
  EXPECT_CALL(*stub_, Fsck(_, _, _)).WillOnce(DoAll(SetArgPointee<2>(bad), Return(grpc::Status::OK)));
  EXPECT_EQ(Run({"fsck"}), kExitFailed);
  EXPECT_THAT(out_.str(), HasSubstr("PROBLEMS FOUND"));
  EXPECT_THAT(out_.str(), HasSubstr("extent 7: refcount 2"));
}

TEST_F(VnasctlTest, OpsCancel) {
  vnas::v1::CancelOperationRequest sent;
  vnas::v1::Operation op;
  op.set_id("op-3");
  op.set_state(vnas::v1::OPERATION_RUNNING);
  EXPECT_CALL(*stub_, CancelOperation(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&sent), SetArgPointee<2>(op), Return(grpc::Status::OK)));
  EXPECT_EQ(Run({"ops", "cancel", "op-3"}), kExitOk);
  EXPECT_EQ(sent.id(), "op-3");
  EXPECT_THAT(out_.str(), HasSubstr("cancel requested for op-3"));
}

}  // namespace
}  // namespace vnas::admin
