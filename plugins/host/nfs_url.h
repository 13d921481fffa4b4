// nfs_url.h — libnfs-style NFS URLs and datastore locations.
//
// URL grammar (libnfs 4.0.0, lib/libnfs.c nfs_parse_url; there is no
// host:port form):
//   nfs://<server>/<absolute path>[?key=value[&key=value]...]
// Recognized keys: nfsport, mountport (ports; no portmapper needed). Other
// libnfs keys (uid, gid, ...) are kept and passed through.
#ifndef VNAS_PLUGINS_HOST_NFS_URL_H_
#define VNAS_PLUGINS_HOST_NFS_URL_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vnas::plugin {

// One datastore: an NFS export on a server.
struct Datastore {
  std::string server;       // host name or address
  std::string export_path;  // "/vnas"
  uint32_t nfsport = 0;     // 0 = portmapper
  uint32_t mountport = 0;   // 0 = portmapper

  // libnfs URL of the export root (or of `rel` inside it), with the ports.
  std::string Url(absl::string_view rel = "") const;
  // Same server, export and NFS port.
  bool SameAs(const Datastore& other) const;
};

// A file on a datastore.
struct NfsLocation {
  Datastore datastore;
  std::string path;  // relative to the export root, no leading '/'
};

struct NfsUrl {
  std::string server;
  std::string path;  // absolute, normalized ('//' collapsed, no trailing '/')
  uint32_t nfsport = 0;
  uint32_t mountport = 0;
  std::vector<std::pair<std::string, std::string>> extra;  // other keys
};

// ParseNfsUrl()
//
// Parses `url`. Fails InvalidArgument for another scheme, a missing server
// or path, "host:port" (not supported by libnfs), bad port numbers, or
// "." / ".." components.
absl::StatusOr<NfsUrl> ParseNfsUrl(absl::string_view url);

// ResolvePath()
//
// Turns a path argument into a location on `session` (the datastore of the
// session) following vnas_offload.h: relative ("vm1/a.vmdk") and absolute
// ("/vnas/vm1/a.vmdk") paths are on `session`; an nfs:// URL names its own
// datastore whose export is the longest of `known_exports` that prefixes the
// URL path (the session's export is always known), or else the URL's parent
// directory. Fails InvalidArgument for an absolute path outside the export,
// "." / ".." components or an empty path.
absl::StatusOr<NfsLocation> ResolvePath(absl::string_view arg,
                                        const Datastore& session,
                                        const std::vector<std::string>& known_exports = {});

}  // namespace vnas::plugin

#endif  // VNAS_PLUGINS_HOST_NFS_URL_H_
