// vmsd.cc — see vmsd.h for the grammar.
#include "server/vmformat/vmsd.h"

#include <map>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/vmformat/internal/kv_text.h"
#include "server/vmformat/vmx.h"

namespace vnas::vmformat {
namespace {

constexpr int kMaxIndex = 9999;

// Parses up to 4 decimal digits at s[*i]; advances *i.
bool SmallIndex(absl::string_view s, size_t* i, int* out) {
  size_t b = *i;
  int v = 0;
  while (*i < s.size() && absl::ascii_isdigit(s[*i]) && *i - b < 4) {
    v = v * 10 + (s[*i] - '0');
    ++*i;
  }
  if (*i == b || v > kMaxIndex) return false;
  *out = v;
  return true;
}

}  // namespace

const VmsdSnapshot* Vmsd::Find(uint64_t uid) const {
  for (const VmsdSnapshot& s : snapshots) {
    if (s.uid == uid) return &s;
  }
  return nullptr;
}

absl::StatusOr<Vmsd> ParseVmsd(absl::string_view text) {
  if (text.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("vmsd: NUL byte");
  }
  Vmsd vmsd;
  struct Rec {
    std::optional<uint64_t> uid, parent;
    std::string file, display;
    std::map<int, VmsdDisk> disks;
  };
  std::map<int, Rec> recs;
  for (const internal::TextLine& line : internal::Lines(text)) {
    std::optional<internal::KeyValue> kv = internal::ParseKeyValue(line.body);
    if (!kv.has_value() || internal::IsBlankOrComment(line.body)) continue;
    const std::string key = absl::AsciiStrToLower(kv->key);
    const std::string value = UnescapeVmxValue(kv->value);
    absl::string_view k(key);
    if (k == "snapshot.current") {
      uint64_t v;
      if (absl::SimpleAtoi(value, &v)) vmsd.current_uid = v;
      continue;
    }
    if (k == "snapshot.needconsolidate") {
      vmsd.need_consolidate = absl::EqualsIgnoreCase(value, "true");
      continue;
    }
    if (!absl::StartsWith(k, "snapshot")) continue;
    size_t i = 8;
    int n;
    if (!SmallIndex(k, &i, &n) || i >= k.size() || k[i] != '.') continue;
    absl::string_view attr = k.substr(i + 1);
    Rec& r = recs[n];
    if (attr == "uid") {
      uint64_t v;
      if (absl::SimpleAtoi(value, &v)) {
        r.uid = v;
      } else {
        vmsd.problems.push_back(absl::StrCat("snapshot", n, ".uid not a number"));
      }
    } else if (attr == "parent") {
      uint64_t v;
      if (absl::SimpleAtoi(value, &v)) r.parent = v;
    } else if (attr == "filename") {
      r.file = value;
    } else if (attr == "displayname") {
      r.display = value;
    } else if (absl::StartsWith(attr, "disk")) {
      size_t j = 4;
      int m;
      if (!SmallIndex(attr, &j, &m) || j >= attr.size() || attr[j] != '.') {
        continue;
      }
      absl::string_view dattr = attr.substr(j + 1);
      if (dattr == "filename") {
        r.disks[m].file_name = value;
      } else if (dattr == "node") {
        r.disks[m].node = value;
      }
    }
  }
  std::set<uint64_t> uids;
  for (auto& [n, r] : recs) {
    if (!r.uid.has_value()) {
      vmsd.problems.push_back(absl::StrCat("snapshot", n, " has no uid"));
      continue;
    }
    if (!uids.insert(*r.uid).second) {
      vmsd.problems.push_back(
          absl::StrCat("snapshot", n, " repeats uid ", *r.uid));
      continue;
    }
    VmsdSnapshot s;
    s.index = n;
    s.uid = *r.uid;
    s.parent = r.parent;
    s.file_name = std::move(r.file);
    s.display_name = std::move(r.display);
    for (auto& [m, d] : r.disks) {
      if (!d.file_name.empty()) s.disks.push_back(std::move(d));
    }
    vmsd.snapshots.push_back(std::move(s));
  }
  std::map<uint64_t, int> by_uid;
  for (size_t i = 0; i < vmsd.snapshots.size(); ++i) {
    by_uid[vmsd.snapshots[i].uid] = static_cast<int>(i);
  }
  for (size_t i = 0; i < vmsd.snapshots.size(); ++i) {
    VmsdSnapshot& s = vmsd.snapshots[i];
    if (!s.parent.has_value()) {
      vmsd.roots.push_back(static_cast<int>(i));
      continue;
    }
    auto it = by_uid.find(*s.parent);
    if (it == by_uid.end() || it->second == static_cast<int>(i)) {
      vmsd.problems.push_back(absl::StrCat("snapshot", s.index, " names parent uid ",
                                           *s.parent, " which does not exist"));
      s.parent.reset();
      vmsd.roots.push_back(static_cast<int>(i));
      continue;
    }
    vmsd.snapshots[it->second].children.push_back(static_cast<int>(i));
  }
  // Records not reachable from a root sit on a parent cycle.
  std::vector<bool> seen(vmsd.snapshots.size(), false);
  std::vector<int> stack(vmsd.roots.begin(), vmsd.roots.end());
  while (!stack.empty()) {
    int x = stack.back();
    stack.pop_back();
    if (seen[x]) continue;
    seen[x] = true;
    for (int c : vmsd.snapshots[x].children) stack.push_back(c);
  }
  for (size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i]) {
      vmsd.problems.push_back(absl::StrCat(
          "snapshot", vmsd.snapshots[i].index, " is on a parent cycle"));
    }
  }
  return vmsd;
}

}  // namespace vnas::vmformat
