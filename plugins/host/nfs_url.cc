#include "plugins/host/nfs_url.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace vnas::plugin {
namespace {

// Normalizes an absolute path: collapses '/', drops a trailing '/', rejects
// "." and "..". Returns "/" for the root.
absl::StatusOr<std::string> NormalizeAbsolute(absl::string_view path) {
  std::vector<std::string> parts;
  for (absl::string_view c : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (c == "." || c == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("path \"", path, "\" contains '.' or '..'"));
    }
    parts.emplace_back(c);
  }
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

bool IsUnder(absl::string_view path, absl::string_view dir) {
  if (dir == "/") return true;
  return path == dir ||
         (absl::StartsWith(path, dir) && path.size() > dir.size() &&
          path[dir.size()] == '/');
}

std::string StripPrefix(absl::string_view path, absl::string_view dir) {
  if (dir == "/") return std::string(path.substr(1));
  if (path.size() <= dir.size()) return "";
  return std::string(path.substr(dir.size() + 1));
}

}  // namespace

std::string Datastore::Url(absl::string_view rel) const {
  std::string url = absl::StrCat("nfs://", server, export_path);
  if (!rel.empty()) {
    if (url.back() != '/') url += "/";
    absl::StrAppend(&url, rel);
  }
  std::vector<std::string> q;
  if (nfsport != 0) q.push_back(absl::StrCat("nfsport=", nfsport));
  if (mountport != 0) q.push_back(absl::StrCat("mountport=", mountport));
  if (!q.empty()) absl::StrAppend(&url, "?", absl::StrJoin(q, "&"));
  return url;
}

bool Datastore::SameAs(const Datastore& other) const {
  return server == other.server && export_path == other.export_path &&
         nfsport == other.nfsport;
}

absl::StatusOr<NfsUrl> ParseNfsUrl(absl::string_view url) {
  constexpr absl::string_view kScheme = "nfs://";
  if (!absl::StartsWithIgnoreCase(url, kScheme)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", url, "\" is not an nfs:// URL"));
  }
  absl::string_view rest = url.substr(kScheme.size());
  absl::string_view query;
  if (size_t q = rest.find('?'); q != absl::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  const size_t slash = rest.find('/');
  if (slash == 0 || slash == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("URL \"", url, "\" needs a server and a path: nfs://host/export/file"));
  }
  NfsUrl out;
  out.server = std::string(rest.substr(0, slash));
  if (out.server.find(':') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "URL \"", url,
        "\": host:port is not supported; use ?nfsport=PORT&mountport=PORT"));
  }
  auto path = NormalizeAbsolute(rest.substr(slash));
  if (!path.ok()) return path.status();
  out.path = *std::move(path);
  for (absl::string_view kv : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    if (p.first == "nfsport" || p.first == "mountport") {
      uint32_t port = 0;
      if (!absl::SimpleAtoi(p.second, &port) || port == 0 || port > 65535) {
        return absl::InvalidArgumentError(
            absl::StrCat("URL \"", url, "\": bad ", p.first, " \"", p.second, "\""));
      }
      (p.first == "nfsport" ? out.nfsport : out.mountport) = port;
    } else {
      out.extra.push_back(std::move(p));
    }
  }
  return out;
}

absl::StatusOr<NfsLocation> ResolvePath(absl::string_view arg,
                                        const Datastore& session,
                                        const std::vector<std::string>& known_exports) {
  if (arg.empty()) return absl::InvalidArgumentError("empty path");
  NfsLocation loc;
  if (absl::StartsWithIgnoreCase(arg, "nfs://")) {
    auto url = ParseNfsUrl(arg);
    if (!url.ok()) return url.status();
    std::string best;
    std::vector<std::string> exports = known_exports;
    exports.push_back(session.export_path);
    for (const std::string& e : exports) {
      auto norm = NormalizeAbsolute(e);
      if (!norm.ok()) continue;
      if (IsUnder(url->path, *norm) && url->path != *norm &&
          norm->size() > best.size()) {
        best = *norm;
      }
    }
    if (best.empty()) {
      // Unknown export: mount the file's directory, as libnfs's nfs-cp does.
      const size_t last = url->path.rfind('/');
      best = last == 0 ? "/" : url->path.substr(0, last);
    }
    loc.datastore.server = url->server;
    loc.datastore.export_path = best;
    loc.datastore.nfsport = url->nfsport;
    loc.datastore.mountport = url->mountport;
    loc.path = StripPrefix(url->path, best);
    if (loc.path.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("URL \"", arg, "\" names no file"));
    }
    return loc;
  }
  loc.datastore = session;
  if (arg.front() == '/') {
    auto norm = NormalizeAbsolute(arg);
    if (!norm.ok()) return norm.status();
    auto exp = NormalizeAbsolute(session.export_path);
    if (!exp.ok()) return exp.status();
    if (!IsUnder(*norm, *exp) || *norm == *exp) {
      return absl::InvalidArgumentError(absl::StrCat(
          "path \"", arg, "\" is not a file inside export ", session.export_path));
    }
    loc.path = StripPrefix(*norm, *exp);
    return loc;
  }
  auto norm = NormalizeAbsolute(absl::StrCat("/", arg));
  if (!norm.ok()) return norm.status();
  if (*norm == "/") return absl::InvalidArgumentError("empty path");
  loc.path = norm->substr(1);
  return loc;
}

}  // namespace vnas::plugin
