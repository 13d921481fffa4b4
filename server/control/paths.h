// paths.h — request paths: validation and resolution inside the export.
//
// Grammar of a request path (vnas.proto "Conventions"):
//   path      = [ export-prefix ] relative
//   relative  = "" | component *( "/" component ) [ "/" ]
//   component = 1..255 bytes, no '/', no NUL, not "." or ".."
// A leading '/' means an absolute path; it must begin with the export path
// (e.g. "/vnas"), which is stripped; any other absolute path is outside the
// datastore (REASON_CROSS_DATASTORE). Whole path at most kMaxPathBytes.
//
// Resolution walks component by component from the root with
// ExtentStore::Lookup and never follows a symlink: a symlink anywhere but as
// the final component is refused, and callers refuse a final one too.
//
// Thread safety: functions are thread-safe; the store is shared.
#ifndef VNAS_SERVER_CONTROL_PATHS_H_
#define VNAS_SERVER_CONTROL_PATHS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/extent_store.h"

namespace vnas::control {

inline constexpr uint32_t kMaxPathBytes = 4096;
inline constexpr uint32_t kMaxNameBytes = 255;

// ParsePath()
//
// Splits `path` into components after validating it against the grammar.
// `export_path` is the export's absolute path ("/vnas"; "/" or "" accept
// only relative paths and "/..." meaning the root). Errors: InvalidArgument
// with REASON_INVALID_ARGUMENT or REASON_CROSS_DATASTORE.
absl::StatusOr<std::vector<std::string>> ParsePath(
    absl::string_view path, absl::string_view export_path);

// JoinPath(): "a/b/c" ("" for the root).
std::string JoinPath(const std::vector<std::string>& components);

// Resolve()
//
// The object named by `components` (empty = the root). Errors: NotFound
// (REASON_NOT_FOUND) when a component is missing; InvalidArgument when a
// non-final component is a symlink or not a directory.
absl::StatusOr<storage::Attr> Resolve(storage::ExtentStore* store,
                                      const std::vector<std::string>& components);

// A destination: its (existing) parent directory and its final name.
struct Destination {
  storage::Attr dir;
  std::string name;
  std::optional<storage::Attr> existing;  // the object there now, if any
};

// ResolveDestination()
//
// `components` must be non-empty (the root is never a destination). Errors:
// NotFound with REASON_DESTINATION_PARENT_MISSING when the parent is absent;
// InvalidArgument when it is not a directory or a symlink is on the way.
absl::StatusOr<Destination> ResolveDestination(
    storage::ExtentStore* store, const std::vector<std::string>& components);

}  // namespace vnas::control

#endif  // VNAS_SERVER_CONTROL_PATHS_H_
