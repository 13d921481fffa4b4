// quarantine_allocator.h — holds freed segments back from reuse until the
// change that freed them is durable.
//
// With group commit a change's batch may still be queued while the next
// change runs. Were a segment freed by a queued change handed out at once, the
// new owner's data would land in it before the free is durable, and a crash in
// between would bring back the old owner's mapping pointing at the new data.
// So a Free() is passed through to the wrapped allocator (the persisted bitmap
// shows the segment free in the same batch as the change) but the segment is
// also quarantined; Seal(epoch) names the change that carries the frees made
// since the last Seal, and Allocate() skips quarantined segments until
// Release(epoch) says every change up to that epoch is durable. Frees not yet
// sealed stay held.
//
// Thread safety: none, like Allocator.
#ifndef VNAS_STORAGE_ALLOC_QUARANTINE_ALLOCATOR_H_
#define VNAS_STORAGE_ALLOC_QUARANTINE_ALLOCATOR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "storage/alloc/allocator.h"

namespace vnas::storage {

class QuarantineAllocator : public Allocator {
 public:
  explicit QuarantineAllocator(std::unique_ptr<Allocator> inner)
      : inner_(std::move(inner)) {}

  // The frees made since the last Seal belong to the change `epoch`.
  void Seal(uint64_t epoch);
  // Every change up to `durable_epoch` is durable: its frees may be reused.
  void Release(uint64_t durable_epoch);
  uint64_t quarantined() const { return held_.size(); }
  // The segments held now (sealed or not), as (member, segment).
  std::vector<std::pair<uint32_t, uint64_t>> Held() const {
    return {held_.begin(), held_.end()};
  }
  // Holds `seg` until Release(epoch) as if freed by the change `epoch`,
  // unless it is used: for a rebuilt allocator, whose bitmap already shows
  // free the segments of changes that are written but may not be durable.
  void Hold(uint32_t member, uint64_t seg, uint64_t epoch);

  std::optional<uint64_t> Claim(uint32_t member);
  void Adopt(uint32_t member, uint64_t seg);
  void Unclaim(uint32_t member, uint64_t seg);
  uint64_t claimed() const { return claimed_.size(); }

  uint32_t members() const override { return inner_->members(); }
  void SetLimit(uint32_t member, uint64_t segments) override {
    inner_->SetLimit(member, segments);
  }
  uint64_t Limit(uint32_t member) const override {
    return inner_->Limit(member);
  }
  std::optional<uint64_t> Allocate(uint32_t member) override;
  void Free(uint32_t member, uint64_t seg) override;
  void MarkUsed(uint32_t member, uint64_t seg) override {
    inner_->MarkUsed(member, seg);
  }
  bool IsUsed(uint32_t member, uint64_t seg) const override {
    return inner_->IsUsed(member, seg);
  }
  uint64_t Used(uint32_t member) const override {
    return inner_->Used(member) +
           (member < claims_of_.size() ? claims_of_[member] : 0);
  }
  void LoadChunk(uint32_t member, uint64_t chunk,
                 absl::string_view bits) override {
    inner_->LoadChunk(member, chunk, bits);
  }
  void Persist(rocksdb::WriteBatch* batch) override { inner_->Persist(batch); }
  void ClearDirty() override { inner_->ClearDirty(); }

 private:
  std::unique_ptr<Allocator> inner_;
  std::vector<std::pair<uint32_t, uint64_t>> unsealed_;
  std::set<std::pair<uint32_t, uint64_t>> held_;                 // (member, seg)
  std::multimap<uint64_t, std::pair<uint32_t, uint64_t>> by_epoch_;
  std::set<std::pair<uint32_t, uint64_t>> claimed_;  // (member, seg)
  std::vector<uint64_t> claims_of_;                  // per member
};

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_ALLOC_QUARANTINE_ALLOCATOR_H_
