// blocking_pool.h — a fixed set of threads for control-plane calls that
// block (store mutations waiting for durability, chain analysis reading
// files), so gRPC's callback threads never wait on disk.
//
// Contract: Schedule() runs closures in FIFO order on `threads` threads. The
// destructor runs everything already scheduled, then joins.
// Thread safety: Schedule() from any thread.
#ifndef VNAS_SERVER_CONTROL_BLOCKING_POOL_H_
#define VNAS_SERVER_CONTROL_BLOCKING_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace vnas::control {

class BlockingPool {
 public:
  explicit BlockingPool(int threads);
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  void Schedule(std::function<void()> fn);

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace vnas::control

#endif  // VNAS_SERVER_CONTROL_BLOCKING_POOL_H_
