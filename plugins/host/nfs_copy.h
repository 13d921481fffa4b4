// nfs_copy.h — the host-side fallback copy: one file from one NFS datastore
// to another (or the same), through libnfs.
//
// Design. One thread drives `connections` libnfs contexts per side (one TCP
// connection each) with the async API (nfs_pread_async / nfs_pwrite_async,
// nfs_service polling). `depth` chunk slots cycle READ -> (zero check) ->
// WRITE, so up to `depth` large requests are in flight at once. The
// destination is created (or truncated) and extended to the source size
// first; all-zero chunks are never written, so holes stay holes. A COMMIT
// goes out every `commit_every` bytes while copying, and at the end every
// destination connection sends a final COMMIT (nfs_fsync).
//
// Memory: each copy owns a BufferPool of `depth` page-aligned chunk buffers,
// mapped and faulted in once when the copy starts; a chunk takes one when
// its READ is issued and gives it back when its WRITE is done (or skipped),
// so the data path allocates nothing of its own. The copy leaves the host
// process's allocator settings alone (a library must not change them).
//
// Cancellation: when the progress callback returns false the copy stops
// issuing, waits for requests in flight, removes the partial destination and
// fails Cancelled.
#ifndef VNAS_PLUGINS_HOST_NFS_COPY_H_
#define VNAS_PLUGINS_HOST_NFS_COPY_H_

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "plugins/host/nfs_url.h"

namespace vnas::plugin {

struct CopyOptions {
  uint32_t chunk_size = 1 << 20;  // bytes per READ/WRITE (clamped to the
                                  // servers' rtmax/wtmax)
  // Chunks in flight and libnfs contexts (TCP connections) per side. On the
  // 2-core loopback bench 8 x 1 beat 16 x 2: deeper queues only contend in
  // the server.
  int depth = 8;
  int connections = 1;
  bool skip_zeros = true;         // don't write all-zero chunks
  // Send a COMMIT after every this many bytes written (0 = only at the end)
  // so the server flushes while data still flows.
  uint64_t commit_every = 64ull << 20;
  bool guarded = false;           // fail AlreadyExists if dst exists
  bool create_parents = true;     // mkdir missing dst directories
  absl::Duration timeout = absl::Seconds(30);  // per call / no-progress limit
};

struct CopyResult {
  uint64_t size = 0;           // source logical size (= destination size)
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;  // data written to the destination
  uint64_t bytes_skipped = 0;  // all-zero bytes not written
  double seconds = 0;
};

// Called after every finished chunk with (bytes processed, total); return
// false to cancel. May be empty.
using CopyProgress = std::function<bool(uint64_t done, uint64_t total)>;

// CopyFile()
//
// Copies regular file `src` to `dst` (replacing an existing regular file
// unless options.guarded). Errors: NotFound (source or export missing),
// AlreadyExists (guarded), Unavailable (cannot connect / connection lost),
// DeadlineExceeded (no progress within options.timeout), ResourceExhausted
// (no space), PermissionDenied, Cancelled, Internal/DataLoss for I/O errors.
// The message names the side and the libnfs error text.
absl::StatusOr<CopyResult> CopyFile(const NfsLocation& src,
                                    const NfsLocation& dst,
                                    const CopyOptions& options,
                                    const CopyProgress& progress);

// MakeParentDirs()
//
// Creates the missing directories above `loc.path` over NFS (like
// mkdir -p of its dirname). OK when they exist already.
absl::Status MakeParentDirs(const NfsLocation& loc, absl::Duration timeout);

// NfsErrnoStatus()
//
// Status for a negative libnfs return / callback status (-errno), with
// `what` and libnfs's error text. Exposed for tests.
absl::Status NfsErrnoStatus(int neg_errno, absl::string_view what,
                            absl::string_view detail);

}  // namespace vnas::plugin

#endif  // VNAS_PLUGINS_HOST_NFS_COPY_H_
