// control_client.h — the connection to vnasd's control plane, shared by
// vnas-offload (plugin) and vnasctl.
//
// Holds the generated Control::StubInterface, so tests pass the generated
// MockControlStub. Prepares every call (deadline, bearer token) and turns
// gRPC failures into absl::Status with operator-friendly text, e.g.
// "cannot reach vnasd at 127.0.0.1:50051: is it running?".
//
// Thread-safe: the stub and the settings are constant after construction.
#ifndef VNAS_PLUGINS_CLI_CONTROL_CLIENT_H_
#define VNAS_PLUGINS_CLI_CONTROL_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "proto/vnas.grpc.pb.h"

namespace vnas::cli {

// What a failed control call said, beyond its status.
struct RpcFailure {
  absl::Status status;      // converted, with the text below
  int reason_code = 0;      // vnas.v1.ReasonCode (0 when not given)
  std::string reason_name;  // e.g. "VSS_SIBLING_REDO_LOGS" ("" when not given)
  std::string reason_text;  // the server's message after "NAME: "
  uint64_t receipt_seq = 0; // receipt written for the refusal (0 = none)
};

class ControlClient {
 public:
  // ControlClient::Connect()
  //
  // A client for `endpoint` ("host:port"). Loopback endpoints use a plain
  // channel unless `tls_ca_pem` is given; others use TLS, trusting
  // `tls_ca_pem` (PEM text) or else the system roots. `token` (may be empty)
  // is sent as "authorization: Bearer <token>". Does not connect yet.
  static std::unique_ptr<ControlClient> Connect(const std::string& endpoint,
                                                const std::string& token,
                                                absl::Duration timeout,
                                                const std::string& tls_ca_pem = "");

  // For tests and custom channels. `stub` must not be null.
  ControlClient(std::shared_ptr<vnas::v1::Control::StubInterface> stub,
                std::string endpoint, std::string token,
                absl::Duration timeout);

  vnas::v1::Control::StubInterface* stub() const { return stub_.get(); }
  const std::string& endpoint() const { return endpoint_; }
  absl::Duration timeout() const { return timeout_; }

  // ControlClient::Prepare()
  //
  // Sets the deadline (now + timeout, unless `streaming`) and the token on
  // `ctx`.
  void Prepare(grpc::ClientContext* ctx, bool streaming = false) const;

  // ControlClient::Failure()
  //
  // Describes a failed call `what` (e.g. "CloneFile"): the status code is
  // kept; UNAVAILABLE becomes "cannot reach vnasd at <endpoint>: is it
  // running? (<detail>)". Reason and receipt come from the trailing metadata
  // "vnas-reason-code" / "vnas-receipt-seq", or else from a "NAME: text"
  // message prefix. `ctx` may be null.
  RpcFailure Failure(const grpc::Status& status, const grpc::ClientContext* ctx,
                     absl::string_view what) const;

  // Shorthand: OK for an OK status, else Failure(...).status.
  absl::Status Convert(const grpc::Status& status, const grpc::ClientContext* ctx,
                       absl::string_view what) const;

  // Whether `status` means the server could not be reached at all.
  static bool IsUnreachable(const grpc::Status& status);

 private:
  std::shared_ptr<vnas::v1::Control::StubInterface> stub_;
  std::string endpoint_;
  std::string token_;
  absl::Duration timeout_;
};

// Reads a token file: its first line, whitespace trimmed. Empty path -> "".
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// Reads a whole file (e.g. a PEM CA bundle). Empty path -> "".
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

}  // namespace vnas::cli

#endif  // VNAS_PLUGINS_CLI_CONTROL_CLIENT_H_
