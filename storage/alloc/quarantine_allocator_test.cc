// quarantine_allocator_test.cc — freed segments are not reused before the
// freeing change is durable; the persisted bitmap shows them free at once.
#include "storage/alloc/quarantine_allocator.h"

#include <set>
#include <string>

#include "gtest/gtest.h"
#include "rocksdb/write_batch.h"

namespace vnas::storage {
namespace {

TEST(QuarantineAllocator, FreedSegmentWaitsForItsEpochToBeDurable) {
  QuarantineAllocator a(NewBitmapAllocator(1));
  a.SetLimit(0, 4);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(a.Allocate(0).has_value());
  a.Free(0, 2);
  EXPECT_FALSE(a.IsUsed(0, 2));  // free in the bitmap the batch persists
  EXPECT_EQ(a.Used(0), 3u);
  EXPECT_EQ(a.quarantined(), 1u);
  // The only free segment is quarantined: the member is full for now.
  EXPECT_FALSE(a.Allocate(0).has_value());
  EXPECT_FALSE(a.IsUsed(0, 2));
  EXPECT_EQ(a.Used(0), 3u);
  a.Release(100);  // not sealed yet: still held
  EXPECT_FALSE(a.Allocate(0).has_value());
  a.Seal(7);
  a.Release(6);  // an earlier epoch: still held
  EXPECT_FALSE(a.Allocate(0).has_value());
  a.Release(7);
  EXPECT_EQ(a.quarantined(), 0u);
  EXPECT_EQ(a.Allocate(0), std::optional<uint64_t>(2));
}

// A rebuilt allocator takes over the old one's held segments (Held/Hold):
// free ones wait for the given epoch, used ones are not held.
TEST(QuarantineAllocator, HeldSegmentsCarryOverToARebuiltAllocator) {
  QuarantineAllocator old(NewBitmapAllocator(1));
  old.SetLimit(0, 4);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(old.Allocate(0).has_value());
  old.Free(0, 1);
  old.Seal(3);
  old.Free(0, 2);  // not sealed yet
  const auto held = old.Held();
  ASSERT_EQ(held.size(), 2u);
  QuarantineAllocator a(NewBitmapAllocator(1));
  a.SetLimit(0, 4);
  a.MarkUsed(0, 0);
  a.MarkUsed(0, 2);  // used again here (its free was rolled back)
  for (const auto& [m, seg] : held) a.Hold(m, seg, 10);
  EXPECT_EQ(a.quarantined(), 1u);  // segment 1 only
  EXPECT_EQ(a.Allocate(0), std::optional<uint64_t>(3));
  EXPECT_FALSE(a.Allocate(0).has_value());  // 1 is held
  a.Release(9);
  EXPECT_FALSE(a.Allocate(0).has_value());
  a.Release(10);
  EXPECT_EQ(a.Allocate(0), std::optional<uint64_t>(1));
}

TEST(QuarantineAllocator, SkipsHeldSegmentsAndKeepsThemFree) {
  QuarantineAllocator a(NewBitmapAllocator(2));
  a.SetLimit(0, 100);
  a.SetLimit(1, 100);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(a.Allocate(0).has_value());
  a.Free(0, 3);
  a.Free(0, 4);
  a.Seal(1);
  a.Free(0, 5);
  a.Seal(2);
  std::set<uint64_t> got;
  for (int i = 0; i < 20; ++i) got.insert(*a.Allocate(0));
  EXPECT_EQ(got.count(3) + got.count(4) + got.count(5), 0u);
  EXPECT_FALSE(a.IsUsed(0, 3));
  EXPECT_FALSE(a.IsUsed(0, 5));
  a.Release(1);  // epoch 1's frees come back, epoch 2's stay held
  EXPECT_EQ(a.quarantined(), 1u);
  a.SetLimit(0, 30);  // next-fit wraps to the low holes
  std::set<uint64_t> more;
  while (auto s = a.Allocate(0)) more.insert(*s);
  EXPECT_EQ(more.count(3), 1u);
  EXPECT_EQ(more.count(4), 1u);
  EXPECT_EQ(more.count(5), 0u);
  // Other members are unaffected.
  EXPECT_TRUE(a.Allocate(1).has_value());
}

TEST(QuarantineAllocator, DoubleFreeIsANoOpAndNotQuarantinedTwice) {
  QuarantineAllocator a(NewBitmapAllocator(1));
  a.SetLimit(0, 10);
  ASSERT_TRUE(a.Allocate(0).has_value());
  a.Free(0, 0);
  a.Free(0, 0);
  a.Free(0, 9);  // never used
  a.Seal(1);
  EXPECT_EQ(a.quarantined(), 1u);
  rocksdb::WriteBatch b;
  a.Persist(&b);
  EXPECT_EQ(b.Count(), 1u);  // the chunk, now all free: a delete
}

// A claimed segment is used as far as allocation and space go, but the
// persisted bitmap shows it free until it is adopted (a crash before the
// mapping leaks nothing).
TEST(QuarantineAllocator, ClaimsAreUsedInMemoryAndFreeOnDiskUntilAdopted) {
  QuarantineAllocator a(NewBitmapAllocator(1));
  a.SetLimit(0, 3);
  auto c = a.Claim(0);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(a.Used(0), 1u);
  EXPECT_EQ(a.claimed(), 1u);
  EXPECT_FALSE(a.IsUsed(0, *c));  // not in the bitmap
  rocksdb::WriteBatch b;
  a.Persist(&b);
  EXPECT_EQ(b.Count(), 1u);  // the chunk: all free, a delete
  EXPECT_TRUE(b.HasDelete());
  // Neither Allocate nor another Claim hands it out again.
  std::set<uint64_t> got;
  while (auto s = a.Allocate(0)) got.insert(*s);
  EXPECT_EQ(got.size(), 2u);
  EXPECT_EQ(got.count(*c), 0u);
  EXPECT_FALSE(a.Claim(0).has_value());
  EXPECT_EQ(a.Used(0), 3u);
  // Adopted: used in the bitmap, persisted as used.
  a.Adopt(0, *c);
  EXPECT_TRUE(a.IsUsed(0, *c));
  EXPECT_EQ(a.Used(0), 3u);
  EXPECT_EQ(a.claimed(), 0u);
  rocksdb::WriteBatch b2;
  a.Persist(&b2);
  EXPECT_EQ(b2.Count(), 1u);  // the chunk, with all three bits set
  EXPECT_TRUE(b2.HasPut());
  // Unclaimed: back to free, handed out again.
  a.Free(0, *c);
  a.Seal(1);
  a.Release(1);
  auto d = a.Claim(0);
  ASSERT_TRUE(d.has_value());
  a.Unclaim(0, *d);
  EXPECT_EQ(a.Used(0), 2u);
  EXPECT_EQ(a.Allocate(0), d);
}

}  // namespace
}  // namespace vnas::storage
