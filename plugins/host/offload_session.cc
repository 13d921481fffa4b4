#include "plugins/host/offload_session.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace vnas::plugin {
namespace {

constexpr int kReasonDestinationParentMissing = 109;

std::string ReasonName(const vnas::v1::Reason& r) {
  if (!r.name().empty()) return r.name();
  std::string n = vnas::v1::ReasonCode_Name(r.code());
  if (absl::StartsWith(n, "REASON_")) n = n.substr(7);
  return n;
}

}  // namespace

absl::StatusOr<std::unique_ptr<OffloadSession>> OffloadSession::Start(
    SessionOptions options, std::unique_ptr<cli::ControlClient> client) {
  if (options.datastore.server.empty()) {
    return absl::InvalidArgumentError("session needs an NFS server");
  }
  if (options.datastore.export_path.empty()) options.datastore.export_path = "/vnas";
  if (options.datastore.export_path.front() != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "export \"", options.datastore.export_path, "\" must start with '/'"));
  }
  if (options.datastore.export_path.size() > 1 && options.datastore.export_path.back() == '/') {
    options.datastore.export_path.pop_back();
  }
  if (options.timeout <= absl::ZeroDuration()) options.timeout = absl::Seconds(30);
  options.copy.timeout = options.timeout;
  if (options.control_endpoint.empty()) {
    options.control_endpoint = absl::StrCat(options.datastore.server, ":50051");
  }
  if (client == nullptr) {
    client = cli::ControlClient::Connect(options.control_endpoint, options.token,
                                         options.timeout, options.tls_ca_pem);
  }
  return std::unique_ptr<OffloadSession>(
      new OffloadSession(std::move(options), std::move(client)));
}

OffloadSession::OffloadSession(SessionOptions options,
                               std::unique_ptr<cli::ControlClient> client)
    : options_(std::move(options)),
      client_(std::move(client)),
      copy_(&CopyFile),
      mkdir_(&MakeParentDirs) {}

absl::StatusOr<std::string> OffloadSession::SessionPath(const std::string& arg) const {
  auto loc = ResolvePath(arg, options_.datastore);
  if (!loc.ok()) return loc.status();
  if (!loc->datastore.SameAs(options_.datastore)) {
    return absl::InvalidArgumentError(absl::StrCat(
        arg, " is not on this session's datastore ", options_.datastore.Url()));
  }
  return loc->path;
}

absl::StatusOr<CloneReport> OffloadSession::Clone(const CloneRequest& req) {
  const absl::Time start = absl::Now();
  auto src = ResolvePath(req.source, options_.datastore);
  if (!src.ok()) return src.status();
  auto dst = ResolvePath(req.destination, options_.datastore);
  if (!dst.ok()) return dst.status();

  CloneReport report;
  if (req.no_offload) {
    report.reason_name = "NO_OFFLOAD";
    report.reason = "offload disabled by the caller; copying on the host";
    return Fallback(req, *src, *dst, std::move(report), start);
  }
  if (!src->datastore.SameAs(options_.datastore) || !dst->datastore.SameAs(options_.datastore)) {
    report.reason_name = "CROSS_DATASTORE";
    report.reason = absl::StrCat("source (", src->datastore.Url(), ") and destination (",
                                 dst->datastore.Url(),
                                 ") are on different datastores; copying on the host");
    return Fallback(req, *src, *dst, std::move(report), start);
  }

  vnas::v1::CloneFileRequest rpc;
  rpc.set_source(src->path);
  rpc.set_destination(dst->path);
  uint32_t flags = 0;
  if (req.lazy) flags |= vnas::v1::CLONE_FLAG_LAZY;
  if (req.dry_run) flags |= vnas::v1::CLONE_FLAG_DRYRUN;
  if (req.guarded) flags |= vnas::v1::CLONE_FLAG_GUARDED;
  rpc.set_flags(flags);
  rpc.set_client_id(options_.client_id);

  for (int attempt = 0;; ++attempt) {
    grpc::ClientContext ctx;
    client_->Prepare(&ctx);
    vnas::v1::CloneFileResponse resp;
    const grpc::Status st = client_->stub()->CloneFile(&ctx, rpc, &resp);
    if (st.ok()) {
      const vnas::v1::Verdict& v = resp.verdict();
      report.explanation = v.explanation();
      report.receipt_seq = resp.receipt_seq();
      report.bytes_shared = resp.bytes_shared();
      report.bytes_total = resp.has_destination() ? resp.destination().size() : resp.bytes_shared();
      report.seconds = absl::ToDoubleSeconds(absl::Now() - start);
      if (req.dry_run) {
        report.outcome = CloneOutcome::kDryRun;
        report.would_offload = v.offloaded();
        if (!v.offloaded()) {
          report.reason_name = ReasonName(v.refusal());
          report.reason = v.refusal().text();
        }
        return report;
      }
      if (!v.offloaded()) {
        // An OK reply that did not offload: treat as a refusal.
        report.reason_name = ReasonName(v.refusal());
        report.reason = v.refusal().text().empty() ? v.explanation() : v.refusal().text();
        if (req.no_fallback) {
          return absl::FailedPreconditionError(absl::StrCat(report.reason_name, ": ", report.reason));
        }
        return Fallback(req, *src, *dst, std::move(report), start);
      }
      report.outcome = CloneOutcome::kOffloaded;
      return report;
    }

    cli::RpcFailure f = client_->Failure(st, &ctx, "CloneFile");
    report.receipt_seq = f.receipt_seq;
    if (f.reason_code == kReasonDestinationParentMissing ||
        f.reason_name == "DESTINATION_PARENT_MISSING") {
      // A host copy would create the directory; so does the plugin, then
      // asks again (whatever status code the server chose).
      if (attempt == 0 && !req.dry_run) {
        absl::Status made = mkdir_(*dst, options_.timeout);
        if (!made.ok()) return made;
        continue;
      }
      if (req.dry_run) {
        // Nothing may be created in a dry run: ask what a CloneFile of the
        // source would do instead (GetChain's focus verdict).
        vnas::v1::GetChainRequest creq;
        creq.set_path(src->path);
        vnas::v1::GetChainResponse cresp;
        grpc::ClientContext cctx;
        client_->Prepare(&cctx);
        if (client_->stub()->GetChain(&cctx, creq, &cresp).ok() && cresp.has_focus()) {
          const vnas::v1::Verdict& v = cresp.focus();
          report.outcome = CloneOutcome::kDryRun;
          report.would_offload = v.offloaded();
          if (!v.offloaded()) {
            report.reason_name = ReasonName(v.refusal());
            report.reason = v.refusal().text();
          }
          report.explanation = absl::StrCat(v.explanation(), " (the destination directory ",
                                            "does not exist yet; it would be created)");
          report.seconds = absl::ToDoubleSeconds(absl::Now() - start);
          return report;
        }
      }
    }
    switch (st.error_code()) {
      case grpc::StatusCode::NOT_FOUND:
      case grpc::StatusCode::ALREADY_EXISTS:
      case grpc::StatusCode::RESOURCE_EXHAUSTED:
      case grpc::StatusCode::CANCELLED:
        return f.status;
      case grpc::StatusCode::INVALID_ARGUMENT:
        if (f.reason_name == "CROSS_DATASTORE" || f.reason_name == "NOT_A_REGULAR_FILE") {
          break;  // the host copy decides for itself
        }
        return f.status;
      case grpc::StatusCode::FAILED_PRECONDITION:
        if (req.no_fallback) return f.status;
        break;
      default:
        break;  // unreachable, timeout, unauthenticated, internal: copy
    }
    if (cli::ControlClient::IsUnreachable(st) ||
        st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      report.reason_name = "UNREACHABLE";
      report.reason = std::string(f.status.message());
    } else if (!f.reason_name.empty()) {
      report.reason_name = f.reason_name;
      report.reason = f.reason_text;
    } else {
      report.reason_name = absl::StrCat("OFFLOAD_", absl::StatusCodeToString(f.status.code()));
      report.reason = std::string(f.status.message());
    }
    if (req.dry_run) {
      report.outcome = CloneOutcome::kDryRun;
      report.would_offload = false;
      report.seconds = absl::ToDoubleSeconds(absl::Now() - start);
      return report;
    }
    if (req.no_fallback) {
      return absl::FailedPreconditionError(absl::StrCat(report.reason_name, ": ", report.reason));
    }
    return Fallback(req, *src, *dst, std::move(report), start);
  }
}

absl::StatusOr<CloneReport> OffloadSession::Fallback(const CloneRequest& req,
                                                     const NfsLocation& src,
                                                     const NfsLocation& dst,
                                                     CloneReport report, absl::Time start) {
  if (req.dry_run) {
    report.outcome = CloneOutcome::kDryRun;
    report.would_offload = false;
    report.seconds = absl::ToDoubleSeconds(absl::Now() - start);
    return report;
  }
  CopyOptions copy = options_.copy;
  copy.guarded = req.guarded;
  auto result = copy_(src, dst, copy, req.progress);
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrCat("host copy after offload was not possible (",
                                     report.reason_name, "): ", result.status().message()));
  }
  report.outcome = CloneOutcome::kFellBack;
  report.bytes_total = result->size;
  report.bytes_copied = result->bytes_written;
  report.bytes_skipped = result->bytes_skipped;
  report.bytes_shared = 0;
  report.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return report;
}

absl::StatusOr<vnas::v1::ReserveSpaceResponse> OffloadSession::Reserve(
    const std::string& path, uint64_t size) {
  auto rel = SessionPath(path);
  if (!rel.ok()) return rel.status();
  vnas::v1::ReserveSpaceRequest req;
  req.set_path(*rel);
  req.set_size(size);
  req.set_client_id(options_.client_id);
  grpc::ClientContext ctx;
  client_->Prepare(&ctx);
  vnas::v1::ReserveSpaceResponse resp;
  absl::Status st = client_->Convert(client_->stub()->ReserveSpace(&ctx, req, &resp), &ctx,
                                     "ReserveSpace");
  if (!st.ok()) return st;
  return resp;
}

absl::StatusOr<vnas::v1::ExtendedStatsResponse> OffloadSession::Stats(const std::string& path) {
  auto rel = SessionPath(path);
  if (!rel.ok()) return rel.status();
  vnas::v1::ExtendedStatsRequest req;
  req.set_path(*rel);
  grpc::ClientContext ctx;
  client_->Prepare(&ctx);
  vnas::v1::ExtendedStatsResponse resp;
  absl::Status st = client_->Convert(client_->stub()->ExtendedStats(&ctx, req, &resp), &ctx,
                                     "ExtendedStats");
  if (!st.ok()) return st;
  return resp;
}

}  // namespace vnas::plugin
