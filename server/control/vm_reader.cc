#include "server/control/vm_reader.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/control/paths.h"
#include "server/control/reasons.h"
#include "storage/base/status_util.h"

namespace vnas::control {

namespace {

// WantedRanges() needs at most 4 rounds (chain.h); one more is a bug guard.
constexpr int kMaxWantedRounds = 5;

// Up to `length` bytes of `ino` at `offset` (short at end of file).
absl::StatusOr<std::string> ReadRange(storage::ExtentStore* store,
                                      storage::InodeId ino, uint64_t offset,
                                      uint64_t length) {
  std::string out(length, '\0');
  uint64_t done = 0;
  while (done < length) {
    uint32_t want =
        static_cast<uint32_t>(std::min<uint64_t>(length - done, 1 << 20));
    VNAS_ASSIGN_OR_RETURN(storage::ReadResult r,
                          store->Read(ino, offset + done, want, &out[done]));
    done += r.count;
    if (r.count == 0 || r.eof) break;
  }
  out.resize(done);
  return out;
}

}  // namespace

absl::StatusOr<std::string> ReadWhole(storage::ExtentStore* store,
                                      storage::InodeId ino,
                                      uint64_t max_bytes) {
  VNAS_ASSIGN_OR_RETURN(storage::Attr attr, store->GetAttr(ino));
  if (attr.size > max_bytes) {
    return absl::FailedPreconditionError(absl::StrCat(
        "file of ", attr.size, " bytes is larger than ", max_bytes));
  }
  return ReadRange(store, ino, 0, attr.size);
}

absl::StatusOr<std::vector<storage::DirEntry>> ReadDirEntries(
    storage::ExtentStore* store, storage::InodeId dir, bool attrs,
    size_t limit) {
  std::vector<storage::DirEntry> out;
  uint64_t cookie = 0;
  while (true) {
    VNAS_ASSIGN_OR_RETURN(storage::DirPage page,
                          store->ReadDir(dir, cookie, 512, attrs));
    for (auto& e : page.entries) {
      cookie = e.cookie;
      out.push_back(std::move(e));
    }
    if (out.size() > limit || page.eof || page.entries.empty()) break;
  }
  return out;
}

bool IsLockFile(const std::string& name) {
  return absl::StartsWith(name, ".lck-") || absl::EndsWith(name, ".lck") ||
         absl::StrContains(name, ".lck-");
}

absl::StatusOr<VmDirectory> LoadVmDirectory(storage::ExtentStore* store,
                                            storage::InodeId dir,
                                            const std::string& dir_path,
                                            int64_t now_sec) {
  VmDirectory vm;
  vm.ino = dir;
  VNAS_ASSIGN_OR_RETURN(vm.entries,
                        ReadDirEntries(store, dir, true, kMaxVmDirEntries));
  if (vm.entries.size() > kMaxVmDirEntries) {
    return Refusal(absl::StatusCode::kInvalidArgument,
                   v1::REASON_INVALID_ARGUMENT,
                   absl::StrCat("directory has more than ", kMaxVmDirEntries,
                                " entries; not a VM directory"));
  }
  for (const storage::DirEntry& e : vm.entries) {
    if (e.attr.type != storage::FileType::kRegular) continue;
    vmformat::FileSample s;
    s.name = e.name;
    s.size = e.attr.size;
    s.mtime_sec = e.attr.mtime.sec;
    VNAS_ASSIGN_OR_RETURN(s.head,
                          ReadRange(store, e.ino, 0, vmformat::kSampleBytes));
    // Formats whose metadata lies beyond the head (VHDX) ask for more; the
    // analyzer bounds the rounds and the bytes.
    for (int round = 0; round < kMaxWantedRounds; ++round) {
      std::vector<vmformat::WantedRange> wanted = vmformat::WantedRanges(s);
      if (wanted.empty()) break;
      for (const vmformat::WantedRange& w : wanted) {
        vmformat::FileRange range;
        range.offset = w.offset;
        VNAS_ASSIGN_OR_RETURN(range.bytes,
                              ReadRange(store, e.ino, w.offset, w.length));
        s.extra.push_back(std::move(range));
      }
    }
    vm.samples.push_back(std::move(s));
  }
  vmformat::AnalyzeOptions opts;
  opts.now_sec = now_sec;
  opts.dir_path = dir_path;
  opts.export_file_exists = [store](const std::string& path) {
    std::vector<std::string> comps = absl::StrSplit(path, '/');
    absl::StatusOr<storage::Attr> a = Resolve(store, comps);
    return a.ok() && a->type == storage::FileType::kRegular;
  };
  VNAS_ASSIGN_OR_RETURN(vm.report, vmformat::AnalyzeVm(vm.samples, opts));
  return vm;
}

}  // namespace vnas::control
