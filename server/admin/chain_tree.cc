#include "server/admin/chain_tree.h"

#include <map>
#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "plugins/cli/size.h"

namespace vnas::admin {
namespace {

using vnas::v1::DiskNode;

std::string Label(const DiskNode& d) {
  std::vector<std::string> tags;
  if (!d.create_type().empty()) tags.push_back(d.create_type());
  if (!d.cid().empty()) tags.push_back(absl::StrCat("CID ", d.cid()));
  if (d.virtual_size() > 0) tags.push_back(cli::FormatSize(d.virtual_size()));
  std::string s = d.file();
  if (!tags.empty()) absl::StrAppend(&s, "  [", absl::StrJoin(tags, ", "), "]");
  if (d.in_use_by_vmx()) absl::StrAppend(&s, "  <- .vmx (running leaf)");
  return s;
}

void Draw(const std::map<std::string, const DiskNode*>& by_file,
          const std::string& file, const std::string& prefix, bool root, bool last,
          std::set<std::string>* seen, std::string* out) {
  const std::string branch = root ? "" : (last ? "\u2514\u2500\u2500 " : "\u251c\u2500\u2500 ");
  auto it = by_file.find(file);
  if (!seen->insert(file).second) {
    absl::StrAppend(out, prefix, branch, file, "  (cycle)\n");
    return;
  }
  absl::StrAppend(out, prefix, branch, it == by_file.end() ? file : Label(*it->second), "\n");
  if (it == by_file.end()) return;
  const auto& kids = it->second->children();
  const std::string next = root ? "" : prefix + (last ? "    " : "\u2502   ");
  for (int i = 0; i < kids.size(); ++i) {
    Draw(by_file, kids[i], next, false, i + 1 == kids.size(), seen, out);
  }
}

}  // namespace

std::string ReasonText(const vnas::v1::Reason& r) {
  std::string name = r.name();
  if (name.empty()) {
    name = vnas::v1::ReasonCode_Name(r.code());
    if (absl::StartsWith(name, "REASON_")) name = name.substr(7);
  }
  if (absl::StartsWith(r.text(), name)) return r.text();
  return absl::StrCat(name, ": ", r.text());
}

std::string VerdictLine(const vnas::v1::Verdict& v) {
  if (v.offloaded()) {
    std::string m = vnas::v1::Mechanism_Name(v.mechanism());
    return absl::StrCat("offloadable (", m, ")");
  }
  return absl::StrCat("NOT offloadable: ", ReasonText(v.refusal()));
}

std::string RenderChain(const vnas::v1::GetChainResponse& c) {
  std::string out;
  absl::StrAppend(&out, c.directory().empty() ? "(directory)" : c.directory(), " \u2014 ",
                  c.disks_size(), " disk", c.disks_size() == 1 ? "" : "s", ", ",
                  c.linear() ? "linear" : "NOT linear (a tree)", "\n");
  std::map<std::string, const DiskNode*> by_file;
  for (const DiskNode& d : c.disks()) by_file[d.file()] = &d;
  std::set<std::string> seen;
  for (const DiskNode& d : c.disks()) {
    if (d.parent().empty() || by_file.count(d.parent()) == 0) {
      Draw(by_file, d.file(), "", true, true, &seen, &out);
    }
  }
  for (const DiskNode& d : c.disks()) {  // only reachable through cycles
    if (seen.count(d.file()) == 0) Draw(by_file, d.file(), "", true, true, &seen, &out);
  }
  if (!c.summary().empty()) absl::StrAppend(&out, "summary: ", c.summary(), "\n");
  absl::StrAppend(&out, "verdict (clone VM): ",
                  c.has_clone_vm() ? VerdictLine(c.clone_vm())
                                   : (c.offloadable() ? "offloadable" : "NOT offloadable"),
                  "\n");
  if (c.has_focus()) absl::StrAppend(&out, "verdict (clone this file): ", VerdictLine(c.focus()), "\n");
  if (c.findings_size() > 0) absl::StrAppend(&out, "findings:\n");
  for (int i = 0; i < c.findings_size(); ++i) {
    const auto& f = c.findings(i);
    const bool blocks = i < c.findings_block_size() && c.findings_block(i);
    absl::StrAppend(&out, "  ", blocks ? "\u2717 blocks  " : "\u00b7 info    ", ReasonText(f));
    // Name the files unless the text already lists them.
    bool listed = f.files_size() > 0;
    for (const auto& file : f.files()) listed = listed && absl::StrContains(f.text(), file);
    if (f.files_size() > 0 && !listed) {
      absl::StrAppend(&out, " (", absl::StrJoin(f.files(), ", "), ")");
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

}  // namespace vnas::admin
