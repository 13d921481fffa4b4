// control_server_test.cc — endpoint security and service hygiene: loopback
// detection, refusal to start off loopback without TLS + token, bearer token
// checks over TLS, health and reflection services.
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "proto/vnas.grpc.pb.h"
#include "server/control/control_server.h"
#include "server/control/test_util.h"

namespace vnas::control {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char kData[] = "server/control/testdata/";

TEST(IsLoopbackAddressTest, Table) {
  struct Case {
    const char* addr;
    bool loopback;
  };
  const Case cases[] = {
      {"127.0.0.1:7420", true},   {"127.1.2.3:1", true},
      {"localhost:50051", true},  {"[::1]:50051", true},
      {"unix:/tmp/vnas.sock", true}, {"0.0.0.0:7420", false},
      {"[::]:7420", false},       {"10.0.0.5:7420", false},
      {"127.evil.com:1", false},  {"example.com:7420", false},
      {"128.0.0.1:1", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.addr);
    EXPECT_EQ(IsLoopbackAddress(c.addr), c.loopback);
  }
}

TEST(ControlServerTest, RefusesNonLoopbackWithoutTlsAndToken) {
  testing::ControlFixture f;  // for a store
  ControlServerOptions o;
  o.listen = "0.0.0.0:0";
  auto s = ControlServer::Start(f.store(), o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  o.tls_cert_file = std::string(kData) + "server.crt";
  o.tls_key_file = std::string(kData) + "server.key";
  s = ControlServer::Start(f.store(), o);  // still no token
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  o.token_file = "/nonexistent/token";
  s = ControlServer::Start(f.store(), o);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ControlServerTest, TlsAndBearerTokenCheckedOnEveryCall) {
  testing::ControlFixture f;
  ControlServerOptions o;
  o.listen = "127.0.0.1:0";
  o.require_auth = true;
  o.tls_cert_file = std::string(kData) + "server.crt";
  o.tls_key_file = std::string(kData) + "server.key";
  o.token_file = std::string(kData) + "token";
  auto s = ControlServer::Start(f.store(), o);
  ASSERT_TRUE(s.ok()) << s.status();

  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = Slurp(std::string(kData) + "server.crt");
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  auto channel = grpc::CreateCustomChannel((*s)->address(),
                                           grpc::SslCredentials(ssl), args);
  auto stub = v1::Control::NewStub(channel);

  {
    grpc::ClientContext ctx;
    v1::Capabilities caps;
    EXPECT_EQ(stub->GetCapabilities(&ctx, {}, &caps).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer wrong-token-wrong-token");
    v1::Capabilities caps;
    EXPECT_EQ(stub->GetCapabilities(&ctx, {}, &caps).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer test-token-0123456789abcdef");
    v1::Capabilities caps;
    grpc::Status st = stub->GetCapabilities(&ctx, {}, &caps);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(caps.api_version(), 1u);
  }
  // Plaintext clients are not served.
  {
    auto plain = v1::Control::NewStub(grpc::CreateChannel(
        (*s)->address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    v1::Capabilities caps;
    EXPECT_FALSE(plain->GetCapabilities(&ctx, {}, &caps).ok());
  }
}

TEST(ControlServerTest, HealthAndReflectionServicesAnswer) {
  testing::ControlFixture f;
  auto channel = grpc::CreateChannel(f.server()->address(),
                                     grpc::InsecureChannelCredentials());
  // grpc.health.v1.Health/Check with an empty request (service ""), sent as
  // raw bytes: its reply's field 1 is SERVING (1) -> bytes 08 01.
  grpc::GenericStub generic(channel);
  for (const char* method : {"/grpc.health.v1.Health/Check"}) {
    SCOPED_TRACE(method);
    if (std::string(method).find("Health") != std::string::npos) {
      grpc::ClientContext ctx;
      grpc::ByteBuffer req, resp;
      grpc::Slice empty("", 0);
      req = grpc::ByteBuffer(&empty, 1);
      grpc::Status status;
      std::mutex mu;
      std::condition_variable cv;
      bool done = false;
      generic.UnaryCall(&ctx, method, grpc::StubOptions(), &req, &resp,
                        [&](grpc::Status s) {
                          std::lock_guard<std::mutex> l(mu);
                          status = s;
                          done = true;
                          cv.notify_all();
                        });
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return done; });
      ASSERT_TRUE(status.ok()) << status.error_message();
      std::vector<grpc::Slice> slices;
      ASSERT_TRUE(resp.Dump(&slices).ok());
      std::string bytes;
      for (auto& sl : slices) bytes += std::string(reinterpret_cast<const char*>(sl.begin()), sl.size());
      EXPECT_EQ(bytes, std::string("\x08\x01", 2));
    }
  }
  // Reflection: the server lists vnas.v1.Control (bidi stream; one request
  // list_services = "" is field 7 -> bytes 3a 00).
  grpc::ClientContext ctx;
  grpc::CompletionQueue cq;
  auto call = generic.PrepareCall(
      &ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      &cq);
  void* tag;
  bool ok;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::Slice req_slice(std::string("\x3a\x00", 2));
  grpc::ByteBuffer req(&req_slice, 1);
  call->Write(req, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer resp;
  call->Read(&resp, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(resp.Dump(&slices).ok());
  std::string bytes;
  for (auto& sl : slices) bytes += std::string(reinterpret_cast<const char*>(sl.begin()), sl.size());
  EXPECT_NE(bytes.find("vnas.v1.Control"), std::string::npos);
  call->WritesDone(reinterpret_cast<void*>(4));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  grpc::Status st;
  call->Finish(&st, reinterpret_cast<void*>(5));
  while (cq.Next(&tag, &ok)) {
    if (tag == reinterpret_cast<void*>(5)) break;
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace
}  // namespace vnas::control
