// control_server.h — starts and stops the gRPC control endpoint of vnasd.
//
// ControlServer::Start() builds a grpc::Server with the vnas.v1.Control
// service (control_service.h), gRPC server reflection and the standard
// health service, listening on `options.listen`.
//
// Security: a loopback address ("127.x.y.z:port", "localhost:port",
// "[::1]:port", "unix:...") needs no credentials. Any other address requires
// TLS (tls_cert_file + tls_key_file, PEM) and a bearer token (token_file,
// first line, surrounding whitespace trimmed, at least 16 bytes); every call
// must then carry metadata "authorization: Bearer <token>" or fails
// UNAUTHENTICATED. Start() refuses (FailedPrecondition) a non-loopback
// address without them. `require_auth` forces TLS + token on loopback too.
//
// Example (vnasd):
//   ControlServerOptions o;
//   o.listen = absl::GetFlag(FLAGS_control_listen);
//   VNAS_ASSIGN_OR_RETURN(auto control, ControlServer::Start(store.get(), o));
//   ... serve NFS ...
//   control->Shutdown();
//
// Thread safety: Shutdown() may be called from any thread, once or more.
#ifndef VNAS_SERVER_CONTROL_CONTROL_SERVER_H_
#define VNAS_SERVER_CONTROL_CONTROL_SERVER_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/control/control_service.h"
#include "storage/extent_store.h"

namespace grpc {
class Server;
class ServerCredentials;
}

namespace vnas::control {

struct ControlServerOptions {
  std::string listen = "127.0.0.1:7420";  // host:port; port 0 = pick one
  std::string tls_cert_file;  // PEM certificate chain (non-loopback)
  std::string tls_key_file;   // PEM private key (non-loopback)
  std::string token_file;     // bearer token (non-loopback)
  bool require_auth = false;  // TLS + token even on loopback
  ControlServiceOptions service;  // export path, version, NFS stats hook
};

// IsLoopbackAddress(): whether a listen address is loopback-only.
bool IsLoopbackAddress(absl::string_view address);

class ControlServer {
 public:
  // ControlServer::Start()
  //
  // Starts serving; `store` must outlive the server. Errors:
  // FailedPrecondition (non-loopback without TLS/token, unreadable or short
  // token), InvalidArgument (bad address), Unavailable (cannot bind).
  static absl::StatusOr<std::unique_ptr<ControlServer>> Start(
      storage::ExtentStore* store, const ControlServerOptions& options);
  // The checks Start() makes before binding (address; TLS files and token
  // when required), so a daemon refuses a bad configuration before it
  // serves anything else. Same errors as Start().
  static absl::Status CheckOptions(const ControlServerOptions& options);

  // Stops accepting calls, cancels streams (after a 1 s grace period) and
  // finishes running operations' current file before returning.
  ~ControlServer();
  void Shutdown();

  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // The bound port (useful with port 0) and "host:port".
  int port() const { return port_; }
  const std::string& address() const { return address_; }

 private:
  static absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
      const ControlServerOptions& options);
  ControlServer() = default;
  std::unique_ptr<ControlService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
  std::atomic<bool> shut_down_{false};
};

}  // namespace vnas::control

#endif  // VNAS_SERVER_CONTROL_CONTROL_SERVER_H_
