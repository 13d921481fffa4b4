// broadcaster.h — "something changed" notifications for streaming reactors.
//
// Subscribers register a callback; Publish() calls every callback. A callback
// must be quick and must not call Subscribe/Unsubscribe/Publish. After
// Unsubscribe() returns, the callback is not running and will not run again,
// so the subscriber may be destroyed.
//
// Lock order: the broadcaster's mutex is taken before anything a callback
// takes; publishers must not hold locks that callbacks take.
//
// Thread safety: thread-safe.
#ifndef VNAS_SERVER_CONTROL_BROADCASTER_H_
#define VNAS_SERVER_CONTROL_BROADCASTER_H_

#include <cstdint>
#include <functional>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace vnas::control {

class Broadcaster {
 public:
  using Callback = std::function<void()>;

  Broadcaster() = default;
  Broadcaster(const Broadcaster&) = delete;
  Broadcaster& operator=(const Broadcaster&) = delete;

  // Returns a token for Unsubscribe.
  uint64_t Subscribe(Callback cb) {
    absl::MutexLock l(&mu_);
    subs_[++next_] = std::move(cb);
    return next_;
  }
  void Unsubscribe(uint64_t token) {
    absl::MutexLock l(&mu_);
    subs_.erase(token);
  }
  void Publish() {
    absl::MutexLock l(&mu_);
    for (auto& [token, cb] : subs_) cb();
  }

 private:
  absl::Mutex mu_;
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, Callback> subs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vnas::control

#endif  // VNAS_SERVER_CONTROL_BROADCASTER_H_
