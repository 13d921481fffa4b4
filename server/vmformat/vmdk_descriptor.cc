// vmdk_descriptor.cc — see vmdk_descriptor.h for the grammar.
#include "server/vmformat/vmdk_descriptor.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/vmformat/internal/bytes.h"
#include "server/vmformat/internal/kv_text.h"

namespace vnas::vmformat {
namespace {

using internal::KeyValue;
using internal::ParseKeyValue;
using internal::Lines;
using internal::TrimWs;

bool IsWs(char c) { return c == ' ' || c == '\t'; }

// Next WS-delimited token from `s` at `*pos`; empty at end.
absl::string_view NextToken(absl::string_view s, size_t* pos) {
  size_t i = *pos;
  while (i < s.size() && IsWs(s[i])) ++i;
  size_t b = i;
  while (i < s.size() && !IsWs(s[i])) ++i;
  *pos = i;
  return s.substr(b, i - b);
}

bool ParseDecimalU64(absl::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool KnownExtentType(absl::string_view t) {
  return t == "FLAT" || t == "SPARSE" || t == "ZERO" || t == "VMFS" ||
         t == "VMFSSPARSE" || t == "VMFSRDM" || t == "VMFSRAW" ||
         t == "SESPARSE" || t == "VSANSPARSE";
}

}  // namespace

bool ParseCid(absl::string_view text, uint32_t* out) {
  if (text.empty() || text.size() > 8) return false;
  uint32_t v = 0;
  for (char c : text) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    v = (v << 4) | static_cast<uint32_t>(d);
  }
  *out = v;
  return true;
}

bool IsExtentLine(absl::string_view body) {
  size_t pos = 0;
  absl::string_view tok = NextToken(body, &pos);
  return tok == "RW" || tok == "RDONLY" || tok == "NOACCESS";
}

absl::StatusOr<VmdkExtent> ParseExtentLine(absl::string_view body) {
  VmdkExtent e;
  size_t pos = 0;
  absl::string_view access = NextToken(body, &pos);
  if (access == "RW") {
    e.access = VmdkAccess::kRw;
  } else if (access == "RDONLY") {
    e.access = VmdkAccess::kRdOnly;
  } else if (access == "NOACCESS") {
    e.access = VmdkAccess::kNoAccess;
  } else {
    return absl::InvalidArgumentError("extent: bad access mode");
  }
  absl::string_view sectors = NextToken(body, &pos);
  uint64_t bytes;
  if (!ParseDecimalU64(sectors, &e.sectors) ||
      !internal::MulU64(e.sectors, 512, &bytes)) {
    return absl::InvalidArgumentError("extent: bad sector count");
  }
  e.type = absl::AsciiStrToUpper(NextToken(body, &pos));
  if (!KnownExtentType(e.type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("extent: unknown type '", e.type.substr(0, 32), "'"));
  }
  while (pos < body.size() && IsWs(body[pos])) ++pos;
  if (pos < body.size()) {
    if (body[pos] == '"') {
      size_t close = body.find('"', pos + 1);
      if (close == absl::string_view::npos) {
        return absl::InvalidArgumentError("extent: unterminated file name");
      }
      e.file_begin = pos + 1;
      e.file = std::string(body.substr(pos + 1, close - pos - 1));
      pos = close + 1;
      if (pos < body.size() && !IsWs(body[pos])) {
        return absl::InvalidArgumentError("extent: junk after file name");
      }
    } else {
      size_t b = pos;
      absl::string_view f = NextToken(body, &pos);
      e.file_begin = b;
      e.file = std::string(f);
    }
    if (e.file.empty()) {
      return absl::InvalidArgumentError("extent: empty file name");
    }
    e.has_file = true;
    absl::string_view off = NextToken(body, &pos);
    if (!off.empty() && !ParseDecimalU64(off, &e.offset)) {
      return absl::InvalidArgumentError("extent: bad offset");
    }
    if (!TrimWs(body.substr(pos)).empty()) {
      return absl::InvalidArgumentError("extent: junk at end of line");
    }
  }
  if (!e.has_file && e.type != "ZERO") {
    return absl::InvalidArgumentError("extent: file name missing");
  }
  return e;
}

// A UTF-8 byte-order mark some Windows editors prepend.
absl::string_view SkipBom(absl::string_view s) {
  if (absl::StartsWith(s, "\xEF\xBB\xBF")) s.remove_prefix(3);
  return s;
}

bool LooksLikeVmdkDescriptor(absl::string_view head) {
  absl::string_view first = SkipBom(head).substr(0, 1024);
  if (first.find('\0') != absl::string_view::npos) return false;
  for (const internal::TextLine& line : Lines(first)) {
    absl::string_view t = TrimWs(line.body);
    if (t.empty()) continue;
    if (absl::StartsWithIgnoreCase(t, "# Disk DescriptorFile")) return true;
    if (t[0] == '#') continue;
    std::optional<KeyValue> kv = ParseKeyValue(t);
    return kv.has_value() && absl::EqualsIgnoreCase(kv->key, "version");
  }
  return false;
}

absl::StatusOr<VmdkDescriptor> ParseVmdkDescriptor(absl::string_view text) {
  if (text.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("descriptor: NUL byte");
  }
  text = SkipBom(text);
  VmdkDescriptor d;
  bool has_version = false, has_cid = false, has_type = false;
  int line_no = 0;
  for (const internal::TextLine& line : Lines(text)) {
    ++line_no;
    auto err = [&](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat("descriptor line ", line_no, ": ", what));
    };
    if (internal::IsBlankOrComment(line.body)) continue;
    if (IsExtentLine(line.body)) {
      absl::StatusOr<VmdkExtent> e = ParseExtentLine(line.body);
      if (!e.ok()) return err(e.status().message());
      if (!internal::AddU64(d.capacity_sectors, e->sectors,
                            &d.capacity_sectors) ||
          d.capacity_sectors > UINT64_MAX / 512) {
        return err("total sectors overflow");
      }
      d.extents.push_back(std::move(*e));
      continue;
    }
    std::optional<KeyValue> kv = ParseKeyValue(line.body);
    if (!kv.has_value()) return err("not a key=value or extent line");
    const absl::string_view key = kv->key;
    const absl::string_view value = kv->value;
    if (absl::StartsWithIgnoreCase(key, "ddb.")) {
      d.ddb.emplace_back(std::string(key), std::string(value));
    } else if (absl::EqualsIgnoreCase(key, "version")) {
      uint64_t v;
      if (has_version) return err("duplicate version");
      if (!ParseDecimalU64(value, &v) || v == 0 || v > 100) {
        return err("bad version");
      }
      d.version = static_cast<uint32_t>(v);
      has_version = true;
    } else if (absl::EqualsIgnoreCase(key, "CID")) {
      if (has_cid) return err("duplicate CID");
      if (!ParseCid(value, &d.cid)) return err("bad CID");
      d.cid_text = std::string(value);
      has_cid = true;
    } else if (absl::EqualsIgnoreCase(key, "parentCID")) {
      if (d.has_parent_cid) return err("duplicate parentCID");
      if (!ParseCid(value, &d.parent_cid)) return err("bad parentCID");
      d.parent_cid_text = std::string(value);
      d.has_parent_cid = true;
    } else if (absl::EqualsIgnoreCase(key, "createType")) {
      if (has_type) return err("duplicate createType");
      if (value.empty()) return err("empty createType");
      d.create_type = std::string(value);
      has_type = true;
    } else if (absl::EqualsIgnoreCase(key, "parentFileNameHint")) {
      if (d.has_parent_hint) return err("duplicate parentFileNameHint");
      if (value.empty()) return err("empty parentFileNameHint");
      d.parent_hint = std::string(value);
      d.has_parent_hint = true;
    } else {
      d.other.emplace_back(std::string(key), std::string(value));
    }
  }
  if (!has_version) return absl::InvalidArgumentError("descriptor: no version");
  if (!has_cid) return absl::InvalidArgumentError("descriptor: no CID");
  if (!has_type) {
    return absl::InvalidArgumentError("descriptor: no createType");
  }
  return d;
}

}  // namespace vnas::vmformat
