// blocking_pool_test.cc — closures run on the pool's threads, in parallel,
// and everything scheduled runs before the pool is gone.
#include "server/control/blocking_pool.h"

#include <atomic>
#include <set>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace vnas::control {
namespace {

TEST(BlockingPool, RunsInParallelOffTheCallersThread) {
  BlockingPool pool(4);
  absl::Mutex mu;
  std::set<std::thread::id> ids;
  std::atomic<int> running{0}, peak{0};
  absl::Notification release;
  for (int i = 0; i < 4; ++i) {
    pool.Schedule([&] {
      int now = ++running;
      int p = peak.load();
      while (now > p && !peak.compare_exchange_weak(p, now)) {
      }
      {
        absl::MutexLock l(&mu);
        ids.insert(std::this_thread::get_id());
      }
      release.WaitForNotificationWithTimeout(absl::Seconds(5));
      --running;
    });
  }
  // All four block at once: a blocked call does not hold up the others.
  for (int i = 0; i < 500 && peak.load() < 4; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(peak.load(), 4);
  release.Notify();
  absl::MutexLock l(&mu);
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);
}

TEST(BlockingPool, DestructorRunsWhatIsScheduled) {
  std::atomic<int> ran{0};
  {
    BlockingPool pool(2);
    for (int i = 0; i < 100; ++i) pool.Schedule([&] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 100);
}

}  // namespace
}  // namespace vnas::control
