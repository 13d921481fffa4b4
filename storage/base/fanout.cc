// fanout.cc — see fanout.h.
#include "storage/base/fanout.h"

namespace vnas::storage {

Fanout::Fanout(int helpers) {
  for (int i = 0; i < helpers; ++i) helpers_.emplace_back([this] { Helper(); });
}

Fanout::~Fanout() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  for (std::thread& t : helpers_) t.join();
}

bool Fanout::Claim(Batch** batch, size_t* index) {
  if (queue_.empty()) return false;
  Batch* b = queue_.front();
  *batch = b;
  *index = b->claimed++;
  if (b->claimed == b->tasks.size()) queue_.pop_front();
  return true;
}

void Fanout::Run(absl::Span<const std::function<void()>> tasks) {
  if (tasks.empty()) return;
  if (tasks.size() == 1 || helpers_.empty()) {
    for (const std::function<void()>& t : tasks) t();
    return;
  }
  Batch mine{tasks};
  absl::MutexLock l(&mu_);
  queue_.push_back(&mine);
  // Runs tasks of its own batch, or of an older one ahead of it in the
  // queue (which only makes that caller finish sooner), until none of
  // its own is left unclaimed.
  while (mine.claimed < mine.tasks.size()) {
    Batch* b = nullptr;
    size_t i = 0;
    Claim(&b, &i);
    mu_.Unlock();
    b->tasks[i]();
    mu_.Lock();
    ++b->finished;
  }
  mu_.Await(absl::Condition(
      +[](Batch* b) { return b->finished == b->tasks.size(); }, &mine));
}

void Fanout::Helper() {
  absl::MutexLock l(&mu_);
  for (;;) {
    mu_.Await(absl::Condition(
        +[](Fanout* f) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return f->stop_ || !f->queue_.empty();
        },
        this));
    Batch* b = nullptr;
    size_t i = 0;
    if (!Claim(&b, &i)) return;  // stopping, nothing queued
    mu_.Unlock();
    b->tasks[i]();
    mu_.Lock();
    ++b->finished;
  }
}

}  // namespace vnas::storage
