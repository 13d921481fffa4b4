// writeback.cc — see the header.
#include "storage/commit/writeback.h"

#include <utility>

namespace vnas::storage {

Writeback::Writeback(StartFn start)
    : start_(std::move(start)), thread_([this] { Run(); }) {}

Writeback::~Writeback() { Stop(); }

void Writeback::Stop() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
    pending_.clear();
  }
  if (thread_.joinable()) thread_.join();
}

bool Writeback::stopping() const {
  absl::MutexLock l(&mu_);
  return stop_;
}

void Writeback::Hint(uint32_t member, uint64_t offset, uint64_t len) {
  if (len == 0) return;
  absl::MutexLock l(&mu_);
  if (stop_) {
    ++dropped_;
    return;
  }
  if (!pending_.empty()) {
    Range& last = pending_.back();
    if (last.member == member && last.offset + last.len == offset) {
      last.len += len;  // a sequential stream: one larger range
      return;
    }
  }
  if (pending_.size() >= kMaxPending) {
    ++dropped_;
    return;
  }
  pending_.push_back(Range{member, offset, len});
}

uint64_t Writeback::started() const {
  absl::MutexLock l(&mu_);
  return started_;
}

uint64_t Writeback::dropped() const {
  absl::MutexLock l(&mu_);
  return dropped_;
}

void Writeback::Run() {
  for (;;) {
    Range r;
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(
          +[](Writeback* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) {
            return w->stop_ || !w->pending_.empty();
          },
          this));
      if (stop_) return;
      r = pending_.front();
      pending_.pop_front();
      ++started_;
    }
    start_(r.member, r.offset, r.len);
  }
}

}  // namespace vnas::storage
