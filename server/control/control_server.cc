#include "server/control/control_server.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/auth_metadata_processor.h"
#include "server/file_text.h"

namespace vnas::control {
namespace {

// Checks "authorization: Bearer <token>" on every call.
class TokenChecker final : public grpc::AuthMetadataProcessor {
 public:
  explicit TokenChecker(std::string token)
      : expected_(absl::StrCat("Bearer ", token)) {}
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata,
                       grpc::AuthContext*, OutputMetadata* consumed,
                       OutputMetadata*) override {
    auto it = auth_metadata.find("authorization");
    if (it == auth_metadata.end()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "missing \"authorization: Bearer <token>\"");
    }
    std::string got(it->second.data(), it->second.size());
    if (!ConstantTimeEqual(got, expected_)) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "bad token");
    }
    consumed->insert(std::make_pair(std::string(it->first.data(), it->first.size()),
                                    got));
    return grpc::Status::OK;
  }

 private:
  static bool ConstantTimeEqual(const std::string& a, const std::string& b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    }
    return diff == 0;
  }
  const std::string expected_;
};

}  // namespace

bool IsLoopbackAddress(absl::string_view address) {
  if (absl::StartsWith(address, "unix:")) return true;
  absl::string_view host = address;
  if (absl::StartsWith(host, "[")) {
    size_t close = host.find(']');
    if (close == absl::string_view::npos) return false;
    host = host.substr(1, close - 1);
    return host == "::1";
  }
  size_t colon = host.rfind(':');
  if (colon != absl::string_view::npos) host = host.substr(0, colon);
  if (host == "localhost") return true;
  if (absl::StartsWith(host, "127.")) {
    // Dotted quad only.
    int dots = 0;
    for (char c : host) {
      if (c == '.') {
        ++dots;
      } else if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
        return false;
      }
    }
    return dots == 3;
  }
  return false;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
ControlServer::Credentials(const ControlServerOptions& options) {
  if (options.listen.empty()) {
    return absl::InvalidArgumentError("empty control listen address");
  }
  const bool secure = options.require_auth || !IsLoopbackAddress(options.listen);
  if (!secure) return grpc::InsecureServerCredentials();
  if (options.tls_cert_file.empty() || options.tls_key_file.empty() ||
      options.token_file.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "control address \"", options.listen,
        "\" is not loopback: it needs --control_tls_cert, "
        "--control_tls_key and --control_token_file"));
  }
  auto cert = server::ReadWholeFile(options.tls_cert_file);
  if (!cert.ok()) return cert.status();
  auto key = server::ReadWholeFile(options.tls_key_file);
  if (!key.ok()) return key.status();
  auto token_raw = server::ReadWholeFile(options.token_file);
  if (!token_raw.ok()) return token_raw.status();
  std::string token(absl::StripAsciiWhitespace(
      absl::string_view(*token_raw).substr(0, token_raw->find('\n'))));
  if (token.size() < 16) {
    return absl::FailedPreconditionError(absl::StrCat(
        "token in \"", options.token_file, "\" is shorter than 16 bytes"));
  }
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  std::shared_ptr<grpc::ServerCredentials> creds =
      grpc::SslServerCredentials(ssl);
  creds->SetAuthMetadataProcessor(std::make_shared<TokenChecker>(token));
  return creds;
}

absl::Status ControlServer::CheckOptions(const ControlServerOptions& options) {
  return Credentials(options).status();
}

absl::StatusOr<std::unique_ptr<ControlServer>> ControlServer::Start(
    storage::ExtentStore* store, const ControlServerOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> made =
      Credentials(options);
  if (!made.ok()) return made.status();
  std::shared_ptr<grpc::ServerCredentials> creds = *std::move(made);

  std::unique_ptr<ControlServer> s(new ControlServer());
  ControlServiceOptions so = options.service;
  if (so.listen.empty()) so.listen = options.listen;
  s->service_ = std::make_unique<ControlService>(store, std::move(so));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, creds, &s->port_);
  builder.RegisterService(s->service_.get());
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || (s->port_ == 0 &&
                                !absl::StartsWith(options.listen, "unix:"))) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on \"", options.listen, "\""));
  }
  if (auto* health = s->server_->GetHealthCheckService()) {
    health->SetServingStatus("vnas.v1.Control", true);
  }
  std::string host = options.listen.substr(0, options.listen.rfind(':'));
  s->address_ = absl::StrCat(host, ":", s->port_);
  return s;
}

void ControlServer::Shutdown() {
  if (shut_down_.exchange(true)) return;
  if (auto* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
  service_->CancelAll();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
}

ControlServer::~ControlServer() {
  if (server_ != nullptr) Shutdown();
  server_.reset();
  service_.reset();
}

}  // namespace vnas::control
