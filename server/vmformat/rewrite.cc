// rewrite.cc — see rewrite.h. Every rewrite walks the text line by line
// (internal/kv_text.h) and splices only the value bytes it changes, so line
// endings, spacing, quoting, comments and unknown keys stay byte for byte.
#include "server/vmformat/rewrite.h"

#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/vmformat/internal/kv_text.h"
#include "server/vmformat/qcow2.h"
#include "server/vmformat/vmdk_descriptor.h"
#include "server/vmformat/vmdk_sparse.h"
#include "server/vmformat/vmx.h"

namespace vnas::vmformat {
namespace {

using internal::KeyValue;
using internal::ParseKeyValue;
using internal::IsFreeTextKey;
using internal::Lines;
using internal::TextLine;

bool ValidBareName(absl::string_view n) {
  if (n.empty() || n == "." || n == "..") return false;
  for (char c : n) {
    if (c == '/' || c == '\0' || c == '"' || c == '\r' || c == '\n') return false;
  }
  return true;
}

absl::Status ValidateMap(const RenameMap& m, const AbsoluteRefs& abs = {}) {
  for (const auto& [from, to] : m) {
    if (!ValidBareName(from) || !ValidBareName(to)) {
      return absl::InvalidArgumentError(
          absl::StrCat("rename map: invalid entry \"", from.substr(0, 64), "\" -> \"",
                       to.substr(0, 64), "\""));
    }
  }
  for (const auto& [ref, name] : abs) {
    if (!ValidBareName(name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "absolute reference map: invalid file name \"", name.substr(0, 64), "\""));
    }
  }
  return absl::OkStatus();
}

// The renamed reference, or nullopt when `ref` is not renamed. Bare names
// and "./name" are renamed; an absolute path in `abs` becomes the bare new
// name of the file it names (rewrite.h says why); anything else with a
// directory is left alone.
std::optional<std::string> RenameRef(absl::string_view ref, const RenameMap& m,
                                     const AbsoluteRefs& abs = {}) {
  if (!abs.empty()) {
    auto a = abs.find(std::string(ref));
    if (a != abs.end()) {
      auto it = m.find(a->second);
      return it == m.end() ? a->second : it->second;
    }
  }
  absl::string_view prefix;
  absl::string_view name = ref;
  if (absl::StartsWith(ref, "./")) {
    prefix = "./";
    name = ref.substr(2);
  }
  auto it = m.find(std::string(name));
  if (it == m.end()) return std::nullopt;
  return absl::StrCat(prefix, it->second);
}

bool HasWs(absl::string_view s) {
  return s.find_first_of(" \t") != absl::string_view::npos;
}

// Builds the output from the original text and a list of (line offset +
// position, length, replacement) splices, in ascending order.
struct Splicer {
  absl::string_view text;
  std::string out;
  size_t copied = 0;
  void Replace(size_t pos, size_t len, absl::string_view with) {
    out.append(text.data() + copied, pos - copied);
    out.append(with.data(), with.size());
    copied = pos + len;
  }
  std::string Finish() {
    out.append(text.data() + copied, text.size() - copied);
    return std::move(out);
  }
};

bool ValidNewCid(absl::string_view cid) {
  uint32_t v;
  return cid.size() == 8 && ParseCid(cid, &v);
}

bool IsHex32(absl::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(c)) return false;
  }
  return true;
}

// The five predefined XML entities decoded (character references, which
// VMware does not write in file names, are kept literally: such a name is
// then simply not found in the rename map).
std::string XmlUnescape(absl::string_view s) {
  static const std::pair<absl::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  for (size_t i = 0; i < s.size();) {
    bool done = false;
    for (const auto& [ent, c] : kEntities) {
      if (s[i] == '&' && absl::StartsWith(s.substr(i), ent)) {
        out.push_back(c);
        i += ent.size();
        done = true;
        break;
      }
    }
    if (!done) out.push_back(s[i++]);
  }
  return out;
}

std::string XmlEscape(absl::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// Escapes a value for a .vmx/.vmsd: '|' -> "|7C" ('"' is refused earlier).
std::string VmxEscape(absl::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '|') {
      out += "|7C";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Shared body of RewriteVmx/RewriteVmsd.
absl::StatusOr<std::string> RewriteConfig(absl::string_view text,
                                          const RenameMap& rename_map,
                                          absl::string_view display_name,
                                          const AbsoluteRefs& abs) {
  if (text.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("NUL byte in text");
  }
  absl::Status s = ValidateMap(rename_map, abs);
  if (!s.ok()) return s;
  Splicer sp{text, {}, 0};
  bool saw_display = false;
  absl::string_view eol = "\n";
  bool eol_known = false;
  for (const TextLine& line : Lines(text)) {
    if (!eol_known && !line.eol.empty()) {
      eol = line.eol;
      eol_known = true;
    }
    if (internal::IsBlankOrComment(line.body)) continue;
    std::optional<KeyValue> kv = ParseKeyValue(line.body);
    if (!kv.has_value()) continue;
    const size_t pos = line.offset + kv->value_begin;
    if (!display_name.empty() && absl::EqualsIgnoreCase(kv->key, "displayName")) {
      saw_display = true;
      std::string v = VmxEscape(display_name);
      sp.Replace(pos, kv->value.size(),
                 kv->quoted ? v : absl::StrCat("\"", v, "\""));
      continue;
    }
    if (IsFreeTextKey(kv->key)) continue;
    // Unescape only when there is something to unescape: most values have
    // no '|' and need no copy.
    std::string unescaped;
    absl::string_view ref = kv->value;
    if (ref.find('|') != absl::string_view::npos) {
      unescaped = UnescapeVmxValue(ref);
      ref = unescaped;
    }
    std::optional<std::string> renamed = RenameRef(ref, rename_map, abs);
    if (!renamed.has_value()) continue;
    std::string v = VmxEscape(*renamed);
    sp.Replace(pos, kv->value.size(),
               kv->quoted ? v : absl::StrCat("\"", v, "\""));
  }
  std::string out = sp.Finish();
  if (!display_name.empty() && !saw_display) {
    if (!out.empty() && out.back() != '\n') out.append(eol.data(), eol.size());
    absl::StrAppend(&out, "displayName = \"", VmxEscape(display_name), "\"", eol);
  }
  return out;
}

}  // namespace

absl::StatusOr<RenameMap> ProposeRenameMap(absl::Span<const std::string> names,
                                           absl::string_view old_base,
                                           absl::string_view new_base) {
  if (!ValidBareName(old_base) || !ValidBareName(new_base)) {
    return absl::InvalidArgumentError("base names must be bare file names");
  }
  std::set<std::string> all;
  for (const std::string& n : names) {
    if (!all.insert(n).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate name ", n));
    }
  }
  RenameMap m;
  for (const std::string& n : names) {
    if (absl::EndsWithIgnoreCase(n, ".lck") || absl::StrContains(n, ".lck-") ||
        absl::StartsWith(n, ".lck")) {
      continue;
    }
    if (!absl::StartsWith(n, old_base) || n.size() == old_base.size()) continue;
    const char next = n[old_base.size()];
    if (next != '.' && next != '-' && next != '_') continue;
    std::string to = absl::StrCat(new_base, n.substr(old_base.size()));
    if (!ValidBareName(to)) {
      return absl::InvalidArgumentError(absl::StrCat("bad new name for ", n));
    }
    m[n] = std::move(to);
  }
  for (const auto& [from, to] : m) {
    if (all.count(to) && !m.count(to)) {
      return absl::AlreadyExistsError(absl::StrCat(
          "renaming ", from, " to ", to, " collides with an existing file"));
    }
  }
  return m;
}

absl::Status PinUnrewritableNames(const ChainReport& report,
                                  RenameMap* rename_map) {
  std::set<std::string> pinned;
  for (const DiskNode& d : report.disks) {
    if (d.format == DiskFormat::kQcow2) {
      if (!d.parent.empty()) pinned.insert(d.parent);
      for (const std::string& e : d.extent_files) pinned.insert(e);
    } else if (d.format == DiskFormat::kVhdx && !d.parent.empty()) {
      pinned.insert(d.parent);
    }
  }
  // Checkpoint files (rewrite.h): binary, they name what goes with them.
  for (const auto& [from, to] : *rename_map) {
    if (absl::EndsWithIgnoreCase(from, ".vmsn") ||
        absl::EndsWithIgnoreCase(from, ".vmss") ||
        absl::EndsWithIgnoreCase(from, ".vmem")) {
      pinned.insert(from);
    }
  }
  for (const std::string& name : pinned) rename_map->erase(name);
  for (const auto& [from, to] : *rename_map) {
    if (pinned.count(to)) {
      return absl::AlreadyExistsError(absl::StrCat(
          "renaming ", from, " to ", to, " collides with ", to,
          ", which keeps its name (an image or checkpoint names it)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RewriteVmdkDescriptorCids(
    absl::string_view text, const RenameMap& rename_map,
    absl::string_view new_cid, absl::string_view new_parent_cid,
    const AbsoluteRefs& absolute_refs) {
  absl::Status s = ValidateMap(rename_map, absolute_refs);
  if (!s.ok()) return s;
  if ((!new_cid.empty() && !ValidNewCid(new_cid)) ||
      (!new_parent_cid.empty() && !ValidNewCid(new_parent_cid))) {
    return absl::InvalidArgumentError("CIDs must be 8 hex digits");
  }
  absl::StatusOr<VmdkDescriptor> parsed = ParseVmdkDescriptor(text);
  if (!parsed.ok()) return parsed.status();
  Splicer sp{text, {}, 0};
  for (const TextLine& line : Lines(text)) {
    if (internal::IsBlankOrComment(line.body)) continue;
    if (IsExtentLine(line.body)) {
      absl::StatusOr<VmdkExtent> e = ParseExtentLine(line.body);
      if (!e.ok() || !e->has_file) continue;
      std::optional<std::string> renamed =
          RenameRef(e->file, rename_map, absolute_refs);
      if (!renamed.has_value()) continue;
      const bool quoted = e->file_begin > 0 && line.body[e->file_begin - 1] == '"';
      sp.Replace(line.offset + e->file_begin, e->file.size(),
                 quoted || !HasWs(*renamed) ? *renamed
                                            : absl::StrCat("\"", *renamed, "\""));
      continue;
    }
    std::optional<KeyValue> kv = ParseKeyValue(line.body);
    if (!kv.has_value()) continue;
    const size_t pos = line.offset + kv->value_begin;
    if (absl::EqualsIgnoreCase(kv->key, "CID") && !new_cid.empty()) {
      sp.Replace(pos, kv->value.size(), new_cid);
    } else if (absl::EqualsIgnoreCase(kv->key, "parentCID") &&
               !new_parent_cid.empty()) {
      sp.Replace(pos, kv->value.size(), new_parent_cid);
    } else if (absl::EqualsIgnoreCase(kv->key, "parentFileNameHint") ||
               absl::EqualsIgnoreCase(kv->key, "changeTrackPath")) {
      std::optional<std::string> renamed =
          RenameRef(kv->value, rename_map, absolute_refs);
      if (!renamed.has_value()) continue;
      sp.Replace(pos, kv->value.size(),
                 kv->quoted || !HasWs(*renamed)
                     ? *renamed
                     : absl::StrCat("\"", *renamed, "\""));
    } else if (absl::EqualsIgnoreCase(kv->key, "ddb.longContentID") &&
               !new_cid.empty() && IsHex32(kv->value)) {
      uint32_t tail;
      if (ParseCid(kv->value.substr(24), &tail) && tail == parsed->cid) {
        sp.Replace(pos + 24, 8, new_cid);
      }
    }
  }
  return sp.Finish();
}

absl::StatusOr<std::string> RewriteVmdkDescriptor(absl::string_view text,
                                                  const RenameMap& rename_map) {
  return RewriteVmdkDescriptorCids(text, rename_map, "", "");
}

absl::StatusOr<std::vector<DescriptorEdit>> RewriteVmdkSet(
    absl::Span<const FileSample> files, const RenameMap& rename_map,
    const RewriteOptions& options) {
  const AbsoluteRefs& abs = options.absolute_refs;
  absl::Status vs = ValidateMap(rename_map, abs);
  if (!vs.ok()) return vs;
  // The bare name a parent hint or extent name means: "./" dropped, an
  // absolute path mapped to this directory replaced by its file name.
  auto local_name = [&abs](absl::string_view ref) {
    auto a = abs.find(std::string(ref));
    if (a != abs.end()) return a->second;
    if (absl::StartsWith(ref, "./")) ref.remove_prefix(2);
    return std::string(ref);
  };
  struct Item {
    size_t file;
    bool embedded = false;
    uint64_t offset = 0, area = 0;
    std::string text;
    VmdkDescriptor d;
    std::string new_cid, new_parent_cid;
  };
  std::set<std::string> names;
  for (const FileSample& f : files) {
    if (!names.insert(f.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate file name ", f.name));
    }
  }
  // Extent data named by a whole text descriptor is never a descriptor, even
  // when its first bytes look like one (a guest disk holding a VMDK).
  std::set<std::string> extents;
  for (const FileSample& f : files) {
    if (f.head.size() != f.size || !LooksLikeVmdkDescriptor(f.head)) continue;
    absl::StatusOr<VmdkDescriptor> d = ParseVmdkDescriptor(f.head);
    if (!d.ok()) continue;
    for (const VmdkExtent& e : d->extents) {
      const std::string n = local_name(e.file);
      if (e.has_file && n != f.name) extents.insert(n);
    }
  }
  std::vector<Item> items;
  for (size_t i = 0; i < files.size(); ++i) {
    const FileSample& f = files[i];
    if (extents.count(f.name)) continue;
    Item it;
    it.file = i;
    if (IsHostedSparse(f.head)) {
      absl::StatusOr<SparseHeader> h = ParseSparseHeader(f.head);
      if (!h.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(f.name, ": ", h.status().message()));
      }
      if (h->descriptor_offset == 0 || h->descriptor.empty()) continue;  // extent
      it.embedded = true;
      it.offset = h->descriptor_offset;
      it.area = h->descriptor_size;
      it.text = h->descriptor;
    } else if (LooksLikeVmdkDescriptor(f.head)) {
      if (f.head.size() != f.size) {
        return absl::InvalidArgumentError(
            absl::StrCat(f.name, ": descriptor not wholly in its sample"));
      }
      it.text = f.head;
    } else {
      continue;
    }
    absl::StatusOr<VmdkDescriptor> d = ParseVmdkDescriptor(it.text);
    if (!d.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(f.name, ": ", d.status().message()));
    }
    it.d = std::move(*d);
    items.push_back(std::move(it));
  }
  // Fresh, distinct CIDs.
  absl::BitGen gen;
  std::set<uint32_t> used;
  std::map<std::string, size_t> by_name;
  for (size_t k = 0; k < items.size(); ++k) {
    uint32_t cid = 0;
    int attempts = 0;
    do {
      if (++attempts > 1000) {
        return absl::InternalError("CID source keeps repeating values");
      }
      cid = options.cid_source ? options.cid_source()
                               : absl::Uniform<uint32_t>(gen);
    } while (cid == 0xffffffffu || cid == 0xfffffffeu || used.count(cid));
    used.insert(cid);
    items[k].new_cid = absl::StrFormat("%08x", cid);
    by_name[files[items[k].file].name] = k;
  }
  for (Item& it : items) {
    if (!it.d.has_parent_hint) continue;
    auto p = by_name.find(local_name(it.d.parent_hint));
    if (p == by_name.end()) continue;  // parent outside the set: keep the link
    const Item& parent = items[p->second];
    if (it.d.has_parent_cid && it.d.parent_cid == parent.d.cid) {
      it.new_parent_cid = parent.new_cid;
    }
  }
  std::vector<DescriptorEdit> edits;
  for (Item& it : items) {
    const FileSample& f = files[it.file];
    absl::StatusOr<std::string> text = RewriteVmdkDescriptorCids(
        it.text, rename_map, it.new_cid, it.new_parent_cid, abs);
    if (!text.ok()) return text.status();
    DescriptorEdit e;
    e.old_name = f.name;
    auto r = rename_map.find(f.name);
    e.new_name = r == rename_map.end() ? f.name : r->second;
    e.old_cid = absl::StrFormat("%08x", it.d.cid);
    e.new_cid = it.new_cid;
    e.old_parent_cid = it.d.has_parent_cid ? absl::StrFormat("%08x", it.d.parent_cid)
                                           : std::string();
    e.new_parent_cid = it.new_parent_cid.empty() ? e.old_parent_cid : it.new_parent_cid;
    if (it.embedded) {
      if (text->size() > it.area) {
        return absl::InvalidArgumentError(absl::StrCat(
            f.name, ": rewritten descriptor (", text->size(),
            " bytes) does not fit its ", it.area, "-byte area"));
      }
      e.whole_file = false;
      e.offset = it.offset;
      e.bytes = std::move(*text);
      e.bytes.resize(it.area, '\0');
    } else {
      e.bytes = std::move(*text);
    }
    edits.push_back(std::move(e));
  }
  return edits;
}

absl::StatusOr<std::string> RewriteVmx(absl::string_view text,
                                       const RenameMap& rename_map,
                                       absl::string_view new_display_name,
                                       const AbsoluteRefs& absolute_refs) {
  for (char c : new_display_name) {
    if (c == '"' || c == '\r' || c == '\n' || c == '\0') {
      return absl::InvalidArgumentError("display name holds a quote or line break");
    }
  }
  return RewriteConfig(text, rename_map, new_display_name, absolute_refs);
}

absl::StatusOr<std::string> RewriteVmsd(absl::string_view text,
                                        const RenameMap& rename_map,
                                        const AbsoluteRefs& absolute_refs) {
  return RewriteConfig(text, rename_map, "", absolute_refs);
}

absl::StatusOr<std::string> RewriteVmxf(absl::string_view text,
                                        const RenameMap& rename_map) {
  if (text.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("NUL byte in text");
  }
  absl::Status s = ValidateMap(rename_map);
  if (!s.ok()) return s;
  // <vmxPathName type="string">vm.vmx</vmxPathName>: the element name is
  // matched exactly (XML is case-sensitive), attributes are kept.
  constexpr absl::string_view kOpen = "<vmxPathName";
  constexpr absl::string_view kClose = "</vmxPathName>";
  Splicer sp{text, {}, 0};
  size_t pos = 0;
  while ((pos = text.find(kOpen, pos)) != absl::string_view::npos) {
    const size_t after = pos + kOpen.size();
    if (after >= text.size() || (text[after] != '>' && text[after] != ' ' &&
                                 text[after] != '\t')) {
      pos = after;  // <vmxPathNameX ...>: another element
      continue;
    }
    const size_t gt = text.find('>', after);
    if (gt == absl::string_view::npos) break;
    if (text[gt - 1] == '/') {  // <vmxPathName/>: empty
      pos = gt + 1;
      continue;
    }
    const size_t begin = gt + 1;
    const size_t end = text.find(kClose, begin);
    if (end == absl::string_view::npos) break;
    const absl::string_view raw = text.substr(begin, end - begin);
    const std::string name = XmlUnescape(raw);
    std::optional<std::string> renamed = RenameRef(name, rename_map);
    if (renamed.has_value()) sp.Replace(begin, raw.size(), XmlEscape(*renamed));
    pos = end + kClose.size();
  }
  return sp.Finish();
}

absl::StatusOr<std::vector<ImagePatch>> RewriteQcow2Backings(
    absl::Span<const FileSample> files, const RenameMap& rename_map,
    const AbsoluteRefs& absolute_refs) {
  absl::Status vs = ValidateMap(rename_map, absolute_refs);
  if (!vs.ok()) return vs;
  std::vector<ImagePatch> out;
  for (const FileSample& f : files) {
    if (!IsQcow2(f.head)) continue;
    absl::StatusOr<Qcow2Header> h = ParseQcow2Header(f.head);
    if (!h.ok() || !h->has_backing) continue;  // the analyzer reported it
    // Relative names keep working in the clone (and their files are pinned).
    if (!absolute_refs.count(h->backing_file)) continue;
    std::optional<std::string> renamed =
        RenameRef(h->backing_file, rename_map, absolute_refs);
    const std::string& old_name = h->backing_file;
    if (renamed->size() > old_name.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          f.name, ": new backing file name ", *renamed, " is longer than \"",
          old_name, "\""));
    }
    ImagePatch p;
    p.old_name = f.name;
    auto be32 = [](uint64_t v) {
      std::string b(4, '\0');
      for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * (3 - i)));
      return b;
    };
    ImageWrite size_field;
    size_field.offset = 16;
    size_field.expected = be32(old_name.size());
    size_field.bytes = be32(renamed->size());
    ImageWrite name;
    name.offset = h->backing_file_offset;
    name.expected = old_name;
    name.bytes = *renamed;
    name.bytes.resize(old_name.size(), '\0');
    p.writes = {std::move(size_field), std::move(name)};
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace vnas::vmformat
