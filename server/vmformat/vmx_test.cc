#include "server/vmformat/vmx.h"

#include <string>

#include "gtest/gtest.h"

namespace vnas::vmformat {
namespace {

constexpr char kVmx[] =
    ".encoding = \"UTF-8\"\r\n"
    "config.version = \"8\"\r\n"
    "displayName = \"web |22prod|22\"\r\n"
    "nvram = \"vm.nvram\"\r\n"
    "scsi0.present = \"TRUE\"\r\n"
    "scsi0:0.deviceType = \"scsi-hardDisk\"\r\n"
    "SCSI0:0.FILENAME = \"vm-000002.vmdk\"\r\n"
    "scsi0:0.present = \"TRUE\"\r\n"
    "scsi0:1.fileName = \"vm_1.vmdk\"\r\n"
    "scsi0:1.present = \"FALSE\"\r\n"
    "sata0:0.deviceType = \"cdrom-image\"\r\n"
    "sata0:0.fileName = \"/vmfs/volumes/iso/win.iso\"\r\n"
    "sata0:1.deviceType = \"cdrom-image\"\r\n"
    "sata0:1.fileName = \"odd.vmdk\"\r\n"
    "nvme0:0.fileName = \"vm_2.vmdk\"\r\n"
    "nvme0:0.mode = \"independent-persistent\"\r\n"
    "ide1:0.fileName = \"vm_3.vmdk\"\r\n"
    "ide1.present = \"FALSE\"\r\n"
    "this line is junk\r\n"
    "# comment\r\n";

TEST(Vmx, Disks) {
  absl::StatusOr<Vmx> v = ParseVmx(kVmx);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->bad_lines, 1);
  EXPECT_EQ(v->Get("DISPLAYNAME").value_or(""), "web \"prod\"");
  EXPECT_EQ(v->Get("nvram").value_or(""), "vm.nvram");
  EXPECT_FALSE(v->Get("missing").has_value());
  struct Want {
    const char* node;
    const char* file;
    bool present;
    const char* mode;
  };
  const Want want[] = {
      {"scsi0:0", "vm-000002.vmdk", true, ""},
      {"scsi0:1", "vm_1.vmdk", false, ""},
      {"nvme0:0", "vm_2.vmdk", true, "independent-persistent"},
      {"ide1:0", "vm_3.vmdk", false, ""},  // controller not present
  };
  ASSERT_EQ(v->disks.size(), sizeof(want) / sizeof(want[0]));
  for (size_t i = 0; i < v->disks.size(); ++i) {
    SCOPED_TRACE(want[i].node);
    EXPECT_EQ(v->disks[i].node, want[i].node);
    EXPECT_EQ(v->disks[i].file_name, want[i].file);
    EXPECT_EQ(v->disks[i].present, want[i].present);
    EXPECT_EQ(v->disks[i].mode, want[i].mode);
  }
}

TEST(Vmx, Malformed) {
  EXPECT_FALSE(ParseVmx("").ok());
  EXPECT_FALSE(ParseVmx("no key value here\n").ok());
  EXPECT_FALSE(ParseVmx(std::string("a = \"b\"\0", 8)).ok());
  // Keys that look like devices but are not.
  absl::StatusOr<Vmx> v = ParseVmx(
      "scsi.fileName = \"a.vmdk\"\nscsi0:.fileName = \"b.vmdk\"\n"
      "scsi0:0000.fileName = \"c.vmdk\"\nscsiX:0.fileName = \"d.vmdk\"\n"
      "sata0:1.fileName = \"e.vmdk\"\n");
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->disks.size(), 1u);
  EXPECT_EQ(v->disks[0].file_name, "e.vmdk");
  // 1 MB single line, non-UTF-8 bytes.
  std::string big = "displayName = \"" + std::string(1 << 20, '\xff') + "\"\n";
  absl::StatusOr<Vmx> b = ParseVmx(big);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->Get("displayname")->size(), size_t{1} << 20);
}

TEST(Vmx, Unescape) {
  EXPECT_EQ(UnescapeVmxValue("a|22b|7Cc"), "a\"b|c");
  EXPECT_EQ(UnescapeVmxValue("|"), "|");
  EXPECT_EQ(UnescapeVmxValue("|2"), "|2");
  EXPECT_EQ(UnescapeVmxValue("|zz"), "|zz");
}

}  // namespace
}  // namespace vnas::vmformat
