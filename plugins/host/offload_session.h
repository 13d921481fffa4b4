// offload_session.h — the plugin's C++ core: one session per datastore.
//
// Clone: ask vnasd for the offload (Control.CloneFile); fall back to a host
// copy through libnfs (nfs_copy.h) when vnasd refuses (FAILED_PRECONDITION
// with a chain reason, or any other offload failure that a copy can cure),
// cannot be reached, or source and destination are on different datastores.
// Errors that a copy would hit too (source missing, GUARDED destination
// exists, no space, bad argument) are returned as errors, not fallbacks.
//
// Thread safety: one thread at a time per session.
#ifndef VNAS_PLUGINS_HOST_OFFLOAD_SESSION_H_
#define VNAS_PLUGINS_HOST_OFFLOAD_SESSION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "plugins/cli/control_client.h"
#include "plugins/host/nfs_copy.h"
#include "plugins/host/nfs_url.h"
#include "proto/vnas.pb.h"

namespace vnas::plugin {

struct SessionOptions {
  Datastore datastore;            // the session's datastore (export)
  std::string control_endpoint;   // "host:port"; "" = "<server>:50051"
  std::string token;              // bearer token, may be empty
  std::string tls_ca_pem;         // CA bundle (PEM) for a TLS endpoint, may be empty
  absl::Duration timeout = absl::Seconds(30);
  std::string client_id = "vnas-offload";
  CopyOptions copy;               // fallback copy tuning
};

enum class CloneOutcome { kOffloaded, kFellBack, kDryRun };

struct CloneRequest {
  std::string source;       // path or URL, see vnas_offload.h
  std::string destination;
  bool lazy = false;
  bool dry_run = false;
  bool guarded = false;
  bool no_fallback = false;  // a refusal is an error (FailedPrecondition)
  bool no_offload = false;   // skip the offload, copy on the host
  CopyProgress progress;     // may be empty
};

struct CloneReport {
  CloneOutcome outcome = CloneOutcome::kOffloaded;
  bool would_offload = false;  // dry run verdict
  std::string reason_name;     // why it fell back ("" when offloaded), e.g.
                               // "VSS_SIBLING_REDO_LOGS", "UNREACHABLE",
                               // "CROSS_DATASTORE", "NO_OFFLOAD"
  std::string reason;          // human text
  std::string explanation;     // vnasd's verdict explanation, when given
  uint64_t bytes_total = 0;
  uint64_t bytes_copied = 0;
  uint64_t bytes_skipped = 0;
  uint64_t bytes_shared = 0;
  uint64_t receipt_seq = 0;
  double seconds = 0;
};

// The host copy, replaceable in tests.
using CopyFn = std::function<absl::StatusOr<CopyResult>(
    const NfsLocation&, const NfsLocation&, const CopyOptions&, const CopyProgress&)>;
using MkdirFn = std::function<absl::Status(const NfsLocation&, absl::Duration)>;

class OffloadSession {
 public:
  // OffloadSession::Start()
  //
  // Validates the options and prepares the control client (`client` for
  // tests; null = connect to options.control_endpoint). Does not contact
  // vnasd. Fails InvalidArgument on a missing server or bad export.
  static absl::StatusOr<std::unique_ptr<OffloadSession>> Start(
      SessionOptions options, std::unique_ptr<cli::ControlClient> client = nullptr);

  OffloadSession(const OffloadSession&) = delete;
  OffloadSession& operator=(const OffloadSession&) = delete;

  // OffloadSession::Clone()
  //
  // Clones per the header comment. On success the report says whether it
  // was offloaded or copied (and why). On failure nothing was offloaded and
  // any partial host copy was removed.
  absl::StatusOr<CloneReport> Clone(const CloneRequest& request);

  // Reserve space / extended stats through the control plane.
  absl::StatusOr<vnas::v1::ReserveSpaceResponse> Reserve(const std::string& path,
                                                         uint64_t size);
  absl::StatusOr<vnas::v1::ExtendedStatsResponse> Stats(const std::string& path);

  const SessionOptions& options() const { return options_; }

  void set_copy_for_testing(CopyFn fn) { copy_ = std::move(fn); }
  void set_mkdir_for_testing(MkdirFn fn) { mkdir_ = std::move(fn); }

 private:
  OffloadSession(SessionOptions options, std::unique_ptr<cli::ControlClient> client);

  absl::StatusOr<CloneReport> Fallback(const CloneRequest& req, const NfsLocation& src,
                                       const NfsLocation& dst, CloneReport report,
                                       absl::Time start);
  absl::StatusOr<std::string> SessionPath(const std::string& arg) const;

  SessionOptions options_;
  std::unique_ptr<cli::ControlClient> client_;
  CopyFn copy_;
  MkdirFn mkdir_;
};

}  // namespace vnas::plugin

#endif  // VNAS_PLUGINS_HOST_OFFLOAD_SESSION_H_
