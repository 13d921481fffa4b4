// size.h — byte sizes for humans: parse "10G", format 1.5 GiB.
//
// Units are binary (K = KiB = 1024). Shared by vnas-offload and vnasctl.
#ifndef VNAS_PLUGINS_CLI_SIZE_H_
#define VNAS_PLUGINS_CLI_SIZE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vnas::cli {

// ParseSize()
//
// Parses a byte count: a non-negative decimal number (fractions allowed with
// a unit) followed by an optional unit B, K, M, G, T, P, each optionally
// followed by "iB" or "B" ("10G", "10GiB", "10gb", "1.5T", "4096", "512K").
// All units are powers of 1024. Fractional results are rounded down to a
// whole byte. Fails InvalidArgument on anything else and OutOfRange when the
// value does not fit in 64 bits.
absl::StatusOr<uint64_t> ParseSize(absl::string_view text);

// FormatSize()
//
// Human form of `bytes`: "0 B", "512 B", "1.0 KiB", "1.5 GiB", "16 EiB"-range.
// Three significant digits at most after the unit change ("123 MiB",
// "12.3 MiB", "1.23 MiB").
std::string FormatSize(uint64_t bytes);

// FormatRate()
//
// `bytes_per_sec` as "123 MiB/s".
std::string FormatRate(double bytes_per_sec);

// FormatDuration()
//
// Seconds as "0.42s", "12s", "3m05s", "2h01m".
std::string FormatDuration(double seconds);

}  // namespace vnas::cli

#endif  // VNAS_PLUGINS_CLI_SIZE_H_
