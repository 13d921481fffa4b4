#include "server/vmformat/chain.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "server/vmformat/qemu_img_testutil.h"

namespace vnas::vmformat {
namespace {

constexpr int64_t kNow = 1'800'000'000;

FileSample Text(const std::string& name, const std::string& text,
                int64_t mtime = kNow - 3600) {
  FileSample f;
  f.name = name;
  f.size = text.size();
  f.mtime_sec = mtime;
  f.head = text;
  return f;
}

// Extent data: a 20 GiB file whose sample starts with `magic`.
FileSample Data(const std::string& name, const std::string& magic = "") {
  FileSample f;
  f.name = name;
  f.size = 20ull << 30;
  f.mtime_sec = kNow - 3600;
  f.head = std::string(kSampleBytes, '\0');
  f.head.replace(0, magic.size(), magic);
  return f;
}

std::string Cowd() {
  std::string h(32, '\0');
  h.replace(0, 4, "COWD");
  h[4] = 1;
  h[16] = 1;  // grain size 1
  return h;
}

std::string Desc(const std::string& cid, const std::string& parent_cid,
                 const std::string& type, const std::string& hint,
                 const std::string& extent) {
  std::string d = "# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\n";
  absl::StrAppend(&d, "CID=", cid, "\nparentCID=", parent_cid,
                  "\ncreateType=\"", type, "\"\n");
  if (!hint.empty()) absl::StrAppend(&d, "parentFileNameHint=\"", hint, "\"\n");
  absl::StrAppend(&d, "\n# Extent description\n", extent,
                  "\n\n# The Disk Data Base\n#DDB\n\nddb.adapterType = "
                  "\"lsilogic\"\nddb.virtualHWVersion = \"19\"\n");
  return d;
}

std::string Vmx(const std::string& disk) {
  return absl::StrCat(".encoding = \"UTF-8\"\nconfig.version = \"8\"\n"
                      "displayName = \"vm\"\nnvram = \"vm.nvram\"\n"
                      "scsi0.present = \"TRUE\"\nscsi0:0.present = \"TRUE\"\n"
                      "scsi0:0.deviceType = \"scsi-hardDisk\"\n"
                      "scsi0:0.fileName = \"",
                      disk, "\"\n");
}

// protocol-and-formats.md §3: base flat disk.
std::vector<FileSample> FlatBase() {
  return {Text("vm.vmdk", Desc("3a5c0f21", "ffffffff", "vmfs", "",
                               "RW 41943040 VMFS \"vm-flat.vmdk\"")),
          Data("vm-flat.vmdk"), Text("vm.vmx", Vmx("vm.vmdk"))};
}

// FlatBase without its .vmx, plus the redo log vm-000001.vmdk on vm.vmdk.
std::vector<FileSample> FlatBaseAndFirstRedoLog() {
  std::vector<FileSample> f = FlatBase();
  f.pop_back();
  f.push_back(Text("vm-000001.vmdk",
                   Desc("7b2e9d44", "3a5c0f21", "vmfsSparse", "vm.vmdk",
                        "RW 41943040 VMFSSPARSE \"vm-000001-delta.vmdk\"")));
  f.push_back(Data("vm-000001-delta.vmdk", Cowd()));
  return f;
}

// Linear, 2 deep: vm.vmdk <- vm-000001 <- vm-000002, vmx on vm-000002.
std::vector<FileSample> Linear() {
  std::vector<FileSample> f = FlatBaseAndFirstRedoLog();
  f.push_back(Text("vm-000002.vmdk",
                   Desc("c41f0a93", "7b2e9d44", "seSparse", "vm-000001.vmdk",
                        "RW 41943040 SESPARSE \"vm-000002-sesparse.vmdk\"")));
  f.push_back(Data("vm-000002-sesparse.vmdk"));
  f.push_back(Text("vm.vmx", Vmx("vm-000002.vmdk")));
  f.push_back(Text("vm.vmsd",
                   "snapshot.lastUID = \"2\"\nsnapshot.current = \"2\"\n"
                   "snapshot0.uid = \"1\"\nsnapshot0.filename = \"vm-Snapshot1.vmsn\"\n"
                   "snapshot0.numDisks = \"1\"\nsnapshot0.disk0.fileName = \"vm.vmdk\"\n"
                   "snapshot0.disk0.node = \"scsi0:0\"\n"
                   "snapshot1.uid = \"2\"\nsnapshot1.parent = \"1\"\n"
                   "snapshot1.numDisks = \"1\"\n"
                   "snapshot1.disk0.fileName = \"vm-000001.vmdk\"\n"
                   "snapshot.numSnapshots = \"2\"\n"));
  return f;
}

// VSS-quiesced Windows 2008: two redo logs on vm.vmdk.
std::vector<FileSample> Vss() {
  std::vector<FileSample> f = FlatBaseAndFirstRedoLog();
  f.push_back(Text("vm-000002.vmdk",
                   Desc("5e90b7c1", "3a5c0f21", "vmfsSparse", "vm.vmdk",
                        "RW 41943040 VMFSSPARSE \"vm-000002-delta.vmdk\"")));
  f.push_back(Data("vm-000002-delta.vmdk", Cowd()));
  f.push_back(Text("vm.vmx", Vmx("vm-000002.vmdk")));
  f.push_back(Text("vm.vmsd",
                   "snapshot0.uid = \"1\"\nsnapshot0.disk0.fileName = \"vm.vmdk\"\n"
                   "snapshot.current = \"1\"\n"));
  return f;
}

std::vector<FileSample> Replace(std::vector<FileSample> files, FileSample f) {
  for (FileSample& x : files) {
    if (x.name == f.name) {
      x = std::move(f);
      return files;
    }
  }
  files.push_back(std::move(f));
  return files;
}

std::vector<FileSample> Remove(std::vector<FileSample> files, const std::string& name) {
  files.erase(std::remove_if(files.begin(), files.end(),
                             [&](const FileSample& f) { return f.name == name; }),
              files.end());
  return files;
}

std::set<Reason> Blocking(const ChainReport& r) {
  std::set<Reason> s;
  for (const Finding& f : r.findings) {
    if (f.blocks_offload) s.insert(f.reason);
  }
  return s;
}

std::string Chains(const ChainReport& r) {
  std::vector<std::string> out;
  for (const auto& c : r.chains) out.push_back(absl::StrJoin(c, "<-"));
  return absl::StrJoin(out, " | ");
}

const DiskNode* Find(const ChainReport& r, const std::string& name) {
  for (const DiskNode& d : r.disks) {
    if (d.file == name) return &d;
  }
  return nullptr;
}

struct Case {
  std::string name;
  std::vector<FileSample> files;
  std::string chains;            // "a<-b | c"
  std::set<Reason> blocking;     // reasons of blocking findings
  bool linear = true;
  std::vector<std::string> self_dirs = {};
};

TEST(AnalyzeVm, Verdicts) {
  const std::string kOtherDs = "/vmfs/volumes/5f1a-other/base/vm.vmdk";
  const std::vector<Case> cases = {
      {"flat base", FlatBase(), "vm.vmdk", {}},
      {"linear 2 deep", Linear(), "vm.vmdk<-vm-000001.vmdk<-vm-000002.vmdk", {}},
      {"vss siblings", Vss(),
       "vm.vmdk<-vm-000001.vmdk | vm.vmdk<-vm-000002.vmdk",
       {Reason::kVssSiblingRedoLogs}, false},
      {"running: fresh .lck-",
       Replace(Linear(), Text(".lck-0000000000a1b2c3", "lock", kNow - 5)),
       "vm.vmdk<-vm-000001.vmdk<-vm-000002.vmdk", {Reason::kRunningVm}},
      {"running: fresh .vmx.lck",
       Replace(Linear(), Text("vm.vmx.lck", "", kNow)),
       "vm.vmdk<-vm-000001.vmdk<-vm-000002.vmdk", {Reason::kRunningVm}},
      {"stale lock is not running",
       Replace(Linear(), Text("vm-flat.vmdk.lck", "", kNow - 36)),
       "vm.vmdk<-vm-000001.vmdk<-vm-000002.vmdk", {}},
      // A vSAN snapshot's redo log (extent type VSANSPARSE) used to be
      // rejected as an unknown extent type: MALFORMED, and the chain lost.
      {"vsanSparse redo log",
       Replace(Replace(FlatBaseAndFirstRedoLog(),
                       Text("vm-000001.vmdk",
                            Desc("7b2e9d44", "3a5c0f21", "vsanSparse", "vm.vmdk",
                                 "RW 41943040 VSANSPARSE \"vm-000001-vsansparse.vmdk\""))),
               Data("vm-000001-vsansparse.vmdk")),
       "vm.vmdk<-vm-000001.vmdk", {}},
      {"broken CID",
       Replace(Linear(), Text("vm-000002.vmdk",
                              Desc("c41f0a93", "deadbeef", "seSparse", "vm-000001.vmdk",
                                   "RW 41943040 SESPARSE \"vm-000002-sesparse.vmdk\""))),
       "vm.vmdk<-vm-000001.vmdk<-vm-000002.vmdk", {Reason::kBrokenChain}},
      {"missing parent", Remove(Linear(), "vm.vmdk"),
       "vm-000001.vmdk<-vm-000002.vmdk", {Reason::kMissingParent}},
      {"parent on another datastore",
       Replace(Remove(Remove(Linear(), "vm.vmdk"), "vm.vmsd"),
               Text("vm-000001.vmdk",
                    Desc("7b2e9d44", "3a5c0f21", "vmfsSparse", kOtherDs,
                         "RW 41943040 VMFSSPARSE \"vm-000001-delta.vmdk\""))),
       "vm-000001.vmdk<-vm-000002.vmdk", {Reason::kParentOutsideDatastore}},
      {"absolute parent in this directory",
       Replace(Linear(), Text("vm-000001.vmdk",
                              Desc("7b2e9d44", "3a5c0f21", "vmfsSparse",
                                   "/vmfs/volumes/ds1/vm/vm.vmdk",
                                   "RW 41943040 VMFSSPARSE \"vm-000001-delta.vmdk\""))),
       "vm.vmdk<-vm-000001.vmdk<-vm-000002.vmdk", {}, true, {"/vmfs/volumes/ds1/vm/"}},
      {"parent escapes with ..",
       Replace(Linear(), Text("vm-000001.vmdk",
                              Desc("7b2e9d44", "3a5c0f21", "vmfsSparse", "../base/vm.vmdk",
                                   "RW 41943040 VMFSSPARSE \"vm-000001-delta.vmdk\""))),
       "vm-000001.vmdk<-vm-000002.vmdk | vm.vmdk", {Reason::kParentOutsideDatastore}},
      {"vmx runs a non-leaf", Replace(Linear(), Text("vm.vmx", Vmx("vm-000001.vmdk"))),
       "vm.vmdk<-vm-000001.vmdk<-vm-000002.vmdk", {Reason::kLeafMismatch}},
      {"vmx names a missing disk", Replace(FlatBase(), Text("vm.vmx", Vmx("gone.vmdk"))),
       "vm.vmdk", {Reason::kLeafMismatch}},
      {"vmx names extent data", Replace(FlatBase(), Text("vm.vmx", Vmx("vm-flat.vmdk"))),
       "vm.vmdk", {Reason::kLeafMismatch}},
      {"malformed descriptor",
       Replace(Linear(), Text("vm-000001.vmdk", "# Disk DescriptorFile\nversion=1\nCID=zz\n")),
       "vm-000002.vmdk | vm.vmdk", {Reason::kMalformed}},
      {"missing extent", Remove(FlatBase(), "vm-flat.vmdk"), "vm.vmdk",
       {Reason::kMissingExtent}},
      {"unknown extent type",
       Replace(FlatBase(), Text("vm.vmdk", Desc("3a5c0f21", "ffffffff",
                                                "vmfsPassthroughRawDeviceMap", "",
                                                "RW 41943040 VMFSRDMP \"vm-rdmp.vmdk\""))),
       "", {Reason::kMalformed}},
      {"passthrough rdm",
       Replace(Remove(FlatBase(), "vm-flat.vmdk"),
               Text("vm.vmdk", Desc("3a5c0f21", "ffffffff",
                                    "vmfsPassthroughRawDeviceMap", "",
                                    "RW 41943040 VMFSRAW \"vm-rdmp.vmdk\""))),
       "vm.vmdk", {Reason::kUnsupportedFormat}},
      {"rdm proper",
       Replace(Remove(FlatBase(), "vm-flat.vmdk"),
               Text("vm.vmdk", Desc("3a5c0f21", "ffffffff", "vmfsRawDeviceMap", "",
                                    "RW 41943040 VMFSRDM \"vm-rdm.vmdk\""))),
       "vm.vmdk", {Reason::kUnsupportedFormat}},
      {"parent cycle",
       {Text("a.vmdk", Desc("00000001", "00000002", "vmfsSparse", "b.vmdk",
                            "RW 8 VMFSSPARSE \"a-delta.vmdk\"")),
        Data("a-delta.vmdk", Cowd()),
        Text("b.vmdk", Desc("00000002", "00000001", "vmfsSparse", "a.vmdk",
                            "RW 8 VMFSSPARSE \"b-delta.vmdk\"")),
        Data("b-delta.vmdk", Cowd())},
       "b.vmdk<-a.vmdk", {Reason::kBrokenChain}},
      {"self parent",
       {Text("a.vmdk", Desc("00000001", "00000001", "vmfsSparse", "a.vmdk",
                            "RW 8 VMFSSPARSE \"a-delta.vmdk\"")),
        Data("a-delta.vmdk", Cowd())},
       "a.vmdk", {Reason::kBrokenChain}},
      {"parentCID without hint",
       Replace(Linear(), Text("vm-000002.vmdk",
                              Desc("c41f0a93", "7b2e9d44", "seSparse", "",
                                   "RW 41943040 SESPARSE \"vm-000002-sesparse.vmdk\""))),
       "vm.vmdk<-vm-000001.vmdk | vm-000002.vmdk", {Reason::kMissingParent}},
      {"orphan delta is informational", Replace(FlatBase(), Data("old-delta.vmdk", Cowd())),
       "vm.vmdk", {}},
      {"flat extent that starts like a descriptor",
       Replace(FlatBase(), [] {
         FileSample f = Data("vm-flat.vmdk");
         f.head.replace(0, 60, "# Disk DescriptorFile\nversion=1\nCID=1\ncreateType=\"x\"\n");
         return f;
       }()),
       "vm.vmdk", {}},
      {"oversized descriptor", Replace(FlatBase(), [] {
         FileSample f = Text("big.vmdk", "# Disk DescriptorFile\nversion=1\n");
         f.size = 1 << 20;
         return f;
       }()),
       "vm.vmdk", {Reason::kMalformed}},
      {"small junk .vmdk", Replace(FlatBase(), Text("junk.vmdk", "hello\n")), "vm.vmdk",
       {Reason::kMalformed}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    AnalyzeOptions opt;
    opt.now_sec = kNow;
    opt.self_dirs = c.self_dirs;
    absl::StatusOr<ChainReport> r = AnalyzeVm(c.files, opt);
    ASSERT_TRUE(r.ok()) << r.status();
    std::string why;
    for (const Finding& f : r->findings) {
      absl::StrAppend(&why, "\n  ", ReasonName(f.reason), f.blocks_offload ? "!" : "",
                      ": ", f.detail);
    }
    EXPECT_EQ(Chains(*r), c.chains) << why;
    EXPECT_EQ(Blocking(*r), c.blocking) << why;
    EXPECT_EQ(r->offloadable, c.blocking.empty()) << why;
    EXPECT_EQ(r->linear, c.linear) << why;
    EXPECT_FALSE(r->summary.empty());
    EXPECT_EQ(r->summary.find('\n'), std::string::npos);
  }
}

TEST(AnalyzeVm, LinearDetails) {
  AnalyzeOptions opt;
  opt.now_sec = kNow;
  absl::StatusOr<ChainReport> r = AnalyzeVm(Linear(), opt);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->disks.size(), 3u);
  const DiskNode* base = Find(*r, "vm.vmdk");
  const DiskNode* d1 = Find(*r, "vm-000001.vmdk");
  const DiskNode* d2 = Find(*r, "vm-000002.vmdk");
  ASSERT_TRUE(base && d1 && d2);
  EXPECT_EQ(base->format, DiskFormat::kVmdkDescriptor);
  EXPECT_EQ(base->create_type, "vmfs");
  EXPECT_EQ(base->cid, "3a5c0f21");
  EXPECT_EQ(base->parent, "");
  EXPECT_EQ(base->extent_files, std::vector<std::string>{"vm-flat.vmdk"});
  EXPECT_EQ(base->children, std::vector<std::string>{"vm-000001.vmdk"});
  EXPECT_EQ(base->virtual_size, 41943040ull * 512);
  EXPECT_EQ(d1->parent, "vm.vmdk");
  EXPECT_EQ(d1->parent_cid, "3a5c0f21");
  EXPECT_EQ(d2->parent, "vm-000001.vmdk");
  EXPECT_EQ(d2->create_type, "seSparse");
  EXPECT_TRUE(d2->in_use_by_vmx);
  EXPECT_FALSE(d1->in_use_by_vmx);
  EXPECT_NE(r->summary.find("offloadable"), std::string::npos) << r->summary;
  bool said = false;
  for (const Finding& f : r->findings) {
    if (f.reason == Reason::kNone &&
        f.detail.find("vm.vmdk <- vm-000001.vmdk <- vm-000002.vmdk") != std::string::npos &&
        f.detail.find("sharing extents") != std::string::npos) {
      said = true;
    }
  }
  EXPECT_TRUE(said);
}

TEST(AnalyzeVm, VssFindingNamesFilesAndCause) {
  AnalyzeOptions opt;
  opt.now_sec = kNow;
  absl::StatusOr<ChainReport> r = AnalyzeVm(Vss(), opt);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->offloadable);
  const Finding* vss = nullptr;
  for (const Finding& f : r->findings) {
    if (f.reason == Reason::kVssSiblingRedoLogs) vss = &f;
  }
  ASSERT_NE(vss, nullptr);
  EXPECT_EQ(std::set<std::string>(vss->files.begin(), vss->files.end()),
            (std::set<std::string>{"vm.vmdk", "vm-000001.vmdk", "vm-000002.vmdk"}));
  EXPECT_NE(vss->detail.find("2 child redo logs"), std::string::npos) << vss->detail;
  EXPECT_NE(vss->detail.find("VSS"), std::string::npos);
  EXPECT_NE(vss->detail.find("2008"), std::string::npos);
  EXPECT_NE(vss->detail.find("not recorded in the .vmsd or .vmx: vm-000001.vmdk"),
            std::string::npos)
      << vss->detail;
  EXPECT_NE(r->summary.find("VSS_SIBLING_REDO_LOGS"), std::string::npos) << r->summary;
  EXPECT_EQ(Find(*r, "vm.vmdk")->children.size(), 2u);
  EXPECT_TRUE(Find(*r, "vm-000002.vmdk")->in_use_by_vmx);
}

const Finding* FindReason(const ChainReport& r, Reason reason) {
  for (const Finding& f : r.findings) {
    if (f.reason == reason) return &f;
  }
  return nullptr;
}

// A tree is blocked whatever made it, but the finding must name the right
// cause: every tree used to be explained as a VSS snapshot by the control
// plane, even a revert's snapshot tree or two VMs' linked clones of one
// base in one directory.
TEST(AnalyzeVm, TreeCauses) {
  AnalyzeOptions opt;
  opt.now_sec = kNow;
  // Snapshot tree: snapshot 1 froze vm.vmdk, snapshot 2 froze vm-000001;
  // revert to snapshot 1 made vm-000002 on vm.vmdk, which the VM runs.
  std::vector<FileSample> tree = Replace(
      Vss(), Text("vm.vmsd",
                  "snapshot.lastUID = \"2\"\nsnapshot.current = \"1\"\n"
                  "snapshot0.uid = \"1\"\nsnapshot0.disk0.fileName = \"vm.vmdk\"\n"
                  "snapshot1.uid = \"2\"\nsnapshot1.parent = \"1\"\n"
                  "snapshot1.disk0.fileName = \"vm-000001.vmdk\"\n"
                  "snapshot.numSnapshots = \"2\"\n"));
  absl::StatusOr<ChainReport> r = AnalyzeVm(tree, opt);
  ASSERT_TRUE(r.ok());
  const Finding* f = FindReason(*r, Reason::kVssSiblingRedoLogs);
  ASSERT_NE(f, nullptr) << r->summary;
  EXPECT_NE(f->detail.find("snapshot tree"), std::string::npos) << f->detail;
  EXPECT_EQ(f->detail.find("VSS"), std::string::npos) << f->detail;

  // Two VMs in one directory, each running a linked clone of vm.vmdk.
  std::vector<FileSample> shared = Remove(Replace(Vss(), Text("vm.vmx", Vmx("vm-000002.vmdk"))),
                                          "vm.vmsd");
  shared.push_back(Text("other.vmx", Vmx("vm-000001.vmdk")));
  r = AnalyzeVm(shared, opt);
  ASSERT_TRUE(r.ok());
  f = FindReason(*r, Reason::kVssSiblingRedoLogs);
  ASSERT_NE(f, nullptr) << r->summary;
  EXPECT_NE(f->detail.find("2 VMs (other.vmx, vm.vmx) run linked clones"), std::string::npos)
      << f->detail;
  EXPECT_EQ(f->detail.find("VSS-quiesced"), std::string::npos) << f->detail;
  EXPECT_FALSE(r->offloadable);
}

// An independent-persistent data disk next to a snapshotted system disk:
// the .vmsd names only the system disk (VMware snapshots skip independent
// disks). The chain verdict is unchanged; the disk is marked and noted.
TEST(AnalyzeVm, IndependentDiskBesideASnapshot) {
  std::vector<FileSample> f = Linear();
  f.push_back(Text("vm_1.vmdk", Desc("0a0b0c0d", "ffffffff", "vmfs", "",
                                     "RW 2048 VMFS \"vm_1-flat.vmdk\"")));
  f.push_back(Data("vm_1-flat.vmdk"));
  f = Replace(f, Text("vm.vmx", Vmx("vm-000002.vmdk") +
                                    "scsi0:1.present = \"TRUE\"\n"
                                    "scsi0:1.fileName = \"vm_1.vmdk\"\n"
                                    "scsi0:1.mode = \"independent-persistent\"\n"));
  AnalyzeOptions opt;
  opt.now_sec = kNow;
  absl::StatusOr<ChainReport> r = AnalyzeVm(f, opt);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->offloadable) << r->summary;
  EXPECT_EQ(Chains(*r), "vm.vmdk<-vm-000001.vmdk<-vm-000002.vmdk | vm_1.vmdk");
  ASSERT_NE(Find(*r, "vm_1.vmdk"), nullptr);
  EXPECT_TRUE(Find(*r, "vm_1.vmdk")->independent);
  EXPECT_FALSE(Find(*r, "vm-000002.vmdk")->independent);
  bool noted = false;
  for (const Finding& x : r->findings) {
    noted |= x.detail.find("vm_1.vmdk as independent-persistent") != std::string::npos;
  }
  EXPECT_TRUE(noted);
}

// ---- absolute references (chain.h, "Absolute references") ------------------

// Linear() as ESXi writes it when the VM's working directory was set by
// vCenter: the redo logs name their parents by /vmfs/volumes/<ds>/web01/...
std::vector<FileSample> LinearAbsolute(const std::string& ds = "/vmfs/volumes/5f1e2d3c-8a9b0c1d") {
  std::vector<FileSample> f = Linear();
  f = Replace(f, Text("vm-000001.vmdk",
                      Desc("7b2e9d44", "3a5c0f21", "vmfsSparse", ds + "/web01/vm.vmdk",
                           "RW 41943040 VMFSSPARSE \"vm-000001-delta.vmdk\"")));
  f = Replace(f, Text("vm-000002.vmdk",
                      Desc("c41f0a93", "7b2e9d44", "seSparse", ds + "/web01/vm-000001.vmdk",
                           "RW 41943040 SESPARSE \"vm-000002-sesparse.vmdk\"")));
  return f;
}

struct AbsCase {
  std::string name;
  std::vector<FileSample> files;
  std::optional<std::string> dir;      // AnalyzeOptions::dir_path
  std::set<std::string> elsewhere;     // other files of the export
  std::string chains;
  std::set<Reason> blocking;
  std::string detail;                  // in the first blocking finding
};

TEST(AnalyzeVm, AbsoluteReferencesMapOntoTheExport) {
  const std::string kDs = "/vmfs/volumes/5f1e2d3c-8a9b0c1d";
  const std::string kLinear = "vm.vmdk<-vm-000001.vmdk<-vm-000002.vmdk";
  const std::vector<AbsCase> cases = {
      // Used to be PARENT_OUTSIDE_DATASTORE: the snapshot deltas of a VM
      // whose hints name its own directory.
      {"esxi hints into this directory", LinearAbsolute(), "web01", {}, kLinear, {}, ""},
      {"esxi hints by datastore name", LinearAbsolute("/vmfs/volumes/datastore1"),
       "web01", {}, kLinear, {}, ""},
      {"esxi hints, directory unknown", LinearAbsolute(), std::nullopt, {},
       "vm-000001.vmdk | vm-000002.vmdk | vm.vmdk", {Reason::kParentOutsideDatastore},
       "lies outside this VM directory"},
      {"esxi hints, directory nested in the export", LinearAbsolute(), "vms/web01", {},
       "vm-000001.vmdk | vm-000002.vmdk | vm.vmdk", {Reason::kParentOutsideDatastore},
       "no file of this export has that path"},
      // Same path, other disk (another datastore's web01/vm.vmdk): the CID
      // link decides; the chain is not "repaired" onto this vm.vmdk.
      {"esxi hint, same path but another CID",
       Replace(LinearAbsolute(),
               Text("vm-000001.vmdk",
                    Desc("7b2e9d44", "0badf00d", "vmfsSparse", kDs + "/web01/vm.vmdk",
                         "RW 41943040 VMFSSPARSE \"vm-000001-delta.vmdk\""))),
       "web01", {}, "vm-000001.vmdk<-vm-000002.vmdk | vm.vmdk",
       {Reason::kParentOutsideDatastore}, "does not match parentCID=0badf00d"},
      {"esxi hint into another directory of the export",
       Replace(Remove(LinearAbsolute(), "vm.vmdk"),
               Text("vm-000001.vmdk",
                    Desc("7b2e9d44", "3a5c0f21", "vmfsSparse", kDs + "/base/vm.vmdk",
                         "RW 41943040 VMFSSPARSE \"vm-000001-delta.vmdk\""))),
       "web01", {"base/vm.vmdk"}, "vm-000001.vmdk<-vm-000002.vmdk",
       {Reason::kParentOutsideDatastore},
       "it is base/vm.vmdk in this export, in another directory"},
      {"absolute path with ..",
       Replace(Linear(), Text("vm-000001.vmdk",
                              Desc("7b2e9d44", "3a5c0f21", "vmfsSparse",
                                   kDs + "/other/../web01/vm.vmdk",
                                   "RW 41943040 VMFSSPARSE \"vm-000001-delta.vmdk\""))),
       "web01", {}, "vm-000001.vmdk<-vm-000002.vmdk | vm.vmdk",
       {Reason::kParentOutsideDatastore}, "with \"..\" is never mapped"},
      // A .vmx disk has no link of its own: its datastore must have been
      // confirmed by a hint (the CID link) first.
      {"vmx disk by absolute path, datastore confirmed",
       Replace(LinearAbsolute(), Text("vm.vmx", Vmx(kDs + "/web01/vm-000002.vmdk"))),
       "web01", {}, kLinear, {}, ""},
      {"vmx disk by absolute path, datastore not confirmed",
       Replace(Linear(), Text("vm.vmx", Vmx(kDs + "/web01/vm-000002.vmdk"))), "web01", {},
       kLinear, {Reason::kParentOutsideDatastore}, "is this one"},
      // ESXi names a disk added on another datastore "<vm>/<vm>.vmdk" there:
      // the same path as this VM's own first disk.
      {"vmx disk on another datastore with this directory's path",
       Replace(LinearAbsolute(),
               Text("vm.vmx", Vmx("vm-000002.vmdk") +
                                  "scsi0:1.present = \"TRUE\"\n"
                                  "scsi0:1.fileName = \"/vmfs/volumes/datastore2/web01/"
                                  "vm.vmdk\"\n")),
       "web01", {}, kLinear, {Reason::kParentOutsideDatastore}, "datastore2"},
  };
  for (const AbsCase& c : cases) {
    SCOPED_TRACE(c.name);
    AnalyzeOptions opt;
    opt.now_sec = kNow;
    opt.dir_path = c.dir;
    opt.export_file_exists = [&c](const std::string& p) { return c.elsewhere.count(p) > 0; };
    absl::StatusOr<ChainReport> r = AnalyzeVm(c.files, opt);
    ASSERT_TRUE(r.ok()) << r.status();
    std::string why;
    const Finding* first = nullptr;
    for (const Finding& f : r->findings) {
      absl::StrAppend(&why, "\n  ", ReasonName(f.reason), f.blocks_offload ? "!" : "",
                      ": ", f.detail);
      if (f.blocks_offload && first == nullptr) first = &f;
    }
    EXPECT_EQ(Chains(*r), c.chains) << why;
    EXPECT_EQ(Blocking(*r), c.blocking) << why;
    if (!c.detail.empty()) {
      ASSERT_NE(first, nullptr) << why;
      EXPECT_NE(first->detail.find(c.detail), std::string::npos) << first->detail;
    }
  }
}

// What a clone needs to rewrite: every mapped absolute reference, from the
// descriptors and from .vmx/.vmsd values alike; the .vmx runs the leaf.
TEST(AnalyzeVm, MappedAbsoluteReferencesAreListedForTheRewriters) {
  const std::string kDs = "/vmfs/volumes/5f1e2d3c-8a9b0c1d/web01/";
  std::vector<FileSample> f = Replace(
      LinearAbsolute(),
      Text("vm.vmx", Vmx(kDs + "vm-000002.vmdk") + "nvram = \"" + kDs + "vm.nvram\"\n" +
                         "sata0:1.fileName = \"/vmfs/volumes/iso/win.iso\"\n"));
  f.push_back(Text("vm.nvram", std::string(64, '\0')));
  AnalyzeOptions opt;
  opt.now_sec = kNow;
  opt.dir_path = "web01";
  absl::StatusOr<ChainReport> r = AnalyzeVm(f, opt);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->offloadable) << r->summary;
  const std::map<std::string, std::string> want = {
      {kDs + "vm.vmdk", "vm.vmdk"},
      {kDs + "vm-000001.vmdk", "vm-000001.vmdk"},
      {kDs + "vm-000002.vmdk", "vm-000002.vmdk"},
      {kDs + "vm.nvram", "vm.nvram"},
  };
  EXPECT_EQ(r->absolute_refs, want);
  ASSERT_NE(Find(*r, "vm-000002.vmdk"), nullptr);
  EXPECT_TRUE(Find(*r, "vm-000002.vmdk")->in_use_by_vmx);
  EXPECT_EQ(Find(*r, "vm-000001.vmdk")->parent, "vm.vmdk");
}

// A path under the VM's own directory that names no file of it is not a
// mapped reference (found by the vmformat fuzzer: the rewriters would have
// been told to rename a file that does not exist).
TEST(AnalyzeVm, SelfDirReferenceToAMissingFileIsNotListed) {
  const std::string kSelf = "/vmfs/volumes/ds/vm";
  std::vector<FileSample> f = Replace(
      LinearAbsolute(), Text("vm.vmx", Vmx(kSelf + "/vm-000002.vmdk") +
                                           "nvram = \"" + kSelf + "/gone.nvram\"\n"));
  AnalyzeOptions opt;
  opt.now_sec = kNow;
  opt.self_dirs = {kSelf};
  absl::StatusOr<ChainReport> r = AnalyzeVm(f, opt);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->absolute_refs.count(kSelf + "/vm-000002.vmdk"), 1u);
  EXPECT_EQ(r->absolute_refs.count(kSelf + "/gone.nvram"), 0u);
  for (const auto& [ref, name] : r->absolute_refs) {
    EXPECT_NE(name, "gone.nvram") << ref;
  }
}

TEST(AnalyzeVm, UnusableInput) {
  AnalyzeOptions opt;
  std::vector<FileSample> dup = {Text("a", "x"), Text("a", "y")};
  EXPECT_EQ(AnalyzeVm(dup, opt).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<FileSample> slash = {Text("d/a", "x")};
  EXPECT_EQ(AnalyzeVm(slash, opt).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ChainReport> empty = AnalyzeVm({}, opt);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->offloadable);
  EXPECT_TRUE(empty->chains.empty());
}

TEST(AnalyzeVm, ReasonNamesAreStable) {
  EXPECT_STREQ(ReasonName(Reason::kVssSiblingRedoLogs), "VSS_SIBLING_REDO_LOGS");
  EXPECT_STREQ(ReasonName(Reason::kRunningVm), "RUNNING_VM");
  EXPECT_STREQ(ReasonName(Reason::kParentOutsideDatastore), "PARENT_OUTSIDE_DATASTORE");
  EXPECT_STREQ(ReasonName(Reason::kMissingExtent), "MISSING_EXTENT");
  EXPECT_STREQ(ReasonName(static_cast<Reason>(99)), "UNKNOWN");
}

// ---- real images made by qemu-img -------------------------------------------

using testing::FetchWantedRanges;
using testing::FreshDir;
using testing::MakeDifferencingVhdx;
using testing::VhdxDataWriteGuid;
using testing::ReadRange;
using testing::RunQemuImg;
using testing::SampleDir;
using testing::SampleFile;
using testing::WriteFile;

absl::StatusOr<ChainReport> AnalyzeDir(const std::string& dir) {
  absl::StatusOr<std::vector<FileSample>> files = SampleDir(dir);
  if (!files.ok()) return files.status();
  AnalyzeOptions opt;
  opt.now_sec = kNow + 3600;  // files just made are not lock files anyway
  return AnalyzeVm(*files, opt);
}

TEST(AnalyzeVmQemu, VmdkChainsAndFlatExtents) {
  const std::string dir = FreshDir("chain_vmdk");
  ASSERT_TRUE(RunQemuImg(dir, {"create", "-q", "-f", "vmdk", "-o",
                               "subformat=twoGbMaxExtentFlat", "vm.vmdk", "3G"})
                  .ok());
  ASSERT_TRUE(RunQemuImg(dir, {"create", "-q", "-f", "vmdk", "-o",
                               "subformat=monolithicSparse", "-b", "vm.vmdk", "-F",
                               "vmdk", "vm-000001.vmdk"})
                  .ok());
  ASSERT_TRUE(RunQemuImg(dir, {"create", "-q", "-f", "vmdk", "-o",
                               "subformat=monolithicSparse", "-b", "vm-000001.vmdk",
                               "-F", "vmdk", "vm-000002.vmdk"})
                  .ok());
  ASSERT_TRUE(WriteFile(dir + "/vm.vmx", Vmx("vm-000002.vmdk")).ok());
  absl::StatusOr<ChainReport> r = AnalyzeDir(dir);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Chains(*r), "vm.vmdk<-vm-000001.vmdk<-vm-000002.vmdk") << r->summary;
  EXPECT_TRUE(r->offloadable) << r->summary;
  const DiskNode* base = Find(*r, "vm.vmdk");
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(base->create_type, "twoGbMaxExtentFlat");
  EXPECT_EQ(base->extent_files,
            (std::vector<std::string>{"vm-f001.vmdk", "vm-f002.vmdk"}));
  EXPECT_EQ(base->virtual_size, 3ull << 30);
  const DiskNode* leaf = Find(*r, "vm-000002.vmdk");
  ASSERT_NE(leaf, nullptr);
  EXPECT_EQ(leaf->format, DiskFormat::kVmdkHostedSparse);
  EXPECT_TRUE(leaf->in_use_by_vmx);
  EXPECT_TRUE(leaf->extent_files.empty());  // its own data, not a separate file

  // A second child of the base makes a tree, like the VSS case.
  ASSERT_TRUE(RunQemuImg(dir, {"create", "-q", "-f", "vmdk", "-o",
                               "subformat=monolithicSparse", "-b", "vm.vmdk", "-F",
                               "vmdk", "vm-000003.vmdk"})
                  .ok());
  r = AnalyzeDir(dir);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->linear);
  EXPECT_EQ(Blocking(*r), std::set<Reason>{Reason::kVssSiblingRedoLogs}) << r->summary;

  // Writing to the base after the children were made changes its CID:
  // qemu-img commit of a fresh child does that. Simulate by recreating base.
  ASSERT_TRUE(RunQemuImg(dir, {"create", "-q", "-f", "vmdk", "-o",
                               "subformat=twoGbMaxExtentFlat", "vm.vmdk", "3G"})
                  .ok());
  r = AnalyzeDir(dir);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(Blocking(*r).count(Reason::kBrokenChain)) << r->summary;
}

TEST(AnalyzeVmQemu, RenamedMonolithicSparseReadsInPlace) {
  const std::string dir = FreshDir("chain_renamed");
  ASSERT_TRUE(RunQemuImg(dir, {"create", "-q", "-f", "vmdk", "-o",
                               "subformat=monolithicSparse", "orig.vmdk", "64M"})
                  .ok());
  ASSERT_EQ(std::rename((dir + "/orig.vmdk").c_str(), (dir + "/copy.vmdk").c_str()), 0);
  absl::StatusOr<ChainReport> r = AnalyzeDir(dir);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->offloadable) << r->summary;
  EXPECT_EQ(Chains(*r), "copy.vmdk");
}

// qemu-img create: a qcow2 overlay `name` on `backing` (format `fmt`).
absl::Status Qcow2Overlay(const std::string& dir, const std::string& backing,
                          const std::string& fmt, const std::string& name) {
  return RunQemuImg(dir, {"create", "-q", "-f", "qcow2", "-b", backing, "-F",
                          fmt, name});
}

TEST(AnalyzeVmQemu, Qcow2Chain) {
  const std::string dir = FreshDir("chain_qcow2");
  ASSERT_TRUE(RunQemuImg(dir, {"create", "-q", "-f", "qcow2", "b.qcow2", "64M"}).ok());
  ASSERT_TRUE(Qcow2Overlay(dir, "b.qcow2", "qcow2", "s1.qcow2").ok());
  ASSERT_TRUE(Qcow2Overlay(dir, "s1.qcow2", "qcow2", "s2.qcow2").ok());
  absl::StatusOr<ChainReport> r = AnalyzeDir(dir);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Chains(*r), "b.qcow2<-s1.qcow2<-s2.qcow2");
  EXPECT_TRUE(r->offloadable) << r->summary;
  EXPECT_EQ(Find(*r, "s2.qcow2")->virtual_size, 64u << 20);
  // Backing file given as an absolute path elsewhere.
  ASSERT_TRUE(RunQemuImg(dir, {"create", "-q", "-f", "qcow2", "-b",
                               "/nonexistent/dir/x.qcow2", "-F", "qcow2", "-u",
                               "s3.qcow2", "64M"})
                  .ok());
  r = AnalyzeDir(dir);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Blocking(*r), std::set<Reason>{Reason::kParentOutsideDatastore});
}

// The details of every finding, one per line.
std::string Details(const ChainReport& r) {
  std::string out;
  for (const Finding& f : r.findings) absl::StrAppend(&out, f.detail, "\n");
  return out;
}

// libvirt writes a qcow2 overlay's backing file as the absolute path it
// opened it by (/var/lib/libvirt/images/<pool>/..., /mnt/<x>/...), where the
// host mounted the export. Such overlays used to be PARENT_OUTSIDE_DATASTORE.
TEST(AnalyzeVmQemu, Qcow2AbsoluteBackingPaths) {
  const std::string dir = FreshDir("chain_qcow2_abs");
  ASSERT_TRUE(RunQemuImg(dir, {"create", "-q", "-f", "qcow2", "b.qcow2", "64M"}).ok());
  // -u: the absolute path does not exist on this machine.
  auto overlay = [&](const std::string& backing) {
    return RunQemuImg(dir, {"create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F",
                            "qcow2", "s1.qcow2", "64M"});
  };
  absl::StatusOr<std::vector<FileSample>> files;
  auto analyze = [&](std::optional<std::string> dir_path,
                     std::set<std::string> elsewhere) -> absl::StatusOr<ChainReport> {
    files = SampleDir(dir);
    if (!files.ok()) return files.status();
    AnalyzeOptions opt;
    opt.now_sec = kNow + 3600;
    opt.dir_path = std::move(dir_path);
    opt.export_file_exists = [elsewhere](const std::string& p) {
      return elsewhere.count(p) > 0;
    };
    return AnalyzeVm(*files, opt);
  };
  const std::string kAbs = "/var/lib/libvirt/images/vnas/vms/vm1/b.qcow2";
  ASSERT_TRUE(overlay(kAbs).ok());
  absl::StatusOr<ChainReport> r = analyze("vms/vm1", {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Chains(*r), "b.qcow2<-s1.qcow2");
  EXPECT_TRUE(r->offloadable) << r->summary;
  EXPECT_EQ(r->absolute_refs, (std::map<std::string, std::string>{{kAbs, "b.qcow2"}}));

  // The same path is also vm1/b.qcow2 of the export (mounted one level
  // deeper): ambiguous, not mapped.
  r = analyze("vms/vm1", {"vm1/b.qcow2"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Blocking(*r), std::set<Reason>{Reason::kParentOutsideDatastore}) << r->summary;
  EXPECT_NE(Details(*r).find("could be any of vms/vm1/b.qcow2, vm1/b.qcow2"), std::string::npos)
      << Details(*r);
  EXPECT_TRUE(r->absolute_refs.empty());

  // The export holds only another VM's b.qcow2 at that path: not this one.
  r = analyze("vm2", {"vms/vm1/b.qcow2"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Blocking(*r), std::set<Reason>{Reason::kParentOutsideDatastore}) << r->summary;
  EXPECT_NE(Details(*r).find("vms/vm1/b.qcow2 in this export, in another directory"),
            std::string::npos)
      << Details(*r);

  // A path nothing of the export ends with, or no known directory.
  ASSERT_TRUE(overlay("/var/lib/libvirt/images/b-2024.qcow2").ok());
  r = analyze("vms/vm1", {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Blocking(*r), std::set<Reason>{Reason::kParentOutsideDatastore});
  EXPECT_NE(Details(*r).find("no file of this export has that path"), std::string::npos)
      << Details(*r);
  ASSERT_TRUE(overlay(kAbs).ok());
  r = analyze(std::nullopt, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Blocking(*r), std::set<Reason>{Reason::kParentOutsideDatastore});
}

// A qcow2 overlay on a raw image (qemu-img create -b base.img -F raw, the
// cloud-image layout) used to be a BROKEN_CHAIN ("base.img is not a disk");
// a backing file in a format not read here (vpc, vdi) was reported the same
// way. Now: raw is the chain's base layer; vpc/vdi are UNSUPPORTED_FORMAT.
TEST(AnalyzeVmQemu, Qcow2OnRawOrForeignBackingFile) {
  const std::string dir = FreshDir("chain_qcow2_raw");
  ASSERT_TRUE(RunQemuImg(dir, {"create", "-q", "-f", "raw", "base.img", "64M"}).ok());
  ASSERT_TRUE(RunQemuImg(dir, {"create", "-q", "-f", "qcow2", "-b", "base.img", "-F",
                               "raw", "-o", "compat=0.10", "s1.qcow2"})
                  .ok());
  ASSERT_TRUE(Qcow2Overlay(dir, "s1.qcow2", "qcow2", "s2.qcow2").ok());
  absl::StatusOr<ChainReport> r = AnalyzeDir(dir);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Chains(*r), "base.img<-s1.qcow2<-s2.qcow2");
  EXPECT_TRUE(r->offloadable) << r->summary;
  const DiskNode* base = Find(*r, "base.img");
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(base->create_type, "raw");
  EXPECT_EQ(base->virtual_size, 64u << 20);

  const std::string dir2 = FreshDir("chain_qcow2_foreign");
  ASSERT_TRUE(RunQemuImg(dir2, {"create", "-q", "-f", "vpc", "v.vhd", "64M"}).ok());
  ASSERT_TRUE(RunQemuImg(dir2, {"create", "-q", "-f", "vdi", "x.vdi", "64M"}).ok());
  ASSERT_TRUE(Qcow2Overlay(dir2, "v.vhd", "vpc", "o.qcow2").ok());
  ASSERT_TRUE(Qcow2Overlay(dir2, "x.vdi", "vdi", "p.qcow2").ok());
  // p.qcow2 without its backing-format extension (older qemu wrote none):
  // the VDI is recognized by its header, not taken for raw.
  absl::StatusOr<std::string> p = ReadRange(dir2 + "/p.qcow2", 0, 1 << 20);
  ASSERT_TRUE(p.ok());
  const size_t ext = p->find("\xe2\x79\x2a\xca");
  ASSERT_NE(ext, std::string::npos);
  p->replace(ext, 4, std::string(4, '\0'));  // type 0 ends the list
  ASSERT_TRUE(WriteFile(dir2 + "/p.qcow2", *p).ok());
  r = AnalyzeDir(dir2);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Blocking(*r), std::set<Reason>{Reason::kUnsupportedFormat}) << r->summary;
  int unsupported = 0;
  for (const Finding& f : r->findings) {
    if (f.reason != Reason::kUnsupportedFormat) continue;
    ++unsupported;
    EXPECT_TRUE(f.detail.find("\"vpc\"") != std::string::npos ||
                f.detail.find("\"vdi\"") != std::string::npos)
        << f.detail;
  }
  EXPECT_EQ(unsupported, 2) << r->summary;
}

TEST(AnalyzeVmQemu, VhdxDifferencing) {
  const std::string dir = FreshDir("chain_vhdx");
  ASSERT_TRUE(RunQemuImg(dir, {"create", "-q", "-f", "vhdx", "p.vhdx", "64M"}).ok());
  absl::StatusOr<std::string> base = ReadRange(dir + "/p.vhdx", 0, 16 << 20);
  ASSERT_TRUE(base.ok());
  absl::StatusOr<FileSample> ps = SampleFile(dir, "p.vhdx");
  ASSERT_TRUE(ps.ok());
  ASSERT_TRUE(FetchWantedRanges(dir, &*ps).ok());
  // The parent's DataWriteGuid, as the analyzer reads it, is the linkage.
  AnalyzeOptions opt;
  opt.now_sec = kNow;
  std::string guid;
  {
    absl::StatusOr<std::vector<FileSample>> one = SampleDir(dir);
    ASSERT_TRUE(one.ok());
  }
  // Build two children: one with the right linkage, one with a wrong one.
  // The right one is found by trying the header GUID through the parser.
  absl::StatusOr<std::string> write_guid = VhdxDataWriteGuid(*base);
  ASSERT_TRUE(write_guid.ok()) << write_guid.status();
  guid = *write_guid;
  absl::StatusOr<std::string> child = MakeDifferencingVhdx(*base, ".\\p.vhdx", guid);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(WriteFile(dir + "/c.vhdx", *child).ok());

  // Head samples only: the analyzer cannot see the metadata and says so.
  absl::StatusOr<std::vector<FileSample>> files = SampleDir(dir);
  ASSERT_TRUE(files.ok());
  absl::StatusOr<ChainReport> r = AnalyzeVm(*files, opt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Blocking(*r), std::set<Reason>{Reason::kUnsupportedFormat}) << r->summary;
  EXPECT_NE(r->findings[0].detail.find("beyond the sample"), std::string::npos)
      << r->findings[0].detail;

  // With the ranges it asks for, the chain is complete and verified.
  for (FileSample& f : *files) {
    absl::StatusOr<int> rounds = FetchWantedRanges(dir, &f);
    ASSERT_TRUE(rounds.ok()) << rounds.status();
    EXPECT_LE(*rounds, 4);
  }
  r = AnalyzeVm(*files, opt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Chains(*r), "p.vhdx<-c.vhdx");
  EXPECT_TRUE(r->offloadable) << r->summary;
  EXPECT_EQ(Find(*r, "c.vhdx")->create_type, "vhdx-differencing");

  // A wrong parent_linkage is a broken chain.
  child = MakeDifferencingVhdx(*base, "p.vhdx", "{00000000-0000-0000-0000-000000000001}");
  ASSERT_TRUE(child.ok());
  ASSERT_TRUE(WriteFile(dir + "/c.vhdx", *child).ok());
  files = SampleDir(dir);
  ASSERT_TRUE(files.ok());
  for (FileSample& f : *files) ASSERT_TRUE(FetchWantedRanges(dir, &f).ok());
  r = AnalyzeVm(*files, opt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Blocking(*r), std::set<Reason>{Reason::kBrokenChain}) << r->summary;
}

}  // namespace
}  // namespace vnas::vmformat
