// quarantine_allocator.cc — see the header.
#include "storage/alloc/quarantine_allocator.h"

namespace vnas::storage {

void QuarantineAllocator::Free(uint32_t member, uint64_t seg) {
  if (!inner_->IsUsed(member, seg)) return;
  inner_->Free(member, seg);
  if (held_.insert({member, seg}).second) unsealed_.emplace_back(member, seg);
}

void QuarantineAllocator::Seal(uint64_t epoch) {
  for (const auto& ms : unsealed_) by_epoch_.emplace(epoch, ms);
  unsealed_.clear();
}

void QuarantineAllocator::Hold(uint32_t member, uint64_t seg,
                               uint64_t epoch) {
  if (inner_->IsUsed(member, seg)) return;
  if (held_.insert({member, seg}).second) {
    by_epoch_.emplace(epoch, std::make_pair(member, seg));
  }
}

void QuarantineAllocator::Release(uint64_t durable_epoch) {
  auto end = by_epoch_.upper_bound(durable_epoch);
  for (auto it = by_epoch_.begin(); it != end; ++it) held_.erase(it->second);
  by_epoch_.erase(by_epoch_.begin(), end);
}

std::optional<uint64_t> QuarantineAllocator::Allocate(uint32_t member) {
  if (held_.empty() && claimed_.empty()) return inner_->Allocate(member);
  // Take segments until one is neither quarantined nor claimed, then give
  // the skipped ones back (their bits end as they were; only their chunks
  // are rewritten).
  std::vector<uint64_t> skipped;
  std::optional<uint64_t> got;
  while ((got = inner_->Allocate(member)) &&
         (held_.count({member, *got}) || claimed_.count({member, *got}))) {
    skipped.push_back(*got);
  }
  for (uint64_t s : skipped) inner_->Free(member, s);
  return got;
}

std::optional<uint64_t> QuarantineAllocator::Claim(uint32_t member) {
  std::optional<uint64_t> got = Allocate(member);
  if (!got) return got;
  inner_->Free(member, *got);  // free in the bitmap until adopted
  claimed_.insert({member, *got});
  if (claims_of_.size() <= member) claims_of_.resize(member + 1, 0);
  ++claims_of_[member];
  return got;
}

void QuarantineAllocator::Adopt(uint32_t member, uint64_t seg) {
  Unclaim(member, seg);
  inner_->MarkUsed(member, seg);
}

void QuarantineAllocator::Unclaim(uint32_t member, uint64_t seg) {
  if (claimed_.erase({member, seg})) --claims_of_[member];
}

}  // namespace vnas::storage
