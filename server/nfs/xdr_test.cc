#include "server/nfs/xdr.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/nfs/mount_types.h"
#include "server/nfs/nfs3_types.h"

namespace vnas::nfs {
namespace {

TEST(Xdr, PrimitivesRoundTripWithExactSize) {
  ByteBuffer b;
  XdrEncoder e(&b);
  e.U32(7);
  e.U64(0x0102030405060708ULL);
  e.Bool(true);
  e.Var("abcde");
  ASSERT_EQ(b.size(), 4u + 8 + 4 + 4 + 8);
  XdrDecoder d(b.view());
  uint32_t u;
  uint64_t h;
  bool t;
  absl::string_view s;
  ASSERT_TRUE(d.U32(&u) && d.U64(&h) && d.Bool(&t) && d.Var(16, &s));
  EXPECT_EQ(u, 7u);
  EXPECT_EQ(h, 0x0102030405060708ULL);
  EXPECT_TRUE(t);
  EXPECT_EQ(s, "abcde");
  EXPECT_TRUE(d.done());
}

TEST(ByteBuffer, ReserveAlignedKeepsContentsAndAlignsTheGivenByte) {
  ByteBuffer b;
  b.Append("header", 6);
  for (size_t at : {6u, 130u, 4097u}) {
    b.ReserveAligned(at + (1 << 20), at, 4096);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data() + at) % 4096, 0u) << at;
    EXPECT_GE(b.capacity(), at + (1 << 20));
    EXPECT_EQ(b.view(), "header");
  }
  // Already aligned and big enough: the same storage.
  const char* before = b.data();
  b.ReserveAligned(4097 + 100, 4097, 4096);
  EXPECT_EQ(b.data(), before);
  // Appends and moves keep working on the aligned storage.
  b.Append("!", 1);
  ByteBuffer moved(std::move(b));
  EXPECT_EQ(moved.view(), "header!");
  EXPECT_TRUE(b.empty());
}

TEST(ByteBuffer, BigBuffersReuseThePoolsBlocks) {
  // A 1 MiB record freed and another reserved: the same block, no new map.
  const char* first;
  {
    ByteBuffer b;
    b.Reserve(1 << 20);
    first = b.data();
  }
  const size_t maps = BlockPool::Global().maps();
  ByteBuffer again;
  again.Reserve(1 << 20);
  EXPECT_EQ(again.data(), first);
  EXPECT_EQ(BlockPool::Global().maps(), maps);
  // Small buffers stay on the heap; moving a pooled buffer keeps its block.
  ByteBuffer small;
  small.Append("x", 1);
  ByteBuffer moved(std::move(again));
  EXPECT_EQ(moved.data(), first);
  again = std::move(small);
  EXPECT_EQ(again.view(), "x");
}

TEST(ByteBuffer, AdoptedMemoryIsUsedInPlaceAndHeldUntilLeft) {
  auto memory = std::make_shared<std::vector<char>>(8192);
  std::shared_ptr<char> m(memory, memory->data() + 100);
  ByteBuffer b;
  b.Append("old", 3);
  b.Adopt(m, 4000);
  EXPECT_EQ(b.data(), memory->data() + 100);  // in place, contents dropped
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.capacity(), 4000u);
  b.Append("abc", 3);
  EXPECT_EQ(std::string(memory->data() + 100, 3), "abc");
  ByteBuffer moved(std::move(b));  // the memory's owner moves along
  m.reset();
  const long held = memory.use_count();
  EXPECT_EQ(held, 2);
  EXPECT_EQ(moved.data(), memory->data() + 100);
  // Growing past it moves to the buffer's own memory and lets go.
  moved.Reserve(10000);
  EXPECT_NE(moved.data(), memory->data() + 100);
  EXPECT_EQ(moved.view(), "abc");
  EXPECT_EQ(memory.use_count(), 1);
}

TEST(Xdr, DecoderNeverReadsPastTheEnd) {
  const char data[] = {0, 0, 0, 9, 'a', 'b'};  // says 9 bytes, has 2
  XdrDecoder d(data, sizeof(data));
  absl::string_view s;
  EXPECT_FALSE(d.Var(100, &s));
  EXPECT_FALSE(d.ok());
  uint32_t u;
  EXPECT_FALSE(d.U32(&u));  // stays failed
}

TEST(Xdr, OverflowingLengthIsRejected) {
  const char data[] = {'\xff', '\xff', '\xff', '\xf0', 0, 0, 0, 0};
  XdrDecoder d(data, sizeof(data));
  absl::string_view s;
  EXPECT_FALSE(d.Var(0xffffffffu, &s));
}

TEST(Xdr, MaxLengthIsEnforced) {
  ByteBuffer b;
  XdrEncoder e(&b);
  e.Var(std::string(65, 'x'));
  XdrDecoder d(b.view());
  nfs_fh3 fh;
  EXPECT_FALSE(Decode(d, &fh));  // NFS3_FHSIZE is 64
}

TEST(Xdr, BoolOtherThanZeroOrOneFails) {
  const char data[] = {0, 0, 0, 2};
  XdrDecoder d(data, 4);
  bool v;
  EXPECT_FALSE(d.Bool(&v));
}

TEST(Nfs3Types, WriteArgsDataIsAViewAndCountMustMatch) {
  ByteBuffer b;
  XdrEncoder e(&b);
  e.Var("handle");
  e.U64(4096);
  e.U32(3);
  e.U32(FILE_SYNC);
  e.Var("xyz");
  WRITE3args a;
  XdrDecoder d(b.view());
  ASSERT_TRUE(Decode(d, &a));
  EXPECT_TRUE(d.done());
  EXPECT_EQ(a.offset, 4096u);
  EXPECT_EQ(a.stable, FILE_SYNC);
  EXPECT_EQ(a.data, "xyz");
  EXPECT_GE(a.data.data(), b.data());
  EXPECT_LT(a.data.data(), b.data() + b.size());

  ByteBuffer bad;
  XdrEncoder e2(&bad);
  e2.Var("handle");
  e2.U64(0);
  e2.U32(4);  // count 4, data 3
  e2.U32(UNSTABLE);
  e2.Var("xyz");
  XdrDecoder d2(bad.view());
  EXPECT_FALSE(Decode(d2, &a));
}

TEST(Nfs3Types, SattrAndCreateHowDecode) {
  ByteBuffer b;
  XdrEncoder e(&b);
  e.Var("dirfh");
  e.Var("name");
  e.U32(GUARDED);
  e.Bool(true);
  e.U32(0640);   // mode
  e.Bool(false);  // uid
  e.Bool(false);  // gid
  e.Bool(true);
  e.U64(10);     // size
  e.U32(SET_TO_CLIENT_TIME);
  e.U32(5);
  e.U32(6);
  e.U32(SET_TO_SERVER_TIME);
  CREATE3args a;
  XdrDecoder d(b.view());
  ASSERT_TRUE(Decode(d, &a));
  EXPECT_TRUE(d.done());
  EXPECT_EQ(a.where.name, "name");
  EXPECT_EQ(a.how.mode, GUARDED);
  EXPECT_EQ(a.how.obj_attributes.mode, 0640u);
  EXPECT_EQ(a.how.obj_attributes.size, 10u);
  EXPECT_EQ(a.how.obj_attributes.atime.nseconds, 6u);
  EXPECT_EQ(a.how.obj_attributes.set_mtime, SET_TO_SERVER_TIME);
}

TEST(Nfs3Types, BadEnumsFail) {
  ByteBuffer b;
  XdrEncoder e(&b);
  e.Var("dirfh");
  e.Var("name");
  e.U32(3);  // createmode3 has 0..2
  CREATE3args a;
  XdrDecoder d(b.view());
  EXPECT_FALSE(Decode(d, &a));
}

TEST(Nfs3Types, FattrEncodesTo84Bytes) {
  ByteBuffer b;
  XdrEncoder e(&b);
  fattr3 f;
  f.fileid = 42;
  f.size = 1234;
  Encode(e, f);
  ASSERT_EQ(b.size(), kFattr3Size);
  fattr3 g;
  XdrDecoder d(b.view());
  ASSERT_TRUE(Decode(d, &g));
  EXPECT_EQ(g.fileid, 42u);
  EXPECT_EQ(g.size, 1234u);
}

TEST(Nfs3Types, ReadResultPlacesDataAtKnownOffset) {
  // READ fills the reply buffer in place at kRead3DataOffset.
  ByteBuffer b;
  b.Reserve(4096);
  char* data = b.data() + kRead3DataOffset;
  memcpy(data, "hello", 5);
  XdrEncoder e(&b);
  READ3res r;
  r.file_attributes.attributes_follow = true;
  r.count = 5;
  r.eof = true;
  r.data = absl::string_view(data, 5);
  Encode(e, r);
  ASSERT_EQ(b.size(), kRead3DataOffset + 8);
  EXPECT_EQ(std::string(b.data() + kRead3DataOffset, 5), "hello");
  EXPECT_EQ(LoadBe32(b.data() + kRead3DataOffset - 4), 5u);
  EXPECT_EQ(LoadBe32(b.data() + kRead3DataOffset - 8), 1u);  // eof
}

TEST(Nfs3Types, EntrySizesMatchEncoding) {
  READDIRPLUS3res r;
  r.dir_attributes.attributes_follow = true;
  entryplus3 en;
  en.name = "abc";
  en.name_attributes.attributes_follow = true;
  en.name_handle.handle_follows = true;
  en.name_handle.handle.len = 28;
  r.entries.push_back(en);
  ByteBuffer b;
  XdrEncoder e(&b);
  Encode(e, r);
  size_t overhead = 4 + kPostOpAttrSize + 8 + 4 + 4;
  EXPECT_EQ(b.size(), overhead + EncodedSize(en));
}

TEST(MountTypes, MountResAndExports) {
  mountres3 r;
  r.fhandle.len = 3;
  r.auth_flavors = {1};
  ByteBuffer b;
  XdrEncoder e(&b);
  Encode(e, r);
  EXPECT_EQ(b.size(), 4u + 4 + 4 + 4 + 4);
  exports ex = {{"/vnas", {"127.0.0.1/32"}}};
  ByteBuffer c;
  XdrEncoder e2(&c);
  Encode(e2, ex);
  EXPECT_EQ(c.size(), 4u + 4 + 8 + 4 + 4 + 12 + 4 + 4);
}

}  // namespace
}  // namespace vnas::nfs
