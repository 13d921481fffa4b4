#include "server/control/vm_reader.h"

#include <ctime>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/control/test_util.h"
#include "server/vmformat/chain.h"
#include "server/vmformat/qemu_img_testutil.h"

namespace vnas::control {
namespace {

using vmformat::testing::FreshDir;
using vmformat::testing::MakeDifferencingVhdx;
using vmformat::testing::ReadRange;
using vmformat::testing::RunQemuImg;
using vmformat::testing::VhdxDataWriteGuid;

TEST(VmReaderTest, ReadWholeReturnsEveryByteAndRefusesBigFiles) {
  testing::ControlFixture fx;
  std::string data(3 * (1 << 20) + 123, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  storage::InodeId ino = fx.WriteFile("vm/blob", data);
  absl::StatusOr<std::string> whole = ReadWhole(fx.store(), ino, data.size());
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(*whole, data);
  EXPECT_EQ(ReadWhole(fx.store(), ino, data.size() - 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// ReadDirEntries() pages through a whole directory; LoadVmDirectory()
// refuses one of more than kMaxVmDirEntries entries.
TEST(VmReaderTest, DirectoryIsReadInPagesAndBounded) {
  testing::ControlFixture fx;
  for (uint32_t i = 0; i <= kMaxVmDirEntries; ++i) {
    fx.WriteFile(absl::StrCat("big/f", i), "");
  }
  absl::StatusOr<storage::Attr> dir = fx.store()->ResolvePath("big");
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::StatusOr<std::vector<storage::DirEntry>> all =
      ReadDirEntries(fx.store(), dir->ino, false);
  ASSERT_TRUE(all.ok()) << all.status();
  std::set<std::string> names;
  for (const storage::DirEntry& e : *all) names.insert(e.name);
  EXPECT_EQ(all->size(), kMaxVmDirEntries + 1);
  EXPECT_EQ(names.size(), kMaxVmDirEntries + 1);
  absl::StatusOr<VmDirectory> vm =
      LoadVmDirectory(fx.store(), dir->ino, "big", std::time(nullptr));
  EXPECT_EQ(vm.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(vm.status().message().find("not a VM directory"),
            absl::string_view::npos)
      << vm.status();
}

// A VHDX keeps its headers and metadata beyond the 64 KiB head: the reader
// must fetch what the analyzer asks for, or every VHDX VM is refused as an
// unsupported format.
TEST(VmReaderTest, VhdxChainIsReadBeyondTheHead) {
  const std::string dir = FreshDir("vm_reader_vhdx");
  ASSERT_TRUE(
      RunQemuImg(dir, {"create", "-q", "-f", "vhdx", "p.vhdx", "64M"}).ok());
  absl::StatusOr<std::string> base = ReadRange(dir + "/p.vhdx", 0, 16 << 20);
  ASSERT_TRUE(base.ok()) << base.status();
  absl::StatusOr<std::string> linkage = VhdxDataWriteGuid(*base);
  ASSERT_TRUE(linkage.ok()) << linkage.status();

  testing::ControlFixture fx;
  fx.WriteFile("vm/p.vhdx", *base);
  absl::StatusOr<storage::Attr> vm = fx.store()->ResolvePath("vm");
  ASSERT_TRUE(vm.ok()) << vm.status();
  auto analyze = [&](const std::string& parent_linkage) {
    absl::StatusOr<std::string> child =
        MakeDifferencingVhdx(*base, ".\\p.vhdx", parent_linkage);
    EXPECT_TRUE(child.ok()) << child.status();
    fx.WriteFile("vm/c.vhdx", child.ok() ? *child : "");
    return LoadVmDirectory(fx.store(), vm->ino, "vm", std::time(nullptr));
  };

  // The right linkage: one linear, offloadable chain.
  absl::StatusOr<VmDirectory> loaded = analyze(*linkage);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const vmformat::ChainReport& r = loaded->report;
  for (const vmformat::Finding& f : r.findings) {
    EXPECT_NE(f.reason, vmformat::Reason::kUnsupportedFormat) << f.detail;
    EXPECT_NE(f.reason, vmformat::Reason::kMalformed) << f.detail;
  }
  ASSERT_EQ(r.chains.size(), 1u) << r.summary;
  ASSERT_EQ(r.chains[0].size(), 2u) << r.summary;
  EXPECT_EQ(r.chains[0][0], "p.vhdx");
  EXPECT_EQ(r.chains[0][1], "c.vhdx");
  EXPECT_TRUE(r.offloadable) << r.summary;

  // A linkage to another parent: the header beyond the head was read and
  // the chain is reported broken.
  absl::StatusOr<VmDirectory> broken =
      analyze("{11111111-2222-3333-4444-555555555555}");
  ASSERT_TRUE(broken.ok()) << broken.status();
  EXPECT_FALSE(broken->report.offloadable);
  bool saw_broken = false;
  for (const vmformat::Finding& f : broken->report.findings) {
    saw_broken |= f.reason == vmformat::Reason::kBrokenChain;
  }
  EXPECT_TRUE(saw_broken) << broken->report.summary;

  // The head is still exactly the first kSampleBytes.
  for (const vmformat::FileSample& s : loaded->samples) {
    EXPECT_EQ(s.head.size(), vmformat::kSampleBytes) << s.name;
    EXPECT_FALSE(s.extra.empty()) << s.name;
  }
}

}  // namespace
}  // namespace vnas::control
