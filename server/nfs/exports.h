// exports.h — the exports table: which client networks may use which part
// of the store, and how.
//
// File format (the shape of exports(5)); '#' starts a comment, one export per
// line:
//   <export-path> <client>(<opt>,<opt>...) [<client>(<opts>) ...]
//   /vnas      127.0.0.1/32(rw,no_root_squash) 10.0.0.0/8(ro,root_squash)
//   /vnas/vm1  192.168.1.0/24(rw)
// export-path: "/<datastore>[/<dir>...]"; the first component names the
//   datastore (the store root), the rest a directory inside the store.
// client: an IPv4 address, an IPv4 network "a.b.c.d/len", or "*" (anyone).
// options: rw | ro (default ro), root_squash (default) | no_root_squash,
//   all_squash | no_all_squash (default): root_squash maps uid/gid 0 to
//   65534, all_squash every uid/gid (access_check.h EffectiveCredential);
//   sync, async, secure, insecure, no_subtree_check, subtree_check are
//   accepted and ignored; anything else is an error.
// An export's index (its line order, from 0) is written into file handles,
// so reordering exports invalidates handles (clients then see STALE/ACCES).
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

namespace vnas::nfs {

struct ClientRule {
  std::string spec;        // as written, e.g. "10.0.0.0/8"
  uint32_t network = 0;    // host byte order
  uint32_t mask = 0;       // host byte order; 0 = anyone
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

  // The built-in default: "/vnas 127.0.0.1/32(rw,no_root_squash)".
  static ExportTable Default();

  const std::vector<Export>& exports() const { return exports_; }

  // ExportTable::Check()
  // What client `addr` (IPv4, host order) may do on export `index`; nullopt
  // when the index is unknown or no rule matches (ACCES). The first matching
  // rule wins.
  std::optional<ExportAccess> Check(uint32_t index, uint32_t addr) const;

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

 private:
  std::vector<Export> exports_;
};

// Parses "a.b.c.d" into host byte order.
bool ParseIpv4(absl::string_view s, uint32_t* addr);

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_EXPORTS_H_
