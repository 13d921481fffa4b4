// drc.cc — duplicate-request cache.
#include "server/nfs/drc.h"

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
  map_.emplace(key, Entry());
  order_.push_back(key);
  // Evict the oldest entries beyond capacity (in-progress ones are kept
  // until they finish; their key is re-queued).
  size_t scanned = 0;
  while (map_.size() > capacity_ && !order_.empty() &&
         scanned++ < order_.size()) {
    DrcKey old = order_.front();
    order_.pop_front();
    auto o = map_.find(old);
    if (o == map_.end()) continue;
    if (!o->second.done) {
      order_.push_back(old);
      continue;
    }
    map_.erase(o);
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
  uint64_t h = 0xcbf29ce484222325ULL;
  size_t n = args.size() < 4096 ? args.size() : 4096;
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<uint8_t>(args[i]);
    h *= 0x100000001b3ULL;
  }
  h ^= args.size();
  h *= 0x100000001b3ULL;
  return h;
}

}  // namespace vnas::nfs
