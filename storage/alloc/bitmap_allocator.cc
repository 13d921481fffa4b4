// bitmap_allocator.cc — Allocator as a per-member bitmap with next-fit.
#include <set>
#include <utility>
#include <vector>

#include "rocksdb/write_batch.h"
#include "storage/alloc/allocator.h"
#include "storage/meta/keys.h"

namespace vnas::storage {
namespace {

constexpr uint64_t kChunkBits = meta::kBitmapChunkBits;
constexpr uint64_t kWordsPerChunk = kChunkBits / 64;

class BitmapAllocator final : public Allocator {
 public:
  explicit BitmapAllocator(uint32_t members) : m_(members) {}

  uint32_t members() const override { return static_cast<uint32_t>(m_.size()); }

  void SetLimit(uint32_t member, uint64_t segments) override {
    m_[member].limit = segments;
    Grow(member, segments);
  }
  uint64_t Limit(uint32_t member) const override { return m_[member].limit; }

  std::optional<uint64_t> Allocate(uint32_t member) override {
    Member& mm = m_[member];
    if (mm.used >= mm.limit) return std::nullopt;
    const uint64_t n = mm.limit;
    uint64_t start = mm.cursor < n ? mm.cursor : 0;
    // Two passes: [start, n) then [0, start).
    for (int pass = 0; pass < 2; ++pass) {
      uint64_t lo = pass == 0 ? start : 0, hi = pass == 0 ? n : start;
      uint64_t s = lo;
      while (s < hi) {
        uint64_t w = s / 64;
        uint64_t word = mm.bits[w] | ((uint64_t{1} << (s % 64)) - 1);
        if (word == ~uint64_t{0}) {
          s = (w + 1) * 64;
          continue;
        }
        uint64_t bit = static_cast<uint64_t>(__builtin_ctzll(~word));
        s = w * 64 + bit;
        if (s >= hi) break;
        Set(member, s, true);
        mm.cursor = s + 1;
        return s;
      }
    }
    return std::nullopt;
  }

  void Free(uint32_t member, uint64_t seg) override {
    if (IsUsed(member, seg)) Set(member, seg, false);
  }
  void MarkUsed(uint32_t member, uint64_t seg) override {
    Grow(member, seg + 1);
    if (!IsUsed(member, seg)) Set(member, seg, true);
  }
  bool IsUsed(uint32_t member, uint64_t seg) const override {
    const Member& mm = m_[member];
    uint64_t w = seg / 64;
    return w < mm.bits.size() && (mm.bits[w] >> (seg % 64)) & 1;
  }
  uint64_t Used(uint32_t member) const override { return m_[member].used; }

  void LoadChunk(uint32_t member, uint64_t chunk,
                 absl::string_view bits) override {
    Grow(member, (chunk + 1) * kChunkBits);
    Member& mm = m_[member];
    for (uint64_t i = 0; i < kWordsPerChunk; ++i) {
      uint64_t word = 0;
      for (int b = 0; b < 8; ++b) {
        size_t pos = i * 8 + b;
        if (pos < bits.size()) {
          word |= uint64_t{static_cast<uint8_t>(bits[pos])} << (8 * b);
        }
      }
      uint64_t& dst = mm.bits[chunk * kWordsPerChunk + i];
      mm.used -= __builtin_popcountll(dst);
      dst = word;
      mm.used += __builtin_popcountll(dst);
    }
  }

  void Persist(rocksdb::WriteBatch* batch) override {
    for (const auto& [member, chunk] : dirty_) {
      const Member& mm = m_[member];
      std::string v(kChunkBits / 8, '\0');
      bool any = false;
      for (uint64_t i = 0; i < kWordsPerChunk; ++i) {
        uint64_t word = mm.bits[chunk * kWordsPerChunk + i];
        any |= word != 0;
        for (int b = 0; b < 8; ++b) v[i * 8 + b] = static_cast<char>(word >> (8 * b));
      }
      if (any) {
        batch->Put(meta::BitmapKey(member, chunk), v).PermitUncheckedError();
      } else {
        batch->Delete(meta::BitmapKey(member, chunk)).PermitUncheckedError();
      }
    }
    dirty_.clear();
  }
  void ClearDirty() override { dirty_.clear(); }

 private:
  struct Member {
    uint64_t limit = 0;
    uint64_t used = 0;
    uint64_t cursor = 0;
    std::vector<uint64_t> bits;  // whole chunks
  };

  void Grow(uint32_t member, uint64_t segments) {
    uint64_t chunks = (segments + kChunkBits - 1) / kChunkBits;
    if (m_[member].bits.size() < chunks * kWordsPerChunk) {
      m_[member].bits.resize(chunks * kWordsPerChunk, 0);
    }
  }
  void Set(uint32_t member, uint64_t seg, bool used) {
    Member& mm = m_[member];
    uint64_t mask = uint64_t{1} << (seg % 64);
    if (used) {
      mm.bits[seg / 64] |= mask;
      ++mm.used;
    } else {
      mm.bits[seg / 64] &= ~mask;
      --mm.used;
    }
    dirty_.emplace(member, seg / kChunkBits);
  }

  std::vector<Member> m_;
  std::set<std::pair<uint32_t, uint64_t>> dirty_;
};

}  // namespace

std::unique_ptr<Allocator> NewBitmapAllocator(uint32_t members) {
  return std::make_unique<BitmapAllocator>(members);
}

}  // namespace vnas::storage
