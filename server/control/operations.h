// operations.h — registry and worker thread for long-running operations.
//
// An operation (today: CloneVm) is a job run on the registry's single worker
// thread, in submission order. Its state is a vnas.v1.Operation kept in
// memory; the newest kMaxFinishedOperations finished ones are kept after they
// end. Ids are "op-<n>", unique for the registry's lifetime.
//
// Cancellation is cooperative: CancelOperation sets a flag the job polls
// between files (OpContext::cancelled()); a pending job is cancelled before
// it starts. A job that returns a Cancelled status ends CANCELLED.
//
// Thread safety: thread-safe. Every state change publishes on changes().
#ifndef VNAS_SERVER_CONTROL_OPERATIONS_H_
#define VNAS_SERVER_CONTROL_OPERATIONS_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/vnas.pb.h"
#include "server/control/broadcaster.h"

namespace vnas::control {

inline constexpr size_t kMaxFinishedOperations = 1000;

class OperationRegistry;

// What a running job sees of its operation.
class OpContext {
 public:
  void SetTotals(uint64_t bytes, uint32_t files);
  void Progress(uint64_t bytes_done, uint32_t files_done,
                const std::string& current_file);
  bool cancelled() const;
  const std::string& id() const { return id_; }

 private:
  friend class OperationRegistry;
  OpContext(OperationRegistry* reg, std::string id) : reg_(reg), id_(std::move(id)) {}
  OperationRegistry* reg_;
  std::string id_;
};

class OperationRegistry {
 public:
  // The job: returns OK, or the error that ends the operation (its reason is
  // ReasonOf(status)).
  using Job = std::function<absl::Status(OpContext&)>;
  // Called on the worker once the operation is final (e.g. writes a receipt);
  // returns the receipt seq to record (0 = none).
  using OnDone = std::function<uint64_t(const v1::Operation&)>;

  OperationRegistry();
  // Cancels pending and running jobs and joins the worker.
  ~OperationRegistry();
  OperationRegistry(const OperationRegistry&) = delete;
  OperationRegistry& operator=(const OperationRegistry&) = delete;

  // OperationRegistry::Submit()
  //
  // Queues `job`; `initial` supplies kind, source, destination, client_id.
  // Returns the PENDING operation (with its id). `after_final` (may be
  // empty) is called on the worker with the final state, after watchers
  // were notified (e.g. to answer a caller that waits).
  v1::Operation Submit(v1::Operation initial, Job job, OnDone on_done,
                       std::function<void(const v1::Operation&)> after_final =
                           nullptr);

  // Requests cancellation of every pending and running operation.
  void CancelAll();

  // NotFound for an unknown id.
  absl::StatusOr<v1::Operation> Get(const std::string& id) const;
  std::vector<v1::Operation> List(bool include_finished) const;
  // Requests cancellation; returns the operation's state after the request.
  // FailedPrecondition when already final.
  absl::StatusOr<v1::Operation> Cancel(const std::string& id);
  // Waits until the operation is final or `timeout` passes; returns its state.
  absl::StatusOr<v1::Operation> WaitFinal(const std::string& id,
                                          absl::Duration timeout);
  // The operation and its version, a counter that grows with every state
  // change. NotFound for an unknown id.
  absl::StatusOr<std::pair<v1::Operation, uint64_t>> GetVersioned(
      const std::string& id) const;
  uint32_t running() const;

  Broadcaster& changes() { return changes_; }

  static bool IsFinal(v1::OperationState s) {
    return s == v1::OPERATION_SUCCEEDED || s == v1::OPERATION_FAILED ||
           s == v1::OPERATION_CANCELLED;
  }

 private:
  friend class OpContext;
  struct Entry {
    v1::Operation op;
    uint64_t version = 0;
    Job job;
    OnDone on_done;
    std::function<void(const v1::Operation&)> after_final;
  };

  void WorkerLoop();
  void Update(const std::string& id, const std::function<void(v1::Operation&)>& f);
  void Trim() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Broadcaster changes_;
  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, Entry> ops_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);     // pending ids
  std::deque<std::string> finished_ ABSL_GUARDED_BY(mu_);  // oldest first
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);    // creation order
  std::thread worker_;
};

// Wall clock in Unix nanoseconds.
int64_t NowUnixNs();

}  // namespace vnas::control

#endif  // VNAS_SERVER_CONTROL_OPERATIONS_H_
