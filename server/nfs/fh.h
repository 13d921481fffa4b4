// fh.h — persistent, opaque, unforgeable NFSv3 file handles.
//
// Handle format, version 1 (28 bytes; ESXi accepts ≤ 56):
//   byte  0       version = 1
//   byte  1       export index (position of the export in the exports file)
//   bytes 2..3    reserved, zero
//   bytes 4..11   inode number (fileid), big-endian
//   bytes 12..19  inode generation, big-endian
//   bytes 20..27  MAC = SipHash-2-4(key, bytes 0..19), little-endian
// The 128-bit key is per datastore and lives in <data_dir>/nfs-handle.key
// (created on first start, mode 0600), so handles survive restarts and
// cannot be forged by clients. Version values are never reused; a future
// layout gets version 2 and the decoder keeps reading version 1.
//
// Thread safety: FileHandleCodec is immutable after construction.
#ifndef VNAS_SERVER_NFS_FH_H_
#define VNAS_SERVER_NFS_FH_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/nfs/nfs3_types.h"

namespace vnas::nfs {

using HandleKey = std::array<uint8_t, 16>;

struct DecodedHandle {
  uint32_t export_index = 0;
  uint64_t ino = 0;
  uint64_t generation = 0;
};

inline constexpr uint8_t kHandleVersion = 1;
inline constexpr size_t kHandleSize = 28;

// SipHash-2-4 (Aumasson & Bernstein) of `data` under `key`.
uint64_t SipHash24(const HandleKey& key, absl::string_view data);

class FileHandleCodec {
 public:
  explicit FileHandleCodec(const HandleKey& key) : key_(key) {}

  // FileHandleCodec::Encode()
  // The handle of (export, ino, generation).
  FhBytes Encode(uint32_t export_index, uint64_t ino,
                 uint64_t generation) const;

  // FileHandleCodec::Decode()
  // Returns the fields of a handle this codec (same key) produced, or
  // nullopt for anything else (wrong length, version, MAC): BADHANDLE.
  std::optional<DecodedHandle> Decode(absl::string_view handle) const;

 private:
  const HandleKey key_;
};

// LoadOrCreateHandleKey()
//
// Reads the handle key from `path`, creating it from /dev/urandom (written
// durably, mode 0600) when the file does not exist. Fails when the file
// exists with the wrong size or cannot be read/written.
absl::StatusOr<HandleKey> LoadOrCreateHandleKey(const std::string& path);

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_FH_H_
