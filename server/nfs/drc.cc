// drc.cc — duplicate-request cache.
#include "server/nfs/drc.h"

#include "absl/hash/hash.h"

namespace vnas::nfs {

DuplicateRequestCache::Lookup DuplicateRequestCache::Begin(
    const DrcKey& key, std::string* reply) {
  absl::MutexLock l(&mu_);
  auto it = map_.find(key);
  if (it != map_.end()) {
    if (!it->second.done) return Lookup::kInProgress;
    *reply = it->second.reply;
    return Lookup::kReplay;
  }
  Entry fresh;
  fresh.seq = ++next_seq_;
  map_.emplace(key, fresh);
  order_.emplace_back(key, fresh.seq);
  // Evict the oldest completed entries beyond capacity; in-progress ones are
  // re-queued until they finish.
  size_t scanned = 0;
  const size_t limit = order_.size();
  while (map_.size() > capacity_ && !order_.empty() && scanned++ < limit) {
    auto [old, seq] = order_.front();
    order_.pop_front();
    auto o = map_.find(old);
    if (o == map_.end() || o->second.seq != seq) continue;  // stale record
    if (!o->second.done) {
      order_.emplace_back(old, seq);
      continue;
    }
    map_.erase(o);
  }
  // Stale records (abandoned keys) are dropped as they reach the front.
  while (!order_.empty()) {
    auto o = map_.find(order_.front().first);
    if (o != map_.end() && o->second.seq == order_.front().second) break;
    order_.pop_front();
  }
  return Lookup::kNew;
}

void DuplicateRequestCache::Finish(const DrcKey& key,
                                   absl::string_view reply) {
  absl::MutexLock l(&mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return;
  it->second.done = true;
  it->second.reply.assign(reply.data(), reply.size());
}

void DuplicateRequestCache::Abandon(const DrcKey& key) {
  absl::MutexLock l(&mu_);
  map_.erase(key);  // its order_ entry is skipped when reached
}

size_t DuplicateRequestCache::size() const {
  absl::MutexLock l(&mu_);
  return map_.size();
}

uint64_t ArgsChecksum(absl::string_view args) {
  // The first 4 KiB (handle, offsets, names and the start of any data) and
  // the length tell a retransmission from a new call reusing an xid.
  // absl::Hash is fast and process-seeded: the cache lives in memory only.
  const absl::string_view head = args.substr(0, 4096);
  return static_cast<uint64_t>(absl::HashOf(head, args.size()));
}

}  // namespace vnas::nfs
