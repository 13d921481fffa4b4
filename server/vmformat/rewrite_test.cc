#include "server/vmformat/rewrite.h"

#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "server/vmformat/chain.h"
#include "server/vmformat/qcow2.h"
#include "server/vmformat/qemu_img_testutil.h"
#include "server/vmformat/vmdk_descriptor.h"

namespace vnas::vmformat {
namespace {

FileSample Text(const std::string& name, const std::string& text) {
  FileSample f;
  f.name = name;
  f.size = text.size();
  f.head = text;
  return f;
}

const RenameMap kMap = {
    {"vm.vmdk", "web2.vmdk"},
    {"vm-flat.vmdk", "web2-flat.vmdk"},
    {"vm-000001.vmdk", "web2-000001.vmdk"},
    {"vm-000001-delta.vmdk", "web2-000001-delta.vmdk"},
    {"vm.vmx", "web2.vmx"},
    {"vm.vmsd", "web2.vmsd"},
    {"vm.nvram", "web2.nvram"},
    {"vm.vmxf", "web2.vmxf"},
    {"vm-Snapshot1.vmsn", "web2-Snapshot1.vmsn"},
};

TEST(ProposeRenameMap, Table) {
  const std::vector<std::string> names = {
      "vm.vmx", "vm.vmdk", "vm-flat.vmdk", "vm_1.vmdk", "vm-000001-delta.vmdk",
      "vm-Snapshot1.vmsn", "vmware.log", "vmware-1.log", "vm.vmx.lck",
      ".lck-00000000abcd", "vm", "other.vmdk"};
  absl::StatusOr<RenameMap> m = ProposeRenameMap(names, "vm", "web2");
  ASSERT_TRUE(m.ok()) << m.status();
  const RenameMap want = {
      {"vm.vmx", "web2.vmx"},
      {"vm.vmdk", "web2.vmdk"},
      {"vm-flat.vmdk", "web2-flat.vmdk"},
      {"vm_1.vmdk", "web2_1.vmdk"},
      {"vm-000001-delta.vmdk", "web2-000001-delta.vmdk"},
      {"vm-Snapshot1.vmsn", "web2-Snapshot1.vmsn"},
  };
  EXPECT_EQ(*m, want);
  EXPECT_EQ(ProposeRenameMap(names, "", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ProposeRenameMap(names, "vm", "a/b").status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> clash = {"vm.vmx", "web2.vmx"};
  EXPECT_EQ(ProposeRenameMap(clash, "vm", "web2").status().code(),
            absl::StatusCode::kAlreadyExists);
  const std::vector<std::string> dup = {"vm.vmx", "vm.vmx"};
  EXPECT_FALSE(ProposeRenameMap(dup, "vm", "web2").ok());
}

TEST(RewriteVmdkDescriptor, RenamesAndPreservesEverythingElse) {
  const std::string in =
      "# Disk DescriptorFile\r\n"
      "version=1\r\n"
      "CID=7b2e9d44\r\n"
      "parentCID=3a5c0f21\r\n"
      "createType=\"vmfsSparse\"\r\n"
      "parentFileNameHint=\"vm.vmdk\"\r\n"
      "# Extent description\r\n"
      "RW 41943040 VMFSSPARSE \"vm-000001-delta.vmdk\"\r\n"
      "\r\n"
      "ddb.custom.unknown = \"vm.vmdk\"\r\n"
      "ddb.longContentID = \"0123456789abcdef0123456d7b2e9d44\"\r\n";
  absl::StatusOr<std::string> out = RewriteVmdkDescriptor(in, kMap);
  ASSERT_TRUE(out.ok()) << out.status();
  const std::string want =
      "# Disk DescriptorFile\r\n"
      "version=1\r\n"
      "CID=7b2e9d44\r\n"
      "parentCID=3a5c0f21\r\n"
      "createType=\"vmfsSparse\"\r\n"
      "parentFileNameHint=\"web2.vmdk\"\r\n"
      "# Extent description\r\n"
      "RW 41943040 VMFSSPARSE \"web2-000001-delta.vmdk\"\r\n"
      "\r\n"
      "ddb.custom.unknown = \"vm.vmdk\"\r\n"
      "ddb.longContentID = \"0123456789abcdef0123456d7b2e9d44\"\r\n";
  EXPECT_EQ(*out, want);

  absl::StatusOr<std::string> cids =
      RewriteVmdkDescriptorCids(in, kMap, "0badc0de", "feedf00d");
  ASSERT_TRUE(cids.ok()) << cids.status();
  absl::StatusOr<VmdkDescriptor> d = ParseVmdkDescriptor(*cids);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->cid, 0x0badc0deu);
  EXPECT_EQ(d->parent_cid, 0xfeedf00du);
  EXPECT_NE(cids->find("ddb.longContentID = \"0123456789abcdef0123456d0badc0de\"\r\n"),
            std::string::npos)
      << *cids;
  EXPECT_EQ(RewriteVmdkDescriptorCids(in, kMap, "xyz", "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// With changed block tracking on, ESXi descriptors name the disk's
// -ctk.vmdk file; CloneVm renamed the file but not the reference, so the
// clone's descriptor named a file its directory does not hold.
TEST(RewriteVmdkDescriptor, ChangeTrackPathFollowsTheRename) {
  const std::string in =
      "# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\nCID=3a5c0f21\n"
      "parentCID=ffffffff\ncreateType=\"vmfs\"\n"
      "changeTrackPath=\"vm-ctk.vmdk\"\n"
      "RW 41943040 VMFS \"vm-flat.vmdk\"\n";
  RenameMap m = kMap;
  m["vm-ctk.vmdk"] = "web2-ctk.vmdk";
  absl::StatusOr<std::string> out = RewriteVmdkDescriptor(in, m);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NE(out->find("changeTrackPath=\"web2-ctk.vmdk\"\n"), std::string::npos) << *out;
  EXPECT_EQ(out->find("vm-ctk"), std::string::npos) << *out;
}

TEST(RewriteVmdkDescriptor, LeavesForeignPathsAndHandlesVariants) {
  const std::string in =
      "version = 1\n"
      "CID = 1\n"
      "parentCID = 2\n"
      "createType = twoGbMaxExtentFlat\n"
      "parentFileNameHint = /vmfs/volumes/other/vm/vm.vmdk\n"
      "RW 8 FLAT vm-flat.vmdk 0\n"
      "RW 8 FLAT \"./vm-flat.vmdk\" 8\n"
      "RW 8 FLAT \"../x/vm-flat.vmdk\" 16\n"
      "RW 8 ZERO";
  RenameMap m = {{"vm-flat.vmdk", "my clone-flat.vmdk"}};
  absl::StatusOr<std::string> out = RewriteVmdkDescriptor(in, m);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out,
            "version = 1\n"
            "CID = 1\n"
            "parentCID = 2\n"
            "createType = twoGbMaxExtentFlat\n"
            "parentFileNameHint = /vmfs/volumes/other/vm/vm.vmdk\n"
            "RW 8 FLAT \"my clone-flat.vmdk\" 0\n"
            "RW 8 FLAT \"./my clone-flat.vmdk\" 8\n"
            "RW 8 FLAT \"../x/vm-flat.vmdk\" 16\n"
            "RW 8 ZERO");
  EXPECT_FALSE(RewriteVmdkDescriptor("not a descriptor", m).ok());
  EXPECT_FALSE(RewriteVmdkDescriptor(in, {{"a", "b\"c"}}).ok());
  EXPECT_FALSE(RewriteVmdkDescriptor(in, {{"a", "d/e"}}).ok());
}

std::string Desc(const std::string& cid, const std::string& parent_cid,
                 const std::string& hint, const std::string& extent) {
  std::string d = "version=1\nCID=" + cid + "\nparentCID=" + parent_cid +
                  "\ncreateType=\"vmfsSparse\"\n";
  if (!hint.empty()) d += "parentFileNameHint=\"" + hint + "\"\n";
  return d + extent + "\n";
}

TEST(RewriteVmdkSet, FreshCidsFollowTheChain) {
  std::vector<FileSample> files = {
      Text("vm.vmdk", Desc("3a5c0f21", "ffffffff", "", "RW 8 VMFS \"vm-flat.vmdk\"")),
      Text("vm-000001.vmdk", Desc("7b2e9d44", "3a5c0f21", "vm.vmdk",
                                  "RW 8 VMFSSPARSE \"vm-000001-delta.vmdk\"")),
      Text("vm-000002.vmdk", Desc("c41f0a93", "deadbeef", "vm-000001.vmdk",
                                  "RW 8 VMFSSPARSE \"vm-000002-delta.vmdk\"")),
      Text("vm-000003.vmdk", Desc("11111111", "22222222", "/vmfs/volumes/x/base.vmdk",
                                  "RW 8 VMFSSPARSE \"vm-000003-delta.vmdk\"")),
      Text("vm.vmx", "displayName = \"vm\"\n"),
  };
  // Extent data whose first bytes look like a descriptor is skipped.
  files.push_back(FileSample{"vm-flat.vmdk", 1ull << 30, 0,
                             "# Disk DescriptorFile\nversion=1\n" + std::string(4096, '\0'),
                             {}});
  // A deterministic source that repeats and offers reserved values.
  std::vector<uint32_t> seq = {0xffffffff, 0xaaaa0001, 0xaaaa0001, 0xfffffffe,
                               0xaaaa0002, 0xaaaa0003, 0xaaaa0004};
  size_t next = 0;
  RewriteOptions opt;
  opt.cid_source = [&] { return seq[next++ % seq.size()]; };
  absl::StatusOr<std::vector<DescriptorEdit>> edits = RewriteVmdkSet(files, kMap, opt);
  ASSERT_TRUE(edits.ok()) << edits.status();
  ASSERT_EQ(edits->size(), 4u);
  const DescriptorEdit& base = (*edits)[0];
  const DescriptorEdit& d1 = (*edits)[1];
  const DescriptorEdit& d2 = (*edits)[2];
  const DescriptorEdit& d3 = (*edits)[3];
  EXPECT_EQ(base.new_name, "web2.vmdk");
  EXPECT_EQ(base.new_cid, "aaaa0001");
  EXPECT_EQ(d1.new_cid, "aaaa0002");
  EXPECT_EQ(d2.new_cid, "aaaa0003");
  EXPECT_EQ(d3.new_cid, "aaaa0004");
  EXPECT_EQ(d1.new_parent_cid, "aaaa0001");   // follows the parent
  EXPECT_EQ(d2.new_parent_cid, "deadbeef");   // broken link kept as is
  EXPECT_EQ(d3.new_parent_cid, "22222222");   // parent outside the set
  for (const DescriptorEdit& e : *edits) {
    EXPECT_TRUE(e.whole_file);
    absl::StatusOr<VmdkDescriptor> d = ParseVmdkDescriptor(e.bytes);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(absl::StrFormat("%08x", d->cid), e.new_cid);
  }
  absl::StatusOr<VmdkDescriptor> child = ParseVmdkDescriptor(d1.bytes);
  EXPECT_EQ(child->parent_hint, "web2.vmdk");
  EXPECT_EQ(child->extents[0].file, "web2-000001-delta.vmdk");
  EXPECT_EQ(child->parent_cid, 0xaaaa0001u);

  // The rewritten set analyzes as a consistent chain.
  std::vector<FileSample> clone;
  for (const DescriptorEdit& e : *edits) {
    if (e.old_name == "vm.vmdk" || e.old_name == "vm-000001.vmdk") {
      clone.push_back(Text(e.new_name, e.bytes));
    }
  }
  clone.push_back(FileSample{"web2-flat.vmdk", 1ull << 30, 0, std::string(4096, '\0'), {}});
  clone.push_back(FileSample{"web2-000001-delta.vmdk", 1ull << 30, 0,
                             std::string("COWD\1\0\0\0\0\0\0\0\0\0\0\0\1\0\0\0", 20) +
                                 std::string(100, '\0'),
                             {}});
  absl::StatusOr<ChainReport> r = AnalyzeVm(clone, AnalyzeOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->offloadable) << r->summary;
  ASSERT_EQ(r->chains.size(), 1u);
  EXPECT_EQ(r->chains[0], (std::vector<std::string>{"web2.vmdk", "web2-000001.vmdk"}));
}

// ESXi snapshot deltas whose hints (and an extent) name this directory by
// /vmfs/volumes/<ds>/<dir>/...: the clone's hints are the bare new names (the
// source's absolute path would make the clone read the source's parent), and
// parentCID follows such a parent like any other.
TEST(RewriteVmdkSet, AbsoluteReferencesToThisDirectoryBecomeBareNames) {
  const std::string kDir = "/vmfs/volumes/5f1e2d3c-8a9b0c1d/web01/";
  std::vector<FileSample> files = {
      Text("vm.vmdk", Desc("3a5c0f21", "ffffffff", "",
                           "RW 8 VMFS \"" + kDir + "vm-flat.vmdk\"")),
      Text("vm-000001.vmdk", Desc("7b2e9d44", "3a5c0f21", kDir + "vm.vmdk",
                                  "RW 8 VMFSSPARSE \"vm-000001-delta.vmdk\"")),
      Text("vm-000002.vmdk", Desc("c41f0a93", "11111111", "/vmfs/volumes/other/vm.vmdk",
                                  "RW 8 VMFSSPARSE \"vm-000002-delta.vmdk\"")),
  };
  RewriteOptions opt;
  uint32_t next = 0xbbbb0001;
  opt.cid_source = [&] { return next++; };
  opt.absolute_refs = {{kDir + "vm.vmdk", "vm.vmdk"},
                       {kDir + "vm-flat.vmdk", "vm-flat.vmdk"}};
  absl::StatusOr<std::vector<DescriptorEdit>> edits = RewriteVmdkSet(files, kMap, opt);
  ASSERT_TRUE(edits.ok()) << edits.status();
  ASSERT_EQ(edits->size(), 3u);
  absl::StatusOr<VmdkDescriptor> base = ParseVmdkDescriptor((*edits)[0].bytes);
  absl::StatusOr<VmdkDescriptor> child = ParseVmdkDescriptor((*edits)[1].bytes);
  absl::StatusOr<VmdkDescriptor> other = ParseVmdkDescriptor((*edits)[2].bytes);
  ASSERT_TRUE(base.ok() && child.ok() && other.ok());
  EXPECT_EQ(base->extents[0].file, "web2-flat.vmdk");
  EXPECT_EQ(child->parent_hint, "web2.vmdk");
  EXPECT_EQ(child->parent_cid, 0xbbbb0001u);
  // An absolute hint the analysis did not map stays as it is, link included.
  EXPECT_EQ(other->parent_hint, "/vmfs/volumes/other/vm.vmdk");
  EXPECT_EQ(other->parent_cid, 0x11111111u);
  // Every other byte is kept.
  EXPECT_EQ((*edits)[1].bytes,
            Desc("bbbb0002", "bbbb0001", "web2.vmdk",
                 "RW 8 VMFSSPARSE \"web2-000001-delta.vmdk\""));
}

TEST(RewriteVmdkSet, EmbeddedDescriptorPatchKeepsAreaSize) {
  const std::string desc =
      "# Disk DescriptorFile\nversion=1\nCID=00000001\nparentCID=ffffffff\n"
      "createType=\"monolithicSparse\"\nRW 8 SPARSE \"vm.vmdk\"\n";
  std::string head(64 * 1024, '\0');
  head.replace(0, 4, "KDMV");
  head[4] = 1;
  head[20] = static_cast<char>(128);  // grain 128
  head[28] = 1;                       // descriptor at sector 1
  head[36] = 2;                       // 2 sectors
  head.replace(512, desc.size(), desc);
  FileSample f{"vm.vmdk", 1ull << 20, 0, head, {}};
  RewriteOptions opt;
  opt.cid_source = [] { return 0x12345678u; };
  absl::StatusOr<std::vector<DescriptorEdit>> edits =
      RewriteVmdkSet({f}, {{"vm.vmdk", "clone.vmdk"}}, opt);
  ASSERT_TRUE(edits.ok()) << edits.status();
  ASSERT_EQ(edits->size(), 1u);
  EXPECT_FALSE((*edits)[0].whole_file);
  EXPECT_EQ((*edits)[0].offset, 512u);
  EXPECT_EQ((*edits)[0].bytes.size(), 1024u);
  EXPECT_NE((*edits)[0].bytes.find("SPARSE \"clone.vmdk\""), std::string::npos);
  EXPECT_NE((*edits)[0].bytes.find("CID=12345678"), std::string::npos);
  // A rename that does not fit the area is refused.
  RenameMap big = {{"vm.vmdk", std::string(2000, 'x')}};
  EXPECT_EQ(RewriteVmdkSet({f}, big, opt).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A truncated text descriptor sample is refused.
  FileSample t = Text("a.vmdk", desc);
  t.size += 10;
  EXPECT_FALSE(RewriteVmdkSet({t}, {}, opt).ok());
}

TEST(RewriteVmx, RenamesFilesAndDisplayName) {
  const std::string in =
      ".encoding = \"UTF-8\"\r\n"
      "displayName = \"vm\"\r\n"
      "nvram = \"vm.nvram\"\r\n"
      "extendedConfigFile = \"vm.vmxf\"\r\n"
      "scsi0:0.fileName = \"vm-000001.vmdk\"\r\n"
      "SATA0:1.FILENAME = \"/vmfs/volumes/iso/vm.vmdk\"\r\n"
      "checkpoint.vmState = \"vm-Snapshot1.vmsn\"\r\n"
      "annotation = \"copied from vm.vmdk\"\r\n"
      "junk line without equals\r\n"
      "# vm.vmdk in a comment\r\n";
  absl::StatusOr<std::string> out = RewriteVmx(in, kMap, "web 2 | prod");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out,
            ".encoding = \"UTF-8\"\r\n"
            "displayName = \"web 2 |7C prod\"\r\n"
            "nvram = \"web2.nvram\"\r\n"
            "extendedConfigFile = \"web2.vmxf\"\r\n"
            "scsi0:0.fileName = \"web2-000001.vmdk\"\r\n"
            "SATA0:1.FILENAME = \"/vmfs/volumes/iso/vm.vmdk\"\r\n"
            "checkpoint.vmState = \"web2-Snapshot1.vmsn\"\r\n"
            "annotation = \"copied from vm.vmdk\"\r\n"
            "junk line without equals\r\n"
            "# vm.vmdk in a comment\r\n");
  // No displayName: appended with the file's line ending.
  absl::StatusOr<std::string> added = RewriteVmx("a = \"b\"\r\n", {}, "n");
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(*added, "a = \"b\"\r\ndisplayName = \"n\"\r\n");
  absl::StatusOr<std::string> noeol = RewriteVmx("a = \"b\"", {}, "n");
  EXPECT_EQ(*noeol, "a = \"b\"\ndisplayName = \"n\"\n");
  EXPECT_EQ(*RewriteVmx(in, {}, ""), in);
  EXPECT_FALSE(RewriteVmx(in, kMap, "bad\"name").ok());
  EXPECT_FALSE(RewriteVmx(std::string("a=\"\0\"", 5), kMap, "x").ok());
}

// .vmx/.vmsd values that name files of this directory by absolute path
// become bare names, renamed or not; the other absolute paths (an ISO on
// another datastore) are kept.
TEST(RewriteVmx, AbsoluteReferencesToThisDirectoryBecomeBareNames) {
  const std::string kDir = "/vmfs/volumes/datastore1/web01/";
  const AbsoluteRefs abs = {{kDir + "vm-000001.vmdk", "vm-000001.vmdk"},
                            {kDir + "vm-Snapshot1.vmsn", "vm-Snapshot1.vmsn"},
                            {kDir + "notes.txt", "notes.txt"}};
  absl::StatusOr<std::string> vmx = RewriteVmx(
      "scsi0:0.fileName = \"" + kDir + "vm-000001.vmdk\"\n"
      "sata0:1.fileName = \"/vmfs/volumes/iso/win.iso\"\n"
      "annotation = \"" + kDir + "notes.txt\"\n"
      "guestinfo.x = \"" + kDir + "notes.txt\"\n"
      "extendedConfigFile = \"" + kDir + "notes.txt\"\n",
      kMap, "", abs);
  ASSERT_TRUE(vmx.ok()) << vmx.status();
  EXPECT_EQ(*vmx, "scsi0:0.fileName = \"web2-000001.vmdk\"\n"
                  "sata0:1.fileName = \"/vmfs/volumes/iso/win.iso\"\n"
                  "annotation = \"" + kDir + "notes.txt\"\n"
                  "guestinfo.x = \"" + kDir + "notes.txt\"\n"
                  "extendedConfigFile = \"notes.txt\"\n");
  absl::StatusOr<std::string> vmsd = RewriteVmsd(
      "snapshot0.filename = \"" + kDir + "vm-Snapshot1.vmsn\"\n"
      "snapshot0.disk0.fileName = \"" + kDir + "vm-000001.vmdk\"\n",
      kMap, abs);
  ASSERT_TRUE(vmsd.ok()) << vmsd.status();
  EXPECT_EQ(*vmsd, "snapshot0.filename = \"web2-Snapshot1.vmsn\"\n"
                   "snapshot0.disk0.fileName = \"web2-000001.vmdk\"\n");
  // A mapped name that is not a bare file name is refused.
  EXPECT_FALSE(RewriteVmsd("a = \"/x/y\"\n", kMap, {{"/x/y", "a/b"}}).ok());
}

// The .vmxf names its .vmx (<vmxPathName>): renamed with it. CloneVm used to
// leave the clone's .vmxf naming the source's .vmx.
TEST(RewriteVmxf, VmxPathNameFollowsTheVmx) {
  const std::string in =
      "<?xml version=\"1.0\"?>\r\n<Foundry>\r\n<VM>\r\n"
      "<VMId type=\"string\">52 8a 6c 77 0d 5e 2c 4e-f3 a7 d2 1e 9b 3a 0c 44</VMId>\r\n"
      "<ClientMetaData>\r\n<clientMetaDataAttributes/>\r\n<HistoryEventList/>"
      "</ClientMetaData>\r\n<vmxPathName type=\"string\">vm.vmx</vmxPathName>"
      "</VM></Foundry>\r\n";
  absl::StatusOr<std::string> out = RewriteVmxf(in, kMap);
  ASSERT_TRUE(out.ok()) << out.status();
  std::string want = in;
  want.replace(want.find(">vm.vmx<") + 1, 6, "web2.vmx");
  EXPECT_EQ(*out, want);
  // XML entities are decoded for the lookup and written back encoded.
  absl::StatusOr<std::string> amp =
      RewriteVmxf("<vmxPathName>R&amp;D.vmx</vmxPathName>", {{"R&D.vmx", "Q&A <1>.vmx"}});
  ASSERT_TRUE(amp.ok());
  EXPECT_EQ(*amp, "<vmxPathName>Q&amp;A &lt;1&gt;.vmx</vmxPathName>");
  // Other elements, unknown names and empty elements are left alone.
  for (const std::string& keep :
       {std::string("<vmxPathNameOld>vm.vmx</vmxPathNameOld>"),
        std::string("<vmxPathName>other.vmx</vmxPathName>"),
        std::string("<vmxPathName/><VMId>vm.vmx</VMId>"), std::string("no xml at all")}) {
    EXPECT_EQ(*RewriteVmxf(keep, kMap), keep);
  }
  EXPECT_FALSE(RewriteVmxf(std::string("<a>\0</a>", 9), kMap).ok());
}

TEST(RewriteVmsd, RenamesSnapshotFiles) {
  const std::string in =
      "snapshot.lastUID = \"1\"\n"
      "snapshot0.uid = \"1\"\n"
      "snapshot0.filename = \"vm-Snapshot1.vmsn\"\n"
      "snapshot0.displayName = \"vm.vmdk\"\n"
      "snapshot0.disk0.fileName = \"vm.vmdk\"\n"
      "snapshot0.disk0.node = \"scsi0:0\"\n";
  absl::StatusOr<std::string> out = RewriteVmsd(in, kMap);
  ASSERT_TRUE(out.ok());
  // Free-text keys (displayName) are never renamed, even when they equal a
  // file name.
  EXPECT_EQ(*out,
            "snapshot.lastUID = \"1\"\n"
            "snapshot0.uid = \"1\"\n"
            "snapshot0.filename = \"web2-Snapshot1.vmsn\"\n"
            "snapshot0.displayName = \"vm.vmdk\"\n"
            "snapshot0.disk0.fileName = \"web2.vmdk\"\n"
            "snapshot0.disk0.node = \"scsi0:0\"\n");
}

}  // namespace
}  // namespace vnas::vmformat

namespace vnas::vmformat {
namespace {

DiskNode Node(const std::string& file, DiskFormat format, const std::string& parent,
              std::vector<std::string> extents = {}) {
  DiskNode d;
  d.file = file;
  d.format = format;
  d.parent = parent;
  d.extent_files = std::move(extents);
  return d;
}

TEST(PinUnrewritableNames, BinaryHeaderReferencesKeepTheirNames) {
  ChainReport r;
  r.disks = {Node("vm.img", DiskFormat::kUnknown, ""),
             Node("vm-1.qcow2", DiskFormat::kQcow2, "vm.img", {"vm-1.data"}),
             Node("vm-2.qcow2", DiskFormat::kQcow2, "vm-1.qcow2"),
             Node("vm-p.vhdx", DiskFormat::kVhdx, ""),
             Node("vm-c.vhdx", DiskFormat::kVhdx, "vm-p.vhdx"),
             Node("vm.vmdk", DiskFormat::kVmdkDescriptor, "", {"vm-flat.vmdk"}),
             Node("vm-000001.vmdk", DiskFormat::kVmdkDescriptor, "vm.vmdk")};
  RenameMap m;
  for (const char* n : {"vm.img", "vm-1.qcow2", "vm-1.data", "vm-2.qcow2", "vm-p.vhdx",
                        "vm-c.vhdx", "vm.vmdk", "vm-flat.vmdk", "vm-000001.vmdk"}) {
    m[n] = "new" + std::string(n).substr(2);
  }
  ASSERT_TRUE(PinUnrewritableNames(r, &m).ok());
  // Named by qcow2/VHDX headers: kept. Leaves and VMDK files (descriptors
  // are rewritten): renamed.
  for (const char* kept : {"vm.img", "vm-1.qcow2", "vm-1.data", "vm-p.vhdx"}) {
    EXPECT_EQ(m.count(kept), 0u) << kept;
  }
  for (const char* renamed : {"vm-2.qcow2", "vm-c.vhdx", "vm.vmdk", "vm-flat.vmdk",
                              "vm-000001.vmdk"}) {
    EXPECT_EQ(m.count(renamed), 1u) << renamed;
  }

  // A kept name that another file would be renamed to is refused.
  RenameMap clash = {{"x.qcow2", "vm.img"}, {"vm.img", "y.img"}};
  EXPECT_EQ(PinUnrewritableNames(r, &clash).code(), absl::StatusCode::kAlreadyExists);
}

// Snapshot and suspend state (.vmsn, .vmss) and memory images (.vmem) keep
// their names: binary checkpoints that embed the configuration as it was and
// go with their .vmem (rewrite.h). Their text references (.vmsd
// snapshotN.filename, .vmx checkpoint.vmState) then need no change. CloneVm
// used to rename them, pulling a .vmsn away from the .vmem it names.
TEST(PinUnrewritableNames, CheckpointFilesKeepTheirNames) {
  RenameMap m;
  for (const char* n : {"vm.vmx", "vm.vmsd", "vm.vmxf", "vm.nvram", "vm-Snapshot1.vmsn",
                        "vm-Snapshot2.vmsn", "vm-Snapshot2.vmem", "vm-5f1e2d3c.vmss",
                        "vm-5f1e2d3c.vmem"}) {
    m[n] = "web2" + std::string(n).substr(2);
  }
  ASSERT_TRUE(PinUnrewritableNames(ChainReport{}, &m).ok());
  const RenameMap want = {{"vm.vmx", "web2.vmx"},
                          {"vm.vmsd", "web2.vmsd"},
                          {"vm.vmxf", "web2.vmxf"},
                          {"vm.nvram", "web2.nvram"}};
  EXPECT_EQ(m, want);
  absl::StatusOr<std::string> vmsd =
      RewriteVmsd("snapshot0.filename = \"vm-Snapshot1.vmsn\"\n", m);
  ASSERT_TRUE(vmsd.ok());
  EXPECT_EQ(*vmsd, "snapshot0.filename = \"vm-Snapshot1.vmsn\"\n");
}

// A minimal qcow2 v3 header (qemu-img's layout) naming `backing`.
std::string Qcow2Bytes(const std::string& backing) {
  std::string img(1024, '\0');
  auto be = [&](size_t off, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) img[off + i] = static_cast<char>(v >> (8 * (n - 1 - i)));
  };
  be(0, 0x514649fb, 4);
  be(4, 3, 4);
  be(20, 16, 4);
  be(24, 64 << 20, 8);
  be(100, 104, 4);
  be(104, 0xe2792aca, 4);  // backing format "qcow2"
  be(108, 5, 4);
  img.replace(112, 5, "qcow2");
  be(8, 128, 8);           // after the end-of-extensions marker at 120
  be(16, backing.size(), 4);
  img.replace(128, backing.size(), backing);
  return img;
}

TEST(RewriteQcow2Backings, AbsoluteBackingBecomesTheBareName) {
  const std::string kAbs = "/var/lib/libvirt/images/web01/vm.img";
  const std::vector<FileSample> files = {
      Text("vm-1.qcow2", Qcow2Bytes(kAbs)),
      Text("vm-2.qcow2", Qcow2Bytes("vm-1.qcow2")),         // relative: no patch
      Text("vm-3.qcow2", Qcow2Bytes("/mnt/other/vm.img")),  // not mapped: kept
      Text("vm.img", std::string(4096, '\0'))};
  RenameMap m = kMap;
  absl::StatusOr<std::vector<ImagePatch>> patches =
      RewriteQcow2Backings(files, m, {{kAbs, "vm.img"}});
  ASSERT_TRUE(patches.ok()) << patches.status();
  ASSERT_EQ(patches->size(), 1u);
  const ImagePatch& p = (*patches)[0];
  EXPECT_EQ(p.old_name, "vm-1.qcow2");
  std::string img = files[0].head;
  for (const ImageWrite& w : p.writes) {
    ASSERT_EQ(w.bytes.size(), w.expected.size());
    EXPECT_EQ(img.substr(w.offset, w.expected.size()), w.expected);
    img.replace(w.offset, w.bytes.size(), w.bytes);
  }
  absl::StatusOr<Qcow2Header> h = ParseQcow2Header(img);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->backing_file, "vm.img");
  EXPECT_EQ(h->backing_format, "qcow2");
  EXPECT_EQ(img.substr(128 + 6, kAbs.size() - 6), std::string(kAbs.size() - 6, '\0'));
  // The backing file is renamed too (when a caller did not pin it).
  m["vm.img"] = "web2.img";
  patches = RewriteQcow2Backings(files, m, {{kAbs, "vm.img"}});
  ASSERT_TRUE(patches.ok());
  EXPECT_EQ((*patches)[0].writes[1].bytes.substr(0, 9), std::string("web2.img\0", 9));
  // A longer new name does not fit in place.
  m["vm.img"] = std::string(kAbs.size() + 1, 'x');
  EXPECT_EQ(RewriteQcow2Backings(files, m, {{kAbs, "vm.img"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// qemu itself opens a clone patched this way, from the clone's directory,
// with the source gone: the bare name is resolved next to the overlay.
TEST(RewriteQcow2Backings, QemuOpensThePatchedClone) {
  const std::string src = testing::FreshDir("qcow2_abs_src");
  const std::string dst = testing::FreshDir("qcow2_abs_dst");
  ASSERT_TRUE(testing::RunQemuImg(src, {"create", "-q", "-f", "qcow2", "b.qcow2", "64M"}).ok());
  const std::string kAbs = "/var/lib/libvirt/images/web01/b.qcow2";
  ASSERT_TRUE(testing::RunQemuImg(src, {"create", "-q", "-f", "qcow2", "-u", "-b", kAbs,
                                        "-F", "qcow2", "top.qcow2", "64M"})
                  .ok());
  absl::StatusOr<std::vector<FileSample>> files = testing::SampleDir(src);
  ASSERT_TRUE(files.ok());
  absl::StatusOr<std::vector<ImagePatch>> patches =
      RewriteQcow2Backings(*files, {}, {{kAbs, "b.qcow2"}});
  ASSERT_TRUE(patches.ok()) << patches.status();
  ASSERT_EQ(patches->size(), 1u);
  for (const char* n : {"b.qcow2", "top.qcow2"}) {
    // Whole files: qemu-img made them a few hundred KiB.
    absl::StatusOr<std::string> bytes = testing::ReadRange(src + "/" + n, 0, 4 << 20);
    ASSERT_TRUE(bytes.ok());
    if (std::string(n) == "top.qcow2") {
      // Unpatched, the copy names a file that does not exist here.
      ASSERT_TRUE(testing::WriteFile(dst + "/" + n, *bytes).ok());
      EXPECT_FALSE(testing::RunQemuImg(dst, {"info", "--backing-chain", n}).ok());
      for (const ImageWrite& w : (*patches)[0].writes) {
        bytes->replace(w.offset, w.bytes.size(), w.bytes);
      }
    }
    ASSERT_TRUE(testing::WriteFile(dst + "/" + n, *bytes).ok());
  }
  absl::Status info = testing::RunQemuImg(dst, {"info", "--backing-chain", "top.qcow2"});
  EXPECT_TRUE(info.ok()) << info;
  absl::Status check = testing::RunQemuImg(dst, {"check", "-q", "top.qcow2"});
  EXPECT_TRUE(check.ok()) << check;
}

}  // namespace
}  // namespace vnas::vmformat
