// libnfs_client.h — a small synchronous libnfs (C API) client for the
// integration tests: mount, high-level calls, and raw NFSv3 WRITE / COMMIT /
// GETATTR on explicit file handles (for stable-vs-unstable and
// handles-survive-restart checks).
#ifndef VNAS_INTEGRATION_LIBNFS_CLIENT_H_
#define VNAS_INTEGRATION_LIBNFS_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct nfs_context;

namespace vnas::harness {

class NfsClient {
 public:
  // Mounts `export_path` of 127.0.0.1 with NFS and MOUNT on `port`.
  // `url_options` are extra libnfs URL options, e.g. "&autoreconnect=0"
  // (calls fail at once when the server dies instead of waiting for it).
  static absl::StatusOr<std::unique_ptr<NfsClient>> Mount(
      int port, const std::string& export_path = "/vnas",
      const std::string& url_options = "");
  ~NfsClient();

  nfs_context* ctx() { return nfs_; }
  std::string Error() const;

  // The file handle of `path` (opened, read, closed).
  absl::StatusOr<std::string> Handle(const std::string& path);

  // Creates `path` with `mode` and, unless `data` is empty, writes `data` at
  // offset 0; an error if the CREATE fails or the WRITE is short.
  absl::Status CreateFile(const std::string& path, const std::string& data = "",
                          int mode = 0644);

  struct WriteReply {
    uint32_t status = 0;     // nfsstat3
    uint32_t count = 0;
    uint32_t committed = 0;  // stable_how
    std::string verf;        // 8 bytes
  };
  // Raw WRITE3 with the given stable_how (0 UNSTABLE, 1 DATA_SYNC, 2 FILE_SYNC).
  absl::StatusOr<WriteReply> RawWrite(const std::string& fh, uint64_t offset,
                                      const std::string& data, int stable);
  // Raw COMMIT3 of the whole file: status and verifier.
  absl::StatusOr<std::pair<uint32_t, std::string>> RawCommit(
      const std::string& fh);
  // Raw GETATTR3: nfsstat3, and size when OK.
  absl::StatusOr<std::pair<uint32_t, uint64_t>> RawGetattr(
      const std::string& fh);

 private:
  NfsClient() = default;
  nfs_context* nfs_ = nullptr;
};

}  // namespace vnas::harness

#endif  // VNAS_INTEGRATION_LIBNFS_CLIENT_H_
