#include "server/control/operations.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/control/reasons.h"

namespace vnas::control {

namespace {

// NotFound for an id the registry does not hold (never, or no longer).
absl::Status UnknownOperation(const std::string& id) {
  return Refusal(absl::StatusCode::kNotFound, v1::REASON_NOT_FOUND,
                 absl::StrCat("no operation \"", id, "\""));
}

}  // namespace

int64_t NowUnixNs() { return absl::ToUnixNanos(absl::Now()); }

void OpContext::SetTotals(uint64_t bytes, uint32_t files) {
  reg_->Update(id_, [&](v1::Operation& op) {
    op.set_bytes_total(bytes);
    op.set_files_total(files);
  });
}

void OpContext::Progress(uint64_t bytes_done, uint32_t files_done,
                         const std::string& current_file) {
  reg_->Update(id_, [&](v1::Operation& op) {
    op.set_bytes_done(bytes_done);
    op.set_files_done(files_done);
    op.set_current_file(current_file);
  });
}

bool OpContext::cancelled() const {
  absl::MutexLock l(&reg_->mu_);
  auto it = reg_->ops_.find(id_);
  return it == reg_->ops_.end() || it->second.op.cancel_requested();
}

OperationRegistry::OperationRegistry() {
  worker_ = std::thread([this] { WorkerLoop(); });
}

OperationRegistry::~OperationRegistry() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    for (auto& [id, e] : ops_) {
      if (!IsFinal(e.op.state())) e.op.set_cancel_requested(true);
    }
  }
  worker_.join();
}

void OperationRegistry::CancelAll() {
  {
    absl::MutexLock l(&mu_);
    for (auto& [id, e] : ops_) {
      if (!IsFinal(e.op.state()) && !e.op.cancel_requested()) {
        e.op.set_cancel_requested(true);
        ++e.version;
      }
    }
  }
  changes_.Publish();
}

v1::Operation OperationRegistry::Submit(
    v1::Operation initial, Job job, OnDone on_done,
    std::function<void(const v1::Operation&)> after_final) {
  v1::Operation out;
  {
    absl::MutexLock l(&mu_);
    std::string id = absl::StrCat("op-", ++next_id_);
    initial.set_id(id);
    initial.set_state(v1::OPERATION_PENDING);
    initial.set_created_unix_ns(NowUnixNs());
    Entry& e = ops_[id];
    e.op = std::move(initial);
    e.version = 1;
    e.job = std::move(job);
    e.on_done = std::move(on_done);
    e.after_final = std::move(after_final);
    queue_.push_back(id);
    order_.push_back(id);
    out = e.op;
  }
  changes_.Publish();
  return out;
}

absl::StatusOr<v1::Operation> OperationRegistry::Get(
    const std::string& id) const {
  absl::MutexLock l(&mu_);
  auto it = ops_.find(id);
  if (it == ops_.end()) {
    return UnknownOperation(id);
  }
  return it->second.op;
}

std::vector<v1::Operation> OperationRegistry::List(bool include_finished) const {
  absl::MutexLock l(&mu_);
  std::vector<v1::Operation> out;
  for (const std::string& id : order_) {
    auto it = ops_.find(id);
    if (it == ops_.end()) continue;
    if (!include_finished && IsFinal(it->second.op.state())) continue;
    out.push_back(it->second.op);
  }
  return out;
}

absl::StatusOr<v1::Operation> OperationRegistry::Cancel(const std::string& id) {
  v1::Operation out;
  {
    absl::MutexLock l(&mu_);
    auto it = ops_.find(id);
    if (it == ops_.end()) {
      return UnknownOperation(id);
    }
    if (IsFinal(it->second.op.state())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "operation ", id, " has already ended (",
          v1::OperationState_Name(it->second.op.state()), ")"));
    }
    it->second.op.set_cancel_requested(true);
    ++it->second.version;
    out = it->second.op;
  }
  changes_.Publish();
  return out;
}

absl::StatusOr<v1::Operation> OperationRegistry::WaitFinal(
    const std::string& id, absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  auto final_or_gone = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = ops_.find(id);
    return it == ops_.end() || IsFinal(it->second.op.state());
  };
  mu_.AwaitWithTimeout(absl::Condition(&final_or_gone), timeout);
  auto it = ops_.find(id);
  if (it == ops_.end()) {
    return UnknownOperation(id);
  }
  return it->second.op;
}

absl::StatusOr<std::pair<v1::Operation, uint64_t>>
OperationRegistry::GetVersioned(const std::string& id) const {
  absl::MutexLock l(&mu_);
  auto it = ops_.find(id);
  if (it == ops_.end()) {
    return UnknownOperation(id);
  }
  return std::make_pair(it->second.op, it->second.version);
}

uint32_t OperationRegistry::running() const {
  absl::MutexLock l(&mu_);
  uint32_t n = 0;
  for (const auto& [id, e] : ops_) {
    if (!IsFinal(e.op.state())) ++n;
  }
  return n;
}

void OperationRegistry::Update(const std::string& id,
                               const std::function<void(v1::Operation&)>& f) {
  {
    absl::MutexLock l(&mu_);
    auto it = ops_.find(id);
    if (it == ops_.end()) return;
    f(it->second.op);
    ++it->second.version;
  }
  changes_.Publish();
}

void OperationRegistry::Trim() {
  while (finished_.size() > kMaxFinishedOperations) {
    std::string id = finished_.front();
    finished_.pop_front();
    ops_.erase(id);
    order_.erase(std::remove(order_.begin(), order_.end(), id), order_.end());
  }
}

void OperationRegistry::WorkerLoop() {
  while (true) {
    std::string id;
    Job job;
    bool cancelled_before_start = false;
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(
          +[](OperationRegistry* r) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return r->stopping_ || !r->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // stopping, nothing left
      id = queue_.front();
      queue_.pop_front();
      Entry& e = ops_[id];
      cancelled_before_start = e.op.cancel_requested() || stopping_;
      job = std::move(e.job);
      e.op.set_state(v1::OPERATION_RUNNING);
      e.op.set_started_unix_ns(NowUnixNs());
      ++e.version;
    }
    changes_.Publish();
    absl::Status st =
        cancelled_before_start
            ? Refusal(absl::StatusCode::kCancelled, v1::REASON_CANCELLED,
                      "cancelled before it started")
            : [&] {
                OpContext ctx(this, id);
                return job(ctx);
              }();
    OnDone on_done;
    std::function<void(const v1::Operation&)> after_final;
    v1::Operation final_op;
    {
      absl::MutexLock l(&mu_);
      Entry& e = ops_[id];
      final_op = e.op;
      on_done = std::move(e.on_done);
      after_final = std::move(e.after_final);
    }
    if (st.ok()) {
      final_op.set_state(v1::OPERATION_SUCCEEDED);
    } else {
      final_op.set_state(st.code() == absl::StatusCode::kCancelled
                             ? v1::OPERATION_CANCELLED
                             : v1::OPERATION_FAILED);
      *final_op.mutable_error() = ReasonFromStatus(st);
    }
    final_op.set_current_file("");
    final_op.set_finished_unix_ns(NowUnixNs());
    // The receipt is written before the state turns final, so a watcher of
    // the final state always sees its receipt_seq.
    uint64_t seq = on_done ? on_done(final_op) : 0;
    final_op.set_receipt_seq(seq);
    {
      absl::MutexLock l(&mu_);
      Entry& e = ops_[id];
      final_op.set_cancel_requested(e.op.cancel_requested());
      e.op = final_op;
      ++e.version;
      finished_.push_back(id);
      Trim();
    }
    changes_.Publish();
    if (after_final) after_final(final_op);
  }
}

}  // namespace vnas::control
