#include "server/vmformat/vmdk_sparse.h"

#include <string>

#include "gtest/gtest.h"
#include "server/vmformat/qemu_img_testutil.h"
#include "server/vmformat/vmdk_descriptor.h"

namespace vnas::vmformat {
namespace {

using testing::FreshDir;
using testing::ReadRange;
using testing::RunQemuImg;

void PutLE(std::string* s, size_t off, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) (*s)[off + i] = static_cast<char>(v >> (8 * i));
}

// A minimal hosted sparse header with an embedded descriptor at sector 1.
std::string Kdmv(const std::string& descriptor, uint64_t desc_off = 1,
                 uint64_t desc_size = 20) {
  std::string s(64 * 1024, '\0');
  s.replace(0, 4, "KDMV");
  PutLE(&s, 4, 1, 4);
  PutLE(&s, 8, 3, 4);
  PutLE(&s, 12, 131072, 8);
  PutLE(&s, 20, 128, 8);
  PutLE(&s, 28, desc_off, 8);
  PutLE(&s, 36, desc_size, 8);
  if (desc_off == 1) s.replace(512, descriptor.size(), descriptor);
  return s;
}

TEST(VmdkSparse, QemuImgMonolithicSparseChain) {
  const std::string dir = FreshDir("sparse_chain");
  ASSERT_TRUE(RunQemuImg(dir, {"create", "-q", "-f", "vmdk", "-o",
                               "subformat=monolithicSparse", "base.vmdk", "64M"})
                  .ok());
  absl::Status s = RunQemuImg(dir, {"create", "-q", "-f", "vmdk", "-o",
                                    "subformat=monolithicSparse", "-b",
                                    "base.vmdk", "-F", "vmdk", "child.vmdk"});
  ASSERT_TRUE(s.ok()) << s;
  absl::StatusOr<std::string> base = ReadRange(dir + "/base.vmdk", 0, 65536);
  absl::StatusOr<std::string> child = ReadRange(dir + "/child.vmdk", 0, 65536);
  ASSERT_TRUE(base.ok() && child.ok());
  absl::StatusOr<SparseHeader> hb = ParseSparseHeader(*base);
  absl::StatusOr<SparseHeader> hc = ParseSparseHeader(*child);
  ASSERT_TRUE(hb.ok()) << hb.status();
  ASSERT_TRUE(hc.ok()) << hc.status();
  EXPECT_EQ(hb->kind, SparseKind::kHosted);
  EXPECT_EQ(hb->capacity_sectors, 64u * 1024 * 1024 / 512);
  EXPECT_EQ(hb->grain_sectors, 128u);
  EXPECT_EQ(hb->descriptor_offset, 512u);
  absl::StatusOr<VmdkDescriptor> db = ParseVmdkDescriptor(hb->descriptor);
  absl::StatusOr<VmdkDescriptor> dc = ParseVmdkDescriptor(hc->descriptor);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE(dc.ok()) << dc.status();
  EXPECT_EQ(db->create_type, "monolithicSparse");
  EXPECT_FALSE(db->HasParent());
  EXPECT_TRUE(dc->HasParent());
  EXPECT_EQ(dc->parent_hint, "base.vmdk");
  EXPECT_EQ(dc->parent_cid, db->cid);  // the link rule holds for qemu's chain
  ASSERT_EQ(dc->extents.size(), 1u);
  EXPECT_EQ(dc->extents[0].file, "child.vmdk");
  // A sample that ends inside the descriptor area is reported as such.
  absl::StatusOr<SparseHeader> cut = ParseSparseHeader(base->substr(0, 1000));
  EXPECT_EQ(cut.status().code(), absl::StatusCode::kOutOfRange);
}

TEST(VmdkSparse, QemuImgTwoGbMaxExtentSparseExtentHasNoDescriptor) {
  const std::string dir = FreshDir("sparse_2gb");
  ASSERT_TRUE(RunQemuImg(dir, {"create", "-q", "-f", "vmdk", "-o",
                               "subformat=twoGbMaxExtentSparse", "d.vmdk", "3G"})
                  .ok());
  absl::StatusOr<std::string> ext = ReadRange(dir + "/d-s001.vmdk", 0, 65536);
  ASSERT_TRUE(ext.ok());
  absl::StatusOr<SparseHeader> h = ParseSparseHeader(*ext);
  ASSERT_TRUE(h.ok()) << h.status();
  // qemu reserves the descriptor area in every extent but fills it only in
  // a monolithic file: the extent's area is all NULs.
  EXPECT_TRUE(h->descriptor.empty());
}

TEST(VmdkSparse, Malformed) {
  const std::string desc = "version=1\nCID=1\ncreateType=\"monolithicSparse\"\n";
  struct Case {
    const char* name;
    std::string data;
    absl::StatusCode code;
  };
  std::string bad_grain = Kdmv(desc);
  PutLE(&bad_grain, 20, 100, 8);
  std::string huge_cap = Kdmv(desc);
  PutLE(&huge_cap, 12, UINT64_MAX / 256, 8);
  std::string bad_version = Kdmv(desc);
  PutLE(&bad_version, 4, 7, 4);
  std::string size_without_off = Kdmv(desc, 0, 20);
  const Case cases[] = {
      {"truncated", Kdmv(desc).substr(0, 40), absl::StatusCode::kInvalidArgument},
      {"bad grain", bad_grain, absl::StatusCode::kInvalidArgument},
      {"capacity overflow", huge_cap, absl::StatusCode::kInvalidArgument},
      {"bad version", bad_version, absl::StatusCode::kInvalidArgument},
      {"offset overflow", Kdmv(desc, UINT64_MAX / 256, 20),
       absl::StatusCode::kInvalidArgument},
      {"size overflow", Kdmv(desc, 2, UINT64_MAX), absl::StatusCode::kInvalidArgument},
      {"descriptor beyond sample", Kdmv(desc, 1u << 20, 20),
       absl::StatusCode::kOutOfRange},
      {"descriptor huge", Kdmv(desc, 1, 1u << 22), absl::StatusCode::kInvalidArgument},
      {"size without offset", size_without_off, absl::StatusCode::kInvalidArgument},
      {"no magic", std::string(512, 'x'), absl::StatusCode::kInvalidArgument},
      {"empty", "", absl::StatusCode::kInvalidArgument},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(ParseSparseHeader(c.data).status().code(), c.code);
  }
  absl::StatusOr<SparseHeader> ok = ParseSparseHeader(Kdmv(desc));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->descriptor, desc);
}

TEST(VmdkSparse, CowdAndSeSparse) {
  std::string cowd(2048, '\0');
  cowd.replace(0, 4, "COWD");
  PutLE(&cowd, 4, 1, 4);
  PutLE(&cowd, 12, 41943040, 4);
  PutLE(&cowd, 16, 1, 4);
  absl::StatusOr<SparseHeader> c = ParseSparseHeader(cowd);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kind, SparseKind::kCowd);
  EXPECT_EQ(c->capacity_sectors, 41943040u);
  EXPECT_FALSE(ParseSparseHeader(cowd.substr(0, 20)).ok());

  std::string se(2048, '\0');
  PutLE(&se, 0, 0xcafebabe, 8);
  PutLE(&se, 8, 0x0000000200000001ull, 8);
  PutLE(&se, 16, 41943040, 8);
  PutLE(&se, 24, 8, 8);
  absl::StatusOr<SparseHeader> s = ParseSparseHeader(se);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->kind, SparseKind::kSeSparse);
  EXPECT_EQ(s->capacity_sectors, 41943040u);
  PutLE(&se, 8, 5, 8);
  EXPECT_FALSE(ParseSparseHeader(se).ok());
}

}  // namespace
}  // namespace vnas::vmformat
