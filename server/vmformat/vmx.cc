// vmx.cc — see vmx.h for the grammar.
#include "server/vmformat/vmx.h"

#include <algorithm>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "server/vmformat/internal/kv_text.h"

namespace vnas::vmformat {
namespace {

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits "scsi0:1.fileName" into node "scsi0:1" and attr "filename"; also
// recognizes the controller key "scsi0.present" (node "scsi0", unit -1).
bool SplitDeviceKey(absl::string_view key, std::string* node,
                    std::string* controller, std::string* attr) {
  std::string k = absl::AsciiStrToLower(key);
  static const char* const kBuses[] = {"scsi", "sata", "nvme", "ide"};
  for (const char* bus : kBuses) {
    absl::string_view kv(k);
    if (!absl::StartsWith(kv, bus)) continue;
    size_t i = std::char_traits<char>::length(bus);
    size_t b = i;
    while (i < kv.size() && absl::ascii_isdigit(kv[i]) && i - b < 3) ++i;
    if (i == b || i >= kv.size()) return false;
    *controller = std::string(kv.substr(0, i));
    if (kv[i] == '.') {
      node->clear();
      *attr = std::string(kv.substr(i + 1));
      return true;
    }
    if (kv[i] != ':') return false;
    ++i;
    size_t u = i;
    while (i < kv.size() && absl::ascii_isdigit(kv[i]) && i - u < 3) ++i;
    if (i == u || i >= kv.size() || kv[i] != '.') return false;
    *node = std::string(kv.substr(0, i));
    *attr = std::string(kv.substr(i + 1));
    return true;
  }
  return false;
}

bool IsFalse(absl::string_view v) { return absl::EqualsIgnoreCase(v, "false"); }

bool IsNonDiskDeviceType(absl::string_view t) {
  return absl::StartsWithIgnoreCase(t, "cdrom") ||
         absl::StartsWithIgnoreCase(t, "atapi-cdrom") ||
         absl::StartsWithIgnoreCase(t, "floppy") ||
         absl::EqualsIgnoreCase(t, "scsi-passthru");
}

}  // namespace

std::string UnescapeVmxValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '|' && i + 2 < value.size()) {
      int hi = HexVal(value[i + 1]), lo = HexVal(value[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(value[i]);
  }
  return out;
}

std::optional<std::string> Vmx::Get(absl::string_view key) const {
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    if (absl::EqualsIgnoreCase(it->first, key)) return it->second;
  }
  return std::nullopt;
}

absl::StatusOr<Vmx> ParseVmx(absl::string_view text) {
  if (text.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("vmx: NUL byte");
  }
  Vmx vmx;
  struct Dev {
    std::string controller, file, type, mode;
    bool has_file = false, present = true;
    size_t order = 0;
  };
  std::map<std::string, Dev> devs;
  std::map<std::string, bool> controller_present;
  size_t order = 0;
  for (const internal::TextLine& line : internal::Lines(text)) {
    if (internal::IsBlankOrComment(line.body)) continue;
    std::optional<internal::KeyValue> kv = internal::ParseKeyValue(line.body);
    if (!kv.has_value()) {
      ++vmx.bad_lines;
      continue;
    }
    std::string value = UnescapeVmxValue(kv->value);
    vmx.entries.emplace_back(std::string(kv->key), value);
    std::string node, controller, attr;
    if (!SplitDeviceKey(kv->key, &node, &controller, &attr)) continue;
    if (node.empty()) {
      if (attr == "present") controller_present[controller] = !IsFalse(value);
      continue;
    }
    Dev& d = devs[node];
    d.controller = controller;
    if (attr == "filename") {
      d.file = value;
      if (!d.has_file) d.order = order++;
      d.has_file = true;
    } else if (attr == "present") {
      d.present = !IsFalse(value);
    } else if (attr == "devicetype") {
      d.type = value;
    } else if (attr == "mode") {
      d.mode = value;
    }
  }
  if (vmx.entries.empty()) {
    return absl::InvalidArgumentError("vmx: no key = value lines");
  }
  std::vector<std::pair<size_t, VmxDisk>> disks;
  for (const auto& [node, d] : devs) {
    if (!d.has_file || !absl::EndsWithIgnoreCase(d.file, ".vmdk")) continue;
    if (IsNonDiskDeviceType(d.type)) continue;
    VmxDisk disk;
    disk.node = node;
    disk.file_name = d.file;
    disk.device_type = d.type;
    disk.mode = d.mode;
    auto cp = controller_present.find(d.controller);
    disk.present = d.present && (cp == controller_present.end() || cp->second);
    disks.emplace_back(d.order, std::move(disk));
  }
  std::sort(disks.begin(), disks.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [o, disk] : disks) vmx.disks.push_back(std::move(disk));
  return vmx;
}

}  // namespace vnas::vmformat
