// mount3.h — MOUNT v3 handlers (RFC 1813 Appendix I).
//
// MNT accepts the export root and any directory inside an export (qemu and
// nfs-cp mount the parent directory of the file), and returns the same
// handle LOOKUP would give for it: that of the innermost export around the
// path that lists the client (exports.h, nested exports), so a nested
// export's rules apply to it however the client reaches it. A path inside
// exports none of which lists the client is refused (MNT3ERR_ACCES). The
// path is made canonical first: empty and "." components are dropped and
// ".." takes back the component before it (which must be an existing
// directory, as for realpath(3)). A ".." that would leave the datastore
// names nothing exported (MNT3ERR_NOENT, as any path outside the exports);
// one that lands outside every export listing the client, even to come
// back in, is refused (MNT3ERR_ACCES).
//
// Thread safety: safe from any thread.
#ifndef VNAS_SERVER_NFS_MOUNT3_H_
#define VNAS_SERVER_NFS_MOUNT3_H_

#include <set>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "server/nfs/call_context.h"
#include "server/nfs/exports.h"
#include "server/nfs/fh.h"
#include "server/nfs/mount_types.h"
#include "storage/extent_store.h"

namespace vnas::nfs {

class MountProcs {
 public:
  // Pointers are not owned and must outlive this object.
  MountProcs(storage::ExtentStore* store, const ExportTable* exports,
             const FileHandleCodec* fh)
      : store_(store), exports_(exports), fh_(fh) {}

  mountres3 Mnt(const CallContext& ctx, absl::string_view dirpath);
  mountlist Dump(const CallContext& ctx);
  void Umnt(const CallContext& ctx, absl::string_view dirpath);
  void Umntall(const CallContext& ctx);
  exports Export(const CallContext& ctx);

 private:
  storage::ExtentStore* const store_;
  const ExportTable* const exports_;
  const FileHandleCodec* const fh_;
  absl::Mutex mu_;
  // (client address, mounted path): informational, as in rmtab.
  std::set<std::pair<std::string, std::string>> mounts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_MOUNT3_H_
