// allocator_contract_test.cc — one contract suite run against every
// Allocator implementation (TEST_P).
#include <functional>
#include <set>

#include "gtest/gtest.h"
#include "rocksdb/write_batch.h"
#include "storage/alloc/allocator.h"
#include "storage/alloc/quarantine_allocator.h"
#include "storage/meta/keys.h"

namespace vnas::storage {
namespace {

struct Impl {
  const char* name;
  std::function<std::unique_ptr<Allocator>(uint32_t)> make;
};

class AllocatorContract : public ::testing::TestWithParam<Impl> {
 protected:
  std::unique_ptr<Allocator> Make(uint32_t members) {
    return GetParam().make(members);
  }
};

TEST_P(AllocatorContract, AllocatesDistinctSegmentsUpToTheLimit) {
  auto a = Make(2);
  a->SetLimit(0, 100);
  a->SetLimit(1, 5);
  std::set<uint64_t> got;
  for (int i = 0; i < 100; ++i) {
    auto s = a->Allocate(0);
    ASSERT_TRUE(s.has_value());
    EXPECT_LT(*s, 100u);
    EXPECT_TRUE(got.insert(*s).second) << "duplicate " << *s;
  }
  EXPECT_FALSE(a->Allocate(0).has_value());
  EXPECT_EQ(a->Used(0), 100u);
  EXPECT_EQ(a->Used(1), 0u);
  a->Free(0, 42);
  EXPECT_FALSE(a->IsUsed(0, 42));
  EXPECT_EQ(a->Allocate(0), std::optional<uint64_t>(42));
}

TEST_P(AllocatorContract, SequentialAllocationIsContiguous) {
  auto a = Make(1);
  a->SetLimit(0, 1000);
  uint64_t first = *a->Allocate(0);
  for (uint64_t i = 1; i < 50; ++i) EXPECT_EQ(*a->Allocate(0), first + i);
}

TEST_P(AllocatorContract, FreeIsIdempotentAndMarkUsedCounts) {
  auto a = Make(1);
  a->SetLimit(0, 10);
  a->MarkUsed(0, 3);
  a->MarkUsed(0, 3);
  EXPECT_EQ(a->Used(0), 1u);
  a->Free(0, 3);
  a->Free(0, 3);
  EXPECT_EQ(a->Used(0), 0u);
}

TEST_P(AllocatorContract, PersistAndLoadRoundTrip) {
  auto a = Make(2);
  a->SetLimit(0, 10000);
  a->SetLimit(1, 10000);
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(a->Allocate(i % 2).has_value());
  a->Free(1, 17);
  rocksdb::WriteBatch b;
  a->Persist(&b);
  EXPECT_GT(b.Count(), 0u);
  // Replay the batch into a fresh allocator.
  struct Loader : rocksdb::WriteBatch::Handler {
    Allocator* to;
    void Put(const rocksdb::Slice& k, const rocksdb::Slice& v) override {
      uint32_t m = (uint32_t{static_cast<uint8_t>(k[1])} << 24) |
                   (uint32_t{static_cast<uint8_t>(k[2])} << 16) |
                   (uint32_t{static_cast<uint8_t>(k[3])} << 8) |
                   uint32_t{static_cast<uint8_t>(k[4])};
      to->LoadChunk(m, meta::DecodeBE8(k.data() + 5),
                    absl::string_view(v.data(), v.size()));
    }
  };
  auto c = Make(2);
  c->SetLimit(0, 10000);
  c->SetLimit(1, 10000);
  Loader l;
  l.to = c.get();
  ASSERT_TRUE(b.Iterate(&l).ok());
  EXPECT_EQ(c->Used(0), 2500u);
  EXPECT_EQ(c->Used(1), 2499u);
  EXPECT_FALSE(c->IsUsed(1, 17));
  EXPECT_TRUE(c->IsUsed(1, 18));
  // Nothing dirty after Persist.
  rocksdb::WriteBatch empty;
  a->Persist(&empty);
  EXPECT_EQ(empty.Count(), 0u);
  // Freeing a whole chunk deletes its key.
  auto d = Make(1);
  d->SetLimit(0, 10);
  d->Allocate(0);
  rocksdb::WriteBatch b1;
  d->Persist(&b1);
  d->Free(0, 0);
  rocksdb::WriteBatch b2;
  d->Persist(&b2);
  EXPECT_EQ(b2.Count(), 1u);
  EXPECT_TRUE(b2.HasDelete());
}

INSTANTIATE_TEST_SUITE_P(
    All, AllocatorContract,
    ::testing::Values(Impl{"bitmap",
                           [](uint32_t m) { return NewBitmapAllocator(m); }},
                      // Quarantine with every change durable at once: the
                      // wrapper must keep the wrapped allocator's contract.
                      Impl{"quarantine_durable",
                           [](uint32_t m) -> std::unique_ptr<Allocator> {
                             struct Durable : QuarantineAllocator {
                               using QuarantineAllocator::QuarantineAllocator;
                               void Free(uint32_t mem, uint64_t seg) override {
                                 QuarantineAllocator::Free(mem, seg);
                                 Seal(1);
                                 Release(1);
                               }
                             };
                             return std::make_unique<Durable>(
                                 NewBitmapAllocator(m));
                           }}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace vnas::storage
