// fuzz_entry.cc — see fuzz_entry.h.
#include "server/vmformat/fuzz_entry.h"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/types/span.h"
#include "server/vmformat/chain.h"
#include "server/vmformat/internal/file_view.h"
#include "server/vmformat/internal/kv_text.h"
#include "server/vmformat/qcow2.h"
#include "server/vmformat/rewrite.h"
#include "server/vmformat/vhdx.h"
#include "server/vmformat/vmdk_descriptor.h"
#include "server/vmformat/vmdk_sparse.h"
#include "server/vmformat/vmsd.h"
#include "server/vmformat/vmx.h"

namespace vnas::vmformat {
namespace {

constexpr int64_t kNow = 1'800'000'000;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckReport(const ChainReport& r) {
  bool blocks = false;
  for (const Finding& f : r.findings) blocks |= f.blocks_offload;
  Check(r.offloadable == !blocks);
  Check(!r.summary.empty());
  std::set<std::string> disks;
  bool linear = true;
  for (const DiskNode& d : r.disks) {
    Check(disks.insert(d.file).second);
    if (d.children.size() > 1) linear = false;
  }
  Check(r.linear == linear);
  std::set<std::string> leaves;
  for (const auto& chain : r.chains) {
    Check(!chain.empty());
    Check(leaves.insert(chain.back()).second);
    for (const std::string& n : chain) Check(disks.count(n) == 1);
  }
}

std::vector<FileSample> SplitFiles(absl::string_view data) {
  std::vector<FileSample> files;
  std::set<std::string> names;
  std::string name = "vm.vmdk";
  size_t pos = 0;
  auto emit = [&](absl::string_view body) {
    FileSample f;
    f.name = name;
    f.mtime_sec = kNow - 3600;
    bool big = false;
    for (bool again = true; again;) {
      again = false;
      if (absl::EndsWith(f.name, "@fresh")) {
        f.name.resize(f.name.size() - 6);
        f.mtime_sec = kNow;
        again = true;
      }
      if (absl::EndsWith(f.name, "@big")) {
        f.name.resize(f.name.size() - 4);
        big = true;
        again = true;
      }
    }
    // Names AnalyzeVm rejects as unusable input are skipped here; that
    // rejection is covered by chain_test.
    if (f.name.empty() || f.name == "." || f.name == ".." ||
        f.name.find('/') != std::string::npos ||
        f.name.find('\0') != std::string::npos || !names.insert(f.name).second) {
      return;
    }
    f.head = std::string(body.substr(0, kSampleBytes));
    f.size = body.size();
    // "@big": the body is only the start of a file larger than the sample,
    // so small inputs reach the larger-than-the-sample paths.
    if (big) f.size = std::max<uint64_t>(f.size, kSampleBytes) + 1;
    files.push_back(std::move(f));
  };
  while (true) {
    size_t marker = data.find("=== ", pos);
    while (marker != absl::string_view::npos && marker != 0 &&
           data[marker - 1] != '\n') {
      marker = data.find("=== ", marker + 1);
    }
    if (marker == absl::string_view::npos) {
      emit(data.substr(pos));
      break;
    }
    emit(data.substr(pos, marker - pos));
    size_t nl = data.find('\n', marker);
    if (nl == absl::string_view::npos) break;
    name = std::string(data.substr(marker + 4, nl - marker - 4));
    pos = nl + 1;
    if (files.size() > 64) break;
  }
  return files;
}

}  // namespace

void FuzzOneInput(absl::string_view data) {
  // Each parser on the raw bytes.
  ParseVmdkDescriptor(data).IgnoreError();  // errors are expected here
  LooksLikeVmdkDescriptor(data);
  for (const internal::TextLine& l : internal::Lines(data.substr(0, 4096))) {
    if (IsExtentLine(l.body)) ParseExtentLine(l.body).IgnoreError();
    internal::ParseKeyValue(l.body);
  }
  absl::StatusOr<SparseHeader> sparse = ParseSparseHeader(data);
  if (sparse.ok()) ParseVmdkDescriptor(sparse->descriptor).IgnoreError();
  ParseVmx(data).IgnoreError();
  ParseVmsd(data).IgnoreError();
  ParseQcow2Header(data).IgnoreError();
  internal::FileView view{data, {}};
  ParseVhdx(view).IgnoreError();
  VhdxWantedRanges(view);
  Utf16LeToUtf8(data.substr(0, 4096));

  // Rewriters.
  const RenameMap map = {{"vm.vmdk", "c.vmdk"}, {"vm-flat.vmdk", "c-flat.vmdk"},
                         {"vm.vmx", "c.vmx"}, {"vm-000001.vmdk", "c-000001.vmdk"}};
  absl::StatusOr<std::string> d = RewriteVmdkDescriptorCids(data, map, "01234567", "");
  if (d.ok()) Check(ParseVmdkDescriptor(*d).ok());
  RewriteVmx(data, map, "clone").IgnoreError();
  RewriteVmsd(data, map).IgnoreError();
  RewriteVmxf(data, map).IgnoreError();

  // The analyzer: the whole input as one file under several names, then
  // split into files.
  AnalyzeOptions opt;
  opt.now_sec = kNow;
  opt.self_dirs = {"/vmfs/volumes/ds/vm"};
  // Absolute references are mapped onto an export in which "vm" is this
  // directory and some other paths exist (a fixed, arbitrary rule).
  opt.dir_path = "vm";
  opt.export_file_exists = [](const std::string& p) {
    return !p.empty() && p.size() % 3 == 0;
  };
  // One sample, copied once and renamed for each pass (the input may be
  // large: no need to copy it twice per name).
  FileSample whole;
  whole.size = data.size();
  whole.head = std::string(data.substr(0, kSampleBytes));
  whole.extra.push_back({196608, std::string(data)});
  for (const char* name : {"vm.vmdk", "vm.vmx", "vm.vmsd", "vm.vhdx"}) {
    whole.name = name;
    WantedRanges(whole);
    absl::StatusOr<ChainReport> r = AnalyzeVm(absl::MakeConstSpan(&whole, 1), opt);
    Check(r.ok());
    CheckReport(*r);
  }
  std::vector<FileSample> files = SplitFiles(data);
  for (const FileSample& f : files) WantedRanges(f);
  absl::StatusOr<ChainReport> r = AnalyzeVm(files, opt);
  Check(r.ok());
  CheckReport(*r);
  std::vector<std::string> names;
  for (const FileSample& f : files) names.push_back(f.name);
  absl::StatusOr<RenameMap> proposed = ProposeRenameMap(names, "vm", "clone");
  if (proposed.ok()) {
    RewriteOptions ro;
    uint32_t next = 1;
    ro.cid_source = [&next] { return next++; };
    ro.absolute_refs = r->absolute_refs;
    RewriteVmdkSet(files, *proposed, ro).IgnoreError();
    absl::StatusOr<std::vector<ImagePatch>> patches =
        RewriteQcow2Backings(files, *proposed, r->absolute_refs);
    if (patches.ok()) {
      for (const ImagePatch& p : *patches) {
        for (const ImageWrite& w : p.writes) Check(w.bytes.size() == w.expected.size());
      }
    }
  }
  // Every mapped reference names a file of the directory.
  for (const auto& [ref, name] : r->absolute_refs) {
    Check(std::find(names.begin(), names.end(), name) != names.end());
  }
}

}  // namespace vnas::vmformat
