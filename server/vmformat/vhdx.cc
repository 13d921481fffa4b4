// vhdx.cc — see vhdx.h for the layout.
#include "server/vmformat/vhdx.h"

#include <array>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/vmformat/internal/bytes.h"

namespace vnas::vmformat {
namespace {

using internal::FileView;
using internal::ReadLE;

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kHeaderOffsets[2] = {64 * kKiB, 128 * kKiB};
constexpr uint64_t kHeaderSize = 4 * kKiB;
constexpr uint64_t kRegionTableOffset = 192 * kKiB;
constexpr uint64_t kTableSize = 64 * kKiB;
constexpr uint64_t kMaxItem = 1024 * kKiB;
constexpr uint64_t kMaxEntries = 2047;

using Guid = std::array<unsigned char, 16>;

constexpr int HexNibble(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : 0;
}

// "8B7CA206-4790-4B9A-B8FE-575F050F886E" -> on-disk bytes.
Guid GuidFromText(const char* t) {
  unsigned char be[16];
  int n = 0;
  for (const char* p = t; *p != '\0' && n < 32; ++p) {
    if (*p == '-') continue;
    if (n % 2 == 0) be[n / 2] = 0;
    be[n / 2] = static_cast<unsigned char>((be[n / 2] << 4) | HexNibble(*p));
    ++n;
  }
  Guid g;
  const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  for (int i = 0; i < 16; ++i) g[i] = be[order[i]];
  return g;
}

bool GuidAt(absl::string_view d, uint64_t off, const Guid& g) {
  if (!internal::InRange(d.size(), off, 16)) return false;
  for (int i = 0; i < 16; ++i) {
    if (static_cast<unsigned char>(d[off + i]) != g[i]) return false;
  }
  return true;
}

std::string GuidText(absl::string_view b) {
  auto u = [&](int i) { return static_cast<unsigned char>(b[i]); };
  return absl::StrFormat(
      "{%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X}",
      u(3), u(2), u(1), u(0), u(5), u(4), u(7), u(6), u(8), u(9), u(10),
      u(11), u(12), u(13), u(14), u(15));
}

uint64_t LE(absl::string_view d, uint64_t off, int n) {
  uint64_t v = 0;
  switch (n) {
    case 2: ReadLE<2>(d, off, &v); break;
    case 4: ReadLE<4>(d, off, &v); break;
    default: ReadLE<8>(d, off, &v); break;
  }
  return v;
}

bool ChecksumOk(absl::string_view block) {
  std::string copy(block);
  uint32_t stored = static_cast<uint32_t>(LE(copy, 4, 4));
  for (int i = 4; i < 8; ++i) copy[i] = 0;
  return Crc32c(copy) == stored;
}

struct Walk {
  VhdxInfo info;
  std::vector<std::pair<uint64_t, uint64_t>> wanted;
};

absl::Status DoWalk(const FileView& view, Walk* w) {
  VhdxInfo& info = w->info;
  absl::string_view ident;
  if (!view.Read(0, 8, &ident) || ident != "vhdxfile") {
    return absl::InvalidArgumentError("vhdx: bad file identifier");
  }
  absl::string_view creator;
  if (view.Read(8, 512, &creator)) {
    std::string c = Utf16LeToUtf8(creator);
    size_t nul = c.find('\0');
    info.creator = c.substr(0, nul);
  }
  // Headers: the current one carries DataWriteGuid (for parent_linkage).
  uint64_t best_seq = 0;
  bool header_missing = false, any_header_bad = false;
  for (uint64_t off : kHeaderOffsets) {
    absl::string_view h;
    if (!view.Read(off, kHeaderSize, &h)) {
      w->wanted.emplace_back(off, kHeaderSize);
      header_missing = true;
      continue;
    }
    if (h.substr(0, 4) != "head" || !ChecksumOk(h)) {
      any_header_bad = true;
      continue;
    }
    uint64_t seq = LE(h, 8, 8);
    if (!info.header_seen || seq > best_seq) {
      best_seq = seq;
      info.header_seen = true;
      info.data_write_guid = GuidText(h.substr(32, 16));
    }
  }
  if (!header_missing && !info.header_seen && any_header_bad) {
    return absl::InvalidArgumentError("vhdx: no valid header");
  }
  if (header_missing) info.header_seen = false;  // the other may be newer
  if (header_missing) info.data_write_guid.clear();
  absl::string_view rt;
  if (!view.Read(kRegionTableOffset, kTableSize, &rt)) {
    w->wanted.emplace_back(kRegionTableOffset, kTableSize);
    info.missing = absl::StrCat("region table at byte ", kRegionTableOffset,
                                " lies beyond the sample");
    return absl::OkStatus();
  }
  if (rt.substr(0, 4) != "regi" || !ChecksumOk(rt)) {
    return absl::InvalidArgumentError("vhdx: bad region table");
  }
  const uint64_t count = LE(rt, 8, 4);
  if (count > kMaxEntries) {
    return absl::InvalidArgumentError("vhdx: too many region entries");
  }
  static const Guid kMetadataRegion =
      GuidFromText("8B7CA206-4790-4B9A-B8FE-575F050F886E");
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t e = 16 + 32 * i;
    if (GuidAt(rt, e, kMetadataRegion)) {
      info.metadata_offset = LE(rt, e + 16, 8);
      info.metadata_length = LE(rt, e + 24, 4);
      info.region_table_seen = true;
    }
  }
  if (!info.region_table_seen) {
    return absl::InvalidArgumentError("vhdx: no metadata region");
  }
  if (info.metadata_offset % (1024 * kKiB) != 0 || info.metadata_offset == 0 ||
      info.metadata_length < kTableSize ||
      info.metadata_offset > UINT64_MAX - info.metadata_length) {
    return absl::InvalidArgumentError("vhdx: bad metadata region location");
  }
  absl::string_view mt;
  if (!view.Read(info.metadata_offset, kTableSize, &mt)) {
    w->wanted.emplace_back(info.metadata_offset, kTableSize);
    info.missing = absl::StrCat("metadata region at byte ", info.metadata_offset,
                                " lies beyond the sample");
    return absl::OkStatus();
  }
  if (mt.substr(0, 8) != "metadata") {
    return absl::InvalidArgumentError("vhdx: bad metadata table signature");
  }
  const uint64_t items = LE(mt, 10, 2);
  if (items > kMaxEntries) {
    return absl::InvalidArgumentError("vhdx: too many metadata entries");
  }
  static const Guid kFileParams =
      GuidFromText("CAA16737-FA36-4D43-B3B6-33F0AA44E76B");
  static const Guid kDiskSize =
      GuidFromText("2FA54224-CD1B-4876-B211-5DBED83BF4B8");
  static const Guid kParentLocator =
      GuidFromText("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C");
  bool params_seen = false;
  bool locator_present = false;
  std::vector<std::string> missing;
  for (uint64_t i = 0; i < items; ++i) {
    const uint64_t e = 32 + 32 * i;
    const uint64_t off = LE(mt, e + 16, 4), len = LE(mt, e + 20, 4);
    const bool fp = GuidAt(mt, e, kFileParams);
    const bool ds = GuidAt(mt, e, kDiskSize);
    const bool pl = GuidAt(mt, e, kParentLocator);
    if (!fp && !ds && !pl) continue;
    if (off < kTableSize || len > kMaxItem || off + len > info.metadata_length) {
      return absl::InvalidArgumentError("vhdx: metadata item out of its region");
    }
    const uint64_t abs = info.metadata_offset + off;
    absl::string_view item;
    if (!view.Read(abs, len, &item)) {
      w->wanted.emplace_back(abs, len);
      missing.push_back(absl::StrCat("metadata item at byte ", abs));
      if (pl) locator_present = true;
      continue;
    }
    if (fp) {
      if (len < 8) return absl::InvalidArgumentError("vhdx: short file parameters");
      info.block_size = static_cast<uint32_t>(LE(item, 0, 4));
      info.has_parent = (LE(item, 4, 4) & 2) != 0;
      params_seen = true;
    } else if (ds) {
      if (len < 8) return absl::InvalidArgumentError("vhdx: short disk size");
      info.virtual_size = LE(item, 0, 8);
    } else {
      locator_present = true;
      if (len < 20) return absl::InvalidArgumentError("vhdx: short parent locator");
      const uint64_t kv = LE(item, 18, 2);
      if (20 + 12 * kv > len) {
        return absl::InvalidArgumentError("vhdx: parent locator entries overrun");
      }
      for (uint64_t k = 0; k < kv; ++k) {
        const uint64_t p = 20 + 12 * k;
        const uint64_t ko = LE(item, p, 4), vo = LE(item, p + 4, 4);
        const uint64_t kl = LE(item, p + 8, 2), vl = LE(item, p + 10, 2);
        absl::string_view key, value;
        if (!internal::Slice(item, ko, kl, &key) ||
            !internal::Slice(item, vo, vl, &value)) {
          return absl::InvalidArgumentError("vhdx: parent locator entry overruns");
        }
        info.parent_locator[Utf16LeToUtf8(key)] = Utf16LeToUtf8(value);
      }
    }
  }
  if (!missing.empty()) {
    info.missing = absl::StrCat(missing.front(), " lies beyond the sample");
    return absl::OkStatus();
  }
  if (!params_seen) {
    return absl::InvalidArgumentError("vhdx: no file parameters");
  }
  if (info.has_parent && !locator_present) {
    return absl::InvalidArgumentError("vhdx: HasParent without a parent locator");
  }
  info.metadata_seen = true;
  if (header_missing) {
    info.missing = "VHDX headers (DataWriteGuid) lie beyond the sample";
  }
  return absl::OkStatus();
}

}  // namespace

bool IsVhdx(absl::string_view head) { return head.substr(0, 8) == "vhdxfile"; }

absl::StatusOr<VhdxInfo> ParseVhdx(const FileView& view) {
  Walk w;
  absl::Status s = DoWalk(view, &w);
  if (!s.ok()) return s;
  return std::move(w.info);
}

std::vector<std::pair<uint64_t, uint64_t>> VhdxWantedRanges(
    const FileView& view) {
  Walk w;
  if (!DoWalk(view, &w).ok()) return {};
  return std::move(w.wanted);
}

std::string Utf16LeToUtf8(absl::string_view b) {
  std::string out;
  auto put = [&out](uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  };
  const size_t n = b.size() / 2;
  auto unit = [&b](size_t i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(b[2 * i])) |
           (static_cast<uint32_t>(static_cast<unsigned char>(b[2 * i + 1])) << 8);
  };
  for (size_t i = 0; i < n; ++i) {
    uint32_t u = unit(i);
    if (u >= 0xD800 && u <= 0xDBFF && i + 1 < n) {
      uint32_t lo = unit(i + 1);
      if (lo >= 0xDC00 && lo <= 0xDFFF) {
        put(0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00));
        ++i;
        continue;
      }
    }
    if (u >= 0xD800 && u <= 0xDFFF) u = 0xFFFD;
    put(u);
  }
  if (b.size() % 2 != 0) put(0xFFFD);
  return out;
}

uint32_t Crc32c(absl::string_view data) {
  static const std::array<uint32_t, 256> kTable = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (char ch : data) {
    crc = kTable[(crc ^ static_cast<unsigned char>(ch)) & 0xFF] ^ (crc >> 8);
  }
  return crc ^ 0xFFFFFFFFu;
}

}  // namespace vnas::vmformat
