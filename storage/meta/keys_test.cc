// keys_test.cc — the key schema and value codecs (format version 2).
#include "storage/meta/keys.h"

#include "gtest/gtest.h"

namespace vnas::storage::meta {
namespace {

TEST(KeysTest, VarintRoundTripAndTruncation) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128},
                     uint64_t{300}, ~uint64_t{0}}) {
    std::string s;
    PutVarint(&s, v);
    absl::string_view in = s;
    uint64_t out;
    ASSERT_TRUE(GetVarint(&in, &out));
    EXPECT_EQ(out, v);
    EXPECT_TRUE(in.empty());
    if (s.size() > 1) {
      absl::string_view cut(s.data(), s.size() - 1);
      EXPECT_FALSE(GetVarint(&cut, &out));
    }
  }
  std::string ten(10, '\x80');
  absl::string_view in = ten;
  uint64_t out;
  EXPECT_FALSE(GetVarint(&in, &out));
}

TEST(KeysTest, ExactKeyBytes) {
  EXPECT_EQ(InodeKey(0x0102), std::string("I\0\0\0\0\0\0\x01\x02", 9));
  EXPECT_EQ(RefKey(RefKind::kLeaf, 5), std::string("Rl\0\0\0\0\0\0\0\x05", 10));
  EXPECT_EQ(BitmapKey(1, 2),
            std::string("B\0\0\0\x01\0\0\0\0\0\0\0\x02", 13));
  EXPECT_EQ(LogKey("x", 1), std::string("Gx\0\0\0\0\0\0\0\0\x01", 11));
  EXPECT_EQ(DirentKey(1, "ab"), std::string("D\0\0\0\0\0\0\0\x01" "ab", 11));
}

TEST(KeysTest, BigEndianKeysSortNumerically) {
  EXPECT_LT(LogKey("l", 255), LogKey("l", 256));
  EXPECT_LT(CookieKey(1, 9), CookieKey(1, 10));
  EXPECT_LT(CookieKey(1, ~uint64_t{0}), CookieKey(2, 0));
  // A log's records never interleave with a log whose name extends it.
  EXPECT_LT(LogKey("a", ~uint64_t{0}), LogKey("ab", 0));
}

TEST(KeysTest, ExtentIdsNeverZero) {
  EXPECT_NE(MakeExtentId(0, 0), 0u);
  uint64_t e = MakeExtentId(3, 12345);
  EXPECT_EQ(ExtentMember(e), 3u);
  EXPECT_EQ(ExtentSeg(e), 12345u);
}

TEST(KeysTest, InodeRoundTrip) {
  InodeRec r;
  r.type = 1;
  r.read_only = true;
  r.has_verifier = true;
  r.mode = 0644;
  r.uid = 7;
  r.gid = 8;
  r.nlink = 2;
  r.size = uint64_t{1} << 40;
  r.atime_sec = 1700000000;
  r.mtime_nsec = 999999999;
  r.generation = 42;
  r.parent = 1;
  r.next_cookie = 5;
  r.alloc_offset = 3;
  r.reserve = 1 << 20;
  r.verifier = {1, 2, 3, 4, 5, 6, 7, 8};
  r.target = "target";
  r.maps = {0, 17, 0, 99};
  std::string v = EncodeInode(r);
  InodeRec o;
  ASSERT_TRUE(DecodeInode(v, &o));
  EXPECT_EQ(EncodeInode(o), v);
  EXPECT_EQ(o.maps, r.maps);
  EXPECT_TRUE(o.read_only);
  EXPECT_EQ(o.verifier, r.verifier);
  EXPECT_FALSE(DecodeInode(v.substr(0, v.size() - 1), &o));
  EXPECT_FALSE(DecodeInode(v + "x", &o));  // trailing bytes
}

// v2: a small file's bytes ride at the end of its inode record (flag bit2).
TEST(KeysTest, InlineDataRoundTripAndValidation) {
  InodeRec r;
  r.type = 1;
  r.size = 5;
  r.has_inline = true;
  r.inline_data = std::string("ab\0cd", 5);
  const std::string v = EncodeInode(r);
  EXPECT_EQ(v[1] & 4, 4);
  InodeRec o;
  ASSERT_TRUE(DecodeInode(v, &o));
  EXPECT_TRUE(o.has_inline);
  EXPECT_EQ(o.inline_data, r.inline_data);
  EXPECT_EQ(EncodeInode(o), v);
  // Without the flag there is no trailing field: a v1 record reads as one.
  InodeRec plain;
  plain.type = 1;
  plain.size = 70000;
  plain.maps = {0, 12};
  ASSERT_TRUE(DecodeInode(EncodeInode(plain), &o));
  EXPECT_FALSE(o.has_inline);
  EXPECT_TRUE(o.inline_data.empty());
  // Readers copy `size` bytes: a record whose data is not exactly that long,
  // that is not a regular file, or that also names a map node is corrupt.
  InodeRec bad = r;
  bad.size = 6;
  EXPECT_FALSE(DecodeInode(EncodeInode(bad), &o));
  bad = r;
  bad.type = 2;
  EXPECT_FALSE(DecodeInode(EncodeInode(bad), &o));
  bad = r;
  bad.maps = {7};
  EXPECT_FALSE(DecodeInode(EncodeInode(bad), &o));
  // Unknown flag bits are refused, not ignored.
  std::string unknown = v;
  unknown[1] = static_cast<char>(unknown[1] | 8);
  EXPECT_FALSE(DecodeInode(unknown, &o));
}

TEST(KeysTest, PageRoundTripAndValidation) {
  std::vector<std::pair<uint32_t, uint64_t>> e = {{0, 5}, {3, 9}, {255, 1}};
  std::string v = EncodePage(e);
  std::vector<std::pair<uint32_t, uint64_t>> o;
  ASSERT_TRUE(DecodePage(v, kLeafSlots, &o));
  EXPECT_EQ(o, e);
  EXPECT_FALSE(DecodePage(v, 255, &o));  // slot out of range
  EXPECT_FALSE(DecodePage(EncodePage({{1, 0}}), kLeafSlots, &o));  // id 0
  EXPECT_FALSE(DecodePage(EncodePage({{1, 4}, {1, 5}}), kLeafSlots, &o));
}

TEST(KeysTest, SuperblockAndSnapshotRoundTrip) {
  Superblock s;
  s.store_id = 0xabcdef;
  s.segment_size = 65536;
  s.num_members = 4;
  s.created_sec = 1;
  s.member_paths = {"/a", "/b"};
  Superblock o;
  ASSERT_TRUE(DecodeSuperblock(EncodeSuperblock(s), &o));
  EXPECT_EQ(o.member_paths, s.member_paths);
  EXPECT_EQ(o.store_id, s.store_id);
  EXPECT_EQ(o.version, kFormatVersion);
  // An older version this build upgrades decodes in full.
  s.version = kOldestFormatVersion;
  ASSERT_TRUE(DecodeSuperblock(EncodeSuperblock(s), &o));
  EXPECT_EQ(o.version, kOldestFormatVersion);
  EXPECT_EQ(o.member_paths, s.member_paths);
  // An unknown version decodes only far enough to be refused.
  std::string future;
  PutVarint(&future, kFormatVersion + 1);
  future += "whatever";
  ASSERT_TRUE(DecodeSuperblock(future, &o));
  EXPECT_EQ(o.version, kFormatVersion + 1);

  SnapshotRec r{"nightly", 5, 9, 1700000000, 7};
  SnapshotRec q;
  ASSERT_TRUE(DecodeSnapshot(EncodeSnapshot(r), &q));
  EXPECT_EQ(q.name, "nightly");
  EXPECT_EQ(q.root, 9u);
  EXPECT_EQ(q.nsec, 7u);
}

}  // namespace
}  // namespace vnas::storage::meta
