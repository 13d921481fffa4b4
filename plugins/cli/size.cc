#include "plugins/cli/size.h"

#include <cctype>
#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vnas::cli {
namespace {

constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB",
                                  "EiB"};

}  // namespace

absl::StatusOr<uint64_t> ParseSize(absl::string_view text) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  size_t i = 0;
  while (i < s.size() && (absl::ascii_isdigit(s[i]) || s[i] == '.')) ++i;
  absl::string_view number = s.substr(0, i);
  std::string unit = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(s.substr(i)));
  if (number.empty() || number.front() == '.' || number.back() == '.') {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid size \"", text, "\": expected e.g. 10G, 512M, 4096"));
  }
  int shift = -1;
  if (unit.empty() || unit == "B") {
    shift = 0;
  } else {
    static constexpr char kLetters[] = "KMGTPE";
    for (int u = 0; u < 6; ++u) {
      const char c = kLetters[u];
      if (unit == std::string(1, c) || unit == std::string(1, c) + "B" ||
          unit == std::string(1, c) + "IB") {
        shift = 10 * (u + 1);
      }
    }
  }
  if (shift < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid size unit in \"", text, "\": use B, K, M, G, T, P or E"));
  }
  if (number.find('.') == absl::string_view::npos) {
    uint64_t v = 0;
    if (!absl::SimpleAtoi(number, &v)) {
      return absl::OutOfRangeError(absl::StrCat("size \"", text, "\" is too large"));
    }
    if (shift > 0 && v > (std::numeric_limits<uint64_t>::max() >> shift)) {
      return absl::OutOfRangeError(absl::StrCat("size \"", text, "\" is too large"));
    }
    return v << shift;
  }
  if (shift == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid size \"", text, "\": fractional bytes"));
  }
  if (std::count(number.begin(), number.end(), '.') > 1) {
    return absl::InvalidArgumentError(absl::StrCat("invalid size \"", text, "\""));
  }
  double d = 0;
  if (!absl::SimpleAtod(number, &d)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid size \"", text, "\""));
  }
  const long double v = static_cast<long double>(d) * std::ldexp(1.0L, shift);
  if (v >= std::ldexp(1.0L, 64)) {
    return absl::OutOfRangeError(absl::StrCat("size \"", text, "\" is too large"));
  }
  return static_cast<uint64_t>(v);
}

std::string FormatSize(uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  int unit = 0;
  long double v = bytes;
  while (v >= 1024 && unit < 6) {
    v /= 1024;
    ++unit;
  }
  // Avoid "1024 KiB" from rounding: 1023.96 rounds to 1024.
  if (v >= 999.5 && unit < 6) {
    v /= 1024;
    ++unit;
  }
  if (v < 9.995) return absl::StrFormat("%.2f %s", static_cast<double>(v), kUnits[unit]);
  if (v < 99.95) return absl::StrFormat("%.1f %s", static_cast<double>(v), kUnits[unit]);
  return absl::StrFormat("%.0f %s", static_cast<double>(v), kUnits[unit]);
}

std::string FormatRate(double bytes_per_sec) {
  if (!(bytes_per_sec > 0)) return "0 B/s";
  if (bytes_per_sec > 1.8e19) bytes_per_sec = 1.8e19;
  return absl::StrCat(FormatSize(static_cast<uint64_t>(bytes_per_sec)), "/s");
}

std::string FormatDuration(double seconds) {
  if (!(seconds > 0)) return "0s";
  if (seconds < 10) return absl::StrFormat("%.2fs", seconds);
  const uint64_t s = static_cast<uint64_t>(seconds + 0.5);
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

}  // namespace vnas::cli
