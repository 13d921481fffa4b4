#include "server/vmformat/vmdk_descriptor.h"

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/vmformat/qemu_img_testutil.h"

// Counts the bytes this test binary allocates, so a test can check that a
// parser does not copy its input line by line.
namespace {
std::atomic<size_t> g_allocated_bytes{0};
}  // namespace

void* operator new(size_t n) {
  g_allocated_bytes.fetch_add(n, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace vnas::vmformat {
namespace {

// The examples of protocol-and-formats.md §3, written out as real files.
constexpr char kFlatBase[] =
    "# Disk DescriptorFile\n"
    "version=1\n"
    "encoding=\"UTF-8\"\n"
    "CID=3a5c0f21\n"
    "parentCID=ffffffff\n"
    "createType=\"vmfs\"\n"
    "\n"
    "# Extent description\n"
    "RW 41943040 VMFS \"vm-flat.vmdk\"\n"
    "\n"
    "# The Disk Data Base\n"
    "#DDB\n"
    "\n"
    "ddb.adapterType = \"lsilogic\"\n"
    "ddb.virtualHWVersion = \"19\"\n";

constexpr char kDelta1[] =
    "# Disk DescriptorFile\r\n"
    "version=1\r\n"
    "CID=7b2e9d44\r\n"
    "parentCID=3a5c0f21\r\n"
    "createType=\"vmfsSparse\"\r\n"
    "parentFileNameHint=\"vm.vmdk\"\r\n"
    "RW 41943040 VMFSSPARSE \"vm-000001-delta.vmdk\"\r\n";

constexpr char kSeSparse2[] =
    "version = 1\n"
    "CID = C41F0A93\n"
    "parentCID = 7b2e9d44\n"
    "createType = seSparse\n"
    "parentFileNameHint = vm-000001.vmdk\n"
    "  RW   41943040\tSESPARSE   \"vm-000002-sesparse.vmdk\"  \n";

TEST(VmdkDescriptor, ExamplesFromTheNotes) {
  struct Case {
    const char* text;
    uint32_t cid;
    uint32_t parent_cid;
    const char* create_type;
    const char* hint;
    const char* extent_type;
    const char* extent_file;
  };
  const Case cases[] = {
      {kFlatBase, 0x3a5c0f21, kNoParentCid, "vmfs", "", "VMFS", "vm-flat.vmdk"},
      {kDelta1, 0x7b2e9d44, 0x3a5c0f21, "vmfsSparse", "vm.vmdk", "VMFSSPARSE",
       "vm-000001-delta.vmdk"},
      {kSeSparse2, 0xc41f0a93, 0x7b2e9d44, "seSparse", "vm-000001.vmdk",
       "SESPARSE", "vm-000002-sesparse.vmdk"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.create_type);
    absl::StatusOr<VmdkDescriptor> d = ParseVmdkDescriptor(c.text);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->version, 1u);
    EXPECT_EQ(d->cid, c.cid);
    EXPECT_EQ(d->parent_cid, c.parent_cid);
    EXPECT_EQ(d->create_type, c.create_type);
    EXPECT_EQ(d->parent_hint, c.hint);
    EXPECT_EQ(d->HasParent(), c.parent_cid != kNoParentCid);
    ASSERT_EQ(d->extents.size(), 1u);
    EXPECT_EQ(d->extents[0].type, c.extent_type);
    EXPECT_EQ(d->extents[0].file, c.extent_file);
    EXPECT_EQ(d->extents[0].sectors, 41943040u);
    EXPECT_EQ(d->capacity_sectors, 41943040u);
    EXPECT_TRUE(LooksLikeVmdkDescriptor(c.text));
  }
  absl::StatusOr<VmdkDescriptor> base = ParseVmdkDescriptor(kFlatBase);
  ASSERT_TRUE(base.ok());
  ASSERT_EQ(base->ddb.size(), 2u);
  EXPECT_EQ(base->ddb[0].first, "ddb.adapterType");
  EXPECT_EQ(base->ddb[0].second, "lsilogic");
}

TEST(VmdkDescriptor, ExtentLines) {
  struct Case {
    const char* line;
    bool ok;
    const char* type;
    const char* file;
    uint64_t sectors;
    uint64_t offset;
  };
  const Case cases[] = {
      {"RW 4194304 FLAT \"flat-f001.vmdk\" 0", true, "FLAT", "flat-f001.vmdk", 4194304, 0},
      {"RDONLY 100 FLAT \"with space.vmdk\" 2048", true, "FLAT", "with space.vmdk", 100, 2048},
      {"NOACCESS 8 ZERO", true, "ZERO", "", 8, 0},
      {"RW 8 sparse \"x.vmdk\"", true, "SPARSE", "x.vmdk", 8, 0},
      {"RW 8 VMFS unquoted.vmdk", true, "VMFS", "unquoted.vmdk", 8, 0},
      {"RW 8 VMFSRDM \"rdm-rdmp.vmdk\"", true, "VMFSRDM", "rdm-rdmp.vmdk", 8, 0},
      // vSAN snapshots (createType="vsanSparse"); lower case as some tools
      // write it.
      {"RW 41943040 VSANSPARSE \"vm-000001-vsansparse.vmdk\"", true, "VSANSPARSE",
       "vm-000001-vsansparse.vmdk", 41943040, 0},
      {"RW 8 vsanSparse \"v.vmdk\"", true, "VSANSPARSE", "v.vmdk", 8, 0},
      {"RW 8 FLAT", false, "", "", 0, 0},               // file missing
      {"RW x FLAT \"a\"", false, "", "", 0, 0},          // bad count
      {"RW 8 BOGUS \"a\"", false, "", "", 0, 0},         // bad type
      {"RW 8 FLAT \"a", false, "", "", 0, 0},            // unterminated
      {"RW 8 FLAT \"a\" 1 2", false, "", "", 0, 0},      // junk
      {"RW 8 FLAT \"\"", false, "", "", 0, 0},           // empty name
      {"RW 36028797018963968 FLAT \"a\"", false, "", "", 0, 0},  // *512 overflows
      {"RW 99999999999999999999999 FLAT \"a\"", false, "", "", 0, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    absl::StatusOr<VmdkExtent> e = ParseExtentLine(c.line);
    ASSERT_EQ(e.ok(), c.ok) << e.status();
    if (!c.ok) continue;
    EXPECT_EQ(e->type, c.type);
    EXPECT_EQ(e->file, c.file);
    EXPECT_EQ(e->sectors, c.sectors);
    EXPECT_EQ(e->offset, c.offset);
    if (e->has_file) {
      EXPECT_EQ(std::string(c.line).substr(e->file_begin, e->file.size()), e->file);
    }
  }
}

TEST(VmdkDescriptor, Rejects) {
  struct Case {
    const char* name;
    std::string text;
  };
  const Case cases[] = {
      {"no version", "CID=1\ncreateType=\"vmfs\"\n"},
      {"no cid", "version=1\ncreateType=\"vmfs\"\n"},
      {"no createType", "version=1\nCID=1\n"},
      {"bad cid", "version=1\nCID=xyz\ncreateType=\"vmfs\"\n"},
      {"long cid", "version=1\nCID=123456789\ncreateType=\"vmfs\"\n"},
      {"duplicate cid", "version=1\nCID=1\nCID=2\ncreateType=\"vmfs\"\n"},
      {"garbage line", "version=1\nCID=1\ncreateType=\"vmfs\"\nhello world\n"},
      {"NUL", std::string("version=1\nCID=1\0\ncreateType=\"vmfs\"\n", 33)},
      {"sector sum overflow",
       "version=1\nCID=1\ncreateType=\"vmfs\"\n"
       "RW 18014398509481984 FLAT \"a\"\nRW 18014398509481984 FLAT \"b\"\n"},
      {"empty", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_FALSE(ParseVmdkDescriptor(c.text).ok());
  }
}

TEST(VmdkDescriptor, ToleratesNonUtf8AndHugeLines) {
  std::string text = "version=1\nCID=1\ncreateType=\"vmfs\"\n";
  text += "ddb.comment = \"\xff\xfe\x80\"\n";
  text += "# " + std::string(1 << 20, 'c') + "\n";
  absl::StatusOr<VmdkDescriptor> d = ParseVmdkDescriptor(text);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->ddb.size(), 1u);
  EXPECT_FALSE(ParseVmdkDescriptor(std::string(1 << 20, 'x')).ok());
}

// A cold open of a big descriptor (here 64 KiB of blank and comment lines
// around a small one) used to materialize a 40-byte record per line before
// parsing; the parser now walks the lines in place.
TEST(VmdkDescriptor, BigDescriptorIsParsedWithoutCopyingItsLines) {
  std::string text = kFlatBase;
  while (text.size() < 64 * 1024) text += "\n#\n";
  const size_t before = g_allocated_bytes.load();
  absl::StatusOr<VmdkDescriptor> d = ParseVmdkDescriptor(text);
  const size_t allocated = g_allocated_bytes.load() - before;
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->extents.size(), 1u);
  EXPECT_LT(allocated, 8u * 1024) << "bytes allocated to parse " << text.size();
}

TEST(VmdkDescriptor, Utf8Bom) {
  const std::string text = std::string("\xEF\xBB\xBF") + kFlatBase;
  EXPECT_TRUE(LooksLikeVmdkDescriptor(text));
  absl::StatusOr<VmdkDescriptor> d = ParseVmdkDescriptor(text);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->cid, 0x3a5c0f21u);
}

TEST(VmdkDescriptor, Sniff) {
  EXPECT_TRUE(LooksLikeVmdkDescriptor("# Disk DescriptorFile\nversion=1\n"));
  EXPECT_TRUE(LooksLikeVmdkDescriptor("\n\n# other comment\nversion=1\n"));
  EXPECT_FALSE(LooksLikeVmdkDescriptor("KDMV\0\0"));
  EXPECT_FALSE(LooksLikeVmdkDescriptor("CID=1\nversion=1\n"));
  EXPECT_FALSE(LooksLikeVmdkDescriptor(std::string("version=1\0", 10)));
  EXPECT_FALSE(LooksLikeVmdkDescriptor(""));
}

TEST(ParseCid, Table) {
  uint32_t v = 0;
  EXPECT_TRUE(ParseCid("ffffffff", &v));
  EXPECT_EQ(v, 0xffffffffu);
  EXPECT_TRUE(ParseCid("0", &v));
  EXPECT_EQ(v, 0u);
  EXPECT_TRUE(ParseCid("DeadBeef", &v));
  EXPECT_EQ(v, 0xdeadbeefu);
  EXPECT_FALSE(ParseCid("", &v));
  EXPECT_FALSE(ParseCid("123456789", &v));
  EXPECT_FALSE(ParseCid("12g4", &v));
}

TEST(VmdkDescriptor, QemuImgFlatDescriptors) {
  const std::string dir = testing::FreshDir("desc_flat");
  struct Case {
    const char* subformat;
    const char* file;
    std::vector<std::string> extents;
    std::vector<uint64_t> sectors;
  };
  const Case cases[] = {
      {"monolithicFlat", "m.vmdk", {"m-flat.vmdk"}, {6291456}},
      {"twoGbMaxExtentFlat", "t.vmdk", {"t-f001.vmdk", "t-f002.vmdk"}, {4194304, 2097152}},
      {"twoGbMaxExtentSparse", "s.vmdk", {"s-s001.vmdk", "s-s002.vmdk"}, {4194304, 2097152}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.subformat);
    absl::Status s = testing::RunQemuImg(
        dir, {"create", "-q", "-f", "vmdk", "-o",
              std::string("subformat=") + c.subformat, c.file, "3G"});
    ASSERT_TRUE(s.ok()) << s;
    absl::StatusOr<std::string> text = testing::ReadRange(dir + "/" + c.file, 0, 65536);
    ASSERT_TRUE(text.ok());
    ASSERT_TRUE(LooksLikeVmdkDescriptor(*text));
    absl::StatusOr<VmdkDescriptor> d = ParseVmdkDescriptor(*text);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->create_type, c.subformat);
    EXPECT_FALSE(d->HasParent());
    EXPECT_EQ(d->capacity_sectors, 3ull << 21);
    ASSERT_EQ(d->extents.size(), c.extents.size());
    for (size_t i = 0; i < c.extents.size(); ++i) {
      EXPECT_EQ(d->extents[i].file, c.extents[i]);
      EXPECT_EQ(d->extents[i].sectors, c.sectors[i]);
    }
  }
}

}  // namespace
}  // namespace vnas::vmformat
