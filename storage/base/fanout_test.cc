// fanout_test.cc — every task runs once, in parallel up to the helpers,
// and concurrent callers all finish.
#include "storage/base/fanout.h"

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/barrier.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace vnas::storage {
namespace {

TEST(Fanout, RunsEveryTaskExactlyOnce) {
  Fanout f(3);
  for (size_t n : {0, 1, 2, 4, 17}) {
    std::vector<std::atomic<int>> runs(n);
    std::vector<std::function<void()>> tasks;
    for (size_t i = 0; i < n; ++i) tasks.push_back([&runs, i] { ++runs[i]; });
    f.Run(tasks);
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(runs[i].load(), 1) << n << " " << i;
  }
}

TEST(Fanout, TasksRunAtTheSameTimeOnHelpersAndTheCaller) {
  // Four tasks that each wait for all four: they finish only when three
  // helpers and the caller run them at once.
  Fanout f(3);
  for (int round = 0; round < 20; ++round) {
    absl::Barrier* all = new absl::Barrier(4);  // deleted by the last one out
    std::atomic<int> passed{0};
    std::vector<std::function<void()>> tasks(4, [&] {
      if (all->Block()) delete all;
      ++passed;
    });
    f.Run(tasks);
    EXPECT_EQ(passed.load(), 4);
  }
}

TEST(Fanout, TheCallerRunsItsTasksWhenEveryHelperIsBusy) {
  Fanout f(1);
  absl::Mutex mu;
  bool release = false;
  std::atomic<int> holding{0};
  // The only helper is held by one caller's task (the other task holds
  // that caller)...
  std::thread holder([&] {
    std::vector<std::function<void()>> tasks(2, [&] {
      ++holding;
      absl::MutexLock l(&mu);
      mu.Await(absl::Condition(&release));
    });
    f.Run(tasks);
  });
  while (holding.load() < 2) std::this_thread::yield();
  // ...and another caller's three tasks still all run, on its own thread.
  std::atomic<int> ran{0};
  std::vector<std::function<void()>> mine(3, [&] { ++ran; });
  f.Run(mine);
  EXPECT_EQ(ran.load(), 3);
  {
    absl::MutexLock l(&mu);
    release = true;
  }
  holder.join();
}

TEST(Fanout, ManyCallersAtOnceAllFinish) {
  Fanout f(2);
  std::atomic<int> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 8; ++c) {
    callers.emplace_back([&] {
      for (int r = 0; r < 200; ++r) {
        std::vector<std::function<void()>> tasks(1 + r % 5, [&] { ++total; });
        f.Run(tasks);
      }
    });
  }
  for (std::thread& t : callers) t.join();
  int want = 0;
  for (int r = 0; r < 200; ++r) want += 1 + r % 5;
  EXPECT_EQ(total.load(), 8 * want);
}

}  // namespace
}  // namespace vnas::storage
