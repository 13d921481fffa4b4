#include "server/control/vm_reader.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/control/reasons.h"
#include "storage/base/status_util.h"

namespace vnas::control {

absl::StatusOr<std::string> ReadWhole(storage::ExtentStore* store,
                                      storage::InodeId ino,
                                      uint64_t max_bytes) {
  VNAS_ASSIGN_OR_RETURN(storage::Attr attr, store->GetAttr(ino));
  if (attr.size > max_bytes) {
    return absl::FailedPreconditionError(absl::StrCat(
        "file of ", attr.size, " bytes is larger than ", max_bytes));
  }
  std::string out(attr.size, '\0');
  uint64_t off = 0;
  while (off < attr.size) {
    uint32_t want = static_cast<uint32_t>(
        std::min<uint64_t>(attr.size - off, 1 << 20));
    VNAS_ASSIGN_OR_RETURN(storage::ReadResult r,
                          store->Read(ino, off, want, &out[off]));
    if (r.count == 0) break;
    off += r.count;
  }
  out.resize(off);
  return out;
}

bool IsLockFile(const std::string& name) {
  return absl::StartsWith(name, ".lck-") || absl::EndsWith(name, ".lck") ||
         absl::StrContains(name, ".lck-");
}

absl::StatusOr<VmDirectory> LoadVmDirectory(storage::ExtentStore* store,
                                            storage::InodeId dir,
                                            int64_t now_sec) {
  VmDirectory vm;
  vm.ino = dir;
  uint64_t cookie = 0;
  while (true) {
    VNAS_ASSIGN_OR_RETURN(storage::DirPage page,
                          store->ReadDir(dir, cookie, 512, true));
    for (auto& e : page.entries) {
      cookie = e.cookie;
      vm.entries.push_back(std::move(e));
    }
    if (vm.entries.size() > kMaxVmDirEntries) {
      return Refusal(absl::StatusCode::kInvalidArgument,
                     v1::REASON_INVALID_ARGUMENT,
                     absl::StrCat("directory has more than ", kMaxVmDirEntries,
                                  " entries; not a VM directory"));
    }
    if (page.eof || page.entries.empty()) break;
  }
  for (const storage::DirEntry& e : vm.entries) {
    if (e.attr.type != storage::FileType::kRegular) continue;
    vmformat::FileSample s;
    s.name = e.name;
    s.size = e.attr.size;
    s.mtime_sec = e.attr.mtime.sec;
    uint64_t want = std::min<uint64_t>(e.attr.size, vmformat::kSampleBytes);
    s.head.assign(want, '\0');
    uint64_t off = 0;
    while (off < want) {
      VNAS_ASSIGN_OR_RETURN(
          storage::ReadResult r,
          store->Read(e.ino, off, static_cast<uint32_t>(want - off),
                      &s.head[off]));
      if (r.count == 0) break;
      off += r.count;
    }
    s.head.resize(off);
    vm.samples.push_back(std::move(s));
  }
  vmformat::AnalyzeOptions opts;
  opts.now_sec = now_sec;
  VNAS_ASSIGN_OR_RETURN(vm.report, vmformat::AnalyzeVm(vm.samples, opts));
  return vm;
}

}  // namespace vnas::control
