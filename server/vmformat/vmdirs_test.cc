// Replays the hand-written VM directories of testdata/vmdirs (written by
// testdata/make_vmdirs.py the way ESXi, vSphere, Workstation and libvirt
// leave them): each directory's chains, blocking reasons and shape must equal
// its EXPECT file; and a directory that offloads must still be the same chain
// after the clone rewrite (renamed files, rewritten descriptors, .vmx, .vmsd
// and .vmxf, patched qcow2 headers), analyzed as another directory of the
// same export — so a clone that still named the source's files by absolute
// path would show up as a parent outside its directory.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "server/vmformat/chain.h"
#include "server/vmformat/rewrite.h"

namespace vnas::vmformat {
namespace {

constexpr char kRoot[] = "server/vmformat/testdata/vmdirs";
constexpr int64_t kNow = 1'800'000'000;

std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') names.push_back(e->d_name);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string Chains(const ChainReport& r) {
  std::vector<std::string> out;
  for (const auto& c : r.chains) out.push_back(absl::StrJoin(c, "<-"));
  return absl::StrJoin(out, " | ");
}

std::string Blocking(const ChainReport& r) {
  std::set<std::string> s;
  for (const Finding& f : r.findings) {
    if (f.blocks_offload) s.insert(ReasonName(f.reason));
  }
  return absl::StrJoin(s, ",");
}

std::string Why(const ChainReport& r) {
  std::string why = r.summary;
  for (const Finding& f : r.findings) {
    absl::StrAppend(&why, "\n  ", ReasonName(f.reason), f.blocks_offload ? "!" : "",
                    ": ", f.detail);
  }
  return why;
}

// The clone of `files` under the rename map the control plane would use,
// with every descriptor, .vmx, .vmsd and .vmxf rewritten and every qcow2
// header patched (vm_clone.cc does the same against the store).
// `dir_base` is the old base name when there is no .vmx (the directory's
// name, as the control plane uses).
std::vector<FileSample> CloneRewrite(const std::vector<FileSample>& files,
                                     const ChainReport& report,
                                     const std::string& dir_base, RenameMap* map) {
  std::vector<std::string> names;
  std::string base;
  for (const FileSample& f : files) {
    names.push_back(f.name);
    if (base.empty() && absl::EndsWith(f.name, ".vmx")) {
      base = f.name.substr(0, f.name.size() - 4);
    }
  }
  if (base.empty()) base = dir_base;
  absl::StatusOr<RenameMap> m = ProposeRenameMap(names, base, "copy");
  EXPECT_TRUE(m.ok()) << m.status();
  if (!m.ok()) return {};
  EXPECT_TRUE(PinUnrewritableNames(report, &*m).ok());
  *map = *m;
  const AbsoluteRefs& abs = report.absolute_refs;
  RewriteOptions ro;
  ro.absolute_refs = abs;
  absl::StatusOr<std::vector<DescriptorEdit>> edits = RewriteVmdkSet(files, *m, ro);
  EXPECT_TRUE(edits.ok()) << edits.status();
  if (!edits.ok()) return {};
  std::map<std::string, const DescriptorEdit*> edit_of;
  for (const DescriptorEdit& e : *edits) edit_of[e.old_name] = &e;
  absl::StatusOr<std::vector<ImagePatch>> patches = RewriteQcow2Backings(files, *m, abs);
  EXPECT_TRUE(patches.ok()) << patches.status();
  if (!patches.ok()) return {};
  std::map<std::string, const ImagePatch*> patch_of;
  for (const ImagePatch& p : *patches) patch_of[p.old_name] = &p;
  std::vector<FileSample> out;
  for (FileSample f : files) {
    auto it = m->find(f.name);
    const std::string old_name = f.name;
    if (it != m->end()) f.name = it->second;
    auto ed = edit_of.find(old_name);
    absl::StatusOr<std::string> text = f.head;
    if (ed != edit_of.end()) {
      EXPECT_TRUE(ed->second->whole_file) << old_name;
      text = ed->second->bytes;
    } else if (auto p = patch_of.find(old_name); p != patch_of.end()) {
      std::string bytes = f.head;
      for (const ImageWrite& w : p->second->writes) {
        EXPECT_EQ(bytes.substr(w.offset, w.expected.size()), w.expected) << old_name;
        bytes.replace(w.offset, w.bytes.size(), w.bytes);
      }
      text = bytes;
    } else if (absl::EndsWith(old_name, ".vmx")) {
      text = RewriteVmx(f.head, *m, "copy", abs);
    } else if (absl::EndsWith(old_name, ".vmsd")) {
      text = RewriteVmsd(f.head, *m, abs);
    } else if (absl::EndsWith(old_name, ".vmxf")) {
      text = RewriteVmxf(f.head, *m);
    }
    EXPECT_TRUE(text.ok()) << old_name << ": " << text.status();
    if (!text.ok()) continue;
    f.head = *text;
    f.size = f.head.size();
    out.push_back(std::move(f));
  }
  return out;
}

TEST(VmDirs, ChainsAndVerdictsMatchExpectations) {
  const std::vector<std::string> cases = List(kRoot);
  ASSERT_GE(cases.size(), 10u) << "fixtures missing under " << kRoot;
  for (const std::string& c : cases) {
    SCOPED_TRACE(c);
    const std::string dir = std::string(kRoot) + "/" + c;
    std::map<std::string, std::string> expect;
    for (absl::string_view line : absl::StrSplit(Slurp(dir + "/EXPECT"), '\n')) {
      std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits(": ", 1));
      if (!kv.first.empty()) expect[kv.first] = kv.second;
    }
    ASSERT_EQ(expect.size() - expect.count("dir") - expect.count("elsewhere"), 3u)
        << "bad EXPECT";
    // The export around this directory: its own files under "dir" and the
    // "elsewhere" files.
    std::set<std::string> export_files;
    if (expect.count("elsewhere")) {
      for (absl::string_view p : absl::StrSplit(expect["elsewhere"], " | ")) {
        export_files.insert(std::string(p));
      }
    }
    std::vector<FileSample> files;
    for (const std::string& n : List(dir)) {
      if (n == "EXPECT") continue;
      FileSample f;
      f.name = absl::StrReplaceAll(n, {{"%20", " "}});  // see make_vmdirs.py
      f.head = Slurp(dir + "/" + n);
      f.size = f.head.size();
      f.mtime_sec = kNow - 3600;
      ASSERT_LE(f.size, kSampleBytes) << n;
      files.push_back(std::move(f));
    }
    AnalyzeOptions opt;
    opt.now_sec = kNow;
    if (expect.count("dir")) opt.dir_path = expect["dir"];
    opt.export_file_exists = [&export_files](const std::string& p) {
      return export_files.count(p) > 0;
    };
    absl::StatusOr<ChainReport> r = AnalyzeVm(files, opt);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(Chains(*r), expect["chains"]) << Why(*r);
    EXPECT_EQ(Blocking(*r), expect["blocking"]) << Why(*r);
    EXPECT_EQ(r->linear ? "true" : "false", expect["linear"]) << Why(*r);
    EXPECT_EQ(r->offloadable, expect["blocking"].empty()) << Why(*r);
    if (!r->offloadable) continue;

    RenameMap map;
    const std::string src_dir = opt.dir_path.value_or("src");
    const size_t slash = src_dir.rfind('/');
    const std::string dir_base =
        src_dir.empty() ? "vm" : src_dir.substr(slash == std::string::npos ? 0 : slash + 1);
    std::vector<FileSample> clone = CloneRewrite(files, *r, dir_base, &map);
    // The clone is analyzed as the directory "copy" of the same export, in
    // which the source's files still exist.
    for (const FileSample& f : files) {
      export_files.insert(src_dir.empty() ? f.name : src_dir + "/" + f.name);
    }
    opt.dir_path = "copy";
    absl::StatusOr<ChainReport> cr = AnalyzeVm(clone, opt);
    ASSERT_TRUE(cr.ok()) << cr.status();
    std::string want = expect["chains"];
    for (const auto& [from, to] : map) {
      // Whole names only: split on the separators of the expectation.
      std::vector<std::string> parts = absl::StrSplit(want, " | ");
      for (std::string& chain : parts) {
        std::vector<std::string> layers = absl::StrSplit(chain, "<-");
        for (std::string& l : layers) {
          if (l == from) l = to;
        }
        chain = absl::StrJoin(layers, "<-");
      }
      want = absl::StrJoin(parts, " | ");
    }
    std::vector<std::string> sorted = absl::StrSplit(want, " | ");
    std::sort(sorted.begin(), sorted.end(), [](const std::string& a, const std::string& b) {
      return a.substr(a.rfind("<-") == std::string::npos ? 0 : a.rfind("<-") + 2) <
             b.substr(b.rfind("<-") == std::string::npos ? 0 : b.rfind("<-") + 2);
    });
    EXPECT_EQ(Chains(*cr), absl::StrJoin(sorted, " | ")) << Why(*cr);
    EXPECT_TRUE(cr->offloadable) << Why(*cr);
    // The clone's .vmx runs the renamed copies of the disks the source ran.
    std::set<std::string> ran, runs;
    for (const DiskNode& d : r->disks) {
      auto it = map.find(d.file);
      if (d.in_use_by_vmx) ran.insert(it == map.end() ? d.file : it->second);
    }
    for (const DiskNode& d : cr->disks) {
      if (d.in_use_by_vmx) runs.insert(d.file);
    }
    EXPECT_EQ(runs, ran);
    // No clone file names a file of this directory by its absolute path any
    // more: each such reference became a bare name. Snapshot state files
    // are the exception rewrite.h documents: cloned byte for byte, they
    // embed the configuration as it was.
    for (const auto& [ref, name] : r->absolute_refs) {
      for (const FileSample& f : clone) {
        if (absl::EndsWith(f.name, ".vmsn")) continue;
        EXPECT_EQ(f.head.find(ref), std::string::npos)
            << f.name << " still names " << ref;
      }
    }
  }
}

}  // namespace
}  // namespace vnas::vmformat
