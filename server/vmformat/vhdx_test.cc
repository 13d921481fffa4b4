#include "server/vmformat/vhdx.h"

#include <string>

#include "gtest/gtest.h"
#include "server/vmformat/qemu_img_testutil.h"

namespace vnas::vmformat {
namespace {

using internal::FileView;
using testing::FreshDir;
using testing::MakeDifferencingVhdx;
using testing::ReadRange;
using testing::RunQemuImg;

std::string QemuVhdx(const std::string& dir) {
  absl::Status s = RunQemuImg(dir, {"create", "-q", "-f", "vhdx", "p.vhdx", "64M"});
  EXPECT_TRUE(s.ok()) << s;
  absl::StatusOr<std::string> all = ReadRange(dir + "/p.vhdx", 0, 16 << 20);
  EXPECT_TRUE(all.ok());
  return all.ok() ? *all : std::string();
}

TEST(Vhdx, QemuImgBaseWholeFile) {
  const std::string file = QemuVhdx(FreshDir("vhdx_base"));
  ASSERT_TRUE(IsVhdx(file));
  FileView view{file, {}};
  absl::StatusOr<VhdxInfo> v = ParseVhdx(view);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->missing.empty()) << v->missing;
  EXPECT_TRUE(v->metadata_seen);
  EXPECT_FALSE(v->has_parent);
  EXPECT_EQ(v->virtual_size, 64u << 20);
  EXPECT_NE(v->block_size, 0u);
  EXPECT_EQ(v->data_write_guid.size(), 38u);
  EXPECT_NE(v->creator.find("QEMU"), std::string::npos) << v->creator;
  EXPECT_TRUE(VhdxWantedRanges(view).empty());
}

TEST(Vhdx, SampleOnlyAsksForTheRest) {
  const std::string file = QemuVhdx(FreshDir("vhdx_sample"));
  FileView view{absl::string_view(file).substr(0, 65536), {}};
  absl::StatusOr<VhdxInfo> v = ParseVhdx(view);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->metadata_seen);
  EXPECT_NE(v->missing.find("beyond the sample"), std::string::npos);
  // Serve the wanted pieces until the parser is satisfied.
  int rounds = 0;
  for (;; ++rounds) {
    ASSERT_LT(rounds, 5);
    auto want = VhdxWantedRanges(view);
    if (want.empty()) break;
    for (const auto& [off, len] : want) {
      ASSERT_LE(off + len, file.size());
      view.ranges.emplace_back(off, absl::string_view(file).substr(off, len));
    }
  }
  EXPECT_EQ(rounds, 3);  // headers+region table, metadata table, items
  v = ParseVhdx(view);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->metadata_seen);
  EXPECT_EQ(v->virtual_size, 64u << 20);
}

TEST(Vhdx, DifferencingParentLocator) {
  const std::string base = QemuVhdx(FreshDir("vhdx_diff"));
  absl::StatusOr<std::string> child =
      MakeDifferencingVhdx(base, ".\\p.vhdx", "{11111111-2222-3333-4444-555555555555}");
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<VhdxInfo> v = ParseVhdx(FileView{*child, {}});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->has_parent);
  EXPECT_EQ(v->parent_locator["relative_path"], ".\\p.vhdx");
  EXPECT_EQ(v->parent_locator["parent_linkage"],
            "{11111111-2222-3333-4444-555555555555}");
  EXPECT_EQ(v->parent_locator["absolute_win32_path"], "C:\\vms\\.\\p.vhdx");
}

TEST(Vhdx, Malformed) {
  const std::string base = QemuVhdx(FreshDir("vhdx_bad"));
  struct Case {
    const char* name;
    size_t offset;
    std::string bytes;
  };
  const size_t rt = 192 * 1024;
  const Case cases[] = {
      {"region checksum", rt + 4, "\x01\x02"},
      {"region entries", rt + 8, "\xff\xff\xff\x7f"},
      {"metadata signature", 0x300000, "XXXX"},
      {"item offset", 0x300000 + 32 + 16, std::string("\x10\x00\x00\x00", 4)},
      {"item huge length", 0x300000 + 32 + 20, "\xff\xff\xff\xff"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string f = base;
    f.replace(c.offset, c.bytes.size(), c.bytes);
    EXPECT_EQ(ParseVhdx(FileView{f, {}}).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(ParseVhdx(FileView{"vhdxfil", {}}).ok());
  // Locator entries pointing past the item.
  absl::StatusOr<std::string> child = MakeDifferencingVhdx(base, "p.vhdx", "{x}");
  ASSERT_TRUE(child.ok());
  std::string bad = *child;
  bad.replace(0x300000 + 128 * 1024 + 20, 4, std::string("\xff\xff\x00\x00", 4));
  EXPECT_FALSE(ParseVhdx(FileView{bad, {}}).ok());
  // Truncated file: pieces missing, not an error.
  absl::StatusOr<VhdxInfo> t = ParseVhdx(FileView{base.substr(0, 200 * 1024), {}});
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->missing.empty());
}

TEST(Vhdx, Utf16AndCrc) {
  EXPECT_EQ(Utf16LeToUtf8(std::string("a\0\xe9\0", 4)), "a\xc3\xa9");
  EXPECT_EQ(Utf16LeToUtf8(std::string("\x3d\xd8\x00\xde", 4)), "\xf0\x9f\x98\x80");
  EXPECT_EQ(Utf16LeToUtf8(std::string("\x00\xd8", 2)), "\xef\xbf\xbd");
  EXPECT_EQ(Utf16LeToUtf8("a"), "\xef\xbf\xbd");
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
}

}  // namespace
}  // namespace vnas::vmformat
