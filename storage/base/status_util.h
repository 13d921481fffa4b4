// status_util.h — error helpers shared by every vnas module.
//
// Errors are absl::Status values. A storage error that a file-system front end
// must report precisely (ENOTDIR vs EISDIR vs ENOTEMPTY, ...) carries the POSIX
// errno as a payload, so the NFS front end maps it to the exact nfsstat3 and
// the control plane maps the canonical code to gRPC without a table.
//
// Payloads (type URLs):
//   "vnas.errno"      decimal errno, e.g. "20" for ENOTDIR
//   "vnas.retryable"  present when retrying the same call may succeed (I/O
//                     error that may be transient, e.g. ENOSPC after a free)
//   "vnas.data_loss"  present when data may have been lost or corrupted
#ifndef VNAS_STORAGE_BASE_STATUS_UTIL_H_
#define VNAS_STORAGE_BASE_STATUS_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vnas {

// FsError()
//
// Returns a non-OK status whose canonical code follows `err` (ENOENT ->
// NotFound, EEXIST -> AlreadyExists, ENOSPC -> ResourceExhausted, ...) and
// that carries `err` as the "vnas.errno" payload. `err` must be non-zero.
absl::Status FsError(int err, absl::string_view message);

// ErrnoOf()
//
// Returns the errno carried by `status`: the "vnas.errno" payload when
// present, otherwise a best-fit errno for the canonical code (EIO for
// unknown). Returns 0 for OK.
int ErrnoOf(const absl::Status& status);

// IoError()
//
// An I/O failure from the OS (`err` from errno), tagged retryable or
// data-loss. `what` names the operation and file.
absl::Status IoError(int err, absl::string_view what, bool retryable = false);

// Tags and queries for the two I/O payloads.
absl::Status MarkRetryable(absl::Status status);
absl::Status MarkDataLoss(absl::Status status);
bool HasRetryableTag(const absl::Status& status);
bool HasDataLossTag(const absl::Status& status);

}  // namespace vnas

// VNAS_RETURN_IF_ERROR(expr): returns the status of `expr` when it is not OK.
#define VNAS_RETURN_IF_ERROR(expr)                 \
  do {                                             \
    ::absl::Status vnas_status_ = (expr);          \
    if (!vnas_status_.ok()) return vnas_status_;   \
  } while (0)

#define VNAS_STATUS_CONCAT_INNER_(a, b) a##b
#define VNAS_STATUS_CONCAT_(a, b) VNAS_STATUS_CONCAT_INNER_(a, b)

// VNAS_ASSIGN_OR_RETURN(lhs, expr): evaluates the StatusOr `expr`; on error
// returns its status, otherwise assigns (moves) the value to `lhs`, which may
// be a declaration (`auto x`).
#define VNAS_ASSIGN_OR_RETURN(lhs, expr)                                    \
  VNAS_ASSIGN_OR_RETURN_IMPL_(VNAS_STATUS_CONCAT_(vnas_sor_, __LINE__), lhs, \
                              expr)
#define VNAS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

#endif  // VNAS_STORAGE_BASE_STATUS_UTIL_H_
