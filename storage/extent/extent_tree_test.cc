// extent_tree_test.cc — the COW extent tree: sharing, copy on write,
// refcounts, accounting, persistence.
#include "storage/extent/extent_tree.h"

#include "gtest/gtest.h"
#include "rocksdb/write_batch.h"

namespace vnas::storage {
namespace {

using meta::kLeafSlots;
using meta::kSegsPerMap;

class ExtentTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alloc_ = NewBitmapAllocator(2);
    alloc_->SetLimit(0, 1 << 20);
    alloc_->SetLimit(1, 1 << 20);
    tree_ = std::make_unique<ExtentTree>(alloc_.get());
  }
  uint64_t NewExtent(uint32_t member = 0) {
    return meta::MakeExtentId(member, *alloc_->Allocate(member));
  }
  // Maps fresh extents at segments [a, b).
  void Fill(MapList* m, uint64_t a, uint64_t b) {
    for (uint64_t s = a; s < b; ++s) tree_->SetSegment(m, s, NewExtent());
  }
  uint64_t Used() { return alloc_->Used(0) + alloc_->Used(1); }

  std::unique_ptr<Allocator> alloc_;
  std::unique_ptr<ExtentTree> tree_;
};

TEST_F(ExtentTreeTest, MapLookupUnmap) {
  MapList f;
  uint64_t e = NewExtent();
  tree_->SetSegment(&f, 5, e);
  EXPECT_EQ(tree_->Lookup(f, 5), e);
  EXPECT_EQ(tree_->Lookup(f, 4), 0u);
  EXPECT_EQ(tree_->Lookup(f, kSegsPerMap * 3), 0u);
  EXPECT_TRUE(tree_->Unique(f, 5));
  EXPECT_EQ(tree_->MappedSegments(f), 1u);
  tree_->SetSegment(&f, 5, 0);
  EXPECT_EQ(Used(), 0u);  // freed
  EXPECT_TRUE(f.empty());  // empty pages dropped
  EXPECT_EQ(tree_->pages(), 0u);
}

TEST_F(ExtentTreeTest, PathNamesThePagesAndExtentOfASegment) {
  MapList f;
  Fill(&f, 0, kLeafSlots + 1);  // two leaves under one map node
  const ExtentTree::SegPath a = tree_->Path(f, 1), b = tree_->Path(f, kLeafSlots);
  EXPECT_EQ(a.map, f[0]);
  EXPECT_EQ(b.map, f[0]);
  EXPECT_NE(a.leaf, 0u);
  EXPECT_NE(a.leaf, b.leaf);
  EXPECT_EQ(a.extent, tree_->Lookup(f, 1));
  EXPECT_EQ(b.extent, tree_->Lookup(f, kLeafSlots));
  const ExtentTree::SegPath hole = tree_->Path(f, kLeafSlots + 1);
  EXPECT_EQ(hole.map, f[0]);
  EXPECT_EQ(hole.extent, 0u);
  const ExtentTree::SegPath none = tree_->Path(f, 5 * kSegsPerMap);
  EXPECT_EQ(none.map, 0u);
  EXPECT_EQ(none.leaf, 0u);
}

// Every reference drop that leaves a page or extent referenced is reported
// once, with what it was: they are what may make another holder's segments
// unique.
TEST_F(ExtentTreeTest, ReferenceDropsThatLeaveSharingAreReported) {
  MapList f;
  Fill(&f, 0, 2);
  EXPECT_TRUE(tree_->TakeUnshares().empty()) << "no sharing, no drops";
  const ExtentTree::SegPath before = tree_->Path(f, 0);
  MapList c = f;
  tree_->Share(c);
  // The clone's write copies the map node and the leaf (their children gain
  // the references the copies take from them: nothing becomes unique) and
  // drops its reference to extent 0, which the source then holds alone.
  tree_->SetSegment(&c, 0, NewExtent());
  std::vector<ExtentTree::Unshare> u = tree_->TakeUnshares();
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].kind, meta::RefKind::kExtent);
  EXPECT_EQ(u[0].id, before.extent);
  EXPECT_TRUE(tree_->TakeUnshares().empty()) << "taken once";
  EXPECT_TRUE(tree_->Unique(f, 0)) << "the source holds these alone now";
  // Dropping the clone: segment 1's extent stays with the source.
  tree_->Release(&c);
  u = tree_->TakeUnshares();
  bool extent1 = false;
  for (const auto& x : u) {
    extent1 |= x.kind == meta::RefKind::kExtent && x.id == tree_->Lookup(f, 1);
  }
  EXPECT_TRUE(extent1);
  EXPECT_TRUE(tree_->Unique(f, 1));
}

TEST_F(ExtentTreeTest, CloneSharesThenCopiesOnlyTheTouchedPath) {
  MapList f;
  Fill(&f, 0, 3 * kLeafSlots);  // three leaves
  const uint64_t pages = tree_->pages();
  MapList c = f;
  tree_->Share(c);
  EXPECT_EQ(tree_->pages(), pages);  // O(1) clone
  EXPECT_FALSE(tree_->Unique(f, 0));
  uint64_t mapped, unique;
  tree_->Usage(f, &mapped, &unique);
  EXPECT_EQ(mapped, 3 * kLeafSlots);
  EXPECT_EQ(unique, 0u);
  // Writing one segment of the clone copies the map node and one leaf.
  uint64_t e = NewExtent(1);
  uint64_t old = tree_->Lookup(c, 10);
  tree_->SetSegment(&c, 10, e);
  EXPECT_EQ(tree_->pages(), pages + 2);
  EXPECT_EQ(tree_->Lookup(c, 10), e);
  EXPECT_EQ(tree_->Lookup(f, 10), old);
  EXPECT_TRUE(tree_->Unique(c, 10));
  EXPECT_TRUE(tree_->Unique(f, 10));   // old extent now only f's
  EXPECT_FALSE(tree_->Unique(f, 11));  // still shared through the leaf copy
  EXPECT_EQ(tree_->ExtentRc(tree_->Lookup(f, 11)), 2u);
  tree_->Usage(f, &mapped, &unique);
  EXPECT_EQ(unique, 1u);
  tree_->Usage(c, &mapped, &unique);
  EXPECT_EQ(unique, 1u);
  // Exclusive over both files = everything.
  EXPECT_EQ(tree_->ExclusiveSegments({&f, &c}), 3 * kLeafSlots + 1);
  EXPECT_EQ(tree_->ExclusiveSegments({&c}), 1u);
  // Releasing the source frees only its unique extent.
  uint64_t used = Used();
  tree_->Release(&f);
  EXPECT_EQ(Used(), used - 1);
  tree_->Usage(c, &mapped, &unique);
  EXPECT_EQ(unique, 3 * kLeafSlots);
  tree_->Release(&c);
  EXPECT_EQ(Used(), 0u);
  EXPECT_EQ(tree_->pages(), 0u);
  EXPECT_EQ(tree_->extents(), 0u);
}

TEST_F(ExtentTreeTest, UnmapRangeDropsWholePagesAndPartials) {
  MapList f;
  Fill(&f, 0, 4 * kLeafSlots);
  MapList c = f;
  tree_->Share(c);
  tree_->UnmapRange(&c, 100, 3 * kLeafSlots + 7);
  EXPECT_EQ(tree_->MappedSegments(c), 100u + kLeafSlots - 7);
  EXPECT_EQ(tree_->MappedSegments(f), 4 * kLeafSlots);
  EXPECT_EQ(tree_->Lookup(c, 99), tree_->Lookup(f, 99));
  EXPECT_EQ(tree_->Lookup(c, 100), 0u);
  EXPECT_EQ(tree_->Lookup(c, 3 * kLeafSlots + 7), tree_->Lookup(f, 3 * kLeafSlots + 7));
  EXPECT_EQ(Used(), 4 * kLeafSlots);  // all still held by f
  tree_->UnmapRange(&f, 0, ~uint64_t{0});
  EXPECT_TRUE(f.empty());
  EXPECT_EQ(Used(), tree_->MappedSegments(c));
}

TEST_F(ExtentTreeTest, NotUniqueBelowCountsHolesAndShared) {
  MapList f;
  Fill(&f, 0, 10);
  EXPECT_EQ(tree_->NotUniqueBelow(f, 20), 10u);  // 10 holes
  MapList c = f;
  tree_->Share(c);
  EXPECT_EQ(tree_->NotUniqueBelow(f, 20), 20u);
  tree_->SetSegment(&f, 0, NewExtent());
  EXPECT_EQ(tree_->NotUniqueBelow(f, 20), 19u);
}

TEST_F(ExtentTreeTest, PersistReloadsTheSameTree) {
  MapList f;
  Fill(&f, 0, 300);
  Fill(&f, kSegsPerMap + 5, kSegsPerMap + 9);  // a second map node
  MapList c = f;
  tree_->Share(c);
  tree_->SetSegment(&c, 3, NewExtent(1));
  rocksdb::WriteBatch b;
  tree_->Persist(&b);
  struct Loader : rocksdb::WriteBatch::Handler {
    ExtentTree* t;
    void Put(const rocksdb::Slice& k, const rocksdb::Slice& v) override {
      absl::string_view val(v.data(), v.size());
      switch (k[0]) {
        case 'L':
          ASSERT_TRUE(t->LoadLeaf(meta::DecodeBE8(k.data() + 1), val).ok());
          break;
        case 'M':
          ASSERT_TRUE(t->LoadMap(meta::DecodeBE8(k.data() + 1), val).ok());
          break;
        case 'R': {
          uint64_t rc;
          ASSERT_TRUE(meta::GetVarint(&val, &rc));
          t->LoadRef(static_cast<meta::RefKind>(k[1]),
                     meta::DecodeBE8(k.data() + 2), static_cast<uint32_t>(rc));
          break;
        }
        case 'N':
          t->set_next_page_id(meta::DecodeBE8(v.data()));
          break;
      }
    }
  };
  auto alloc2 = NewBitmapAllocator(2);
  ExtentTree t2(alloc2.get());
  Loader l;
  l.t = &t2;
  ASSERT_TRUE(b.Iterate(&l).ok());
  ASSERT_TRUE(t2.FinishLoad().ok());
  EXPECT_EQ(t2.pages(), tree_->pages());
  EXPECT_EQ(t2.extents(), tree_->extents());
  EXPECT_EQ(t2.next_page_id(), tree_->next_page_id());
  for (uint64_t s : {uint64_t{0}, uint64_t{3}, uint64_t{299}, uint64_t{300},
                     kSegsPerMap + 6}) {
    EXPECT_EQ(t2.Lookup(f, s), tree_->Lookup(f, s)) << s;
    EXPECT_EQ(t2.Lookup(c, s), tree_->Lookup(c, s)) << s;
    EXPECT_EQ(t2.Unique(c, s), tree_->Unique(c, s)) << s;
  }
  EXPECT_EQ(t2.MappedSegments(f), 304u);
}

}  // namespace
}  // namespace vnas::storage
