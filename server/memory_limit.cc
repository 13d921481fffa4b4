// memory_limit.cc — see memory_limit.h.
#include "server/memory_limit.h"

#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/file_text.h"

namespace vnas::server {
namespace {

// v1 reports "no limit" as the largest page-aligned int64.
constexpr uint64_t kNoLimitAbove = uint64_t{1} << 62;

// `dir` and each of its ancestors up to (and including) `root`.
std::vector<std::string> SelfAndAncestors(const std::string& root, std::string path) {
  std::vector<std::string> out;
  while (!path.empty() && path.back() == '/') path.pop_back();
  for (;;) {
    out.push_back(root + path);
    if (path.empty()) break;
    const size_t slash = path.rfind('/');
    path = slash == std::string::npos ? "" : path.substr(0, slash);
  }
  return out;
}

// The limit in one limit file's text, when it sets one.
std::optional<uint64_t> ParseLimit(const std::string& text) {
  absl::string_view v = absl::StripAsciiWhitespace(text);
  uint64_t n = 0;
  if (v == "max" || !absl::SimpleAtoi(v, &n) || n >= kNoLimitAbove) {
    return std::nullopt;
  }
  return n;
}

}  // namespace

std::optional<uint64_t> CgroupMemoryLimit(const FileReader& read, const std::string& root) {
  const std::optional<std::string> self = read("/proc/self/cgroup");
  if (!self) return std::nullopt;
  std::vector<std::string> files;
  for (absl::string_view line : absl::StrSplit(*self, '\n', absl::SkipEmpty())) {
    // hierarchy-id:controller-list:path
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3) continue;
    if (f[0] == "0" && f[1].empty()) {
      for (const std::string& d : SelfAndAncestors(root, f[2])) files.push_back(d + "/memory.max");
    } else {
      const std::vector<std::string> controllers = absl::StrSplit(f[1], ',');
      if (std::find(controllers.begin(), controllers.end(), "memory") == controllers.end()) continue;
      for (const std::string& d : SelfAndAncestors(root + "/memory", f[2])) {
        files.push_back(d + "/memory.limit_in_bytes");
      }
    }
  }
  std::optional<uint64_t> least;
  for (const std::string& file : files) {
    const std::optional<std::string> text = read(file);
    if (!text) continue;
    if (std::optional<uint64_t> n = ParseLimit(*text)) least = least ? std::min(*least, *n) : *n;
  }
  return least;
}

uint64_t UsableMemoryBytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGESIZE);
  uint64_t phys = pages > 0 && page > 0
                      ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page)
                      : 0;
  const std::optional<uint64_t> limit =
      CgroupMemoryLimit([](const std::string& path) -> std::optional<std::string> {
        absl::StatusOr<std::string> text = ReadWholeFile(path);
        if (!text.ok()) return std::nullopt;
        return *std::move(text);
      });
  if (limit && (phys == 0 || *limit < phys)) return *limit;
  return phys;
}

}  // namespace vnas::server
