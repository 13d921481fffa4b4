#include "server/control/paths.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/control/reasons.h"

namespace vnas::control {
namespace {

absl::Status Bad(absl::string_view text) {
  return Refusal(absl::StatusCode::kInvalidArgument, v1::REASON_INVALID_ARGUMENT,
                 text);
}

std::string Printable(absl::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(static_cast<unsigned char>(c),
                                             absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParsePath(
    absl::string_view path, absl::string_view export_path) {
  if (path.size() > kMaxPathBytes) {
    return Bad(absl::StrCat("path is ", path.size(), " bytes; at most ",
                            kMaxPathBytes, " accepted"));
  }
  if (path.find('\0') != absl::string_view::npos) {
    return Bad(absl::StrCat("path \"", Printable(path), "\" contains a NUL byte"));
  }
  absl::string_view rel = path;
  if (!rel.empty() && rel[0] == '/') {
    absl::string_view exp = export_path;
    while (!exp.empty() && exp.back() == '/') exp.remove_suffix(1);
    if (exp.empty()) {
      rel.remove_prefix(1);
    } else if (rel == exp) {
      rel = "";
    } else if (absl::StartsWith(rel, exp) && rel.size() > exp.size() &&
               rel[exp.size()] == '/') {
      rel.remove_prefix(exp.size() + 1);
    } else {
      return Refusal(absl::StatusCode::kInvalidArgument,
                     v1::REASON_CROSS_DATASTORE,
                     absl::StrCat("absolute path \"", Printable(path),
                                  "\" is not inside this datastore's export \"",
                                  export_path, "\""));
    }
  }
  std::vector<std::string> out;
  if (rel.empty()) return out;
  if (rel.back() == '/') rel.remove_suffix(1);
  for (absl::string_view c : absl::StrSplit(rel, '/')) {
    if (c.empty()) {
      return Bad(absl::StrCat("path \"", Printable(path),
                              "\" has an empty component"));
    }
    if (c == "." || c == "..") {
      return Bad(absl::StrCat("path \"", Printable(path), "\" has a \"", c,
                              "\" component; paths must stay inside the export"));
    }
    if (c.size() > kMaxNameBytes) {
      return Bad(absl::StrCat("path component of ", c.size(),
                              " bytes; at most ", kMaxNameBytes));
    }
    out.emplace_back(c);
  }
  return out;
}

std::string JoinPath(const std::vector<std::string>& components) {
  return absl::StrJoin(components, "/");
}

absl::StatusOr<storage::Attr> Resolve(
    storage::ExtentStore* store, const std::vector<std::string>& components) {
  absl::StatusOr<storage::Attr> cur = store->GetAttr(storage::kRootInode);
  if (!cur.ok()) return cur.status();
  std::string sofar;
  for (size_t i = 0; i < components.size(); ++i) {
    if (cur->type == storage::FileType::kSymlink) {
      return Bad(absl::StrCat("\"", sofar,
                              "\" is a symlink; symlinks are not followed"));
    }
    if (cur->type != storage::FileType::kDirectory) {
      return Bad(absl::StrCat("\"", sofar, "\" is not a directory"));
    }
    absl::StatusOr<storage::Attr> next = store->Lookup(cur->ino, components[i]);
    if (!sofar.empty()) sofar += "/";
    sofar += components[i];
    if (!next.ok()) {
      if (next.status().code() == absl::StatusCode::kNotFound) {
        return Refusal(absl::StatusCode::kNotFound, v1::REASON_NOT_FOUND,
                       absl::StrCat("\"", sofar, "\" does not exist"));
      }
      return next.status();
    }
    cur = std::move(next);
  }
  return cur;
}

absl::StatusOr<Destination> ResolveDestination(
    storage::ExtentStore* store, const std::vector<std::string>& components) {
  if (components.empty()) {
    return Bad("the export root cannot be a destination");
  }
  std::vector<std::string> parent(components.begin(), components.end() - 1);
  absl::StatusOr<storage::Attr> dir = Resolve(store, parent);
  if (!dir.ok()) {
    if (dir.status().code() == absl::StatusCode::kNotFound) {
      return Refusal(absl::StatusCode::kNotFound,
                     v1::REASON_DESTINATION_PARENT_MISSING,
                     absl::StrCat("destination directory \"", JoinPath(parent),
                                  "\" does not exist"));
    }
    return dir.status();
  }
  if (dir->type != storage::FileType::kDirectory) {
    return Bad(absl::StrCat("destination parent \"", JoinPath(parent),
                            "\" is not a directory"));
  }
  Destination d;
  d.dir = *dir;
  d.name = components.back();
  absl::StatusOr<storage::Attr> ex = store->Lookup(dir->ino, d.name);
  if (ex.ok()) {
    d.existing = *ex;
  } else if (ex.status().code() != absl::StatusCode::kNotFound) {
    return ex.status();
  }
  return d;
}

}  // namespace vnas::control
