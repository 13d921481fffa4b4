// vnas_offload.cc — the C ABI (vnas_offload.h) over OffloadSession.
//
// absl::Status -> vnas_status mapping happens here, once (ToVnasStatus).
#include "plugins/host/vnas_offload.h"

#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "plugins/cli/control_client.h"
#include "plugins/host/offload_session.h"

struct vnas_session {
  std::unique_ptr<vnas::plugin::OffloadSession> impl;
  std::string last_error;
};

namespace {

thread_local std::string g_start_error;

vnas_status ToVnasStatus(const absl::Status& st) {
  switch (st.code()) {
    case absl::StatusCode::kOk: return VNAS_OK;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange: return VNAS_ERR_INVALID_ARGUMENT;
    case absl::StatusCode::kNotFound: return VNAS_ERR_NOT_FOUND;
    case absl::StatusCode::kAlreadyExists: return VNAS_ERR_EXISTS;
    case absl::StatusCode::kResourceExhausted: return VNAS_ERR_NO_SPACE;
    case absl::StatusCode::kUnavailable: return VNAS_ERR_UNREACHABLE;
    case absl::StatusCode::kCancelled: return VNAS_ERR_CANCELLED;
    case absl::StatusCode::kDeadlineExceeded: return VNAS_ERR_TIMEOUT;
    case absl::StatusCode::kDataLoss: return VNAS_ERR_IO;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated: return VNAS_ERR_PERMISSION;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted: return VNAS_ERR_REFUSED;
    case absl::StatusCode::kUnimplemented: return VNAS_ERR_UNSUPPORTED;
    default: return VNAS_ERR_INTERNAL;
  }
}

void CopyString(char* out, size_t cap, const std::string& s) {
  const size_t n = std::min(cap - 1, s.size());
  memcpy(out, s.data(), n);
  out[n] = '\0';
}

vnas_status Fail(vnas_session* s, const absl::Status& st) {
  s->last_error = std::string(st.message());
  return ToVnasStatus(st);
}

void FillSpace(const vnas::v1::SpaceStats& sp, vnas_primitive_result* r) {
  r->logical = sp.logical();
  r->allocated = sp.allocated();
  r->unique = sp.unique();
  r->shared = sp.shared();
  r->snapshot_only = sp.snapshot_only();
  r->reserved = sp.reserved();
}

}  // namespace

extern "C" {

vnas_status vnas_session_start(const vnas_session_params* p, vnas_session** out) {
  g_start_error.clear();
  if (out == nullptr || p == nullptr) {
    g_start_error = "vnas_session_start: NULL argument";
    return VNAS_ERR_INVALID_ARGUMENT;
  }
  *out = nullptr;
  if (p->api_version != 0 && p->api_version != VNAS_OFFLOAD_API_VERSION) {
    g_start_error = absl::StrCat("unsupported API version ", p->api_version);
    return VNAS_ERR_UNSUPPORTED;
  }
  if (p->server == nullptr || p->server[0] == '\0') {
    g_start_error = "vnas_session_start: server is required";
    return VNAS_ERR_INVALID_ARGUMENT;
  }
  vnas::plugin::SessionOptions o;
  o.datastore.server = p->server;
  o.datastore.export_path = p->export_path != nullptr ? p->export_path : "/vnas";
  o.datastore.nfsport = p->nfs_port;
  o.datastore.mountport = p->mount_port;
  if (p->control_endpoint != nullptr) o.control_endpoint = p->control_endpoint;
  if (p->token != nullptr) o.token = p->token;
  o.timeout = absl::Milliseconds(p->timeout_ms == 0 ? 30000 : p->timeout_ms);
  if (p->client_id != nullptr) o.client_id = p->client_id;
  if (p->tls_ca_file != nullptr && p->tls_ca_file[0] != '\0') {
    auto pem = vnas::cli::ReadWholeFile(p->tls_ca_file);
    if (!pem.ok()) {
      g_start_error = std::string(pem.status().message());
      return VNAS_ERR_INVALID_ARGUMENT;
    }
    o.tls_ca_pem = *std::move(pem);
  }
  if (p->copy_commit_every != 0) {
    o.copy.commit_every = p->copy_commit_every == UINT64_MAX ? 0 : p->copy_commit_every;
  }
  if (p->copy_chunk_bytes != 0) o.copy.chunk_size = p->copy_chunk_bytes;
  if (p->copy_depth != 0) o.copy.depth = static_cast<int>(p->copy_depth);
  if (p->copy_connections != 0) o.copy.connections = static_cast<int>(p->copy_connections);
  auto session = vnas::plugin::OffloadSession::Start(std::move(o));
  if (!session.ok()) {
    g_start_error = std::string(session.status().message());
    return ToVnasStatus(session.status());
  }
  *out = new vnas_session{*std::move(session), ""};
  return VNAS_OK;
}

vnas_status vnas_execute_primitive(vnas_session* s, const vnas_primitive_args* a,
                                   vnas_primitive_result* r) {
  if (s == nullptr) return VNAS_ERR_INVALID_ARGUMENT;
  s->last_error.clear();
  if (r != nullptr) memset(r, 0, sizeof(*r));
  if (a == nullptr || r == nullptr) {
    return Fail(s, absl::InvalidArgumentError("vnas_execute_primitive: NULL argument"));
  }
  if (a->src_path == nullptr || a->src_path[0] == '\0') {
    return Fail(s, absl::InvalidArgumentError("src_path is required"));
  }
  switch (a->primitive) {
    case VNAS_PRIM_CLONE_FILE: {
      if (a->dst_path == nullptr || a->dst_path[0] == '\0') {
        return Fail(s, absl::InvalidArgumentError("dst_path is required for a clone"));
      }
      vnas::plugin::CloneRequest req;
      req.source = a->src_path;
      req.destination = a->dst_path;
      req.lazy = a->flags & VNAS_CLONE_LAZY;
      req.dry_run = a->flags & VNAS_CLONE_DRYRUN;
      req.guarded = a->flags & VNAS_CLONE_GUARDED;
      req.no_fallback = a->flags & VNAS_CLONE_NO_FALLBACK;
      req.no_offload = a->flags & VNAS_CLONE_NO_OFFLOAD;
      if (a->progress != nullptr) {
        vnas_progress_fn fn = a->progress;
        void* ctx = a->progress_ctx;
        req.progress = [fn, ctx](uint64_t done, uint64_t total) {
          return fn(ctx, done, total) == 0;
        };
      }
      auto report = s->impl->Clone(req);
      if (!report.ok()) return Fail(s, report.status());
      switch (report->outcome) {
        case vnas::plugin::CloneOutcome::kOffloaded: r->outcome = VNAS_OUTCOME_OFFLOADED; break;
        case vnas::plugin::CloneOutcome::kFellBack: r->outcome = VNAS_OUTCOME_FELL_BACK; break;
        case vnas::plugin::CloneOutcome::kDryRun: r->outcome = VNAS_OUTCOME_DRY_RUN; break;
      }
      r->would_offload = report->would_offload ? 1 : 0;
      CopyString(r->reason, sizeof(r->reason), report->reason);
      CopyString(r->reason_name, sizeof(r->reason_name), report->reason_name);
      r->bytes_total = report->bytes_total;
      r->bytes_copied = report->bytes_copied;
      r->bytes_skipped = report->bytes_skipped;
      r->bytes_shared = report->bytes_shared;
      r->receipt_seq = report->receipt_seq;
      r->elapsed_us = static_cast<uint64_t>(report->seconds * 1e6);
      return VNAS_OK;
    }
    case VNAS_PRIM_RESERVE_SPACE: {
      auto resp = s->impl->Reserve(a->src_path, a->size);
      if (!resp.ok()) return Fail(s, resp.status());
      FillSpace(resp->space(), r);
      if (r->logical == 0) r->logical = resp->file().size();
      return VNAS_OK;
    }
    case VNAS_PRIM_EXTENDED_STATS: {
      auto resp = s->impl->Stats(a->src_path);
      if (!resp.ok()) return Fail(s, resp.status());
      FillSpace(resp->space(), r);
      r->logical = resp->total();
      r->allocated = resp->allocated();
      r->unique = resp->unique();
      return VNAS_OK;
    }
  }
  return Fail(s, absl::UnimplementedError(absl::StrCat("unknown primitive ", a->primitive)));
}

void vnas_session_end(vnas_session* s) { delete s; }

const char* vnas_last_error(const vnas_session* s) {
  return s == nullptr ? g_start_error.c_str() : s->last_error.c_str();
}

const char* vnas_status_name(vnas_status st) {
  switch (st) {
    case VNAS_OK: return "VNAS_OK";
    case VNAS_ERR_INVALID_ARGUMENT: return "VNAS_ERR_INVALID_ARGUMENT";
    case VNAS_ERR_NOT_FOUND: return "VNAS_ERR_NOT_FOUND";
    case VNAS_ERR_EXISTS: return "VNAS_ERR_EXISTS";
    case VNAS_ERR_NO_SPACE: return "VNAS_ERR_NO_SPACE";
    case VNAS_ERR_UNREACHABLE: return "VNAS_ERR_UNREACHABLE";
    case VNAS_ERR_CANCELLED: return "VNAS_ERR_CANCELLED";
    case VNAS_ERR_TIMEOUT: return "VNAS_ERR_TIMEOUT";
    case VNAS_ERR_IO: return "VNAS_ERR_IO";
    case VNAS_ERR_PERMISSION: return "VNAS_ERR_PERMISSION";
    case VNAS_ERR_REFUSED: return "VNAS_ERR_REFUSED";
    case VNAS_ERR_UNSUPPORTED: return "VNAS_ERR_UNSUPPORTED";
    case VNAS_ERR_INTERNAL: return "VNAS_ERR_INTERNAL";
  }
  return "VNAS_ERR_UNKNOWN";
}

}  // extern "C"
