// vnas-offload — the host offload plugin as a command (over the C ABI in
// vnas_offload.h, exactly as a hypervisor agent would use it).
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "plugins/cli/args.h"
#include "plugins/cli/control_client.h"
#include "plugins/cli/json_writer.h"
#include "plugins/cli/progress.h"
#include "plugins/cli/size.h"
#include "plugins/host/nfs_url.h"
#include "plugins/host/vnas_offload.h"

ABSL_FLAG(std::string, control, "",
          "vnasd control endpoint host:port (default: <NFS server>:50051)");
ABSL_FLAG(std::string, token_file, "", "file holding the bearer token (non-loopback)");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA bundle that signed vnasd's control TLS certificate");
ABSL_FLAG(std::string, export_path, "/vnas", "the datastore's NFS export");
ABSL_FLAG(std::string, server, "", "NFS server, when SRC is not an nfs:// URL");
ABSL_FLAG(int, nfsport, 0, "NFS port, when SRC is not an nfs:// URL (0 = portmapper)");
ABSL_FLAG(int, mountport, 0, "MOUNT port, when SRC is not an nfs:// URL (0 = portmapper)");
ABSL_FLAG(bool, json, false, "print the result as JSON on stdout");
ABSL_FLAG(bool, dry_run, false, "clone: only say whether vnasd would offload, and why");
ABSL_FLAG(bool, lazy, false, "clone: fast (linked) clone through a snapshot");
ABSL_FLAG(bool, guarded, false, "clone: fail if the destination exists");
ABSL_FLAG(bool, no_fallback, false, "clone: fail instead of copying when refused");
ABSL_FLAG(bool, no_offload, false, "clone: skip the offload, always copy on the host");
ABSL_FLAG(int, timeout, 30, "seconds per call / without progress");
ABSL_FLAG(int, depth, 0, "host copy: requests in flight (default 8)");
ABSL_FLAG(std::string, chunk, "", "host copy: bytes per request, e.g. 1M (default 1M)");
ABSL_FLAG(std::string, commit_every, "",
          "host copy: COMMIT after this much data, e.g. 64M; 0 = only at the end");
ABSL_FLAG(int, connections, 0, "host copy: TCP connections per side (default 1)");
ABSL_FLAG(bool, progress, true, "show progress during a host copy");
ABSL_FLAG(std::string, client_id, "vnas-offload", "name recorded in vnasd's receipts");

namespace {

constexpr int kExitOffloaded = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitFellBack = 3;

constexpr char kUsage[] = R"(clone files on a vnas datastore with array-side offload.

Usage:
  vnas-offload clone SRC DST [--dry-run] [--lazy] [--guarded] [--json]
  vnas-offload stats PATH [--json]
  vnas-offload reserve PATH SIZE [--json]         (SIZE like 10G, 512M)

SRC, DST and PATH are libnfs URLs
  nfs://127.0.0.1/vnas/vm1/vm1.vmdk?nfsport=PORT&mountport=PORT
or paths inside the export (vm1/vm1.vmdk, /vnas/vm1/vm1.vmdk) with --server.
A clone first asks vnasd (--control) to clone by sharing extents. When vnasd
refuses (the reason is printed), cannot be reached, or SRC and DST are on
different datastores, the file is copied on this host through NFS instead
(pipelined large requests, zero chunks skipped, COMMIT at the end).

Exit codes:
  0  offloaded (clone), would offload (--dry-run), or success (stats/reserve)
  3  fell back to a host copy (clone), would fall back (--dry-run)
  1  failed (nothing cloned; a partial host copy is removed)
  2  usage error)";

int Usage(const std::string& msg) {
  std::cerr << "vnas-offload: " << msg << "\n"
            << "Try 'vnas-offload --help'.\n";
  return kExitUsage;
}

struct ProgressCtx {
  vnas::cli::ProgressBar* bar = nullptr;
};

int OnProgress(void* ctx, uint64_t done, uint64_t total) {
  auto* p = static_cast<ProgressCtx*>(ctx);
  if (p->bar != nullptr) {
    p->bar->set_total(total);
    p->bar->Update(done);
  }
  return 0;
}

const char* OutcomeName(vnas_outcome o) {
  switch (o) {
    case VNAS_OUTCOME_OFFLOADED: return "offloaded";
    case VNAS_OUTCOME_FELL_BACK: return "fell_back";
    case VNAS_OUTCOME_DRY_RUN: return "dry_run";
    default: return "none";
  }
}

void PrintError(bool json, const std::string& command, vnas_status rc, const std::string& text) {
  if (json) {
    vnas::cli::JsonWriter w(true);
    w.BeginObject();
    w.Field("command", command);
    w.Field("outcome", "failed");
    w.Field("error", vnas_status_name(rc));
    w.Field("message", text);
    w.Field("exit_code", int32_t{kExitFailed});
    w.EndObject();
    std::cout << w.str() << "\n";
  }
  std::cerr << "vnas-offload: " << command << " failed: " << text << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  // This executable owns its process, so it may tune the allocator (the
  // library never does). libnfs 4.0 mallocs a ~1 MiB buffer for every READ
  // reply and WRITE it sends; with glibc's dynamic thresholds and 8 chunks
  // in flight the heap top is trimmed and faulted in again per request
  // (measured: ~15x the page faults, up to 30% slower fallback copy).
  // Host agents linking libvnasoffload can do the same in their main() or
  // with GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:
  // glibc.malloc.trim_threshold=268435456 (see vnas_offload.h).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  vnas::cli::DashFlagsToUnderscores(argc, argv);
  vnas::cli::ShowFlagsOfFile("vnas_offload_main");
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) return Usage("missing command (clone, stats, reserve)");
  const std::string command = args[1];
  std::vector<std::string> pos(args.begin() + 2, args.end());
  const bool json = absl::GetFlag(FLAGS_json);

  size_t want = command == "clone" ? 2 : command == "reserve" ? 2 : command == "stats" ? 1 : 0;
  if (want == 0) return Usage(absl::StrCat("unknown command \"", command, "\""));
  if (pos.size() != want) {
    return Usage(absl::StrCat(command, " takes ", want, " argument", want > 1 ? "s" : ""));
  }

  // The session's datastore: from the first argument's URL, or the flags.
  vnas::plugin::Datastore ds;
  ds.export_path = absl::GetFlag(FLAGS_export_path);
  if (pos[0].rfind("nfs://", 0) == 0) {
    auto url = vnas::plugin::ParseNfsUrl(pos[0]);
    if (!url.ok()) return Usage(std::string(url.status().message()));
    ds.server = url->server;
    ds.nfsport = url->nfsport;
    ds.mountport = url->mountport;
  }
  if (!absl::GetFlag(FLAGS_server).empty()) ds.server = absl::GetFlag(FLAGS_server);
  if (absl::GetFlag(FLAGS_nfsport) != 0) ds.nfsport = absl::GetFlag(FLAGS_nfsport);
  if (absl::GetFlag(FLAGS_mountport) != 0) ds.mountport = absl::GetFlag(FLAGS_mountport);
  if (ds.server.empty()) return Usage("give SRC as an nfs:// URL or use --server");

  auto token = vnas::cli::ReadTokenFile(absl::GetFlag(FLAGS_token_file));
  if (!token.ok()) return Usage(std::string(token.status().message()));
  uint32_t chunk = 0;
  if (!absl::GetFlag(FLAGS_chunk).empty()) {
    auto c = vnas::cli::ParseSize(absl::GetFlag(FLAGS_chunk));
    if (!c.ok() || *c == 0 || *c > (1u << 20)) return Usage("--chunk must be 4K..1M");
    chunk = static_cast<uint32_t>(*c);
  }

  const std::string control = absl::GetFlag(FLAGS_control);
  const std::string client_id = absl::GetFlag(FLAGS_client_id);
  vnas_session_params p{};
  p.api_version = VNAS_OFFLOAD_API_VERSION;
  p.server = ds.server.c_str();
  p.export_path = ds.export_path.c_str();
  p.nfs_port = ds.nfsport;
  p.mount_port = ds.mountport;
  p.control_endpoint = control.empty() ? nullptr : control.c_str();
  p.token = token->empty() ? nullptr : token->c_str();
  p.timeout_ms = static_cast<uint32_t>(absl::GetFlag(FLAGS_timeout)) * 1000;
  p.client_id = client_id.c_str();
  uint64_t commit_every = 0;
  if (!absl::GetFlag(FLAGS_commit_every).empty()) {
    auto c = vnas::cli::ParseSize(absl::GetFlag(FLAGS_commit_every));
    if (!c.ok()) return Usage(std::string(c.status().message()));
    commit_every = *c == 0 ? UINT64_MAX : *c;
  }
  p.copy_commit_every = commit_every;
  const std::string tls_ca = absl::GetFlag(FLAGS_tls_ca);
  p.tls_ca_file = tls_ca.empty() ? nullptr : tls_ca.c_str();
  p.copy_chunk_bytes = chunk;
  p.copy_depth = static_cast<uint32_t>(absl::GetFlag(FLAGS_depth));
  p.copy_connections = static_cast<uint32_t>(absl::GetFlag(FLAGS_connections));
  vnas_session* session = nullptr;
  vnas_status rc = vnas_session_start(&p, &session);
  if (rc != VNAS_OK) {
    PrintError(json, command, rc, vnas_last_error(nullptr));
    return kExitFailed;
  }

  vnas_primitive_args a{};
  vnas_primitive_result r{};
  a.src_path = pos[0].c_str();
  int exit_code = kExitOffloaded;
  if (command == "clone") {
    a.primitive = VNAS_PRIM_CLONE_FILE;
    a.dst_path = pos[1].c_str();
    if (absl::GetFlag(FLAGS_lazy)) a.flags |= VNAS_CLONE_LAZY;
    if (absl::GetFlag(FLAGS_dry_run)) a.flags |= VNAS_CLONE_DRYRUN;
    if (absl::GetFlag(FLAGS_guarded)) a.flags |= VNAS_CLONE_GUARDED;
    if (absl::GetFlag(FLAGS_no_fallback)) a.flags |= VNAS_CLONE_NO_FALLBACK;
    if (absl::GetFlag(FLAGS_no_offload)) a.flags |= VNAS_CLONE_NO_OFFLOAD;
    // Progress goes to stdout unless it must stay pure JSON.
    std::ostream& pout = json ? std::cerr : std::cout;
    vnas::cli::ProgressBar::Options po;
    po.label = "copy";
    po.terminal = vnas::cli::ProgressBar::IsTerminal(json ? STDERR_FILENO : STDOUT_FILENO);
    vnas::cli::ProgressBar bar(&pout, 0, po);
    ProgressCtx pctx;
    if (absl::GetFlag(FLAGS_progress)) {
      pctx.bar = &bar;
      a.progress = &OnProgress;
      a.progress_ctx = &pctx;
    }
    rc = vnas_execute_primitive(session, &a, &r);
    if (rc == VNAS_OK && r.outcome == VNAS_OUTCOME_FELL_BACK && pctx.bar != nullptr) {
      bar.set_total(r.bytes_total);
      bar.Update(r.bytes_total);
      bar.Finish();
    }
    if (rc == VNAS_OK) {
      const bool fell = r.outcome == VNAS_OUTCOME_FELL_BACK ||
                        (r.outcome == VNAS_OUTCOME_DRY_RUN && !r.would_offload);
      exit_code = fell ? kExitFellBack : kExitOffloaded;
      const double secs = r.elapsed_us / 1e6;
      if (json) {
        vnas::cli::JsonWriter w(true);
        w.BeginObject();
        w.Field("command", "clone");
        w.Field("outcome", OutcomeName(r.outcome));
        if (r.outcome == VNAS_OUTCOME_DRY_RUN) w.Field("would_offload", r.would_offload != 0);
        w.Field("source", pos[0]);
        w.Field("destination", pos[1]);
        w.Field("reason_name", r.reason_name);
        w.Field("reason", r.reason);
        w.Field("bytes_total", r.bytes_total);
        w.Field("bytes_copied", r.bytes_copied);
        w.Field("bytes_skipped", r.bytes_skipped);
        w.Field("bytes_shared", r.bytes_shared);
        w.Field("receipt_seq", r.receipt_seq);
        w.Field("elapsed_us", r.elapsed_us);
        w.Field("exit_code", int32_t{exit_code});
        w.EndObject();
        std::cout << w.str() << "\n";
      } else if (r.outcome == VNAS_OUTCOME_OFFLOADED) {
        std::cout << "offloaded: " << pos[0] << " -> " << pos[1] << " ("
                  << vnas::cli::FormatSize(r.bytes_shared) << " shared, nothing copied, receipt #"
                  << r.receipt_seq << ", " << vnas::cli::FormatDuration(secs) << ")\n";
      } else if (r.outcome == VNAS_OUTCOME_FELL_BACK) {
        std::cout << "fell back to a host copy: " << r.reason_name << ": " << r.reason << "\n"
                  << "copied " << vnas::cli::FormatSize(r.bytes_copied) << " of "
                  << vnas::cli::FormatSize(r.bytes_total) << " ("
                  << vnas::cli::FormatSize(r.bytes_skipped) << " of zeros skipped) in "
                  << vnas::cli::FormatDuration(secs) << ", "
                  << vnas::cli::FormatRate(secs > 0 ? r.bytes_total / secs : 0) << "\n";
      } else {
        std::cout << "dry run: " << pos[0] << " -> " << pos[1] << " would "
                  << (r.would_offload ? "be offloaded" : "fall back to a host copy");
        if (!r.would_offload) std::cout << ": " << r.reason_name << ": " << r.reason;
        std::cout << "\n";
      }
    }
  } else if (command == "stats" || command == "reserve") {
    a.primitive = command == "stats" ? VNAS_PRIM_EXTENDED_STATS : VNAS_PRIM_RESERVE_SPACE;
    if (command == "reserve") {
      auto size = vnas::cli::ParseSize(pos[1]);
      if (!size.ok()) {
        vnas_session_end(session);
        return Usage(std::string(size.status().message()));
      }
      a.size = *size;
    }
    rc = vnas_execute_primitive(session, &a, &r);
    if (rc == VNAS_OK) {
      if (json) {
        vnas::cli::JsonWriter w(true);
        w.BeginObject();
        w.Field("command", command);
        w.Field("path", pos[0]);
        if (command == "reserve") w.Field("reserve_bytes", a.size);
        w.Field("logical", r.logical);
        w.Field("allocated", r.allocated);
        w.Field("unique", r.unique);
        w.Field("shared", r.shared);
        w.Field("snapshot_only", r.snapshot_only);
        w.Field("reserved", r.reserved);
        w.EndObject();
        std::cout << w.str() << "\n";
      } else {
        using vnas::cli::FormatSize;
        std::cout << pos[0] << ": logical " << FormatSize(r.logical) << ", allocated "
                  << FormatSize(r.allocated) << ", unique " << FormatSize(r.unique)
                  << ", shared " << FormatSize(r.shared) << ", reserved "
                  << FormatSize(r.reserved) << "\n";
      }
    }
  }
  if (rc != VNAS_OK) {
    PrintError(json, command, rc, vnas_last_error(session));
    exit_code = kExitFailed;
  }
  vnas_session_end(session);
  return exit_code;
}
