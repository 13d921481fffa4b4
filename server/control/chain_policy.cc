#include "server/control/chain_policy.h"

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/control/reasons.h"

namespace vnas::control {
namespace {

using vmformat::ChainReport;
using vmformat::DiskNode;
using vmformat::Finding;
using vmformat::Reason;

const DiskNode* FindDisk(const ChainReport& r, const std::string& name) {
  for (const DiskNode& d : r.disks) {
    if (d.file == name) return &d;
  }
  return nullptr;
}

const DiskNode* OwnerOf(const ChainReport& r, const std::string& file) {
  if (const DiskNode* d = FindDisk(r, file)) return d;
  for (const DiskNode& d : r.disks) {
    for (const std::string& e : d.extent_files) {
      if (e == file) return &d;
    }
  }
  return nullptr;
}

void AddDiskFiles(const DiskNode& d, std::set<std::string>* out) {
  out->insert(d.file);
  for (const std::string& e : d.extent_files) out->insert(e);
}

// Text naming the VSS branch points: parent, children, likely cause.
std::string VssText(const ChainReport& r, const Finding& f) {
  std::string text = f.detail;
  for (const DiskNode& d : r.disks) {
    if (d.children.size() < 2) continue;
    std::string leaf;
    for (const std::string& c : d.children) {
      const DiskNode* cn = FindDisk(r, c);
      if (cn != nullptr && cn->in_use_by_vmx) leaf = c;
    }
    absl::StrAppend(&text, text.empty() ? "" : "; ", "base disk ", d.file,
                    " has ", d.children.size(), " sibling redo logs (",
                    absl::StrJoin(d.children, ", "),
                    ") sharing it as parent: the disk is a tree, not a chain");
    if (!leaf.empty()) {
      absl::StrAppend(&text, "; the .vmx runs on ", leaf);
    }
  }
  // The cause (VSS, a snapshot tree, several VMs on one base) is the
  // analyzer's, in f.detail: a fixed "likely VSS" here contradicted it.
  absl::StrAppend(&text,
                  ". Offload refused: cloning would pick one branch "
                  "arbitrarily; the host copies instead.");
  return text;
}

std::string FindingText(const ChainReport& r, const Finding& f) {
  if (f.reason == Reason::kVssSiblingRedoLogs) return VssText(r, f);
  std::string text = f.detail;
  if (!f.files.empty()) {
    absl::StrAppend(&text, " [files: ", absl::StrJoin(f.files, ", "), "]");
  }
  return text;
}

v1::Reason ToProto(const ChainReport& r, const Finding& f) {
  v1::Reason out = MakeReason(ToProtoReason(f.reason), FindingText(r, f));
  for (const std::string& file : f.files) out.add_files(file);
  return out;
}

std::string ChainText(const ChainReport& r, const std::string& file) {
  for (const auto& chain : r.chains) {
    for (const std::string& f : chain) {
      if (f != file) continue;
      if (chain.size() < 2) return "";
      return absl::StrCat("linear chain ", absl::StrJoin(chain, " <- "),
                          " (", chain.size(), " layers)");
    }
  }
  return "";
}

bool IsRunning(const ChainReport& r, const Finding** which) {
  for (const Finding& f : r.findings) {
    if (f.reason == Reason::kRunningVm) {
      *which = &f;
      return true;
    }
  }
  return false;
}

void Refuse(v1::Verdict* v, v1::Reason reason, const std::string& what) {
  v->set_offloaded(false);
  v->set_mechanism(v1::MECHANISM_NONE);
  *v->mutable_refusal() = std::move(reason);
  v->set_explanation(absl::StrCat(what, " is refused: ", v->refusal().name(),
                                  ": ", v->refusal().text()));
}

}  // namespace

v1::ReasonCode ToProtoReason(vmformat::Reason reason) {
  int n = static_cast<int>(reason);
  if (n >= 0 && n < 100 && v1::ReasonCode_IsValid(n)) {
    return static_cast<v1::ReasonCode>(n);
  }
  return v1::REASON_UNSUPPORTED_FORMAT;
}

std::set<std::string> DiskTreeOf(const ChainReport& r,
                                 const std::string& file) {
  std::set<std::string> out;
  const DiskNode* start = OwnerOf(r, file);
  if (start == nullptr) return out;
  // Up to the root.
  std::set<std::string> seen;
  const DiskNode* d = start;
  while (d != nullptr && seen.insert(d->file).second) {
    AddDiskFiles(*d, &out);
    d = d->parent.empty() ? nullptr : FindDisk(r, d->parent);
  }
  // Down through every descendant (and, for a sibling tree, the siblings:
  // descendants of the root).
  std::vector<std::string> todo(seen.begin(), seen.end());
  while (!todo.empty()) {
    std::string name = todo.back();
    todo.pop_back();
    const DiskNode* n = FindDisk(r, name);
    if (n == nullptr) continue;
    for (const std::string& c : n->children) {
      if (seen.insert(c).second) {
        if (const DiskNode* cn = FindDisk(r, c)) AddDiskFiles(*cn, &out);
        todo.push_back(c);
      }
    }
  }
  // A missing parent named by the start's chain is part of the tree too.
  for (d = start; d != nullptr && !d->parent_hint.empty();
       d = d->parent.empty() ? nullptr : FindDisk(r, d->parent)) {
    out.insert(d->parent_hint);
    if (d->parent.empty()) break;
  }
  return out;
}

v1::Verdict DecideCloneFile(const ChainReport& r, const std::string& file,
                            v1::Mechanism mechanism) {
  v1::Verdict v;
  const DiskNode* disk = OwnerOf(r, file);
  std::set<std::string> tree = DiskTreeOf(r, file);
  bool blocked = false;
  for (const Finding& f : r.findings) {
    bool concerns = false;
    if (disk != nullptr) {
      if (f.files.empty()) concerns = true;
      for (const std::string& x : f.files) {
        if (tree.count(x) || x == file) concerns = true;
      }
    } else {
      for (const std::string& x : f.files) {
        if (x == file) concerns = true;
      }
    }
    bool blocks = false;
    if (f.reason == Reason::kRunningVm) {
      // Only a disk being written (a leaf, or the one the .vmx runs on).
      concerns = disk != nullptr;
      blocks = disk != nullptr && (disk->children.empty() || disk->in_use_by_vmx);
    } else {
      blocks = concerns && f.blocks_offload;
    }
    if (!concerns) continue;
    v1::Reason pr = ToProto(r, f);
    if (blocks && !blocked) {
      blocked = true;
      Refuse(&v, pr, absl::StrCat("CloneFile of ", file));
    }
    *v.add_findings() = std::move(pr);
  }
  if (blocked) return v;
  v.set_offloaded(true);
  v.set_mechanism(mechanism);
  *v.mutable_refusal() = MakeReason(v1::REASON_NONE, "");
  std::string how = mechanism == v1::MECHANISM_SNAPSHOT_CLONE
                        ? "a snapshot of the source and a linked clone of it"
                        : "an extent-sharing clone (no data copied)";
  std::string text;
  if (disk == nullptr) {
    text = absl::StrCat(file, " is not part of a virtual disk chain; offloaded as ",
                        how, ".");
  } else {
    std::string chain = ChainText(r, disk->file);
    if (chain.empty()) {
      text = absl::StrCat(file, " belongs to disk ", disk->file, " (",
                          disk->create_type.empty() ? "unknown type" : disk->create_type,
                          ") with no chain issues; offloaded as ", how, ".");
    } else {
      text = absl::StrCat(file, " belongs to disk ", disk->file, " in a ", chain,
                          "; CloneFile clones only this file as ", how);
      if (!disk->parent.empty()) {
        absl::StrAppend(&text, "; the copy still names its parent \"",
                        disk->parent_hint,
                        "\" (use CloneVm for a self-consistent copy of the "
                        "whole chain)");
      }
      absl::StrAppend(&text, ".");
      v1::Reason* note = v.add_findings();
      *note = MakeReason(v1::REASON_NONE, chain);
    }
  }
  v.set_explanation(text);
  return v;
}

v1::Verdict DecideCloneVm(const ChainReport& r) {
  v1::Verdict v;
  bool blocked = false;
  for (const Finding& f : r.findings) {
    v1::Reason pr = ToProto(r, f);
    bool blocks = f.blocks_offload || f.reason == Reason::kRunningVm;
    if (blocks && !blocked) {
      blocked = true;
      Refuse(&v, pr, "CloneVm");
    }
    *v.add_findings() = std::move(pr);
  }
  if (blocked) return v;
  v.set_offloaded(true);
  v.set_mechanism(v1::MECHANISM_VM_CLONE);
  *v.mutable_refusal() = MakeReason(v1::REASON_NONE, "");
  std::string text = absl::StrCat(
      "VM directory with ", r.disks.size(),
      " disk(s); every data file is an extent-sharing clone, descriptors, "
      ".vmx, .vmsd and .vmxf are rewritten to the new names (snapshot state "
      "files keep theirs)");
  if (!r.absolute_refs.empty()) {
    absl::StrAppend(&text, "; ", r.absolute_refs.size(),
                    " absolute reference(s) to files of this directory become "
                    "bare names in the clone");
  }
  for (const auto& chain : r.chains) {
    if (chain.size() >= 2) {
      std::string c = absl::StrCat("linear chain ", absl::StrJoin(chain, " <- "),
                                   " (", chain.size(), " layers)");
      absl::StrAppend(&text, "; ", c,
                      " is cloned layer by layer with fresh CIDs and "
                      "parentCID/parentFileNameHint rewritten, so the clone "
                      "keeps the same chain");
      *v.add_findings() = MakeReason(v1::REASON_NONE, c);
    }
  }
  absl::StrAppend(&text, ".");
  v.set_explanation(text);
  return v;
}

v1::Verdict DecideSnapshot(const ChainReport& r, const std::string& file,
                           bool restore) {
  v1::Verdict v;
  const Finding* running = nullptr;
  bool is_running = IsRunning(r, &running);
  std::string what = restore ? "RestoreSnapshot" : "CreateSnapshot";
  if (!file.empty()) absl::StrAppend(&what, " of ", file);
  if (is_running) {
    v1::Reason pr = ToProto(r, *running);
    bool concerns = file.empty() || OwnerOf(r, file) != nullptr;
    if (restore && concerns) {
      Refuse(&v, pr, what);
      *v.add_findings() = std::move(pr);
      return v;
    }
    if (concerns) *v.add_findings() = std::move(pr);
  }
  v.set_offloaded(true);
  v.set_mechanism(restore ? v1::MECHANISM_RESTORE : v1::MECHANISM_SNAPSHOT);
  *v.mutable_refusal() = MakeReason(v1::REASON_NONE, "");
  std::string text = restore ? "the live object is made equal to the snapshot "
                               "in the store (no data copied)"
                             : "a read-only point-in-time copy in the store "
                               "(extents shared, no data copied)";
  const bool running_noted = v.findings_size() > 0;
  // Independent disks: VMware snapshots skip them; this one does not.
  const DiskNode* focus = file.empty() ? nullptr : OwnerOf(r, file);
  for (const DiskNode& d : r.disks) {
    if (!d.independent || (!file.empty() && focus != &d)) continue;
    *v.add_findings() = MakeReason(
        v1::REASON_NONE,
        absl::StrCat(d.file, " is an independent disk: VMware snapshots leave "
                     "it out, but this ",
                     restore ? "restore rolls it back too" : "snapshot includes it"));
  }
  if (is_running && !restore && running_noted) {
    absl::StrAppend(&text, "; the VM is running, so the snapshot is "
                           "crash-consistent");
  }
  v.set_explanation(absl::StrCat(what, ": ", text, "."));
  return v;
}

void FillChainResponse(const ChainReport& r, v1::GetChainResponse* out) {
  for (const DiskNode& d : r.disks) {
    v1::DiskNode* n = out->add_disks();
    n->set_file(d.file);
    n->set_format(static_cast<v1::DiskFormat>(static_cast<int>(d.format)));
    n->set_create_type(d.create_type);
    n->set_cid(d.cid);
    n->set_parent_cid(d.parent_cid);
    n->set_parent_hint(d.parent_hint);
    n->set_parent(d.parent);
    for (const auto& e : d.extent_files) n->add_extent_files(e);
    for (const auto& c : d.children) n->add_children(c);
    n->set_virtual_size(d.virtual_size);
    n->set_in_use_by_vmx(d.in_use_by_vmx);
  }
  for (const auto& c : r.chains) {
    v1::Chain* pc = out->add_chains();
    for (const auto& f : c) pc->add_files(f);
  }
  out->set_linear(r.linear);
  for (const Finding& f : r.findings) {
    *out->add_findings() = ToProto(r, f);
    out->add_findings_block(f.blocks_offload || f.reason == Reason::kRunningVm);
  }
  out->set_offloadable(r.offloadable);
  out->set_summary(r.summary);
}

}  // namespace vnas::control
