// stats.cc — per-procedure counters.
#include "server/nfs/stats.h"

namespace vnas::nfs {

void NfsStats::Slot::Record(uint64_t latency_us, bool error) {
  calls_.fetch_add(1, std::memory_order_relaxed);
  if (error) errors_.fetch_add(1, std::memory_order_relaxed);
  total_us_.fetch_add(latency_us, std::memory_order_relaxed);
  uint64_t cur = max_us_.load(std::memory_order_relaxed);
  while (latency_us > cur &&
         !max_us_.compare_exchange_weak(cur, latency_us,
                                        std::memory_order_relaxed)) {
  }
}

NfsStats::Slot* NfsStats::AddSlot(std::string name) {
  absl::MutexLock l(&mu_);
  slots_.emplace_back();
  slots_.back().name_ = std::move(name);
  return &slots_.back();
}

std::vector<ProcStats> NfsStats::Snapshot() const {
  absl::MutexLock l(&mu_);
  std::vector<ProcStats> out;
  out.reserve(slots_.size());
  for (const Slot& s : slots_) {
    ProcStats p;
    p.name = s.name_;
    p.calls = s.calls_.load(std::memory_order_relaxed);
    p.errors = s.errors_.load(std::memory_order_relaxed);
    p.total_latency_us = s.total_us_.load(std::memory_order_relaxed);
    p.max_latency_us = s.max_us_.load(std::memory_order_relaxed);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace vnas::nfs
