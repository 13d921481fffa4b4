// fanout.h — runs a few blocking calls at once (the fdatasync of several
// data files) on threads kept for the purpose, instead of starting a thread
// per call each time.
//
// Contract:
//   - Run(tasks) returns once every task has returned; each task runs
//     exactly once, on the caller's thread or a helper's.
//   - The caller runs tasks too, so Run makes progress when every helper is
//     busy (with another caller's tasks); with n helpers free, up to n + 1
//     tasks run at the same time.
//   - Tasks must not throw, and must not call Run of the same Fanout.
// Thread-safe: Run may be called from several threads at once.
#ifndef VNAS_STORAGE_BASE_FANOUT_H_
#define VNAS_STORAGE_BASE_FANOUT_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace vnas::storage {

class Fanout {
 public:
  explicit Fanout(int helpers);
  ~Fanout();  // waits for the helpers; no Run may be under way
  Fanout(const Fanout&) = delete;
  Fanout& operator=(const Fanout&) = delete;

  void Run(absl::Span<const std::function<void()>> tasks);

 private:
  // One Run's tasks, on the caller's stack. Queued while some are
  // unclaimed; the caller returns once `finished` reaches the count.
  struct Batch {
    absl::Span<const std::function<void()>> tasks;
    size_t claimed = 0;
    size_t finished = 0;
  };
  // The next unclaimed task of the oldest queued batch (dequeued once all
  // of its tasks are claimed), or false when none is queued.
  bool Claim(Batch** batch, size_t* index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Helper();

  absl::Mutex mu_;
  std::deque<Batch*> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> helpers_;
};

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_BASE_FANOUT_H_
