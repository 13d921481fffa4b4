#include "server/admin/vnasctl.h"

#include <memory>

#include "absl/numeric/int128.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "plugins/cli/json_writer.h"
#include "plugins/cli/progress.h"
#include "plugins/cli/proto_json.h"
#include "plugins/cli/size.h"
#include "plugins/cli/table.h"
#include "server/admin/chain_tree.h"

namespace vnas::admin {

const char kVnasctlUsage[] = R"(administer a vnasd datastore through its control plane.

Usage: vnasctl [--control host:port] [--token_file F] [--json] COMMAND [ARGS]

Commands:
  status                       version, uptime, exports, space, clients, NFS counters
  space                        per-VM space table (logical, used, unique, shared,
                               snapshots, reserved) and datastore totals
  stat PATH                    extended stats of one file or directory
  clone SRC DST [--lazy] [--dry-run] [--guarded] [--wait]
                               offloaded clone of a file, or of a VM directory
                               (an operation; --wait shows its progress)
  ops [--all]                  running operations and their progress
  ops cancel ID | ops watch ID
  snapshot create PATH NAME | snapshot list [PATH] | snapshot delete ID
  snapshot restore ID | snapshot clone ID DST
  reserve PATH SIZE            thick-provision a file (SIZE like 10G, 512M; 0 drops)
  chain PATH                   a VM's disk chain as a tree, with the offload verdict
  receipts [--last N] [--follow]
                               offload receipts (newest N; --follow streams new ones)
  alignment [PATH]             write alignment of a file, a VM or the datastore
  members                      member data files and their I/O
  fsck                         check the store's reference counts and free space
  capabilities                 primitives this vnasd offloads

Every command accepts --json (the full reply, 64-bit numbers as JSON numbers).
Exit codes: 0 success, 1 failure or refusal, 2 usage error.)";

namespace {

using cli::FormatSize;
using cli::Table;

std::string Pct(uint64_t part, uint64_t whole) {
  if (whole == 0) return "-";
  return absl::StrFormat("%.1f%%", 100.0 * part / whole);
}

std::string TimeNs(int64_t ns) {
  if (ns == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixNanos(ns), absl::LocalTimeZone());
}

std::string OpState(vnas::v1::OperationState s) {
  std::string n = vnas::v1::OperationState_Name(s);
  return n.rfind("OPERATION_", 0) == 0 ? n.substr(10) : n;
}

std::string ReasonName(const vnas::v1::Reason& r) {
  if (!r.name().empty()) return r.name();
  std::string n = vnas::v1::ReasonCode_Name(r.code());
  return n.rfind("REASON_", 0) == 0 ? n.substr(7) : n;
}

bool Final(vnas::v1::OperationState s) {
  return s == vnas::v1::OPERATION_SUCCEEDED || s == vnas::v1::OPERATION_FAILED ||
         s == vnas::v1::OPERATION_CANCELLED;
}

// Space columns shared by `space` and `snapshot list`.
void AddSpaceCells(const vnas::v1::SpaceStats& s, std::vector<std::string>* row) {
  row->push_back(FormatSize(s.logical()));
  row->push_back(FormatSize(s.allocated()));
  row->push_back(FormatSize(s.unique()));
  row->push_back(FormatSize(s.shared()));
  row->push_back(FormatSize(s.snapshot_only()));
  row->push_back(FormatSize(s.reserved()));
}

std::string ReceiptResult(const vnas::v1::Receipt& r) {
  std::string res;
  if (r.offloaded()) {
    res = r.dry_run() ? "would offload" : "offloaded";
  } else {
    res = r.dry_run() ? "would refuse" : "refused";
  }
  return res;
}

std::string ReceiptKind(vnas::v1::ReceiptKind k) {
  std::string n = vnas::v1::ReceiptKind_Name(k);
  return n.rfind("RECEIPT_", 0) == 0 ? n.substr(8) : n;
}

std::vector<std::string> ReceiptRow(const vnas::v1::Receipt& r) {
  std::string reason;
  if (r.reason() != vnas::v1::REASON_NONE) {
    // The text may already start with the name.
    reason = absl::StartsWith(r.reason_text(), r.reason_name())
                 ? r.reason_text()
                 : absl::StrCat(r.reason_name(), ": ", r.reason_text());
  }
  return {absl::StrCat(r.seq()),
          TimeNs(r.time_unix_ns()),
          ReceiptKind(r.kind()),
          r.source(),
          r.destination(),
          ReceiptResult(r),
          FormatSize(r.bytes_shared()),
          absl::StrFormat("%.1fms", r.duration_us() / 1000.0),
          reason};
}

Table ReceiptTable() {
  return Table({{"SEQ", Table::kRight},
                {"TIME"},
                {"KIND"},
                {"SOURCE"},
                {"DESTINATION"},
                {"RESULT"},
                {"SHARED", Table::kRight},
                {"TOOK", Table::kRight},
                {"REASON"}});
}

}  // namespace

Vnasctl::Vnasctl(const cli::ControlClient* client, CtlOptions options, std::ostream* out,
                 std::ostream* err)
    : client_(client), options_(std::move(options)), out_(*out), err_(*err) {}

int Vnasctl::Fail(const absl::Status& status) {
  if (options_.json) {
    cli::JsonWriter w(true);
    w.BeginObject();
    w.Field("error", absl::StatusCodeToString(status.code()));
    w.Field("message", status.message());
    w.EndObject();
    out_ << w.str() << "\n";
  }
  err_ << "vnasctl: " << status.message() << "\n";
  return kExitFailed;
}

int Vnasctl::Usage(const std::string& message) {
  err_ << "vnasctl: " << message << "\nTry 'vnasctl --help'.\n";
  return kExitUsage;
}

int Vnasctl::PrintJson(const google::protobuf::Message& msg) {
  out_ << cli::ProtoToJson(msg) << "\n";
  return kExitOk;
}

#define VNAS_CALL(method, req, resp)                                              \
  do {                                                                          \
    grpc::ClientContext ctx_;                                                   \
    client_->Prepare(&ctx_);                                                    \
    absl::Status st_ = client_->Convert(client_->stub()->method(&ctx_, req, &resp), \
                                        &ctx_, #method);                        \
    if (!st_.ok()) return Fail(st_);                                            \
  } while (0)

int Vnasctl::Run(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("missing command");
  const std::string& cmd = args[0];
  const size_t n = args.size() - 1;
  auto need = [&](size_t k, const char* what) -> bool { return n == k || (Usage(what), false); };
  if (cmd == "space") return n == 0 ? Space() : Usage("space takes no arguments");
  if (cmd == "stat") return need(1, "usage: stat PATH") ? Stat(args[1]) : kExitUsage;
  if (cmd == "clone") return need(2, "usage: clone SRC DST") ? Clone(args[1], args[2]) : kExitUsage;
  if (cmd == "ops") return Ops({args.begin() + 1, args.end()});
  if (cmd == "snapshot" || cmd == "snapshots") return Snapshot({args.begin() + 1, args.end()});
  if (cmd == "reserve") {
    return need(2, "usage: reserve PATH SIZE") ? Reserve(args[1], args[2]) : kExitUsage;
  }
  if (cmd == "chain") return need(1, "usage: chain PATH") ? Chain(args[1]) : kExitUsage;
  if (cmd == "receipts") return n == 0 ? Receipts() : Usage("usage: receipts [--last N] [--follow]");
  if (cmd == "alignment") return Alignment({args.begin() + 1, args.end()});
  if (cmd == "members") return n == 0 ? Members() : Usage("members takes no arguments");
  if (cmd == "fsck") return n == 0 ? Fsck() : Usage("fsck takes no arguments");
  if (cmd == "status") return n == 0 ? Status() : Usage("status takes no arguments");
  if (cmd == "capabilities") return n == 0 ? Capabilities() : Usage("capabilities takes no arguments");
  return Usage(absl::StrCat("unknown command \"", cmd, "\""));
}

int Vnasctl::Space() {
  vnas::v1::ListVmsRequest req;
  vnas::v1::ListVmsResponse resp;
  VNAS_CALL(ListVms, req, resp);
  if (options_.json) return PrintJson(resp);
  Table t({{"VM"},
           {"FILES", Table::kRight},
           {"LOGICAL", Table::kRight},
           {"USED", Table::kRight},
           {"UNIQUE", Table::kRight},
           {"SHARED", Table::kRight},
           {"SNAP-ONLY", Table::kRight},
           {"RESERVED", Table::kRight},
           {"SNAPS", Table::kRight}});
  uint64_t sum_unique = 0, sum_snap = 0;
  for (const auto& vm : resp.vms()) {
    std::vector<std::string> row = {vm.name() + (vm.has_vmx() ? "" : "/"),
                                    absl::StrCat(vm.space().files())};
    AddSpaceCells(vm.space(), &row);
    row.push_back(absl::StrCat(vm.snapshots()));
    t.AddRow(row);
    sum_unique += vm.space().unique();
    sum_snap += vm.space().snapshot_only();
  }
  if (resp.root_files().files() > 0) {
    std::vector<std::string> row = {"(files in /)", absl::StrCat(resp.root_files().files())};
    AddSpaceCells(resp.root_files(), &row);
    row.push_back("");
    t.AddRow(row);
    sum_unique += resp.root_files().unique();
    sum_snap += resp.root_files().snapshot_only();
  }
  t.AddSeparator();
  std::vector<std::string> row = {"total", absl::StrCat(resp.total().files())};
  AddSpaceCells(resp.total(), &row);
  row.push_back("");
  t.AddRow(row);
  out_ << t.Render();
  const auto& st = resp.store();
  out_ << "\ndatastore: capacity " << FormatSize(st.capacity()) << ", used "
       << FormatSize(st.used()) << ", reserved " << FormatSize(st.reserved()) << ", free "
       << FormatSize(st.free()) << " (" << st.members() << " members, segment "
       << FormatSize(st.segment_size()) << ")\n";
  const uint64_t sum = sum_unique + sum_snap + resp.shared_counted_once();
  out_ << "used = unique " << FormatSize(sum_unique) << " + snapshot-only "
       << FormatSize(sum_snap) << " + shared (counted once) "
       << FormatSize(resp.shared_counted_once()) << " = " << FormatSize(sum);
  if (sum == st.used()) {
    out_ << "  (adds up)\n";
  } else {
    out_ << "  (differs from used by "
         << (sum > st.used() ? "+" : "-")
         << FormatSize(sum > st.used() ? sum - st.used() : st.used() - sum) << ")\n";
  }
  return kExitOk;
}

int Vnasctl::Stat(const std::string& path) {
  vnas::v1::ExtendedStatsRequest req;
  req.set_path(path);
  vnas::v1::ExtendedStatsResponse resp;
  VNAS_CALL(ExtendedStats, req, resp);
  if (options_.json) return PrintJson(resp);
  const auto& f = resp.file();
  const auto& s = resp.space();
  Table t({{""}, {""}});
  t.set_show_header(false);
  auto bytes = [](uint64_t v) { return absl::StrCat(FormatSize(v), "  (", v, ")"); };
  t.AddRow({"path", f.path().empty() ? path : f.path()});
  t.AddRow({"type", f.directory() ? "directory" : "file"});
  t.AddRow({"fileid", absl::StrCat(f.fileid())});
  t.AddRow({"modified", TimeNs(f.mtime_unix_ns())});
  if (f.directory()) t.AddRow({"files", absl::StrCat(s.files())});
  t.AddRow({"total (logical)", bytes(resp.total())});
  t.AddRow({"allocated", bytes(resp.allocated())});
  t.AddRow({"unique", bytes(resp.unique())});
  t.AddRow({"shared", bytes(s.shared())});
  t.AddRow({"snapshot-only", bytes(s.snapshot_only())});
  t.AddRow({"reserved", bytes(s.reserved())});
  out_ << t.Render();
  return kExitOk;
}

int Vnasctl::Clone(const std::string& src, const std::string& dst) {
  // A directory is a VM: CloneVm; a file: CloneFile.
  vnas::v1::ExtendedStatsRequest sreq;
  sreq.set_path(src);
  vnas::v1::ExtendedStatsResponse sresp;
  VNAS_CALL(ExtendedStats, sreq, sresp);
  uint32_t flags = 0;
  if (options_.dry_run) flags |= vnas::v1::CLONE_FLAG_DRYRUN;
  if (options_.guarded) flags |= vnas::v1::CLONE_FLAG_GUARDED;

  if (!sresp.file().directory()) {
    if (options_.lazy) flags |= vnas::v1::CLONE_FLAG_LAZY;
    vnas::v1::CloneFileRequest req;
    req.set_source(src);
    req.set_destination(dst);
    req.set_flags(flags);
    req.set_client_id(options_.client_id);
    vnas::v1::CloneFileResponse resp;
    VNAS_CALL(CloneFile, req, resp);
    const auto& v = resp.verdict();
    if (options_.json) {
      PrintJson(resp);
      return options_.dry_run && !v.offloaded() ? kExitFailed : kExitOk;
    }
    if (options_.dry_run) {
      out_ << "dry run: " << src << " -> " << dst << ": " << VerdictLine(v) << "\n";
      if (!v.explanation().empty()) out_ << v.explanation() << "\n";
      return v.offloaded() ? kExitOk : kExitFailed;
    }
    out_ << "cloned " << src << " -> " << dst << " ("
         << vnas::v1::Mechanism_Name(v.mechanism()) << ", " << FormatSize(resp.bytes_shared())
         << " shared, " << FormatSize(resp.bytes_copied()) << " copied, receipt #"
         << resp.receipt_seq();
    if (resp.snapshot_id() != 0) out_ << ", snapshot " << resp.snapshot_id();
    out_ << ")\n";
    return kExitOk;
  }

  vnas::v1::CloneVmRequest req;
  req.set_source(src);
  req.set_destination(dst);
  req.set_flags(flags);
  req.set_client_id(options_.client_id);
  req.set_wait(options_.wait && options_.json);  // JSON: one final reply
  vnas::v1::CloneVmResponse resp;
  {
    grpc::ClientContext ctx;
    client_->Prepare(&ctx, /*streaming=*/req.wait());
    absl::Status st = client_->Convert(client_->stub()->CloneVm(&ctx, req, &resp), &ctx, "CloneVm");
    if (!st.ok()) return Fail(st);
  }
  if (options_.json) {
    PrintJson(resp);
    if (options_.dry_run && !resp.verdict().offloaded()) return kExitFailed;
    if (req.wait() && resp.operation().state() != vnas::v1::OPERATION_SUCCEEDED) return kExitFailed;
    return kExitOk;
  }
  if (options_.dry_run) {
    out_ << "dry run: clone VM " << src << " -> " << dst << ": " << VerdictLine(resp.verdict())
         << "\n";
    Table t({{"FILE"}, {"NEW NAME"}, {"ACTION"}, {"SIZE", Table::kRight}});
    for (const auto& f : resp.plan()) {
      t.AddRow({f.old_name(), f.new_name(), f.action(), FormatSize(f.size())});
    }
    out_ << t.Render();
    return resp.verdict().offloaded() ? kExitOk : kExitFailed;
  }
  out_ << "clone VM " << src << " -> " << dst << ": operation " << resp.operation().id() << " ("
       << OpState(resp.operation().state()) << ")\n";
  if (!options_.wait) {
    out_ << "follow it with: vnasctl ops watch " << resp.operation().id() << "\n";
    return kExitOk;
  }
  return WatchOperation(resp.operation().id());
}

int Vnasctl::WatchOperation(const std::string& id) {
  vnas::v1::WatchOperationRequest req;
  req.set_id(id);
  grpc::ClientContext ctx;
  client_->Prepare(&ctx, /*streaming=*/true);
  auto reader = client_->stub()->WatchOperation(&ctx, req);
  cli::ProgressBar::Options po;
  po.label = id;
  po.terminal = options_.terminal;
  cli::ProgressBar bar(&out_, 0, po);
  vnas::v1::Operation op, last;
  bool any = false;
  while (reader->Read(&op)) {
    any = true;
    last = op;
    if (!options_.json) {
      bar.set_total(op.bytes_total());
      bar.Update(op.bytes_done());
    }
    if (Final(op.state())) break;
  }
  grpc::Status st = reader->Finish();
  if (!st.ok() && !(any && Final(last.state()))) return Fail(client_->Convert(st, &ctx, "WatchOperation"));
  if (options_.json) return PrintJson(last);
  bar.Finish(OpState(last.state()));
  out_ << "operation " << last.id() << " " << OpState(last.state()) << ": " << last.files_done()
       << "/" << last.files_total() << " files, " << FormatSize(last.bytes_done()) << " of "
       << FormatSize(last.bytes_total());
  if (last.receipt_seq() != 0) out_ << ", receipt #" << last.receipt_seq();
  out_ << "\n";
  if (last.has_error() && last.error().code() != vnas::v1::REASON_NONE) {
    out_ << "  " << ReasonName(last.error()) << ": " << last.error().text() << "\n";
  }
  return last.state() == vnas::v1::OPERATION_SUCCEEDED ? kExitOk : kExitFailed;
}

int Vnasctl::Ops(const std::vector<std::string>& args) {
  if (!args.empty()) {
    if (args.size() != 2 || (args[0] != "cancel" && args[0] != "watch")) {
      return Usage("usage: ops [--all] | ops cancel ID | ops watch ID");
    }
    if (args[0] == "watch") return WatchOperation(args[1]);
    vnas::v1::CancelOperationRequest req;
    req.set_id(args[1]);
    vnas::v1::Operation resp;
    VNAS_CALL(CancelOperation, req, resp);
    if (options_.json) return PrintJson(resp);
    out_ << "cancel requested for " << resp.id() << " (now " << OpState(resp.state()) << ")\n";
    return kExitOk;
  }
  vnas::v1::ListOperationsRequest req;
  req.set_include_finished(options_.all);
  vnas::v1::ListOperationsResponse resp;
  VNAS_CALL(ListOperations, req, resp);
  if (options_.json) return PrintJson(resp);
  if (resp.operations_size() == 0) {
    out_ << (options_.all ? "no operations\n" : "no running operations (--all shows finished ones)\n");
    return kExitOk;
  }
  Table t({{"ID"}, {"KIND"}, {"STATE"}, {"PROGRESS"}, {"FILES", Table::kRight}, {"SOURCE"},
           {"DESTINATION"}, {"CURRENT FILE"}});
  for (const auto& op : resp.operations()) {
    std::string progress = absl::StrCat(FormatSize(op.bytes_done()), " / ",
                                        FormatSize(op.bytes_total()), " (",
                                        Pct(op.bytes_done(), op.bytes_total()), ")");
    std::string state = OpState(op.state());
    if (op.cancel_requested() && !Final(op.state())) state += " (cancelling)";
    t.AddRow({op.id(), op.kind(), state, progress,
              absl::StrCat(op.files_done(), "/", op.files_total()), op.source(),
              op.destination(), op.current_file()});
  }
  out_ << t.Render();
  return kExitOk;
}

int Vnasctl::Snapshot(const std::vector<std::string>& args) {
  const std::string sub = args.empty() ? "" : args[0];
  auto id_of = [&](const std::string& s, uint64_t* id) {
    return absl::SimpleAtoi(s, id);
  };
  if (sub == "create") {
    if (args.size() != 3) return Usage("usage: snapshot create PATH NAME");
    vnas::v1::CreateSnapshotRequest req;
    req.set_path(args[1]);
    req.set_name(args[2]);
    req.set_client_id(options_.client_id);
    vnas::v1::CreateSnapshotResponse resp;
    VNAS_CALL(CreateSnapshot, req, resp);
    if (options_.json) return PrintJson(resp);
    out_ << "snapshot " << resp.snapshot().id() << " \"" << resp.snapshot().name() << "\" of "
         << args[1] << " created (receipt #" << resp.receipt_seq() << ")\n";
    if (!resp.verdict().explanation().empty()) out_ << resp.verdict().explanation() << "\n";
    return kExitOk;
  }
  if (sub == "list") {
    if (args.size() > 2) return Usage("usage: snapshot list [PATH]");
    vnas::v1::ListSnapshotsRequest req;
    if (args.size() == 2) req.set_path(args[1]);
    vnas::v1::ListSnapshotsResponse resp;
    VNAS_CALL(ListSnapshots, req, resp);
    if (options_.json) return PrintJson(resp);
    if (resp.snapshots_size() == 0) {
      out_ << "no snapshots\n";
      return kExitOk;
    }
    Table t({{"ID", Table::kRight}, {"NAME"}, {"SOURCE"}, {"CREATED"},
             {"LOGICAL", Table::kRight}, {"HELD ONLY BY IT", Table::kRight}});
    for (const auto& s : resp.snapshots()) {
      std::string source = s.source_path().empty()
                               ? absl::StrCat("(gone, fileid ", s.source_fileid(), ")")
                               : s.source_path() + (s.directory() ? "/" : "");
      t.AddRow({absl::StrCat(s.id()), s.name(), source, TimeNs(s.created_unix_ns()),
                FormatSize(s.space().logical()), FormatSize(s.space().unique())});
    }
    out_ << t.Render();
    return kExitOk;
  }
  if (sub == "delete" || sub == "restore") {
    uint64_t id = 0;
    if (args.size() != 2 || !id_of(args[1], &id)) return Usage(absl::StrCat("usage: snapshot ", sub, " ID"));
    if (sub == "delete") {
      vnas::v1::DeleteSnapshotRequest req;
      req.set_id(id);
      req.set_client_id(options_.client_id);
      vnas::v1::DeleteSnapshotResponse resp;
      VNAS_CALL(DeleteSnapshot, req, resp);
      if (options_.json) return PrintJson(resp);
      out_ << "snapshot " << id << " deleted (receipt #" << resp.receipt_seq() << ")\n";
      return kExitOk;
    }
    vnas::v1::RestoreSnapshotRequest req;
    req.set_id(id);
    req.set_client_id(options_.client_id);
    vnas::v1::RestoreSnapshotResponse resp;
    VNAS_CALL(RestoreSnapshot, req, resp);
    if (options_.json) return PrintJson(resp);
    out_ << "snapshot " << id << " restored (receipt #" << resp.receipt_seq() << ")\n";
    return kExitOk;
  }
  if (sub == "clone") {
    uint64_t id = 0;
    if (args.size() != 3 || !id_of(args[1], &id)) return Usage("usage: snapshot clone ID DST");
    vnas::v1::CloneSnapshotRequest req;
    req.set_id(id);
    req.set_destination(args[2]);
    req.set_client_id(options_.client_id);
    vnas::v1::CloneSnapshotResponse resp;
    VNAS_CALL(CloneSnapshot, req, resp);
    if (options_.json) return PrintJson(resp);
    out_ << "linked clone of snapshot " << id << " at " << args[2] << " (receipt #"
         << resp.receipt_seq() << ")\n";
    return kExitOk;
  }
  return Usage("usage: snapshot create|list|delete|restore|clone ...");
}

int Vnasctl::Reserve(const std::string& path, const std::string& size_text) {
  auto size = cli::ParseSize(size_text);
  if (!size.ok()) return Usage(std::string(size.status().message()));
  vnas::v1::ReserveSpaceRequest req;
  req.set_path(path);
  req.set_size(*size);
  req.set_client_id(options_.client_id);
  vnas::v1::ReserveSpaceResponse resp;
  VNAS_CALL(ReserveSpace, req, resp);
  if (options_.json) return PrintJson(resp);
  if (*size == 0) {
    out_ << "reservation of " << path << " dropped\n";
  } else {
    out_ << "reserved " << FormatSize(*size) << " for " << path << " (" << *size << " bytes)\n";
  }
  out_ << "file: logical " << FormatSize(resp.space().logical()) << ", allocated "
       << FormatSize(resp.space().allocated()) << ", reserved (not yet written) "
       << FormatSize(resp.space().reserved()) << "\n";
  return kExitOk;
}

int Vnasctl::Chain(const std::string& path) {
  vnas::v1::GetChainRequest req;
  req.set_path(path);
  vnas::v1::GetChainResponse resp;
  VNAS_CALL(GetChain, req, resp);
  if (options_.json) return PrintJson(resp);
  out_ << RenderChain(resp);
  return kExitOk;
}

int Vnasctl::Receipts() {
  if (!options_.follow) {
    vnas::v1::ListReceiptsRequest req;
    req.set_last(options_.last);
    vnas::v1::ListReceiptsResponse resp;
    VNAS_CALL(ListReceipts, req, resp);
    if (options_.json) return PrintJson(resp);
    if (resp.receipts_size() == 0) {
      out_ << "no receipts\n";
      return kExitOk;
    }
    Table t = ReceiptTable();
    for (const auto& r : resp.receipts()) t.AddRow(ReceiptRow(r));
    out_ << t.Render();
    return kExitOk;
  }
  // --follow: one line (or one JSON object) per receipt as it arrives.
  vnas::v1::WatchReceiptsRequest req;
  req.set_tail(options_.last);
  grpc::ClientContext ctx;
  client_->Prepare(&ctx, /*streaming=*/true);
  auto reader = client_->stub()->WatchReceipts(&ctx, req);
  vnas::v1::Receipt r;
  while (reader->Read(&r)) {
    if (options_.json) {
      out_ << cli::ProtoToJson(r, /*pretty=*/false) << "\n";
    } else {
      out_ << absl::StrJoin(ReceiptRow(r), "  ") << "\n";
    }
    out_.flush();
  }
  grpc::Status st = reader->Finish();
  if (!st.ok()) return Fail(client_->Convert(st, &ctx, "WatchReceipts"));
  return kExitOk;
}

int Vnasctl::Alignment(const std::vector<std::string>& args) {
  if (args.size() > 1) return Usage("usage: alignment [PATH]");
  vnas::v1::GetAlignmentRequest req;
  if (!args.empty()) req.set_path(args[0]);
  vnas::v1::GetAlignmentResponse resp;
  VNAS_CALL(GetAlignment, req, resp);
  if (options_.json) return PrintJson(resp);
  const uint64_t w = resp.writes();
  out_ << (args.empty() ? std::string("datastore") : args[0]) << ": " << w << " writes in "
       << resp.files() << (resp.files() == 1 ? " file" : " files") << ", segment "
       << FormatSize(resp.segment_size()) << "\n";
  Table t({{"MEASURE"}, {"WRITES", Table::kRight}, {"SHARE", Table::kRight}});
  t.AddRow({"offset 4 KiB-aligned", absl::StrCat(resp.offset_aligned_4k()), Pct(resp.offset_aligned_4k(), w)});
  t.AddRow({"length 4 KiB-multiple", absl::StrCat(resp.length_aligned_4k()), Pct(resp.length_aligned_4k(), w)});
  t.AddRow({"offset segment-aligned", absl::StrCat(resp.offset_aligned_segment()), Pct(resp.offset_aligned_segment(), w)});
  t.AddRow({"length segment-multiple", absl::StrCat(resp.length_aligned_segment()), Pct(resp.length_aligned_segment(), w)});
  t.AddRow({"partial-segment (RMW)", absl::StrCat(resp.partial_segment_writes()), Pct(resp.partial_segment_writes(), w)});
  t.AddRow({"segments copied (COW)", absl::StrCat(resp.cow_segments()), ""});
  out_ << t.Render();
  if (resp.worst_size() > 0) {
    out_ << "\nmost misaligned files:\n";
    Table worst({{"FILE"}, {"WRITES", Table::kRight}, {"OFFSET !4K", Table::kRight},
                 {"LENGTH !4K", Table::kRight}, {"RMW", Table::kRight}});
    for (const auto& f : resp.worst()) {
      worst.AddRow({f.path(), absl::StrCat(f.writes()), absl::StrCat(f.offset_misaligned_4k()),
                    absl::StrCat(f.length_misaligned_4k()), absl::StrCat(f.partial_segment_writes())});
    }
    out_ << worst.Render();
  }
  return kExitOk;
}

int Vnasctl::Members() {
  vnas::v1::ListMembersRequest req;
  vnas::v1::ListMembersResponse resp;
  VNAS_CALL(ListMembers, req, resp);
  if (options_.json) return PrintJson(resp);
  Table t({{"#", Table::kRight}, {"PATH"}, {"SEGMENTS", Table::kRight}, {"USED", Table::kRight},
           {"READS", Table::kRight}, {"READ", Table::kRight}, {"WRITES", Table::kRight},
           {"WRITTEN", Table::kRight}});
  for (const auto& m : resp.members()) {
    t.AddRow({absl::StrCat(m.index()), m.path(), absl::StrCat(m.segments_used()),
              FormatSize(m.segments_used() * resp.segment_size()), absl::StrCat(m.reads()),
              FormatSize(m.bytes_read()), absl::StrCat(m.writes()), FormatSize(m.bytes_written())});
  }
  out_ << t.Render();
  out_ << "segment size " << FormatSize(resp.segment_size()) << "\n";
  return kExitOk;
}

int Vnasctl::Fsck() {
  vnas::v1::FsckRequest req;
  vnas::v1::FsckResponse resp;
  {
    grpc::ClientContext ctx;
    client_->Prepare(&ctx, /*streaming=*/true);  // may take long: no deadline
    absl::Status st = client_->Convert(client_->stub()->Fsck(&ctx, req, &resp), &ctx, "Fsck");
    if (!st.ok()) return Fail(st);
  }
  if (options_.json) {
    PrintJson(resp);
    return resp.clean() ? kExitOk : kExitFailed;
  }
  out_ << "fsck: " << (resp.clean() ? "clean" : "PROBLEMS FOUND") << " (" << resp.inodes()
       << " inodes, " << resp.extents() << " extents, " << resp.pages() << " pages, "
       << cli::FormatDuration(resp.duration_us() / 1e6) << ")\n";
  for (const auto& p : resp.problems()) out_ << "  " << p << "\n";
  return resp.clean() ? kExitOk : kExitFailed;
}

int Vnasctl::Status() {
  vnas::v1::GetStatusRequest req;
  vnas::v1::GetStatusResponse resp;
  VNAS_CALL(GetStatus, req, resp);
  if (options_.json) return PrintJson(resp);
  const auto& st = resp.store();
  Table kv({{""}, {""}});
  kv.set_show_header(false);
  kv.AddRow({"vnasd", resp.version()});
  kv.AddRow({"uptime", absl::StrCat(cli::FormatDuration(static_cast<double>(resp.uptime_sec())),
                                    " (since ", TimeNs(resp.started_unix_ns()), ")")});
  kv.AddRow({"exports", absl::StrJoin(resp.exports(), ", ")});
  kv.AddRow({"control", resp.control_listen()});
  kv.AddRow({"store id", absl::StrFormat("%016x", resp.store_id())});
  kv.AddRow({"space", absl::StrCat("used ", FormatSize(st.used()), " of ", FormatSize(st.capacity()),
                                   " (", Pct(st.used(), st.capacity()), "), reserved ",
                                   FormatSize(st.reserved()), ", free ", FormatSize(st.free()))});
  kv.AddRow({"inodes", absl::StrCat(st.inodes(), ", small-file data inline in the metadata ",
                                    FormatSize(st.inline_bytes()))});
  kv.AddRow({"members", absl::StrCat(st.members(), " x segment ", FormatSize(st.segment_size()))});
  kv.AddRow({"operations", absl::StrCat(resp.running_operations(), " running")});
  kv.AddRow({"receipts", absl::StrCat(resp.receipts_written(), " written since start")});
  if (resp.has_data_cache()) {
    const auto& dc = resp.data_cache();
    kv.AddRow({"data cache",
               absl::StrCat(FormatSize(dc.cached_bytes()), " of ", FormatSize(dc.capacity_bytes()),
                            " (", Pct(dc.cached_bytes(), dc.capacity_bytes()), "); ", dc.hits(),
                            " reads served, ", dc.filled(), " chunks filled (",
                            dc.filled_in_place(), " where received), ", dc.evicted(),
                            " evicted; ", FormatSize(dc.resident_bytes()), " resident")});
  } else {
    kv.AddRow({"data cache", "none"});
  }
  out_ << kv.Render();
  if (!resp.nfs_stats_available()) {
    out_ << "\n(NFS clients and counters are not available from this vnasd)\n";
    return kExitOk;
  }
  out_ << "\nclients:\n";
  if (resp.clients_size() == 0) out_ << "  (none connected)\n";
  else {
    Table t({{"ADDRESS"}, {"PROTOCOL"}, {"CONNECTED"}, {"REQUESTS", Table::kRight}});
    for (const auto& c : resp.clients()) {
      t.AddRow({c.address(), c.protocol(), TimeNs(c.connected_unix_ns()), absl::StrCat(c.requests())});
    }
    out_ << t.Render();
  }
  out_ << "\nprocedures:\n";
  Table t({{"PROGRAM"}, {"PROCEDURE"}, {"CALLS", Table::kRight}, {"ERRORS", Table::kRight},
           {"AVG LATENCY", Table::kRight}, {"BYTES", Table::kRight}});
  for (const auto& c : resp.counters()) {
    if (c.calls() == 0) continue;
    t.AddRow({c.program(), c.procedure(), absl::StrCat(c.calls()), absl::StrCat(c.errors()),
              absl::StrFormat("%.0fus", static_cast<double>(c.total_latency_us()) / c.calls()),
              c.bytes() ? FormatSize(c.bytes()) : ""});
  }
  out_ << t.Render();
  return kExitOk;
}

int Vnasctl::Capabilities() {
  vnas::v1::GetCapabilitiesRequest req;
  vnas::v1::Capabilities resp;
  VNAS_CALL(GetCapabilities, req, resp);
  if (options_.json) return PrintJson(resp);
  out_ << "vnasd " << resp.server_version() << ", export " << resp.export_path() << ", API v"
       << resp.api_version() << ", segment " << FormatSize(resp.segment_size()) << "\n";
  Table t({{"PRIMITIVE"}, {"OFFLOADED"}, {"HOW"}});
  for (const auto& p : resp.primitives()) {
    std::string n = vnas::v1::Primitive_Name(p.primitive());
    if (n.rfind("PRIMITIVE_", 0) == 0) n = n.substr(10);
    t.AddRow({n, p.offloaded() ? "yes" : "no", p.note()});
  }
  out_ << t.Render();
  return kExitOk;
}

}  // namespace vnas::admin
