// exports.h — the exports table: which client networks may use which part
// of the store, and how.
//
// File format (the shape of exports(5)); '#' starts a comment, one export per
// line:
//   <export-path> <client>(<opt>,<opt>...) [<client>(<opts>) ...]
//   /vnas      127.0.0.1/32(rw,no_root_squash) 10.0.0.0/8(ro,root_squash)
//   /vnas/vm1  192.168.1.0/24(rw) fd00:1::/64(rw)
// export-path: "/<datastore>[/<dir>...]"; the first component names the
//   datastore (the store root), the rest a directory inside the store.
// client: an IPv4 address or network "a.b.c.d[/len]", an IPv6 address or
//   network "2001:db8::/32" (RFC 4291 text, no brackets), or "*" (anyone).
//   An IPv4 rule matches IPv4 clients only (also those that reach a
//   dual-stack listener), an IPv6 rule IPv6 clients only.
// options: rw | ro (default ro), root_squash (default) | no_root_squash,
//   all_squash | no_all_squash (default): root_squash maps uid/gid 0 to
//   65534, all_squash every uid/gid (access_check.h EffectiveCredential);
//   sync, async, secure, insecure, no_subtree_check, subtree_check are
//   accepted and ignored; anything else is an error.
// An export's index (its line order, from 0) is written into file handles,
// so reordering exports invalidates handles (clients then see STALE/ACCES).
//
// Nested exports (an export path inside another, e.g. /vnas and /vnas/vm1)
// are per client, as with Linux's mountd and knfsd: to a client that a
// nested export lists, the nested export's directory and everything below
// it belong to the nested export (its rules apply, whether the client
// mounts it or walks into it from the outer export); to a client it does
// not list, that directory is an ordinary directory of the export around
// it. So the export that applies to a directory for a client is the
// innermost export that contains it and lists the client (FindForClient).
//
// Thread safety: immutable after Parse().
#ifndef VNAS_SERVER_NFS_EXPORTS_H_
#define VNAS_SERVER_NFS_EXPORTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/nfs/client_addr.h"

namespace vnas::nfs {

struct ClientRule {
  std::string spec;        // as written, e.g. "10.0.0.0/8"
  bool anyone = false;     // "*"
  ClientAddr network;      // masked to `bits`
  int bits = 128;          // leading bits of the 16-byte form that must match
  bool v4 = false;         // an IPv4 rule (IPv4 clients only)
  bool rw = false;
  bool root_squash = true;
  bool all_squash = false;
};

struct Export {
  std::string name;        // "/vnas/vm1"
  std::string store_path;  // "vm1" ("" = store root)
  std::vector<ClientRule> clients;
};

// Kept by the caller per request: what the matched rule grants.
struct ExportAccess {
  bool rw = false;
  bool root_squash = true;
  bool all_squash = false;
};

inline constexpr uint32_t kSquashedId = 65534;

class ExportTable {
 public:
  // ExportTable::Parse()
  // Parses the file format above. Fails InvalidArgument with the line
  // number on a malformed line; an empty table is an error.
  static absl::StatusOr<ExportTable> Parse(absl::string_view text);

  // The built-in default, loopback only:
  // "/vnas 127.0.0.1/32(rw,no_root_squash) ::1/128(rw,no_root_squash)".
  static ExportTable Default();

  const std::vector<Export>& exports() const { return exports_; }

  // ExportTable::Check()
  // What client `addr` may do on export `index`; nullopt
  // when the index is unknown or no rule matches (ACCES). The first matching
  // rule wins.
  std::optional<ExportAccess> Check(uint32_t index, const ClientAddr& addr) const;

  // ExportTable::FindForPath()
  // The export whose name is the longest component-wise prefix of `path`
  // (e.g. "/vnas/vm1/x" → "/vnas/vm1" when exported, else "/vnas"), and the
  // rest of the path inside the store ("vm1/x" for export "/vnas"). nullopt
  // when no export covers the path or it contains "." / ".." components.
  struct PathMatch {
    uint32_t index = 0;
    std::string store_path;  // full path inside the store, "" = root
  };
  std::optional<PathMatch> FindForPath(absl::string_view path) const;

  // ExportTable::FindForClient()
  // Like FindForPath(), but among the exports with a rule matching client
  // `addr` only: the export that applies to `path` for that client (see
  // "Nested exports" above). nullopt when none; FindForPath() then tells
  // "nothing is exported there" (NOENT) from "not to this client" (ACCES).
  std::optional<PathMatch> FindForClient(absl::string_view path,
                                         const ClientAddr& addr) const;

  // ExportTable::NestedNamed()
  // The exports strictly inside export `outer` (by name) whose last path
  // component is `name` and that have a rule matching `addr`: the exports
  // whose root an entry `name` of a directory of `outer` may be. Empty for
  // an unknown `outer`.
  std::vector<uint32_t> NestedNamed(uint32_t outer, absl::string_view name,
                                    const ClientAddr& addr) const;

  // ExportTable::Enclosing()
  // The exports strictly around export `inner` (by name) that have a rule
  // matching `addr`, innermost first. Empty for an unknown `inner`.
  std::vector<uint32_t> Enclosing(uint32_t inner, const ClientAddr& addr) const;

 private:
  std::vector<Export> exports_;
  // Per export, in the same order: its name's components, and the indices
  // of the exports strictly inside it.
  std::vector<std::vector<std::string>> comps_;
  std::vector<std::vector<uint32_t>> nested_;

  // FindForPath() when `addr` is unset, else FindForClient().
  std::optional<PathMatch> Find(absl::string_view path,
                                std::optional<ClientAddr> addr) const;
};


}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_EXPORTS_H_
