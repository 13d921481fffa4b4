// chain.cc — AnalyzeVm: classify the files of a VM directory, parse the
// disks, link children to parents, and explain what blocks an offload.
//
// Pipeline (each step only reads what the previous ones produced):
//   1. validate names; classify each file: lock, .vmx, .vmsd, disk (by
//      content: KDMV, QFI\xfb, vhdxfile, text descriptor), extent data
//      (COWD, SESparse, KDMV without descriptor), other;
//   2. parse disks; note the ESXi datastore tokens that CID-checked parent
//      hints confirm; descriptors claim their extent files;
//   3. resolve parent references (relative to the VM directory; absolute
//      ones mapped onto the export, chain.h "Absolute references"), check
//      the link (VMDK CID rule, VHDX parent_linkage), cut cycles;
//   4. build children, chains root->leaf;
//   5. cross-check .vmx (running leaves) and .vmsd (frozen disks); list
//      the absolute .vmx/.vmsd values that name files here (absolute_refs);
//   6. findings, verdict, summary.
#include "server/vmformat/chain.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "server/vmformat/internal/file_view.h"
#include "server/vmformat/internal/kv_text.h"
#include "server/vmformat/qcow2.h"
#include "server/vmformat/vhdx.h"
#include "server/vmformat/vmdk_descriptor.h"
#include "server/vmformat/vmdk_sparse.h"
#include "server/vmformat/vmsd.h"
#include "server/vmformat/vmx.h"

namespace vnas::vmformat {
namespace {

constexpr size_t kMaxChainEntries = 1 << 20;  // bound on the chains output
constexpr uint64_t kMaxWanted = 1024 * 1024;

enum class Kind { kOther, kLock, kVmx, kVmsd, kDisk, kExtentData, kMalformed };

// Where a reference (parent hint, extent name, .vmx fileName) points.
struct Ref {
  enum Where { kLocal, kOutside, kInvalid } where = kInvalid;
  std::string name;      // kLocal: the file name in this directory
  bool absolute = false;  // kLocal from an absolute path (chain.h)
  std::string why;       // kOutside: "; <why it was not mapped>" or ""
};

// What besides its path confirms that a reference names the right file;
// decides which absolute references are mapped (chain.h, "Absolute
// references").
enum class RefUse {
  kVmdkParent,  // parentFileNameHint: the parentCID link confirms the parent
  kBacking,     // qcow2 backing file: no link field, the path is all there is
  kConfig,      // .vmx/.vmsd values and extent names: no link either
};

// At most this many trailing components of an absolute path are tried as
// export paths, and at most this many existence questions are asked per
// analysis; beyond either, a reference is not mapped (never guessed).
constexpr size_t kMaxSuffixComponents = 32;
constexpr size_t kMaxExistenceChecks = 4096;

// A relative reference: the file of this directory it names, or outside.
Ref ResolveRelative(absl::string_view ref) {
  Ref r;
  std::vector<std::string> parts;
  for (absl::string_view c : absl::StrSplit(ref, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (parts.empty()) {
        r.where = Ref::kOutside;  // escapes the VM directory
        return r;
      }
      parts.pop_back();
      continue;
    }
    parts.emplace_back(c);
  }
  if (parts.size() == 1) {
    r.where = Ref::kLocal;
    r.name = parts[0];
  } else if (!parts.empty()) {
    r.where = Ref::kOutside;  // a subdirectory: not a file of this directory
  }
  return r;
}

// The file of this directory an absolute `ref` names through one of
// `self_dirs`, or nullopt.
std::optional<std::string> UnderSelfDir(absl::string_view ref,
                                        const std::vector<std::string>& self_dirs) {
  for (const std::string& dir : self_dirs) {
    absl::string_view d(dir);
    while (d.size() > 1 && d.back() == '/') d.remove_suffix(1);
    if (d.empty()) continue;
    absl::string_view rest(ref);
    if (!absl::StartsWith(rest, d) || rest.size() <= d.size() ||
        rest[d.size()] != '/') {
      continue;
    }
    rest.remove_prefix(d.size() + 1);
    if (!rest.empty() && rest.find('/') == absl::string_view::npos) {
      return std::string(rest);
    }
  }
  return std::nullopt;
}

// "/vmfs/volumes/<datastore>/...": the datastore token, else "".
std::string EsxiDatastore(absl::string_view ref) {
  if (!absl::StartsWith(ref, "/")) return "";
  std::vector<absl::string_view> c;
  for (absl::string_view x : absl::StrSplit(ref, '/', absl::SkipEmpty())) {
    if (x != ".") c.push_back(x);
  }
  if (c.size() >= 3 && c[0] == "vmfs" && c[1] == "volumes") return std::string(c[2]);
  return "";
}

bool ContainsIgnoreCase(absl::string_view hay, absl::string_view needle) {
  return absl::StrContains(absl::AsciiStrToLower(hay),
                           absl::AsciiStrToLower(needle));
}

bool IsLockName(absl::string_view name) {
  return absl::EndsWithIgnoreCase(name, ".lck") ||
         ContainsIgnoreCase(name, ".lck-") ||
         absl::StartsWithIgnoreCase(name, ".lck");
}

std::string CidText(uint32_t v) { return absl::StrFormat("%08x", v); }

std::string NormGuid(absl::string_view g) {
  std::string s = absl::AsciiStrToUpper(g);
  s.erase(std::remove_if(s.begin(), s.end(),
                         [](char c) { return c == '{' || c == '}'; }),
          s.end());
  return s;
}

// The image format a file's first bytes announce among those qemu probes
// and this analyzer does not read: "vpc" (dynamic VHD: "conectix" at 0),
// "vdi", "qed"; "" for none of them.
std::string ForeignImageFormat(absl::string_view head) {
  if (absl::StartsWith(head, "conectix")) return "vpc";
  if (absl::StartsWith(head, "<<< ") && head.size() >= 68 &&
      head.substr(64, 4) == absl::string_view("\x7f\x10\xda\xbe", 4)) {
    return "vdi";
  }
  if (absl::StartsWith(head, absl::string_view("QED\0", 4))) return "qed";
  return "";
}

// Backing formats that name one of the disk formats parsed here.
bool ReadableBackingFormat(absl::string_view fmt) {
  return absl::EqualsIgnoreCase(fmt, "qcow2") ||
         absl::EqualsIgnoreCase(fmt, "vmdk") || absl::EqualsIgnoreCase(fmt, "vhdx");
}

// Working state of one disk.
struct Disk {
  DiskNode node;
  size_t file = 0;           // index into the samples
  bool malformed = false;
  bool vmdk = false;
  bool has_cid = false;
  uint32_t cid = 0;
  bool has_parent_cid = false;
  uint32_t parent_cid = kNoParentCid;
  bool wants_parent = false;  // names a parent (hint / backing / HasParent)
  bool windows_ref = false;
  std::string vhdx_linkage, vhdx_linkage2, vhdx_data_write_guid;
  bool raw_device = false;
  std::string backing_format;  // qcow2: the backing-format extension, as written
  int parent = -1;            // index into disks
  std::vector<int> children;
};

class Analyzer {
 public:
  Analyzer(absl::Span<const FileSample> files, const AnalyzeOptions& options)
      : files_(files), opt_(options) {}

  absl::StatusOr<ChainReport> Run();

 private:
  void Add(Reason reason, bool blocks, std::string detail,
           std::vector<std::string> files) {
    Finding f;
    f.reason = reason;
    f.blocks_offload = blocks;
    f.detail = std::move(detail);
    f.files = std::move(files);
    report_.findings.push_back(std::move(f));
  }
  const std::string& Name(size_t i) const { return files_[i].name; }
  Ref ResolveRef(absl::string_view raw, bool windows, RefUse use);
  Ref ResolveAbsolute(const std::string& ref, RefUse use);
  bool InThisDir(const std::string& export_path, std::string* name) const;
  std::optional<bool> ExportFileExists(const std::string& export_path);
  // Records a mapped absolute reference for the rewriters (absolute_refs):
  // only one that names a file of the directory (a path under one of the
  // VM's own directories may name a file that is not there).
  void NoteLocal(absl::string_view raw, const Ref& r) {
    if (r.where == Ref::kLocal && r.absolute && by_name_.count(r.name) > 0) {
      report_.absolute_refs[std::string(raw)] = r.name;
    }
  }
  void Classify();
  void ParseDiskFile(size_t i);
  void AddVmdkDisk(size_t i, const VmdkDescriptor& d, DiskFormat format,
                   uint64_t virtual_size);
  void TrustDatastores();
  void ClaimExtents();
  void AddRawBackings();
  void LinkParents();
  void CutCycles();
  void BuildChains();
  void CheckVmx();
  void CheckVmsd();
  void CheckBranches();
  void CollectConfigRefs();
  void Finish();

  absl::Span<const FileSample> files_;
  const AnalyzeOptions& opt_;
  ChainReport report_;
  std::map<std::string, size_t> by_name_;
  std::vector<Kind> kind_;
  std::vector<Disk> disks_;
  std::map<size_t, int> disk_of_file_;
  std::vector<bool> claimed_;
  std::vector<size_t> big_text_;  // descriptor-like files above the sample
  std::vector<std::pair<size_t, Vmx>> vmx_;
  std::vector<std::pair<size_t, Vmsd>> vmsd_;
  std::set<std::string> vmx_leaves_, vmsd_frozen_;
  std::map<std::string, std::set<std::string>> vmx_of_disk_;  // disk -> .vmx
  // Every key/value of the .vmx and .vmsd files (values unescaped).
  std::vector<std::pair<std::string, std::string>> config_values_;
  // ESXi datastore tokens shown to be this datastore (TrustDatastores).
  std::set<std::string> trusted_datastores_;
  std::map<std::string, bool> exists_cache_;
  size_t existence_checks_ = 0;
};

bool Analyzer::InThisDir(const std::string& export_path,
                         std::string* name) const {
  absl::string_view dir = *opt_.dir_path;
  while (!dir.empty() && dir.back() == '/') dir.remove_suffix(1);
  while (!dir.empty() && dir.front() == '/') dir.remove_prefix(1);
  absl::string_view p = export_path;
  if (!dir.empty()) {
    if (!absl::StartsWith(p, dir) || p.size() <= dir.size() + 1 ||
        p[dir.size()] != '/') {
      return false;
    }
    p.remove_prefix(dir.size() + 1);
  }
  if (p.empty() || p.find('/') != absl::string_view::npos) return false;
  *name = std::string(p);
  return true;
}

// Whether `export_path` names a regular file of the export; nullopt once
// the question budget is spent (the caller then maps nothing).
std::optional<bool> Analyzer::ExportFileExists(const std::string& export_path) {
  std::string name;
  if (InThisDir(export_path, &name)) return by_name_.count(name) > 0;
  if (!opt_.export_file_exists) return false;
  auto it = exists_cache_.find(export_path);
  if (it != exists_cache_.end()) return it->second;
  if (++existence_checks_ > kMaxExistenceChecks) return std::nullopt;
  const bool e = opt_.export_file_exists(export_path);
  exists_cache_[export_path] = e;
  return e;
}

// The mapping rule is documented in chain.h ("Absolute references").
Ref Analyzer::ResolveAbsolute(const std::string& ref, RefUse use) {
  Ref out;
  out.where = Ref::kOutside;
  if (std::optional<std::string> n = UnderSelfDir(ref, opt_.self_dirs)) {
    out.where = Ref::kLocal;
    out.name = *n;
    out.absolute = true;
    return out;
  }
  if (!opt_.dir_path.has_value()) return out;
  std::vector<absl::string_view> comps;
  for (absl::string_view c : absl::StrSplit(ref, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      out.why = "; an absolute path with \"..\" is never mapped onto the export";
      return out;
    }
    comps.push_back(c);
  }
  std::vector<std::string> candidates;
  const std::string datastore = EsxiDatastore(ref);
  if (!datastore.empty()) {
    // ESXi: the datastore is the NFS mount of the export, so the rest is an
    // export path as is. Without a link of its own, a reference trusts the
    // datastore token only once a parent hint proved it (TrustDatastores):
    // ESXi names a disk added on another datastore "<vm>/<vm>.vmdk" there
    // too, the same path as this VM's first disk here.
    if (use == RefUse::kConfig && !trusted_datastores_.count(datastore)) {
      out.why = absl::StrCat(
          "; nothing in this directory shows that datastore \"", datastore,
          "\" is this one (only a parent hint whose CID link checks out "
          "does), and ESXi names a disk added on another datastore with the "
          "same directory and file name");
      return out;
    }
    comps.erase(comps.begin(), comps.begin() + 3);
    if (comps.empty()) return out;
    const std::string p = absl::StrJoin(comps, "/");
    std::optional<bool> e = ExportFileExists(p);
    if (!e.has_value()) {
      out.why = "; too many absolute references to check";
      return out;
    }
    if (*e) candidates.push_back(p);
  } else {
    if (use == RefUse::kConfig) {
      // VMware configurations name the files of their own directory by
      // bare names; an absolute path there points elsewhere.
      return out;
    }
    // The export is mounted at some prefix of the path: every suffix is a
    // possible export path.
    const size_t first =
        comps.size() > kMaxSuffixComponents ? comps.size() - kMaxSuffixComponents : 0;
    for (size_t k = first; k < comps.size(); ++k) {
      const std::string p = absl::StrJoin(comps.begin() + k, comps.end(), "/");
      std::optional<bool> e = ExportFileExists(p);
      if (!e.has_value()) {
        out.why = "; too many absolute references to check";
        return out;
      }
      if (*e) candidates.push_back(p);
    }
  }
  if (candidates.empty()) {
    out.why = "; no file of this export has that path";
    return out;
  }
  if (candidates.size() > 1) {
    out.why = absl::StrCat(
        "; it could be any of ", absl::StrJoin(candidates, ", "),
        " in this export, depending on where the host mounted the export, so "
        "it is not mapped to any");
    return out;
  }
  std::string name;
  if (InThisDir(candidates[0], &name)) {
    out.where = Ref::kLocal;
    out.name = std::move(name);
    out.absolute = true;
    return out;
  }
  out.why = absl::StrCat(
      "; it is ", candidates[0],
      " in this export, in another directory: a clone of this directory "
      "would share that file without any analysis of it (its chain, whether "
      "a VM still writes it)");
  return out;
}

Ref Analyzer::ResolveRef(absl::string_view raw, bool windows, RefUse use) {
  Ref r;
  std::string ref(raw);
  if (windows) absl::StrReplaceAll({{"\\", "/"}}, &ref);
  if (ref.empty() || ref.find('\0') != std::string::npos) return r;
  if (ref.find("://") != std::string::npos || absl::StartsWith(ref, "json:") ||
      (ref.size() >= 2 && ref[1] == ':' && absl::ascii_isalpha(ref[0]))) {
    r.where = Ref::kOutside;
    return r;
  }
  if (ref[0] == '/') {
    if (windows) {  // VHDX locators: self_dirs only (chain.h)
      if (std::optional<std::string> n = UnderSelfDir(ref, opt_.self_dirs)) {
        r.where = Ref::kLocal;
        r.name = *n;
        r.absolute = true;
      } else {
        r.where = Ref::kOutside;
      }
      return r;
    }
    return ResolveAbsolute(ref, use);
  }
  return ResolveRelative(ref);
}

void Analyzer::Classify() {
  kind_.assign(files_.size(), Kind::kOther);
  claimed_.assign(files_.size(), false);
  std::vector<std::string> fresh, stale;
  for (size_t i = 0; i < files_.size(); ++i) {
    const FileSample& f = files_[i];
    if (IsLockName(f.name)) {
      kind_[i] = Kind::kLock;
      const bool is_fresh = f.mtime_sec >= opt_.now_sec - opt_.lock_fresh_sec;
      (is_fresh ? fresh : stale).push_back(f.name);
      continue;
    }
    if (absl::EndsWithIgnoreCase(f.name, ".vmx")) {
      kind_[i] = Kind::kVmx;
      absl::StatusOr<Vmx> v = f.head.size() < f.size
                                  ? absl::InvalidArgumentError(
                                        "larger than the sample")
                                  : ParseVmx(f.head);
      if (!v.ok()) {
        kind_[i] = Kind::kMalformed;
        Add(Reason::kMalformed, true,
            absl::StrCat(f.name, ": unreadable .vmx: ", v.status().message()),
            {f.name});
      } else {
        config_values_.insert(config_values_.end(), v->entries.begin(),
                              v->entries.end());
        vmx_.emplace_back(i, std::move(*v));
      }
      continue;
    }
    if (absl::EndsWithIgnoreCase(f.name, ".vmsd")) {
      kind_[i] = Kind::kVmsd;
      absl::StatusOr<Vmsd> v = f.head.size() < f.size
                                   ? absl::InvalidArgumentError(
                                         "larger than the sample")
                                   : ParseVmsd(f.head);
      if (!v.ok()) {
        // The snapshot database is advisory for offload; say so, don't block.
        Add(Reason::kMalformed, false,
            absl::StrCat(f.name, ": unreadable .vmsd (snapshot cross-check "
                                 "skipped): ",
                         v.status().message()),
            {f.name});
      } else {
        // Same key/value syntax as a .vmx: its entries, for the values.
        absl::StatusOr<Vmx> kv = ParseVmx(f.head);
        if (kv.ok()) {
          config_values_.insert(config_values_.end(), kv->entries.begin(),
                                kv->entries.end());
        }
        vmsd_.emplace_back(i, std::move(*v));
      }
      continue;
    }
    if (IsCowd(f.head) || IsSeSparse(f.head)) {
      kind_[i] = Kind::kExtentData;
      continue;
    }
    if (IsHostedSparse(f.head) || IsQcow2(f.head) || IsVhdx(f.head) ||
        LooksLikeVmdkDescriptor(f.head)) {
      ParseDiskFile(i);
      continue;
    }
  }
  if (fresh.empty()) {
    // ESXi creates <vm>-<hash>.vswp at power-on and removes it at power-off;
    // one left without fresh locks usually means a crash: worth saying.
    for (size_t i = 0; i < files_.size(); ++i) {
      if (kind_[i] == Kind::kOther && absl::EndsWithIgnoreCase(Name(i), ".vswp")) {
        Add(Reason::kNone, false,
            absl::StrCat(Name(i), " exists but no lock file is fresh: the VM "
                                  "was probably not shut down cleanly; a clone "
                                  "does not need the swap file"),
            {Name(i)});
      }
    }
  }
  if (!fresh.empty()) {
    Add(Reason::kRunningVm, true,
        absl::StrCat("lock files modified within the last ",
                     opt_.lock_fresh_sec, " s (", absl::StrJoin(fresh, ", "),
                     "): the VM is powered on or its disks are open; power it "
                     "off (or clone from a snapshot's frozen disks) first"),
        fresh);
  }
  if (!stale.empty()) {
    Add(Reason::kNone, false,
        absl::StrCat("stale lock files (older than ", opt_.lock_fresh_sec,
                     " s): ", absl::StrJoin(stale, ", "),
                     "; a clone does not copy them"),
        stale);
  }
}

void Analyzer::AddVmdkDisk(size_t i, const VmdkDescriptor& d, DiskFormat format,
                           uint64_t virtual_size) {
  Disk disk;
  disk.file = i;
  disk.vmdk = true;
  disk.node.file = Name(i);
  disk.node.format = format;
  disk.node.create_type = d.create_type;
  disk.has_cid = true;
  disk.cid = d.cid;
  disk.node.cid = CidText(d.cid);
  disk.has_parent_cid = d.has_parent_cid;
  disk.parent_cid = d.parent_cid;
  if (d.has_parent_cid) disk.node.parent_cid = CidText(d.parent_cid);
  disk.node.parent_hint = d.parent_hint;
  disk.wants_parent = d.HasParent();
  disk.node.virtual_size = virtual_size;
  for (const VmdkExtent& e : d.extents) {
    if (e.type == "VMFSRDM" || e.type == "VMFSRAW") disk.raw_device = true;
    if (e.has_file) disk.node.extent_files.push_back(e.file);
  }
  // vmfsRaw, vmfsRawDeviceMap, vmfsPassthroughRawDeviceMap; hosted
  // fullDevice/partitionedDevice map host disks the same way.
  if (ContainsIgnoreCase(d.create_type, "raw") ||
      absl::EqualsIgnoreCase(d.create_type, "fullDevice") ||
      absl::EqualsIgnoreCase(d.create_type, "partitionedDevice")) {
    disk.raw_device = true;
  }
  disk_of_file_[i] = static_cast<int>(disks_.size());
  disks_.push_back(std::move(disk));
  kind_[i] = Kind::kDisk;
}

void Analyzer::ParseDiskFile(size_t i) {
  const FileSample& f = files_[i];
  auto malformed = [&](absl::string_view what, absl::string_view why) {
    kind_[i] = Kind::kMalformed;
    Add(Reason::kMalformed, true,
        absl::StrCat(f.name, ": unreadable ", what, ": ", why), {f.name});
  };
  if (IsHostedSparse(f.head)) {
    absl::StatusOr<SparseHeader> h = ParseSparseHeader(f.head);
    if (!h.ok()) return malformed("hosted sparse VMDK header", h.status().message());
    if (h->descriptor_offset == 0 || h->descriptor.empty()) {
      kind_[i] = Kind::kExtentData;  // an extent of a twoGbMaxExtentSparse disk
      return;
    }
    absl::StatusOr<VmdkDescriptor> d = ParseVmdkDescriptor(h->descriptor);
    if (!d.ok()) return malformed("embedded VMDK descriptor", d.status().message());
    AddVmdkDisk(i, *d, DiskFormat::kVmdkHostedSparse, h->capacity_sectors * 512);
    return;
  }
  if (IsQcow2(f.head)) {
    absl::StatusOr<Qcow2Header> h = ParseQcow2Header(f.head);
    if (!h.ok()) return malformed("qcow2 header", h.status().message());
    Disk disk;
    disk.file = i;
    disk.node.file = f.name;
    disk.node.format = DiskFormat::kQcow2;
    disk.node.create_type = "qcow2";
    disk.node.virtual_size = h->size;
    disk.wants_parent = h->has_backing;
    disk.node.parent_hint = h->backing_file;
    disk.backing_format = h->backing_format;
    if (!h->external_data_file.empty()) {
      disk.node.extent_files.push_back(h->external_data_file);
    }
    if (h->nb_snapshots > 0) {
      Add(Reason::kNone, false,
          absl::StrCat(f.name, " holds ", h->nb_snapshots,
                       " internal qcow2 snapshot(s); they are cloned with the "
                       "file"),
          {f.name});
    }
    disk_of_file_[i] = static_cast<int>(disks_.size());
    disks_.push_back(std::move(disk));
    kind_[i] = Kind::kDisk;
    return;
  }
  if (IsVhdx(f.head)) {
    internal::FileView view;
    view.head = f.head;
    for (const FileRange& r : f.extra) view.ranges.emplace_back(r.offset, r.bytes);
    absl::StatusOr<VhdxInfo> v = ParseVhdx(view);
    if (!v.ok()) return malformed("VHDX", v.status().message());
    Disk disk;
    disk.file = i;
    disk.node.file = f.name;
    disk.node.format = DiskFormat::kVhdx;
    disk.node.create_type = "vhdx";
    disk.node.virtual_size = v->virtual_size;
    disk.windows_ref = true;
    disk.vhdx_data_write_guid = v->data_write_guid;
    if (!v->metadata_seen) {
      Add(Reason::kUnsupportedFormat, true,
          absl::StrCat(f.name, ": VHDX ", v->missing,
                       ", so whether it has a parent is unknown; supply the "
                       "ranges WantedRanges() names to decide"),
          {f.name});
    } else {
      disk.wants_parent = v->has_parent;
      auto get = [&](const char* k) {
        auto it = v->parent_locator.find(k);
        return it == v->parent_locator.end() ? std::string() : it->second;
      };
      if (v->has_parent) {
        disk.node.create_type = "vhdx-differencing";
        disk.vhdx_linkage = get("parent_linkage");
        disk.vhdx_linkage2 = get("parent_linkage2");
        std::string rel = get("relative_path");
        disk.node.parent_hint = !rel.empty() ? rel
                                : !get("absolute_win32_path").empty()
                                    ? get("absolute_win32_path")
                                    : get("volume_path");
      }
    }
    disk_of_file_[i] = static_cast<int>(disks_.size());
    disks_.push_back(std::move(disk));
    kind_[i] = Kind::kDisk;
    return;
  }
  // Text descriptor. One larger than the sample is either extent data that
  // happens to start like a descriptor (decided once extents are claimed)
  // or a broken descriptor.
  if (f.head.size() < f.size) {
    big_text_.push_back(i);
    return;
  }
  absl::StatusOr<VmdkDescriptor> d = ParseVmdkDescriptor(f.head);
  if (!d.ok()) return malformed("VMDK descriptor", d.status().message());
  AddVmdkDisk(i, *d, DiskFormat::kVmdkDescriptor, d->capacity_sectors * 512);
}

void Analyzer::ClaimExtents() {
  for (Disk& disk : disks_) {
    std::vector<std::string> local;
    if (disk.node.format == DiskFormat::kVmdkHostedSparse) {
      // The data is in the file itself, whatever name its embedded
      // descriptor still carries (qemu and VMware both read it in place).
      disk.node.extent_files.clear();
    }
    for (const std::string& e : disk.node.extent_files) {
      Ref r = ResolveRef(e, false, RefUse::kConfig);
      if (r.where == Ref::kLocal && r.name == disk.node.file) continue;  // KDMV
      if (r.where == Ref::kLocal && r.absolute &&
          disk.node.format == DiskFormat::kQcow2) {
        // The name sits in a header extension whose length cannot change
        // in place: a clone would keep writing the source's data file.
        Add(Reason::kUnsupportedFormat, true,
            absl::StrCat(disk.node.file, " names its external data file ",
                         r.name, " by the absolute path \"", e,
                         "\"; a clone's header would still name the source's "
                         "file (the qcow2 extension is not rewritten), so the "
                         "clone would write into it"),
            {disk.node.file, r.name});
      }
      NoteLocal(e, r);
      if (disk.raw_device) {
        local.push_back(r.where == Ref::kLocal ? r.name : e);
        if (r.where == Ref::kLocal && by_name_.count(r.name)) {
          claimed_[by_name_[r.name]] = true;
        }
        continue;
      }
      if (r.where == Ref::kOutside) {
        Add(Reason::kParentOutsideDatastore, true,
            absl::StrCat(disk.node.file, " keeps its data in \"", e,
                         "\", outside this VM directory; a clone of the "
                         "directory would not carry it", r.why),
            {disk.node.file});
        local.push_back(e);
        continue;
      }
      if (r.where == Ref::kInvalid) {
        Add(Reason::kMalformed, true,
            absl::StrCat(disk.node.file, ": invalid extent file name"),
            {disk.node.file});
        continue;
      }
      local.push_back(r.name);
      auto it = by_name_.find(r.name);
      if (it == by_name_.end()) {
        Add(Reason::kMissingExtent, true,
            absl::StrCat(disk.node.file, " names extent data file ", r.name,
                         ", which is not in this directory"),
            {disk.node.file, r.name});
        continue;
      }
      claimed_[it->second] = true;
    }
    disk.node.extent_files = std::move(local);
    if (disk.raw_device) {
      Add(Reason::kUnsupportedFormat, true,
          absl::StrCat(disk.node.file, " is a raw device mapping (",
                       disk.node.create_type,
                       "): its data lives on a LUN, not in this datastore, so "
                       "it cannot be cloned by sharing extents"),
          {disk.node.file});
    }
  }
  for (size_t i : big_text_) {
    if (claimed_[i]) continue;
    kind_[i] = Kind::kMalformed;
    Add(Reason::kMalformed, true,
        absl::StrCat(Name(i), ": unreadable VMDK descriptor: larger than the ",
                     kSampleBytes, "-byte sample"),
        {Name(i)});
  }
  // Unclaimed data files are harmless leftovers; descriptors-in-disguise are
  // not: a small NUL-free .vmdk nobody references is a broken descriptor.
  for (size_t i = 0; i < files_.size(); ++i) {
    if (claimed_[i]) continue;
    const FileSample& f = files_[i];
    if (kind_[i] == Kind::kExtentData) {
      Add(Reason::kNone, false,
          absl::StrCat(f.name, " is VMDK extent data that no descriptor "
                               "references (orphan; not part of any chain)"),
          {f.name});
    } else if (kind_[i] == Kind::kOther &&
               absl::EndsWithIgnoreCase(f.name, ".vmdk") &&
               f.size <= kSampleBytes && f.head.size() == f.size &&
               !f.head.empty() &&
               f.head.find('\0') == std::string::npos) {
      kind_[i] = Kind::kMalformed;
      Add(Reason::kMalformed, true,
          absl::StrCat(f.name, ": small text .vmdk that is neither a VMDK "
                               "descriptor nor referenced as extent data"),
          {f.name});
    }
  }
}

// A qcow2 overlay may sit on a raw image (`qemu-img create -b base.img -F
// raw`, the usual cloud-image layout): the backing file is then a disk layer
// with no header. It becomes a disk node (format kUnknown, create_type
// "raw", virtual size = file size) when the overlay says "raw", or says
// nothing and the file announces no other format (qemu probes such a file
// as raw too). A backing file of another format qemu reads but this
// analyzer does not (vpc, vdi, ...) is left to LinkParents, which reports
// it as unsupported.
void Analyzer::AddRawBackings() {
  const size_t n = disks_.size();  // raw nodes appended below are not visited
  for (size_t di = 0; di < n; ++di) {
    if (disks_[di].node.format != DiskFormat::kQcow2 || !disks_[di].wants_parent) {
      continue;
    }
    const std::string fmt = disks_[di].backing_format;
    Ref r = ResolveRef(disks_[di].node.parent_hint, false, RefUse::kBacking);
    if (r.where != Ref::kLocal) continue;
    auto it = by_name_.find(r.name);
    if (it == by_name_.end()) continue;
    const size_t fi = it->second;
    if (kind_[fi] != Kind::kOther || claimed_[fi]) continue;
    const bool raw = absl::EqualsIgnoreCase(fmt, "raw") ||
                     (fmt.empty() && ForeignImageFormat(files_[fi].head).empty());
    if (!raw) continue;
    Disk disk;
    disk.file = fi;
    disk.node.file = Name(fi);
    disk.node.format = DiskFormat::kUnknown;
    disk.node.create_type = "raw";
    disk.node.virtual_size = files_[fi].size;
    disk_of_file_[fi] = static_cast<int>(disks_.size());
    disks_.push_back(std::move(disk));
    kind_[fi] = Kind::kDisk;
  }
}

void Analyzer::LinkParents() {
  for (size_t di = 0; di < disks_.size(); ++di) {
    Disk& c = disks_[di];
    if (!c.wants_parent) continue;
    const std::string& child = c.node.file;
    if (c.node.parent_hint.empty()) {
      std::string candidates;
      if (c.vmdk) {
        for (const Disk& p : disks_) {
          if (p.vmdk && p.cid == c.parent_cid && &p != &c) {
            absl::StrAppend(&candidates, candidates.empty() ? "" : ", ",
                            p.node.file);
          }
        }
      }
      Add(Reason::kMissingParent, true,
          absl::StrCat(child, " has a parent (parentCID=", c.node.parent_cid,
                       ") but names no parent file",
                       candidates.empty()
                           ? std::string()
                           : absl::StrCat("; disks with that CID: ", candidates)),
          {child});
      continue;
    }
    Ref r = ResolveRef(c.node.parent_hint, c.windows_ref,
                       c.vmdk ? RefUse::kVmdkParent : RefUse::kBacking);
    if (r.where == Ref::kOutside) {
      Add(Reason::kParentOutsideDatastore, true,
          absl::StrCat(child, "'s parent \"", c.node.parent_hint,
                       "\" lies outside this VM directory (another datastore, "
                       "directory or host path); a clone would depend on a file "
                       "the offload does not copy",
                       r.why),
          {child});
      continue;
    }
    if (r.where == Ref::kInvalid) {
      Add(Reason::kMalformed, true,
          absl::StrCat(child, ": invalid parent file name"), {child});
      continue;
    }
    auto it = by_name_.find(r.name);
    if (it == by_name_.end()) {
      std::string near;
      for (const auto& [name, idx] : by_name_) {
        if (absl::EqualsIgnoreCase(name, r.name)) near = name;
      }
      Add(Reason::kMissingParent, true,
          absl::StrCat(child, "'s parent ", r.name,
                       " is not in this directory",
                       near.empty() ? std::string()
                                    : absl::StrCat(" (only ", near,
                                                   ", which differs in case)")),
          {child, r.name});
      continue;
    }
    auto pd = disk_of_file_.find(it->second);
    if (pd == disk_of_file_.end()) {
      std::string foreign = c.node.format == DiskFormat::kQcow2
                                ? absl::AsciiStrToLower(c.backing_format)
                                : std::string();
      if (foreign.empty() && c.node.format == DiskFormat::kQcow2) {
        foreign = ForeignImageFormat(files_[it->second].head);
      }
      if (!foreign.empty() && !ReadableBackingFormat(foreign) &&
          kind_[it->second] == Kind::kOther) {
        Add(Reason::kUnsupportedFormat, true,
            absl::StrCat(child, "'s backing file ", r.name, " is a \"",
                         foreign.substr(0, 32),
                         "\" image, a format this server does not read, so the "
                         "chain below it is unknown"),
            {child, r.name});
      } else if (kind_[it->second] != Kind::kMalformed) {
        Add(Reason::kBrokenChain, true,
            absl::StrCat(child, "'s parent ", r.name, " is not a disk"),
            {child, r.name});
      }
      continue;
    }
    if (pd->second == static_cast<int>(di)) {
      Add(Reason::kBrokenChain, true,
          absl::StrCat(child, " names itself as its parent"), {child});
      continue;
    }
    Disk& p = disks_[pd->second];
    if (r.absolute && c.vmdk && p.vmdk &&
        (!c.has_parent_cid || c.parent_cid != p.cid)) {
      // The path matched, the link did not: the hint names a file with the
      // same path elsewhere (another datastore, a host directory), not this
      // one. Taking it would "repair" the chain onto the wrong parent.
      Add(Reason::kParentOutsideDatastore, true,
          absl::StrCat(child, "'s parent \"", c.node.parent_hint,
                       "\" has the export path of ", p.node.file,
                       " in this directory, but its CID=", CidText(p.cid),
                       c.has_parent_cid
                           ? absl::StrCat(" does not match parentCID=",
                                          CidText(c.parent_cid))
                           : std::string(" cannot be checked (no parentCID)"),
                       ", so the hint names a file elsewhere (another datastore "
                       "or host path) that the offload does not copy"),
          {child, p.node.file});
      continue;
    }
    NoteLocal(c.node.parent_hint, r);
    c.node.parent = p.node.file;
    c.parent = pd->second;
    if (c.vmdk && p.vmdk) {
      if (!c.has_parent_cid || c.parent_cid == kNoParentCid) {
        Add(Reason::kBrokenChain, true,
            absl::StrCat(child, " names parent ", p.node.file,
                         " but has no parentCID"),
            {child, p.node.file});
      } else if (c.parent_cid != p.cid) {
        Add(Reason::kBrokenChain, true,
            absl::StrCat(child, " parentCID=", CidText(c.parent_cid),
                         " does not match ", p.node.file, " CID=",
                         CidText(p.cid),
                         ": the parent was modified after the child was "
                         "created (or the wrong parent is in place)"),
            {child, p.node.file});
      }
    }
    if (!c.vhdx_linkage.empty() && !p.vhdx_data_write_guid.empty()) {
      const std::string want = NormGuid(p.vhdx_data_write_guid);
      if (NormGuid(c.vhdx_linkage) != want &&
          NormGuid(c.vhdx_linkage2) != want) {
        Add(Reason::kBrokenChain, true,
            absl::StrCat(child, " parent_linkage ", c.vhdx_linkage,
                         " does not match ", p.node.file, " DataWriteGuid ",
                         p.vhdx_data_write_guid),
            {child, p.node.file});
      }
    }
    if (c.node.virtual_size != 0 && p.node.virtual_size != 0 &&
        c.node.virtual_size != p.node.virtual_size) {
      Add(Reason::kNone, false,
          absl::StrCat(child, " is ", c.node.virtual_size, " bytes but its parent ",
                       p.node.file, " is ", p.node.virtual_size, " bytes"),
          {child, p.node.file});
    }
  }
}

void Analyzer::CutCycles() {
  std::vector<int> state(disks_.size(), 0);  // 0 new, 1 on path, 2 done
  for (size_t s = 0; s < disks_.size(); ++s) {
    std::vector<int> path;
    int cur = static_cast<int>(s);
    while (cur != -1 && state[cur] == 0) {
      state[cur] = 1;
      path.push_back(cur);
      cur = disks_[cur].parent;
    }
    if (cur != -1 && state[cur] == 1) {
      std::vector<std::string> names;
      auto at = std::find(path.begin(), path.end(), cur);
      for (auto it = at; it != path.end(); ++it) {
        names.push_back(disks_[*it].node.file);
      }
      Add(Reason::kBrokenChain, true,
          absl::StrCat("parent cycle: ", absl::StrJoin(names, " -> "), " -> ",
                       disks_[cur].node.file),
          names);
      disks_[path.back()].parent = -1;
      disks_[path.back()].node.parent.clear();
    }
    for (int x : path) state[x] = 2;
  }
}

void Analyzer::BuildChains() {
  for (size_t i = 0; i < disks_.size(); ++i) {
    if (disks_[i].parent >= 0) {
      disks_[disks_[i].parent].children.push_back(static_cast<int>(i));
    }
  }
  for (Disk& d : disks_) {
    std::sort(d.children.begin(), d.children.end(), [&](int a, int b) {
      return disks_[a].node.file < disks_[b].node.file;
    });
    for (int c : d.children) d.node.children.push_back(disks_[c].node.file);
    if (d.children.size() > 1) report_.linear = false;
  }
  size_t emitted = 0;
  bool truncated = false;
  for (size_t r = 0; r < disks_.size(); ++r) {
    if (disks_[r].parent >= 0) continue;
    // Iterative DFS keeping the current path.
    std::vector<std::pair<int, size_t>> stack = {{static_cast<int>(r), 0}};
    std::vector<std::string> path = {disks_[r].node.file};
    while (!stack.empty()) {
      auto& [d, next] = stack.back();
      const Disk& disk = disks_[d];
      if (disk.children.empty() && next == 0) {
        if (emitted + path.size() > kMaxChainEntries) {
          truncated = true;
        } else {
          report_.chains.push_back(path);
          emitted += path.size();
        }
        next = 1;
      }
      if (next >= disk.children.size() || disk.children.empty()) {
        stack.pop_back();
        path.pop_back();
        continue;
      }
      int c = disk.children[next++];
      stack.emplace_back(c, 0);
      path.push_back(disks_[c].node.file);
    }
  }
  if (truncated) {
    Add(Reason::kNone, false, "chain list truncated (too many layers)", {});
  }
  std::sort(report_.chains.begin(), report_.chains.end(),
            [](const auto& a, const auto& b) { return a.back() < b.back(); });
}

void Analyzer::CheckVmx() {
  if (vmx_.size() > 1) {
    std::vector<std::string> names;
    for (const auto& [i, v] : vmx_) names.push_back(Name(i));
    Add(Reason::kNone, false,
        absl::StrCat("more than one .vmx: ", absl::StrJoin(names, ", ")), names);
  }
  for (const auto& [vi, vmx] : vmx_) {
    for (const VmxDisk& vd : vmx.disks) {
      if (!vd.present) continue;
      const std::string where = absl::StrCat(Name(vi), " ", vd.node);
      Ref r = ResolveRef(vd.file_name, false, RefUse::kConfig);
      if (r.where != Ref::kLocal) {
        Add(Reason::kParentOutsideDatastore, true,
            absl::StrCat(where, " uses disk \"", vd.file_name,
                         "\" outside this VM directory; a clone of the "
                         "directory would share or lose it",
                         r.why),
            {Name(vi)});
        continue;
      }
      auto it = by_name_.find(r.name);
      if (it == by_name_.end()) {
        Add(Reason::kLeafMismatch, true,
            absl::StrCat(where, " names ", r.name,
                         ", which is not in this directory"),
            {Name(vi), r.name});
        continue;
      }
      auto dd = disk_of_file_.find(it->second);
      if (dd == disk_of_file_.end()) {
        if (kind_[it->second] != Kind::kMalformed) {
          Add(Reason::kLeafMismatch, true,
              absl::StrCat(where, " names ", r.name,
                           ", which is not a disk descriptor (extent data?)"),
              {Name(vi), r.name});
        }
        continue;
      }
      Disk& d = disks_[dd->second];
      if (absl::StartsWithIgnoreCase(vd.mode, "independent")) {
        d.node.independent = true;
        Add(Reason::kNone, false,
            absl::StrCat(where, " runs ", d.node.file, " as ", vd.mode,
                         ": VMware snapshots leave it out, but a snapshot, "
                         "restore or clone of the directory includes its "
                         "current contents"),
            {Name(vi), d.node.file});
      }
      d.node.in_use_by_vmx = true;
      vmx_leaves_.insert(d.node.file);
      vmx_of_disk_[d.node.file].insert(Name(vi));
      if (!d.children.empty()) {
        Add(Reason::kLeafMismatch, true,
            absl::StrCat(where, " runs ", d.node.file, ", which is not a leaf: ",
                         absl::StrJoin(d.node.children, ", "),
                         " descend from it; writing to it would corrupt them "
                         "(a stale .vmx or a half-finished snapshot operation)"),
            {Name(vi), d.node.file});
      }
    }
  }
}

void Analyzer::CheckVmsd() {
  for (const auto& [si, vmsd] : vmsd_) {
    for (const std::string& p : vmsd.problems) {
      Add(Reason::kNone, false, absl::StrCat(Name(si), ": ", p), {Name(si)});
    }
    if (vmsd.need_consolidate) {
      Add(Reason::kNone, false,
          absl::StrCat(Name(si), " says the disks need consolidation"),
          {Name(si)});
    }
    for (const VmsdSnapshot& s : vmsd.snapshots) {
      for (const VmsdDisk& vd : s.disks) {
        Ref r = ResolveRef(vd.file_name, false, RefUse::kConfig);
        if (r.where != Ref::kLocal) continue;
        auto it = by_name_.find(r.name);
        const auto dd = it == by_name_.end() ? disk_of_file_.end()
                                              : disk_of_file_.find(it->second);
        if (dd == disk_of_file_.end()) {
          Add(Reason::kNone, false,
              absl::StrCat(Name(si), ": snapshot ", s.uid,
                           s.display_name.empty()
                               ? std::string()
                               : absl::StrCat(" (", s.display_name, ")"),
                           " froze ", r.name, ", which is not a disk here"),
              {Name(si), r.name});
          continue;
        }
        const Disk& d = disks_[dd->second];
        vmsd_frozen_.insert(d.node.file);
        if (d.children.empty()) {
          Add(Reason::kNone, false,
              absl::StrCat(Name(si), ": snapshot ", s.uid, " froze ",
                           d.node.file, ", but no redo log descends from it"),
              {Name(si), d.node.file});
        }
      }
    }
  }
}

void Analyzer::CheckBranches() {
  for (const Disk& p : disks_) {
    if (p.children.size() < 2) continue;
    std::vector<std::string> unaccounted, running;
    for (int c : p.children) {
      const std::string& n = disks_[c].node.file;
      if (vmx_leaves_.count(n)) running.push_back(n);
      if (!vmx_leaves_.count(n) && !vmsd_frozen_.count(n)) {
        unaccounted.push_back(n);
      }
    }
    std::vector<std::string> files = p.node.children;
    files.push_back(p.node.file);
    std::set<std::string> vmxs;  // the .vmx files running these children
    for (const std::string& n : running) {
      const std::set<std::string>& v = vmx_of_disk_[n];
      vmxs.insert(v.begin(), v.end());
    }
    std::string cause;
    if (vmxs.size() > 1) {
      cause = absl::StrCat(
          "cause: ", vmxs.size(), " VMs (", absl::StrJoin(vmxs, ", "),
          ") run linked clones of the same base disk, not a VSS snapshot");
    } else if (!unaccounted.empty() || vmsd_.empty()) {
      cause = absl::StrCat(
          "likely cause: an application-consistent (VSS-quiesced) snapshot of "
          "Windows Server 2008/2008 R2, which leaves two redo logs per disk on "
          "the same parent",
          unaccounted.empty()
              ? std::string()
              : absl::StrCat("; not recorded in the .vmsd or .vmx: ",
                             absl::StrJoin(unaccounted, ", ")));
    } else {
      cause =
          "every branch is recorded in the .vmsd/.vmx, so this is a snapshot "
          "tree (a revert followed by new snapshots)";
    }
    Add(Reason::kVssSiblingRedoLogs, true,
        absl::StrCat(p.node.file, " has ", p.children.size(),
                     " child redo logs (", absl::StrJoin(p.node.children, ", "),
                     "): the disk is a tree, not a chain",
                     running.empty()
                         ? std::string()
                         : absl::StrCat("; the VM runs ",
                                        absl::StrJoin(running, ", ")),
                     "; ", cause,
                     vmxs.size() > 1
                         ? ". Move each VM to its own directory, or copy on "
                           "the host"
                         : ". Consolidate the snapshots (Delete All) before "
                           "cloning"),
        files);
  }
}

// An ESXi datastore token ("/vmfs/volumes/<token>/...") is taken to be this
// datastore once a VMDK parent hint through it maps to a disk of this
// directory whose CID is the child's parentCID: the link confirms the file,
// and with it the token. References without a link of their own (.vmx and
// .vmsd values, extent names) are mapped only through confirmed tokens.
void Analyzer::TrustDatastores() {
  for (const Disk& c : disks_) {
    if (!c.vmdk || !c.wants_parent || !c.has_parent_cid) continue;
    const std::string token = EsxiDatastore(c.node.parent_hint);
    if (token.empty() || trusted_datastores_.count(token)) continue;
    Ref r = ResolveRef(c.node.parent_hint, false, RefUse::kVmdkParent);
    if (r.where != Ref::kLocal) continue;
    auto it = by_name_.find(r.name);
    if (it == by_name_.end()) continue;
    auto pd = disk_of_file_.find(it->second);
    if (pd == disk_of_file_.end()) continue;
    const Disk& p = disks_[pd->second];
    if (&p != &c && p.vmdk && p.cid == c.parent_cid) trusted_datastores_.insert(token);
  }
}

// Absolute values of the .vmx/.vmsd (nvram, extendedConfigFile,
// snapshotN.filename, ...) that name files of this directory, for the
// rewriters. Disk references were checked by CheckVmx/CheckVmsd; these are
// not findings, only names a clone must rewrite.
void Analyzer::CollectConfigRefs() {
  for (const auto& [key, value] : config_values_) {
    if (value.empty() || value[0] != '/' || internal::IsFreeTextKey(key)) continue;
    NoteLocal(value, ResolveRef(value, false, RefUse::kConfig));
  }
}

void Analyzer::Finish() {
  for (Disk& d : disks_) report_.disks.push_back(std::move(d.node));
  std::sort(report_.disks.begin(), report_.disks.end(),
            [](const DiskNode& a, const DiskNode& b) { return a.file < b.file; });
  std::vector<std::string> blocking;
  for (const Finding& f : report_.findings) {
    if (!f.blocks_offload) continue;
    report_.offloadable = false;
    std::string n = ReasonName(f.reason);
    if (std::find(blocking.begin(), blocking.end(), n) == blocking.end()) {
      blocking.push_back(n);
    }
  }
  if (report_.offloadable && report_.linear) {
    std::map<std::string, const DiskNode*> by_file;
    for (const DiskNode& d : report_.disks) by_file[d.file] = &d;
    for (const auto& chain : report_.chains) {
      const DiskNode* leaf = by_file[chain.back()];
      Add(Reason::kNone, false,
          absl::StrCat(
              chain.size() == 1 ? "single-layer disk " : "linear chain ",
              absl::StrJoin(chain, " <- "),
              leaf != nullptr && leaf->in_use_by_vmx ? " (the .vmx runs "
                                                     : " (leaf ",
              chain.back(), "): offload clones each of the ", chain.size(),
              " layer(s) with its extent files, sharing extents, then "
              "rewrites names and CIDs"),
          chain);
    }
  }
  const size_t n_disks = report_.disks.size();
  std::string shape = absl::StrCat(
      n_disks, n_disks == 1 ? " disk" : " disks", " in ", report_.chains.size(),
      report_.chains.size() == 1 ? " chain" : " chains",
      report_.linear ? " (linear)" : " (tree: a parent has several children)");
  if (report_.offloadable) {
    report_.summary = absl::StrCat("offloadable: ", shape);
  } else {
    std::string first;
    for (const Finding& f : report_.findings) {
      if (f.blocks_offload) {
        first = f.detail;
        break;
      }
    }
    if (first.size() > 200) first = absl::StrCat(first.substr(0, 197), "...");
    report_.summary = absl::StrCat("not offloadable (",
                                   absl::StrJoin(blocking, ", "), "): ", shape,
                                   "; ", first);
  }
}

absl::StatusOr<ChainReport> Analyzer::Run() {
  for (size_t i = 0; i < files_.size(); ++i) {
    const std::string& n = files_[i].name;
    if (n.empty() || n == "." || n == ".." ||
        n.find('/') != std::string::npos || n.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("file ", i, ": invalid name"));
    }
    if (!by_name_.emplace(n, i).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate file name ", n));
    }
  }
  Classify();
  TrustDatastores();
  ClaimExtents();
  AddRawBackings();
  LinkParents();
  CutCycles();
  BuildChains();
  CheckVmx();
  CheckVmsd();
  CheckBranches();
  CollectConfigRefs();
  Finish();
  return std::move(report_);
}

}  // namespace

absl::StatusOr<ChainReport> AnalyzeVm(absl::Span<const FileSample> files,
                                      const AnalyzeOptions& options) {
  Analyzer a(files, options);
  return a.Run();
}

std::vector<WantedRange> WantedRanges(const FileSample& file) {
  if (!IsVhdx(file.head)) return {};
  internal::FileView view;
  view.head = file.head;
  for (const FileRange& r : file.extra) view.ranges.emplace_back(r.offset, r.bytes);
  std::vector<WantedRange> out;
  for (const auto& [off, len] : VhdxWantedRanges(view)) {
    if (off >= file.size) continue;
    WantedRange w;
    w.offset = off;
    w.length = std::min<uint64_t>({len, kMaxWanted, file.size - off});
    out.push_back(w);
  }
  return out;
}

const char* ReasonName(Reason reason) {
  switch (reason) {
    case Reason::kNone: return "NONE";
    case Reason::kVssSiblingRedoLogs: return "VSS_SIBLING_REDO_LOGS";
    case Reason::kRunningVm: return "RUNNING_VM";
    case Reason::kBrokenChain: return "BROKEN_CHAIN";
    case Reason::kMissingParent: return "MISSING_PARENT";
    case Reason::kParentOutsideDatastore: return "PARENT_OUTSIDE_DATASTORE";
    case Reason::kUnsupportedFormat: return "UNSUPPORTED_FORMAT";
    case Reason::kMalformed: return "MALFORMED";
    case Reason::kLeafMismatch: return "LEAF_MISMATCH";
    case Reason::kMissingExtent: return "MISSING_EXTENT";
  }
  return "UNKNOWN";
}

}  // namespace vnas::vmformat
