#include "server/control/snapshot_paths.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/base/status_util.h"

namespace vnas::control {
namespace {
constexpr char kLog[] = "snapshot-paths";
constexpr uint64_t kMaxRecords = 10000;
}  // namespace

absl::Status RecordSnapshotPath(storage::ExtentStore* store, uint64_t id,
                                const std::string& path) {
  return store->AppendLog(kLog, absl::StrCat("1\t", id, "\t", path), kMaxRecords)
      .status();
}

absl::StatusOr<std::map<uint64_t, std::string>> ReadSnapshotPaths(
    storage::ExtentStore* store) {
  std::map<uint64_t, std::string> out;
  uint64_t cursor = 0;
  while (true) {
    VNAS_ASSIGN_OR_RETURN(auto page, store->ReadLog(kLog, cursor, 1000));
    for (const auto& rec : page) {
      cursor = rec.seq;
      std::vector<std::string> parts =
          absl::StrSplit(rec.record, absl::MaxSplits('\t', 2));
      uint64_t id = 0;
      if (parts.size() != 3 || parts[0] != "1" ||
          !absl::SimpleAtoi(parts[1], &id)) {
        continue;
      }
      out[id] = parts[2];
    }
    if (page.size() < 1000) break;
  }
  return out;
}

}  // namespace vnas::control
