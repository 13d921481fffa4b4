#include "plugins/cli/control_client.h"

#include <cstdio>
#include <fstream>

#include "gmock/gmock.h"
#include "grpcpp/test/client_context_test_peer.h"
#include "gtest/gtest.h"
#include "proto/vnas_mock.grpc.pb.h"

namespace vnas::cli {
namespace {

using ::testing::_;
using ::testing::Return;

std::unique_ptr<ControlClient> Client(std::shared_ptr<vnas::v1::MockControlStub> stub) {
  return std::make_unique<ControlClient>(stub, "127.0.0.1:50051", "sekrit",
                                         absl::Seconds(5));
}

TEST(ControlClientTest, PrepareSetsTokenAndDeadline) {
  auto client = Client(std::make_shared<vnas::v1::MockControlStub>());
  grpc::ClientContext ctx;
  client->Prepare(&ctx);
  grpc::testing::ClientContextTestPeer peer(&ctx);
  auto md = peer.GetSendInitialMetadata();
  ASSERT_EQ(md.count("authorization"), 1u);
  EXPECT_EQ(md.find("authorization")->second, "Bearer sekrit");
  EXPECT_LT(ctx.deadline(), std::chrono::system_clock::now() + std::chrono::seconds(6));
}

TEST(ControlClientTest, UnavailableSaysIsItRunning) {
  auto client = Client(std::make_shared<vnas::v1::MockControlStub>());
  RpcFailure f = client->Failure(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connect failed"),
                                 nullptr, "GetStatus");
  EXPECT_EQ(f.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(f.status.message(),
            "cannot reach vnasd at 127.0.0.1:50051: is it running? (connect failed)");
  EXPECT_TRUE(ControlClient::IsUnreachable(grpc::Status(grpc::StatusCode::UNAVAILABLE, "")));
}

TEST(ControlClientTest, RefusalReasonFromMessage) {
  auto client = Client(std::make_shared<vnas::v1::MockControlStub>());
  RpcFailure f = client->Failure(
      grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                   "VSS_SIBLING_REDO_LOGS: vm.vmdk has 2 child redo logs"),
      nullptr, "CloneFile");
  EXPECT_EQ(f.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(f.reason_name, "VSS_SIBLING_REDO_LOGS");
  EXPECT_EQ(f.reason_text, "vm.vmdk has 2 child redo logs");
  EXPECT_EQ(f.status.message(),
            "CloneFile: VSS_SIBLING_REDO_LOGS: vm.vmdk has 2 child redo logs");
  RpcFailure g = client->Failure(grpc::Status(grpc::StatusCode::INTERNAL, "Oops: lower"),
                                 nullptr, "X");
  EXPECT_EQ(g.reason_name, "");
  EXPECT_EQ(g.reason_text, "Oops: lower");
}

TEST(ControlClientTest, ConvertOk) {
  auto client = Client(std::make_shared<vnas::v1::MockControlStub>());
  EXPECT_TRUE(client->Convert(grpc::Status::OK, nullptr, "X").ok());
}

TEST(ControlClientTest, RealChannelToNothingIsUnreachable) {
  // Port 1 on loopback: nothing listens; the failure must be UNAVAILABLE.
  auto client = ControlClient::Connect("127.0.0.1:1", "", absl::Seconds(2));
  grpc::ClientContext ctx;
  client->Prepare(&ctx);
  vnas::v1::GetStatusResponse resp;
  grpc::Status st = client->stub()->GetStatus(&ctx, vnas::v1::GetStatusRequest(), &resp);
  EXPECT_TRUE(ControlClient::IsUnreachable(st)) << st.error_message();
  EXPECT_THAT(std::string(client->Convert(st, &ctx, "GetStatus").message()),
              ::testing::HasSubstr("cannot reach vnasd at 127.0.0.1:1: is it running?"));
}

TEST(ReadTokenFileTest, FirstLineTrimmed) {
  const std::string path = ::testing::TempDir() + "/token";
  std::ofstream(path) << "  abc123 \nignored\n";
  auto t = ReadTokenFile(path);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "abc123");
  EXPECT_EQ(*ReadTokenFile(""), "");
  EXPECT_FALSE(ReadTokenFile(path + ".missing").ok());
}

}  // namespace
}  // namespace vnas::cli
