#include "server/control/control_service.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/control/broadcaster.h"
#include "server/control/chain_policy.h"
#include "server/control/paths.h"
#include "server/control/reasons.h"
#include "server/control/snapshot_paths.h"
#include "server/control/vm_clone.h"
#include "server/control/vm_reader.h"
#include "storage/base/status_util.h"

namespace vnas::control {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

namespace {

constexpr uint32_t kKnownFlags =
    v1::CLONE_FLAG_LAZY | v1::CLONE_FLAG_DRYRUN | v1::CLONE_FLAG_GUARDED;
constexpr uint32_t kDefaultReceipts = 100;
// GetAlignment of a directory lists at most this many worst files.
constexpr size_t kMaxWorstAlignment = 20;

absl::Status BadArg(absl::string_view text) {
  return Refusal(absl::StatusCode::kInvalidArgument,
                 v1::REASON_INVALID_ARGUMENT, text);
}

absl::Status CheckClientId(const std::string& id) {
  if (id.size() > kMaxClientIdBytes) {
    return BadArg(absl::StrCat("client_id of ", id.size(), " bytes; at most ",
                               kMaxClientIdBytes));
  }
  if (id.find('\0') != std::string::npos) {
    return BadArg("client_id contains a NUL byte");
  }
  return absl::OkStatus();
}

// CheckClientId(), then refuses flag bits this server does not know.
absl::Status CheckClientIdAndFlags(const std::string& id, uint32_t flags) {
  VNAS_RETURN_IF_ERROR(CheckClientId(id));
  if (flags & ~kKnownFlags) {
    return BadArg(
        absl::StrCat("unknown flag bits 0x", absl::Hex(flags & ~kKnownFlags)));
  }
  return absl::OkStatus();
}

// A verdict that offloads with `mechanism`, explained by `explanation`.
v1::Verdict OffloadedVerdict(v1::Mechanism mechanism, std::string explanation) {
  v1::Verdict v;
  v.set_offloaded(true);
  v.set_mechanism(mechanism);
  *v.mutable_refusal() = MakeReason(v1::REASON_NONE, "");
  v.set_explanation(std::move(explanation));
  return v;
}

int64_t ToUnixNs(const storage::Timespec& t) {
  return t.sec * 1000000000 + t.nsec;
}

v1::FileInfo ToFileInfo(const std::string& path, const storage::Attr& a) {
  v1::FileInfo f;
  f.set_path(path);
  f.set_fileid(a.ino);
  f.set_directory(a.type == storage::FileType::kDirectory);
  f.set_size(a.size);
  f.set_allocated(a.allocated);
  f.set_mtime_unix_ns(ToUnixNs(a.mtime));
  return f;
}

v1::SpaceStats ToProto(const storage::SpaceStats& s) {
  v1::SpaceStats p;
  p.set_files(s.files);
  p.set_logical(s.logical);
  p.set_allocated(s.allocated);
  p.set_unique(s.unique);
  p.set_shared(s.shared);
  p.set_snapshot_only(s.snapshot_only);
  p.set_reserved(s.reserved);
  return p;
}

v1::StoreSpace ToProto(const storage::StoreSpace& s) {
  v1::StoreSpace p;
  p.set_capacity(s.capacity);
  p.set_used(s.used);
  p.set_reserved(s.reserved);
  p.set_free(s.free);
  p.set_segment_size(s.segment_size);
  p.set_members(s.members);
  p.set_inodes(s.files);
  p.set_inline_bytes(s.inline_bytes);
  return p;
}

void AddTo(v1::SpaceStats* sum, const v1::SpaceStats& s) {
  sum->set_files(sum->files() + s.files());
  sum->set_logical(sum->logical() + s.logical());
  sum->set_allocated(sum->allocated() + s.allocated());
  sum->set_unique(sum->unique() + s.unique());
  sum->set_shared(sum->shared() + s.shared());
  sum->set_snapshot_only(sum->snapshot_only() + s.snapshot_only());
  sum->set_reserved(sum->reserved() + s.reserved());
}

bool LooksLikeDisk(const std::string& name) {
  return absl::EndsWithIgnoreCase(name, ".vmdk") ||
         absl::EndsWithIgnoreCase(name, ".qcow2") ||
         absl::EndsWithIgnoreCase(name, ".vhdx") ||
         absl::EndsWithIgnoreCase(name, ".vmx") ||
         absl::EndsWithIgnoreCase(name, ".vmsd");
}

// A request's receipt, filled as the request is served and written once.
struct ReceiptDraft {
  v1::Receipt r;
  absl::Time start = absl::Now();
};

}  // namespace

// ===========================================================================
// Streaming reactors
// ===========================================================================

namespace {

// A server stream that writes what Poll() yields, one message at a time. It
// polls again after each write and whenever `changes` publishes, and ends
// when the client cancels, a write fails, or Poll() says so.
template <typename Msg>
class WatchReactor : public grpc::ServerWriteReactor<Msg> {
 public:
  void OnWriteDone(bool ok) override {
    bool finish = false;
    {
      absl::MutexLock l(&mu_);
      writing_ = false;
      if (done_) return;
      if (!ok || sent_last_) {
        done_ = true;
        finish = true;
      }
    }
    if (finish) {
      this->Finish(ok ? grpc::Status::OK
                      : grpc::Status(grpc::StatusCode::CANCELLED,
                                     "write failed"));
      return;
    }
    Pump();
  }

  void OnCancel() override {
    {
      absl::MutexLock l(&mu_);
      if (done_) return;
      done_ = true;
    }
    this->Finish(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    if (changes_ != nullptr) changes_->Unsubscribe(token_);
    delete this;
  }

 protected:
  enum class Next {
    kNothing,   // nothing new yet
    kSend,      // *out filled
    kSendLast,  // *out filled; the stream ends OK once it is written
    kEnd,       // end the stream now with *end
  };

  // Called with mu_ held and no write in flight.
  virtual Next Poll(Msg* out, grpc::Status* end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;

  // The last step of a subclass's constructor: subscribes, then writes what
  // Poll() has.
  void Start(Broadcaster* changes) {
    token_ = changes->Subscribe([this] { Pump(); });
    changes_ = changes;
    Pump();
  }

  // Instead of Start(): ends the stream at once with `status`.
  void FinishNow(const grpc::Status& status) {
    {
      absl::MutexLock l(&mu_);
      done_ = true;
    }
    this->Finish(status);
  }

  absl::Mutex mu_;

 private:
  void Pump() {
    bool write = false;
    grpc::Status end;
    {
      absl::MutexLock l(&mu_);
      if (done_ || writing_ || sent_last_) return;
      switch (Poll(&out_, &end)) {
        case Next::kNothing:
          return;
        case Next::kSendLast:
          sent_last_ = true;
          [[fallthrough]];
        case Next::kSend:
          writing_ = write = true;
          break;
        case Next::kEnd:
          done_ = true;
          break;
      }
    }
    if (write) {
      this->StartWrite(&out_);
    } else {
      this->Finish(end);
    }
  }

  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool sent_last_ ABSL_GUARDED_BY(mu_) = false;
  Msg out_;
  Broadcaster* changes_ = nullptr;  // set once subscribed
  uint64_t token_ = 0;
};

// WatchReceipts: the tail (or everything after a given seq), then every new
// receipt, until the client cancels.
class ReceiptWatcher final : public WatchReactor<v1::Receipt> {
 public:
  ReceiptWatcher(ReceiptLog* log, uint64_t after_seq) : log_(log) {
    {
      absl::MutexLock l(&mu_);
      cursor_ = after_seq;
    }
    Start(&log_->changes());
  }

  ReceiptWatcher(ReceiptLog* log, uint32_t tail) : log_(log) {
    absl::StatusOr<std::vector<v1::Receipt>> last =
        log_->Last(std::max<uint32_t>(tail, 1));
    if (!last.ok()) {
      FinishNow(ToGrpcStatus(last.status()));
      return;
    }
    {
      absl::MutexLock l(&mu_);
      if (!last->empty()) cursor_ = last->back().seq();
      if (tail > 0) {
        for (auto& r : *last) pending_.push_back(std::move(r));
      }
    }
    Start(&log_->changes());
  }

 private:
  Next Poll(v1::Receipt* out, grpc::Status*) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (pending_.empty()) {
      absl::StatusOr<std::vector<v1::Receipt>> more = log_->After(cursor_, 100);
      if (more.ok()) {
        for (auto& r : *more) {
          cursor_ = r.seq();
          pending_.push_back(std::move(r));
        }
      }
    }
    if (pending_.empty()) return Next::kNothing;
    *out = std::move(pending_.front());
    pending_.pop_front();
    return Next::kSend;
  }

  ReceiptLog* const log_;
  uint64_t cursor_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<v1::Receipt> pending_ ABSL_GUARDED_BY(mu_);
};

// WatchOperation: the current state, then every change; ends after the
// final state has been sent.
class OperationWatcher final : public WatchReactor<v1::Operation> {
 public:
  OperationWatcher(OperationRegistry* reg, std::string id)
      : reg_(reg), id_(std::move(id)) {
    auto first = reg_->GetVersioned(id_);
    if (!first.ok()) {
      FinishNow(ToGrpcStatus(first.status()));
      return;
    }
    Start(&reg_->changes());
  }

 private:
  Next Poll(v1::Operation* out, grpc::Status* end) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto cur = reg_->GetVersioned(id_);
    if (!cur.ok()) {
      *end = grpc::Status(grpc::StatusCode::NOT_FOUND, "operation expired");
      return Next::kEnd;
    }
    if (cur->second <= sent_version_) return Next::kNothing;
    sent_version_ = cur->second;
    *out = std::move(cur->first);
    return OperationRegistry::IsFinal(out->state()) ? Next::kSendLast
                                                    : Next::kSend;
  }

  OperationRegistry* const reg_;
  const std::string id_;
  uint64_t sent_version_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

// ===========================================================================
// Impl: the rpcs as functions returning absl::Status
// ===========================================================================

class ControlService::Impl {
 public:
  Impl(storage::ExtentStore* store, ControlServiceOptions options)
      : store_(store), opts_(std::move(options)), receipts_(store) {
    if (opts_.started_unix_ns == 0) opts_.started_unix_ns = NowUnixNs();
  }

  storage::ExtentStore* const store_;
  ControlServiceOptions opts_;
  ReceiptLog receipts_;
  OperationRegistry ops_;

  // ---- helpers ------------------------------------------------------------

  absl::StatusOr<std::vector<std::string>> Parse(const std::string& path) {
    return ParsePath(path, opts_.export_path);
  }

  ReceiptDraft Draft(grpc::CallbackServerContext* ctx, v1::ReceiptKind kind,
                     const std::string& client_id, const std::string& source,
                     const std::string& destination, uint32_t flags) {
    ReceiptDraft d;
    d.r.set_time_unix_ns(absl::ToUnixNanos(d.start));
    d.r.set_peer(ctx != nullptr ? ctx->peer() : "");
    d.r.set_client_id(client_id.substr(0, kMaxClientIdBytes));
    d.r.set_kind(kind);
    d.r.set_source(source.substr(0, kMaxPathBytes));
    d.r.set_destination(destination.substr(0, kMaxPathBytes));
    d.r.set_flags(flags);
    d.r.set_dry_run((flags & v1::CLONE_FLAG_DRYRUN) != 0);
    return d;
  }

  // Completes and writes the receipt for `status`; returns its seq (0 when
  // it could not be written — the request's own result is not changed by
  // a receipt failure). Adds the trailing metadata on failure.
  uint64_t Record(grpc::CallbackServerContext* ctx, ReceiptDraft& d,
                  const absl::Status& status) {
    d.r.set_duration_us(absl::ToInt64Microseconds(absl::Now() - d.start));
    d.r.set_grpc_code(static_cast<int>(status.code()));
    if (!status.ok()) {
      d.r.set_offloaded(false);
      d.r.set_mechanism(v1::MECHANISM_NONE);
      d.r.set_reason(ReasonOf(status));
      d.r.set_reason_text(ReasonText(status));
    }
    d.r.set_reason_name(ReasonName(d.r.reason()));
    absl::StatusOr<uint64_t> seq = receipts_.Append(d.r);
    uint64_t s = seq.ok() ? *seq : 0;
    if (ctx != nullptr && !status.ok()) {
      ctx->AddTrailingMetadata("vnas-reason-code",
                               absl::StrCat(static_cast<int>(d.r.reason())));
      if (s != 0) ctx->AddTrailingMetadata("vnas-receipt-seq", absl::StrCat(s));
    }
    return s;
  }

  void FromVerdict(ReceiptDraft& d, const v1::Verdict& v) {
    d.r.set_offloaded(v.offloaded());
    d.r.set_mechanism(v.offloaded() ? v.mechanism() : v1::MECHANISM_NONE);
    d.r.set_reason(v.refusal().code());
    d.r.set_reason_text(v.offloaded() ? v.explanation() : v.refusal().text());
  }

  // The refusal status for a verdict that does not offload.
  static absl::Status RefusedStatus(const v1::Verdict& v) {
    return Refusal(absl::StatusCode::kFailedPrecondition, v.refusal().code(),
                   v.refusal().text());
  }

  int64_t NowSec() { return absl::ToUnixSeconds(absl::Now()); }

  // Resolves `comps` as a source object; refuses symlinks.
  absl::StatusOr<storage::Attr> ResolveSource(
      const std::vector<std::string>& comps) {
    VNAS_ASSIGN_OR_RETURN(storage::Attr a, Resolve(store_, comps));
    if (a.type == storage::FileType::kSymlink) {
      return BadArg(absl::StrCat("\"", JoinPath(comps),
                                 "\" is a symlink; symlinks are not followed"));
    }
    return a;
  }

  // ResolveSource(), and refuses anything but a regular file.
  absl::StatusOr<storage::Attr> ResolveRegularFile(
      const std::vector<std::string>& comps) {
    VNAS_ASSIGN_OR_RETURN(storage::Attr a, ResolveSource(comps));
    if (a.type != storage::FileType::kRegular) {
      return Refusal(absl::StatusCode::kFailedPrecondition,
                     v1::REASON_NOT_A_REGULAR_FILE,
                     absl::StrCat("\"", JoinPath(comps),
                                  "\" is not a regular file"));
    }
    return a;
  }

  // The VM directory at `dir_comps`, analyzed now.
  absl::StatusOr<VmDirectory> LoadVmAt(
      const std::vector<std::string>& dir_comps) {
    VNAS_ASSIGN_OR_RETURN(storage::Attr dir, Resolve(store_, dir_comps));
    return LoadVmDirectory(store_, dir.ino, JoinPath(dir_comps), NowSec());
  }

  // Verdict for CloneFile of a file in directory `dir_comps`.
  v1::Verdict FileVerdict(const std::vector<std::string>& dir_comps,
                          const std::string& name, v1::Mechanism mech) {
    absl::StatusOr<VmDirectory> vm = LoadVmAt(dir_comps);
    if (vm.ok()) return DecideCloneFile(vm->report, name, mech);
    v1::Verdict v;
    if (LooksLikeDisk(name)) {
      v.set_offloaded(false);
      *v.mutable_refusal() = MakeReason(
          v1::REASON_MALFORMED,
          absl::StrCat("cannot analyze the directory of ", name, ": ",
                       vm.status().message(),
                       "; a disk file is not offloaded unanalyzed"));
      v.set_explanation(absl::StrCat("CloneFile of ", name,
                                     " is refused: ", v.refusal().text()));
      return v;
    }
    return OffloadedVerdict(
        mech, absl::StrCat(name,
                           " offloads as an extent-sharing clone; chain "
                           "analysis of its directory was not possible (",
                           vm.status().message(),
                           ") and is not needed for a non-disk file."));
  }

  // ---- CloneFile ----------------------------------------------------------

  absl::Status CloneFile(grpc::CallbackServerContext* ctx,
                         const v1::CloneFileRequest& req,
                         v1::CloneFileResponse* resp) {
    ReceiptDraft d = Draft(ctx, v1::RECEIPT_CLONE_FILE, req.client_id(),
                           req.source(), req.destination(), req.flags());
    d.r.set_files(1);
    absl::Status st = DoCloneFile(req, resp, d);
    resp->set_receipt_seq(Record(ctx, d, st));
    return st;
  }

  absl::Status DoCloneFile(const v1::CloneFileRequest& req,
                           v1::CloneFileResponse* resp, ReceiptDraft& d) {
    VNAS_RETURN_IF_ERROR(CheckClientIdAndFlags(req.client_id(), req.flags()));
    const bool lazy = req.flags() & v1::CLONE_FLAG_LAZY;
    const bool dry = req.flags() & v1::CLONE_FLAG_DRYRUN;
    const bool guarded = req.flags() & v1::CLONE_FLAG_GUARDED;
    VNAS_ASSIGN_OR_RETURN(auto src_comps, Parse(req.source()));
    VNAS_ASSIGN_OR_RETURN(auto dst_comps, Parse(req.destination()));
    if (src_comps.empty()) return BadArg("source is the export root, not a file");
    VNAS_ASSIGN_OR_RETURN(storage::Attr src, ResolveSource(src_comps));
    if (src.type != storage::FileType::kRegular) {
      return Refusal(absl::StatusCode::kFailedPrecondition,
                     v1::REASON_NOT_A_REGULAR_FILE,
                     absl::StrCat("source \"", JoinPath(src_comps),
                                  "\" is not a regular file (use CloneVm for "
                                  "a VM directory)"));
    }
    std::vector<std::string> src_dir(src_comps.begin(), src_comps.end() - 1);
    const v1::Mechanism mech =
        lazy ? v1::MECHANISM_SNAPSHOT_CLONE : v1::MECHANISM_EXTENT_CLONE;
    v1::Verdict verdict = FileVerdict(src_dir, src_comps.back(), mech);
    // DRYRUN answers "could this source be offloaded?": a refusal of the
    // source is the answer (OK, reason in the verdict) even when the
    // destination has problems too; those are appended to the explanation.
    // Only a source that would offload goes on to the destination checks,
    // which then fail exactly as the real request would.
    if (dry && !verdict.offloaded()) {
      absl::StatusOr<Destination> dst = ResolveDestination(store_, dst_comps);
      if (!dst.ok()) {
        absl::StrAppend(verdict.mutable_explanation(),
                        verdict.explanation().empty() ? "" : " ",
                        "Also, the destination cannot be used as it is: ",
                        dst.status().message());
      }
      *resp->mutable_verdict() = std::move(verdict);
      FromVerdict(d, resp->verdict());
      resp->set_bytes_shared(0);
      d.r.set_bytes_shared(0);
      return absl::OkStatus();
    }
    VNAS_ASSIGN_OR_RETURN(Destination dst, ResolveDestination(store_, dst_comps));
    if (dst.existing.has_value()) {
      if (dst.existing->ino == src.ino) {
        return BadArg("source and destination are the same file");
      }
      if (guarded) {
        return Refusal(absl::StatusCode::kAlreadyExists,
                       v1::REASON_DESTINATION_EXISTS,
                       absl::StrCat("destination \"", JoinPath(dst_comps),
                                    "\" exists and GUARDED was asked"));
      }
      if (dst.existing->type != storage::FileType::kRegular) {
        return Refusal(absl::StatusCode::kAlreadyExists,
                       v1::REASON_DESTINATION_EXISTS,
                       absl::StrCat("destination \"", JoinPath(dst_comps),
                                    "\" exists and is not a regular file"));
      }
    }
    *resp->mutable_verdict() = std::move(verdict);
    const v1::Verdict& v = resp->verdict();
    FromVerdict(d, v);
    if (dry) {
      resp->set_bytes_shared(v.offloaded() ? src.size : 0);
      d.r.set_bytes_shared(resp->bytes_shared());
      return absl::OkStatus();
    }
    if (!v.offloaded()) return RefusedStatus(v);

    storage::CreateResult made;
    if (lazy) {
      std::string snap_name =
          absl::StrCat("lazy-clone:", JoinPath(dst_comps)).substr(0, 255);
      VNAS_ASSIGN_OR_RETURN(storage::SnapshotInfo snap,
                            store_->CreateSnapshot(src.ino, snap_name));
      RecordSnapshotPath(store_, snap.id, JoinPath(src_comps)).IgnoreError();
      resp->set_snapshot_id(snap.id);
      d.r.set_snapshot_id(snap.id);
      if (dst.existing.has_value()) {
        VNAS_RETURN_IF_ERROR(store_->Remove(dst.dir.ino, dst.name).status());
      }
      VNAS_ASSIGN_OR_RETURN(made,
                            store_->CloneSnapshot(snap.id, dst.dir.ino, dst.name));
    } else {
      VNAS_ASSIGN_OR_RETURN(
          made, store_->CloneFile(src.ino, dst.dir.ino, dst.name, guarded));
    }
    *resp->mutable_destination() = ToFileInfo(JoinPath(dst_comps), made.attr);
    resp->set_bytes_shared(src.size);
    resp->set_bytes_copied(0);
    d.r.set_bytes_shared(src.size);
    return absl::OkStatus();
  }

  // ---- CloneVm ------------------------------------------------------------

  // Finishes `reactor` exactly once: now, or (wait = true) on the worker
  // when the operation has ended — no gRPC thread blocks meanwhile.
  void CloneVm(grpc::CallbackServerContext* ctx, const v1::CloneVmRequest& req,
               v1::CloneVmResponse* resp, grpc::ServerUnaryReactor* reactor) {
    auto d = std::make_shared<ReceiptDraft>(
        Draft(ctx, v1::RECEIPT_CLONE_VM, req.client_id(), req.source(),
              req.destination(), req.flags()));
    std::function<void(const v1::Operation&)> after_final;
    if (req.wait()) {
      after_final = [resp, reactor](const v1::Operation& op) {
        *resp->mutable_operation() = op;
        resp->set_receipt_seq(op.receipt_seq());
        reactor->Finish(grpc::Status::OK);
      };
    }
    bool submitted = false;
    absl::Status st = DoCloneVm(req, resp, d, std::move(after_final), &submitted);
    if (submitted) {
      // The operation writes the receipt when it ends.
      if (!req.wait()) reactor->Finish(grpc::Status::OK);
      return;
    }
    resp->set_receipt_seq(Record(ctx, *d, st));
    reactor->Finish(ToGrpcStatus(st));
  }

  absl::Status DoCloneVm(const v1::CloneVmRequest& req,
                         v1::CloneVmResponse* resp,
                         std::shared_ptr<ReceiptDraft> d,
                         std::function<void(const v1::Operation&)> after_final,
                         bool* submitted) {
    VNAS_RETURN_IF_ERROR(CheckClientIdAndFlags(req.client_id(), req.flags()));
    for (const std::string* s : {&req.new_base_name(), &req.display_name()}) {
      if (s->size() > kMaxNameBytes || s->find('\0') != std::string::npos ||
          s->find('/') != std::string::npos || s->find('"') != std::string::npos ||
          s->find('\n') != std::string::npos || *s == "." || *s == "..") {
        return BadArg("new_base_name / display_name must be at most 255 bytes "
                      "without '/', '\"', line breaks or NUL");
      }
    }
    const bool dry = req.flags() & v1::CLONE_FLAG_DRYRUN;
    VNAS_ASSIGN_OR_RETURN(auto src_comps, Parse(req.source()));
    VNAS_ASSIGN_OR_RETURN(auto dst_comps, Parse(req.destination()));
    if (src_comps.empty()) {
      return BadArg("source is the export root, not a VM directory");
    }
    VNAS_ASSIGN_OR_RETURN(storage::Attr src, ResolveSource(src_comps));
    if (src.type != storage::FileType::kDirectory) {
      return Refusal(absl::StatusCode::kFailedPrecondition,
                     v1::REASON_NOT_A_DIRECTORY,
                     absl::StrCat("source \"", JoinPath(src_comps),
                                  "\" is not a directory (use CloneFile for "
                                  "a single file)"));
    }
    if (dst_comps.size() > src_comps.size() &&
        std::equal(src_comps.begin(), src_comps.end(), dst_comps.begin())) {
      return BadArg("the destination is inside the source directory");
    }
    VNAS_ASSIGN_OR_RETURN(Destination dst, ResolveDestination(store_, dst_comps));
    if (dst.existing.has_value()) {
      return Refusal(absl::StatusCode::kAlreadyExists,
                     v1::REASON_DESTINATION_EXISTS,
                     absl::StrCat("destination \"", JoinPath(dst_comps),
                                  "\" exists; CloneVm makes a new directory"));
    }
    VNAS_ASSIGN_OR_RETURN(VmDirectory vm,
                          LoadVmDirectory(store_, src.ino,
                                          JoinPath(src_comps), NowSec()));
    *resp->mutable_verdict() = DecideCloneVm(vm.report);
    const v1::Verdict v = resp->verdict();
    FromVerdict(*d, v);
    if (!v.offloaded() && !dry) return RefusedStatus(v);

    absl::StatusOr<VmClonePlan> plan_or =
        PlanVmClone(store_, std::move(vm), src_comps.back(), dst.dir.ino,
                    dst.name, req.new_base_name(), req.display_name());
    if (!plan_or.ok()) {
      absl::Status ps = plan_or.status();
      if (ps.code() == absl::StatusCode::kInvalidArgument) {
        ps = Refusal(absl::StatusCode::kFailedPrecondition, v1::REASON_MALFORMED,
                     absl::StrCat("cannot rewrite the VM's files: ",
                                  ps.message()));
      }
      if (dry) {
        // Keep a chain refusal; otherwise the plan's failure is the reason.
        if (v.offloaded()) {
          v1::Verdict* dv = resp->mutable_verdict();
          dv->set_offloaded(false);
          dv->set_mechanism(v1::MECHANISM_NONE);
          *dv->mutable_refusal() = ReasonFromStatus(ps);
          dv->set_explanation(absl::StrCat("CloneVm is refused: ", ps.message()));
          FromVerdict(*d, *dv);
        }
        return absl::OkStatus();
      }
      return ps;
    }
    auto plan = std::make_shared<VmClonePlan>(std::move(*plan_or));
    for (const auto& f : plan->files) *resp->add_plan() = f;
    d->r.set_files(0);
    for (const auto& f : plan->files) d->r.set_files(d->r.files() + (f.action() != "skip"));
    if (dry) {
      d->r.set_bytes_shared(v.offloaded() ? plan->bytes_total : 0);
      return absl::OkStatus();
    }

    v1::Operation initial;
    initial.set_kind("CloneVm");
    initial.set_source(JoinPath(src_comps));
    initial.set_destination(JoinPath(dst_comps));
    initial.set_client_id(req.client_id());
    auto result = std::make_shared<VmCloneResult>();
    auto hook = opts_.TEST_before_vm_clone_file;
    OperationRegistry::Job job = [this, plan, result, hook](OpContext& ctx) {
      absl::StatusOr<VmCloneResult> r = ExecuteVmClone(store_, *plan, &ctx, hook);
      if (!r.ok()) return r.status();
      *result = *r;
      return absl::OkStatus();
    };
    OperationRegistry::OnDone on_done = [this, d, result](
                                            const v1::Operation& op) {
      d->r.set_operation_id(op.id());
      absl::Status st = absl::OkStatus();
      if (op.state() != v1::OPERATION_SUCCEEDED) {
        st = Refusal(op.state() == v1::OPERATION_CANCELLED
                         ? absl::StatusCode::kCancelled
                         : absl::StatusCode::kInternal,
                     op.error().code(), op.error().text());
      } else {
        d->r.set_bytes_shared(result->bytes_shared);
        d->r.set_bytes_copied(result->bytes_copied);
        d->r.set_files(result->files);
      }
      return Record(nullptr, *d, st);
    };
    // With wait = true the reply is filled by after_final on the worker,
    // possibly before Submit returns: do not touch it here.
    const bool wait = static_cast<bool>(after_final);
    v1::Operation pending = ops_.Submit(std::move(initial), std::move(job),
                                        std::move(on_done),
                                        std::move(after_final));
    if (!wait) *resp->mutable_operation() = std::move(pending);
    *submitted = true;
    return absl::OkStatus();
  }

  // ---- Snapshots ------------------------------------------------------------

  // Analysis of the VM directory of `comps` (a directory, or a file in one):
  // the verdict for a snapshot / restore.
  v1::Verdict SnapshotVerdict(const std::vector<std::string>& comps,
                              bool is_dir, bool restore) {
    std::vector<std::string> dir = comps;
    std::string file;
    if (!is_dir && !dir.empty()) {
      file = dir.back();
      dir.pop_back();
    }
    absl::StatusOr<VmDirectory> vm = LoadVmAt(dir);
    if (vm.ok()) return DecideSnapshot(vm->report, file, restore);
    return OffloadedVerdict(
        restore ? v1::MECHANISM_RESTORE : v1::MECHANISM_SNAPSHOT,
        absl::StrCat("done in the store; chain analysis was not possible: ",
                     vm.status().message()));
  }

  absl::StatusOr<v1::SnapshotInfo> SnapToProto(
      const storage::SnapshotInfo& s, const std::map<uint64_t, std::string>& paths) {
    v1::SnapshotInfo p;
    p.set_id(s.id);
    p.set_name(s.name);
    auto it = paths.find(s.id);
    if (it != paths.end()) p.set_source_path(it->second);
    p.set_source_fileid(s.source);
    p.set_created_unix_ns(ToUnixNs(s.created));
    *p.mutable_space() = ToProto(s.space);
    absl::StatusOr<storage::Attr> root = store_->GetAttr(s.root);
    p.set_directory(root.ok() && root->type == storage::FileType::kDirectory);
    return p;
  }

  absl::Status CreateSnapshot(grpc::CallbackServerContext* ctx,
                              const v1::CreateSnapshotRequest& req,
                              v1::CreateSnapshotResponse* resp) {
    ReceiptDraft d = Draft(ctx, v1::RECEIPT_CREATE_SNAPSHOT, req.client_id(),
                           req.path(), "", 0);
    absl::Status st = [&]() -> absl::Status {
      VNAS_RETURN_IF_ERROR(CheckClientId(req.client_id()));
      if (req.name().empty() || req.name().size() > kMaxNameBytes ||
          req.name().find('\0') != std::string::npos) {
        return BadArg("snapshot name must be 1..255 bytes without NUL");
      }
      VNAS_ASSIGN_OR_RETURN(auto comps, Parse(req.path()));
      VNAS_ASSIGN_OR_RETURN(storage::Attr a, ResolveSource(comps));
      bool is_dir = a.type == storage::FileType::kDirectory;
      *resp->mutable_verdict() = SnapshotVerdict(comps, is_dir, false);
      FromVerdict(d, resp->verdict());
      if (!resp->verdict().offloaded()) return RefusedStatus(resp->verdict());
      VNAS_ASSIGN_OR_RETURN(storage::SnapshotInfo s,
                            store_->CreateSnapshot(a.ino, req.name()));
      RecordSnapshotPath(store_, s.id, JoinPath(comps)).IgnoreError();
      d.r.set_snapshot_id(s.id);
      d.r.set_destination(absl::StrCat("snapshot:", s.id));
      VNAS_ASSIGN_OR_RETURN(storage::SpaceStats sp, store_->Space(a.ino));
      d.r.set_bytes_shared(sp.allocated);
      VNAS_ASSIGN_OR_RETURN(*resp->mutable_snapshot(),
                            SnapToProto(s, {{s.id, JoinPath(comps)}}));
      return absl::OkStatus();
    }();
    resp->set_receipt_seq(Record(ctx, d, st));
    return st;
  }

  absl::Status ListSnapshots(const v1::ListSnapshotsRequest& req,
                             v1::ListSnapshotsResponse* resp) {
    storage::InodeId ino = 0;
    if (!req.path().empty()) {
      VNAS_ASSIGN_OR_RETURN(auto comps, Parse(req.path()));
      VNAS_ASSIGN_OR_RETURN(storage::Attr a, ResolveSource(comps));
      ino = a.ino;
    }
    VNAS_ASSIGN_OR_RETURN(auto snaps, store_->ListSnapshots(ino));
    VNAS_ASSIGN_OR_RETURN(auto paths, ReadSnapshotPaths(store_));
    std::sort(snaps.begin(), snaps.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    for (const auto& s : snaps) {
      VNAS_ASSIGN_OR_RETURN(*resp->add_snapshots(), SnapToProto(s, paths));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<storage::SnapshotInfo> FindSnapshot(uint64_t id) {
    if (id == 0) return BadArg("snapshot id 0 does not exist (ids start at 1)");
    VNAS_ASSIGN_OR_RETURN(auto snaps, store_->ListSnapshots(0));
    for (const auto& s : snaps) {
      if (s.id == id) return s;
    }
    return Refusal(absl::StatusCode::kNotFound, v1::REASON_NOT_FOUND,
                   absl::StrCat("no snapshot ", id));
  }

  absl::Status DeleteSnapshot(grpc::CallbackServerContext* ctx,
                              const v1::DeleteSnapshotRequest& req,
                              v1::DeleteSnapshotResponse* resp) {
    ReceiptDraft d = Draft(ctx, v1::RECEIPT_DELETE_SNAPSHOT, req.client_id(),
                           absl::StrCat("snapshot:", req.id()), "", 0);
    d.r.set_snapshot_id(req.id());
    absl::Status st = [&]() -> absl::Status {
      VNAS_RETURN_IF_ERROR(CheckClientId(req.client_id()));
      VNAS_RETURN_IF_ERROR(FindSnapshot(req.id()).status());
      VNAS_RETURN_IF_ERROR(store_->DeleteSnapshot(req.id()));
      d.r.set_offloaded(true);
      d.r.set_mechanism(v1::MECHANISM_DELETE);
      d.r.set_reason_text("snapshot deleted in the store");
      return absl::OkStatus();
    }();
    resp->set_receipt_seq(Record(ctx, d, st));
    return st;
  }

  absl::Status RestoreSnapshot(grpc::CallbackServerContext* ctx,
                               const v1::RestoreSnapshotRequest& req,
                               v1::RestoreSnapshotResponse* resp) {
    ReceiptDraft d = Draft(ctx, v1::RECEIPT_RESTORE_SNAPSHOT, req.client_id(),
                           absl::StrCat("snapshot:", req.id()), "", 0);
    d.r.set_snapshot_id(req.id());
    absl::Status st = [&]() -> absl::Status {
      VNAS_RETURN_IF_ERROR(CheckClientId(req.client_id()));
      VNAS_ASSIGN_OR_RETURN(storage::SnapshotInfo s, FindSnapshot(req.id()));
      VNAS_ASSIGN_OR_RETURN(auto paths, ReadSnapshotPaths(store_));
      auto it = paths.find(s.id);
      if (it != paths.end()) {
        d.r.set_destination(it->second);
        absl::StatusOr<std::vector<std::string>> comps = Parse(it->second);
        absl::StatusOr<storage::Attr> live =
            comps.ok() ? Resolve(store_, *comps)
                       : absl::StatusOr<storage::Attr>(comps.status());
        if (live.ok() && live->ino == s.source) {
          *resp->mutable_verdict() = SnapshotVerdict(
              *comps, live->type == storage::FileType::kDirectory, true);
        }
      }
      if (!resp->has_verdict()) {
        *resp->mutable_verdict() = OffloadedVerdict(
            v1::MECHANISM_RESTORE,
            "restored in the store; the source's path is not known, so no "
            "chain analysis was done");
      }
      FromVerdict(d, resp->verdict());
      if (!resp->verdict().offloaded()) return RefusedStatus(resp->verdict());
      VNAS_RETURN_IF_ERROR(store_->RestoreSnapshot(s.id));
      d.r.set_bytes_shared(s.space.allocated);
      return absl::OkStatus();
    }();
    resp->set_receipt_seq(Record(ctx, d, st));
    return st;
  }

  absl::Status CloneSnapshot(grpc::CallbackServerContext* ctx,
                             const v1::CloneSnapshotRequest& req,
                             v1::CloneSnapshotResponse* resp) {
    ReceiptDraft d = Draft(ctx, v1::RECEIPT_CLONE_SNAPSHOT, req.client_id(),
                           absl::StrCat("snapshot:", req.id()),
                           req.destination(), 0);
    d.r.set_snapshot_id(req.id());
    absl::Status st = [&]() -> absl::Status {
      VNAS_RETURN_IF_ERROR(CheckClientId(req.client_id()));
      VNAS_ASSIGN_OR_RETURN(auto dst_comps, Parse(req.destination()));
      VNAS_ASSIGN_OR_RETURN(storage::SnapshotInfo s, FindSnapshot(req.id()));
      VNAS_ASSIGN_OR_RETURN(Destination dst,
                            ResolveDestination(store_, dst_comps));
      if (dst.existing.has_value()) {
        return Refusal(absl::StatusCode::kAlreadyExists,
                       v1::REASON_DESTINATION_EXISTS,
                       absl::StrCat("destination \"", JoinPath(dst_comps),
                                    "\" exists"));
      }
      VNAS_ASSIGN_OR_RETURN(storage::CreateResult made,
                            store_->CloneSnapshot(s.id, dst.dir.ino, dst.name));
      *resp->mutable_verdict() = OffloadedVerdict(
          v1::MECHANISM_SNAPSHOT_CLONE,
          absl::StrCat("linked clone of snapshot ", s.id, " (\"", s.name,
                       "\"): extents shared, no data copied"));
      FromVerdict(d, resp->verdict());
      *resp->mutable_destination() = ToFileInfo(JoinPath(dst_comps), made.attr);
      d.r.set_bytes_shared(s.space.logical);
      return absl::OkStatus();
    }();
    resp->set_receipt_seq(Record(ctx, d, st));
    return st;
  }

  // ---- Space ----------------------------------------------------------------

  absl::Status ReserveSpace(const v1::ReserveSpaceRequest& req,
                            v1::ReserveSpaceResponse* resp) {
    VNAS_RETURN_IF_ERROR(CheckClientId(req.client_id()));
    if (req.size() > kMaxReserveBytes) {
      return BadArg(absl::StrCat("size ", req.size(), " is above the maximum ",
                                 kMaxReserveBytes, " bytes"));
    }
    VNAS_ASSIGN_OR_RETURN(auto comps, Parse(req.path()));
    VNAS_ASSIGN_OR_RETURN(storage::Attr a, ResolveRegularFile(comps));
    VNAS_ASSIGN_OR_RETURN(storage::Attr after, store_->Reserve(a.ino, req.size()));
    *resp->mutable_file() = ToFileInfo(JoinPath(comps), after);
    VNAS_ASSIGN_OR_RETURN(storage::SpaceStats sp, store_->Space(a.ino));
    *resp->mutable_space() = ToProto(sp);
    return absl::OkStatus();
  }

  absl::Status ExtendedStats(const v1::ExtendedStatsRequest& req,
                             v1::ExtendedStatsResponse* resp) {
    VNAS_ASSIGN_OR_RETURN(auto comps, Parse(req.path()));
    VNAS_ASSIGN_OR_RETURN(storage::Attr a, ResolveSource(comps));
    VNAS_ASSIGN_OR_RETURN(storage::SpaceStats sp, store_->Space(a.ino));
    *resp->mutable_file() = ToFileInfo(JoinPath(comps), a);
    resp->set_total(sp.logical);
    resp->set_allocated(sp.allocated);
    resp->set_unique(sp.unique);
    *resp->mutable_space() = ToProto(sp);
    return absl::OkStatus();
  }

  absl::Status ListVms(v1::ListVmsResponse* resp) {
    VNAS_ASSIGN_OR_RETURN(auto entries,
                          ReadDirEntries(store_, storage::kRootInode, true));
    VNAS_ASSIGN_OR_RETURN(auto snaps, store_->ListSnapshots(0));
    VNAS_ASSIGN_OR_RETURN(auto paths, ReadSnapshotPaths(store_));
    std::map<std::string, uint32_t> snaps_per_dir;
    std::map<storage::InodeId, std::string> dir_of_ino;
    for (const auto& e : entries) {
      if (e.attr.type == storage::FileType::kDirectory) dir_of_ino[e.ino] = e.name;
    }
    for (const auto& s : snaps) {
      auto it = paths.find(s.id);
      if (it != paths.end()) {
        auto comps = Parse(it->second);
        if (comps.ok() && !comps->empty()) {
          ++snaps_per_dir[comps->front()];
          continue;
        }
      }
      auto d = dir_of_ino.find(s.source);
      if (d != dir_of_ino.end()) ++snaps_per_dir[d->second];
    }
    v1::SpaceStats root_files, total;
    for (const auto& e : entries) {
      if (e.attr.type == storage::FileType::kSymlink) continue;
      VNAS_ASSIGN_OR_RETURN(storage::SpaceStats sp, store_->Space(e.ino));
      v1::SpaceStats p = ToProto(sp);
      if (e.attr.type == storage::FileType::kDirectory) {
        v1::VmSpace* vm = resp->add_vms();
        vm->set_name(e.name);
        *vm->mutable_space() = p;
        vm->set_snapshots(snaps_per_dir[e.name]);
        absl::StatusOr<std::vector<storage::DirEntry>> inner =
            ReadDirEntries(store_, e.ino, false);
        if (inner.ok()) {
          for (const auto& i : *inner) {
            if (absl::EndsWithIgnoreCase(i.name, ".vmx")) vm->set_has_vmx(true);
          }
        }
      } else {
        AddTo(&root_files, p);
      }
      AddTo(&total, p);
    }
    std::sort(resp->mutable_vms()->begin(), resp->mutable_vms()->end(),
              [](const v1::VmSpace& a, const v1::VmSpace& b) {
                return a.name() < b.name();
              });
    *resp->mutable_root_files() = root_files;
    *resp->mutable_total() = total;
    VNAS_ASSIGN_OR_RETURN(storage::StoreSpace ss, store_->GetStoreSpace());
    *resp->mutable_store() = ToProto(ss);
    uint64_t accounted = total.unique() + total.snapshot_only();
    resp->set_shared_counted_once(ss.used > accounted ? ss.used - accounted : 0);
    return absl::OkStatus();
  }

  // ---- Chain ----------------------------------------------------------------

  absl::Status GetChain(const v1::GetChainRequest& req,
                        v1::GetChainResponse* resp) {
    VNAS_ASSIGN_OR_RETURN(auto comps, Parse(req.path()));
    VNAS_ASSIGN_OR_RETURN(storage::Attr a, ResolveSource(comps));
    std::vector<std::string> dir = comps;
    std::string file;
    if (a.type != storage::FileType::kDirectory) {
      file = dir.back();
      dir.pop_back();
    }
    VNAS_ASSIGN_OR_RETURN(storage::Attr d, Resolve(store_, dir));
    resp->set_analyzed_unix_ns(NowUnixNs());
    VNAS_ASSIGN_OR_RETURN(VmDirectory vm, LoadVmDirectory(store_, d.ino,
                                                          JoinPath(dir), NowSec()));
    resp->set_directory(JoinPath(dir));
    FillChainResponse(vm.report, resp);
    *resp->mutable_clone_vm() = DecideCloneVm(vm.report);
    if (!file.empty()) {
      *resp->mutable_focus() =
          DecideCloneFile(vm.report, file, v1::MECHANISM_EXTENT_CLONE);
    }
    return absl::OkStatus();
  }

  // ---- Receipts ---------------------------------------------------------------

  absl::Status ListReceipts(const v1::ListReceiptsRequest& req,
                            v1::ListReceiptsResponse* resp) {
    if (req.last() > kMaxReceipts) {
      return BadArg(absl::StrCat("last = ", req.last(), "; at most ",
                                 kMaxReceipts));
    }
    uint32_t n = req.last() == 0 ? kDefaultReceipts : req.last();
    VNAS_ASSIGN_OR_RETURN(auto rs, receipts_.Last(n, req.after_seq()));
    for (auto& r : rs) *resp->add_receipts() = std::move(r);
    return absl::OkStatus();
  }

  // ---- Admin ------------------------------------------------------------------

  absl::Status GetStatus(v1::GetStatusResponse* resp) {
    resp->set_version(opts_.version);
    int64_t now = NowUnixNs();
    resp->set_started_unix_ns(opts_.started_unix_ns);
    resp->set_uptime_sec((now - opts_.started_unix_ns) / 1000000000);
    resp->add_exports(opts_.export_path);
    VNAS_ASSIGN_OR_RETURN(storage::StoreSpace ss, store_->GetStoreSpace());
    *resp->mutable_store() = ToProto(ss);
    resp->set_running_operations(ops_.running());
    resp->set_receipts_written(receipts_.appended());
    resp->set_store_id(store_->store_id());
    resp->set_control_listen(opts_.listen);
    if (opts_.data_cache) {
      if (std::optional<storage::Env::DataCacheStatus> dc = opts_.data_cache()) {
        v1::DataCache* p = resp->mutable_data_cache();
        p->set_capacity_bytes(dc->capacity_bytes);
        p->set_cached_bytes(dc->cached_bytes);
        p->set_hits(dc->hits);
        p->set_filled(dc->filled);
        p->set_evicted(dc->evicted);
        p->set_resident_bytes(dc->resident_bytes);
        p->set_filled_in_place(dc->filled_in_place);
      }
    }
    if (opts_.nfs_status) {
      NfsStatus ns = opts_.nfs_status();
      resp->set_nfs_stats_available(true);
      for (const auto& c : ns.counters) {
        v1::ProcedureCounter* p = resp->add_counters();
        p->set_program(c.program);
        p->set_procedure(c.procedure);
        p->set_calls(c.calls);
        p->set_errors(c.errors);
        p->set_total_latency_us(c.total_latency_us);
        p->set_bytes(c.bytes);
        p->set_max_latency_us(c.max_latency_us);
      }
      resp->set_nfs_connected_clients(ns.connected_clients);
      resp->set_nfs_total_connections(ns.total_connections);
      resp->set_nfs_bytes_read(ns.bytes_read);
      resp->set_nfs_bytes_written(ns.bytes_written);
      resp->set_nfs_drc_hits(ns.drc_hits);
      for (const auto& c : ns.clients) {
        v1::ClientInfo* p = resp->add_clients();
        p->set_address(c.address);
        p->set_connected_unix_ns(c.connected_unix_ns);
        p->set_requests(c.requests);
        p->set_protocol("nfs");
      }
    }
    return absl::OkStatus();
  }

  absl::Status Fsck(v1::FsckResponse* resp) {
    absl::Time start = absl::Now();
    VNAS_ASSIGN_OR_RETURN(storage::FsckReport r, store_->Fsck());
    resp->set_clean(r.clean);
    resp->set_inodes(r.inodes);
    resp->set_extents(r.extents);
    resp->set_pages(r.pages);
    for (const auto& p : r.problems) resp->add_problems(p);
    resp->set_duration_us(absl::ToInt64Microseconds(absl::Now() - start));
    return absl::OkStatus();
  }

  absl::Status GetAlignment(const v1::GetAlignmentRequest& req,
                            v1::GetAlignmentResponse* resp) {
    VNAS_ASSIGN_OR_RETURN(auto comps, Parse(req.path()));
    VNAS_ASSIGN_OR_RETURN(storage::Attr a, ResolveSource(comps));
    storage::AlignmentStats total;
    uint64_t files = 0;
    std::vector<v1::FileAlignment> worst;
    // Depth-first over the tree (a file is a tree of one).
    std::vector<std::pair<storage::Attr, std::string>> todo = {
        {a, JoinPath(comps)}};
    while (!todo.empty()) {
      auto [attr, path] = std::move(todo.back());
      todo.pop_back();
      if (attr.type == storage::FileType::kDirectory) {
        VNAS_ASSIGN_OR_RETURN(auto entries,
                              ReadDirEntries(store_, attr.ino, true));
        for (storage::DirEntry& e : entries) {
          todo.emplace_back(e.attr,
                            path.empty() ? e.name : absl::StrCat(path, "/", e.name));
        }
        continue;
      }
      if (attr.type != storage::FileType::kRegular) continue;
      VNAS_ASSIGN_OR_RETURN(storage::AlignmentStats f,
                            store_->Alignment(attr.ino));
      ++files;
      total.writes += f.writes;
      total.offset_aligned_4k += f.offset_aligned_4k;
      total.length_aligned_4k += f.length_aligned_4k;
      total.offset_aligned_segment += f.offset_aligned_segment;
      total.length_aligned_segment += f.length_aligned_segment;
      total.partial_segment_writes += f.partial_segment_writes;
      total.cow_segments += f.cow_segments;
      v1::FileAlignment fa;
      fa.set_path(path);
      fa.set_writes(f.writes);
      fa.set_offset_misaligned_4k(f.writes - f.offset_aligned_4k);
      fa.set_length_misaligned_4k(f.writes - f.length_aligned_4k);
      fa.set_partial_segment_writes(f.partial_segment_writes);
      if (fa.partial_segment_writes() + fa.offset_misaligned_4k() > 0) {
        worst.push_back(std::move(fa));
      }
    }
    resp->set_writes(total.writes);
    resp->set_offset_aligned_4k(total.offset_aligned_4k);
    resp->set_length_aligned_4k(total.length_aligned_4k);
    resp->set_offset_aligned_segment(total.offset_aligned_segment);
    resp->set_length_aligned_segment(total.length_aligned_segment);
    resp->set_partial_segment_writes(total.partial_segment_writes);
    resp->set_cow_segments(total.cow_segments);
    resp->set_segment_size(store_->segment_size());
    resp->set_files(files);
    if (a.type == storage::FileType::kDirectory) {
      auto key = [](const v1::FileAlignment& f) {
        return std::make_tuple(f.partial_segment_writes(),
                               f.offset_misaligned_4k(), f.path());
      };
      std::sort(worst.begin(), worst.end(),
                [&](const auto& x, const auto& y) { return key(x) > key(y); });
      if (worst.size() > kMaxWorstAlignment) worst.resize(kMaxWorstAlignment);
      for (auto& f : worst) *resp->add_worst() = std::move(f);
    }
    return absl::OkStatus();
  }

  absl::Status ListMembers(v1::ListMembersResponse* resp) {
    for (const auto& m : store_->Members()) {
      v1::MemberInfo* p = resp->add_members();
      p->set_index(m.index);
      p->set_path(m.path);
      p->set_segments_used(m.segments_used);
      p->set_bytes_read(m.bytes_read);
      p->set_bytes_written(m.bytes_written);
      p->set_reads(m.reads);
      p->set_writes(m.writes);
    }
    resp->set_segment_size(store_->segment_size());
    return absl::OkStatus();
  }

  void Capabilities(v1::Capabilities* resp) {
    auto add = [&](v1::Primitive p, const char* note) {
      v1::PrimitiveSupport* s = resp->add_primitives();
      s->set_primitive(p);
      s->set_offloaded(true);
      s->set_note(note);
    };
    add(v1::PRIMITIVE_FULL_FILE_CLONE,
        "CloneFile: extent-sharing clone in the store, no data copied");
    add(v1::PRIMITIVE_FAST_FILE_CLONE,
        "CloneFile LAZY: snapshot of the source + linked clone");
    add(v1::PRIMITIVE_RESERVE_SPACE, "ReserveSpace: store reservation");
    add(v1::PRIMITIVE_EXTENDED_STATS,
        "ExtendedStats: exact unique bytes from extent refcounts");
    add(v1::PRIMITIVE_SNAPSHOT, "snapshots of files and VM directories");
    add(v1::PRIMITIVE_CLONE_VM,
        "CloneVm: data files cloned, descriptors/.vmx/.vmsd/.vmxf rewritten");
    add(v1::PRIMITIVE_DRY_RUN, "DRYRUN: verdict and reasons, nothing changed");
    add(v1::PRIMITIVE_CHAIN_ANALYSIS,
        "VMDK/qcow2/VHDX chains: VSS siblings, running VM, broken chains");
    resp->set_server_version(opts_.version);
    resp->set_export_path(opts_.export_path);
    resp->set_segment_size(store_->segment_size());
    resp->set_max_file_size(kMaxReserveBytes);
    resp->set_max_path_bytes(kMaxPathBytes);
    resp->set_api_version(1);
  }
};

// ===========================================================================
// Service: one line per rpc
// ===========================================================================

ControlService::ControlService(storage::ExtentStore* store,
                               ControlServiceOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(options))) {}

ControlService::~ControlService() = default;

namespace {
grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx,
                               const absl::Status& st) {
  grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
  r->Finish(ToGrpcStatus(st));
  return r;
}

// Runs `call` on `pool` and finishes the call with its status there.
grpc::ServerUnaryReactor* OnPool(BlockingPool* pool,
                                 grpc::CallbackServerContext* ctx,
                                 std::function<absl::Status()> call) {
  grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
  pool->Schedule([r, call = std::move(call)] { r->Finish(ToGrpcStatus(call())); });
  return r;
}
}  // namespace

grpc::ServerUnaryReactor* ControlService::GetCapabilities(
    grpc::CallbackServerContext* ctx, const v1::GetCapabilitiesRequest*,
    v1::Capabilities* resp) {
  impl_->Capabilities(resp);
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* ControlService::CloneFile(
    grpc::CallbackServerContext* ctx, const v1::CloneFileRequest* req,
    v1::CloneFileResponse* resp) {
  return OnPool(&blocking_, ctx,
                [=] { return impl_->CloneFile(ctx, *req, resp); });
}

grpc::ServerUnaryReactor* ControlService::CloneVm(
    grpc::CallbackServerContext* ctx, const v1::CloneVmRequest* req,
    v1::CloneVmResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  impl_->CloneVm(ctx, *req, resp, reactor);
  return reactor;
}

void ControlService::CancelAll() { impl_->ops_.CancelAll(); }

namespace {
absl::Status CheckOpId(const std::string& id) {
  if (id.empty() || id.size() > 64) {
    return BadArg("operation id must be 1..64 bytes, e.g. \"op-1\"");
  }
  return absl::OkStatus();
}
}  // namespace

grpc::ServerUnaryReactor* ControlService::GetOperation(
    grpc::CallbackServerContext* ctx, const v1::GetOperationRequest* req,
    v1::Operation* resp) {
  if (absl::Status bad = CheckOpId(req->id()); !bad.ok()) return Done(ctx, bad);
  absl::StatusOr<v1::Operation> op = impl_->ops_.Get(req->id());
  if (op.ok()) *resp = std::move(*op);
  return Done(ctx, op.status());
}

grpc::ServerUnaryReactor* ControlService::ListOperations(
    grpc::CallbackServerContext* ctx, const v1::ListOperationsRequest* req,
    v1::ListOperationsResponse* resp) {
  for (auto& op : impl_->ops_.List(req->include_finished())) {
    *resp->add_operations() = std::move(op);
  }
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* ControlService::CancelOperation(
    grpc::CallbackServerContext* ctx, const v1::CancelOperationRequest* req,
    v1::Operation* resp) {
  if (absl::Status bad = CheckOpId(req->id()); !bad.ok()) return Done(ctx, bad);
  absl::StatusOr<v1::Operation> op = impl_->ops_.Cancel(req->id());
  if (op.ok()) *resp = std::move(*op);
  return Done(ctx, op.status());
}

grpc::ServerWriteReactor<v1::Operation>* ControlService::WatchOperation(
    grpc::CallbackServerContext*, const v1::WatchOperationRequest* req) {
  return new OperationWatcher(&impl_->ops_, req->id());
}

grpc::ServerUnaryReactor* ControlService::CreateSnapshot(
    grpc::CallbackServerContext* ctx, const v1::CreateSnapshotRequest* req,
    v1::CreateSnapshotResponse* resp) {
  return OnPool(&blocking_, ctx,
                [=] { return impl_->CreateSnapshot(ctx, *req, resp); });
}

grpc::ServerUnaryReactor* ControlService::ListSnapshots(
    grpc::CallbackServerContext* ctx, const v1::ListSnapshotsRequest* req,
    v1::ListSnapshotsResponse* resp) {
  return OnPool(&blocking_, ctx,
                [=] { return impl_->ListSnapshots(*req, resp); });
}

grpc::ServerUnaryReactor* ControlService::DeleteSnapshot(
    grpc::CallbackServerContext* ctx, const v1::DeleteSnapshotRequest* req,
    v1::DeleteSnapshotResponse* resp) {
  return OnPool(&blocking_, ctx,
                [=] { return impl_->DeleteSnapshot(ctx, *req, resp); });
}

grpc::ServerUnaryReactor* ControlService::RestoreSnapshot(
    grpc::CallbackServerContext* ctx, const v1::RestoreSnapshotRequest* req,
    v1::RestoreSnapshotResponse* resp) {
  return OnPool(&blocking_, ctx,
                [=] { return impl_->RestoreSnapshot(ctx, *req, resp); });
}

grpc::ServerUnaryReactor* ControlService::CloneSnapshot(
    grpc::CallbackServerContext* ctx, const v1::CloneSnapshotRequest* req,
    v1::CloneSnapshotResponse* resp) {
  return OnPool(&blocking_, ctx,
                [=] { return impl_->CloneSnapshot(ctx, *req, resp); });
}

grpc::ServerUnaryReactor* ControlService::ReserveSpace(
    grpc::CallbackServerContext* ctx, const v1::ReserveSpaceRequest* req,
    v1::ReserveSpaceResponse* resp) {
  return OnPool(&blocking_, ctx,
                [=] { return impl_->ReserveSpace(*req, resp); });
}

grpc::ServerUnaryReactor* ControlService::ExtendedStats(
    grpc::CallbackServerContext* ctx, const v1::ExtendedStatsRequest* req,
    v1::ExtendedStatsResponse* resp) {
  return OnPool(&blocking_, ctx,
                [=] { return impl_->ExtendedStats(*req, resp); });
}

grpc::ServerUnaryReactor* ControlService::ListVms(
    grpc::CallbackServerContext* ctx, const v1::ListVmsRequest*,
    v1::ListVmsResponse* resp) {
  return OnPool(&blocking_, ctx,
                [=] { return impl_->ListVms(resp); });
}

grpc::ServerUnaryReactor* ControlService::GetChain(
    grpc::CallbackServerContext* ctx, const v1::GetChainRequest* req,
    v1::GetChainResponse* resp) {
  return OnPool(&blocking_, ctx,
                [=] { return impl_->GetChain(*req, resp); });
}

grpc::ServerUnaryReactor* ControlService::ListReceipts(
    grpc::CallbackServerContext* ctx, const v1::ListReceiptsRequest* req,
    v1::ListReceiptsResponse* resp) {
  return OnPool(&blocking_, ctx,
                [=] { return impl_->ListReceipts(*req, resp); });
}

grpc::ServerWriteReactor<v1::Receipt>* ControlService::WatchReceipts(
    grpc::CallbackServerContext*, const v1::WatchReceiptsRequest* req) {
  if (req->has_after_seq()) {
    return new ReceiptWatcher(&impl_->receipts_, req->after_seq());
  }
  return new ReceiptWatcher(&impl_->receipts_,
                            std::min<uint32_t>(req->tail(), kMaxReceipts));
}

grpc::ServerUnaryReactor* ControlService::GetStatus(
    grpc::CallbackServerContext* ctx, const v1::GetStatusRequest*,
    v1::GetStatusResponse* resp) {
  return OnPool(&blocking_, ctx,
                [=] { return impl_->GetStatus(resp); });
}

grpc::ServerUnaryReactor* ControlService::Fsck(grpc::CallbackServerContext* ctx,
                                               const v1::FsckRequest*,
                                               v1::FsckResponse* resp) {
  return OnPool(&blocking_, ctx,
                [=] { return impl_->Fsck(resp); });
}

grpc::ServerUnaryReactor* ControlService::GetAlignment(
    grpc::CallbackServerContext* ctx, const v1::GetAlignmentRequest* req,
    v1::GetAlignmentResponse* resp) {
  return OnPool(&blocking_, ctx,
                [=] { return impl_->GetAlignment(*req, resp); });
}

grpc::ServerUnaryReactor* ControlService::ListMembers(
    grpc::CallbackServerContext* ctx, const v1::ListMembersRequest*,
    v1::ListMembersResponse* resp) {
  return OnPool(&blocking_, ctx,
                [=] { return impl_->ListMembers(resp); });
}

}  // namespace vnas::control
