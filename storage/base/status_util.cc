#include "storage/base/status_util.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vnas {
namespace {

constexpr char kErrnoUrl[] = "vnas.errno";
constexpr char kRetryableUrl[] = "vnas.retryable";
constexpr char kDataLossUrl[] = "vnas.data_loss";

absl::StatusCode CodeForErrno(int err) {
  switch (err) {
    case ENOENT:
      return absl::StatusCode::kNotFound;
    case EEXIST:
      return absl::StatusCode::kAlreadyExists;
    case ENOSPC:
    case EDQUOT:
      return absl::StatusCode::kResourceExhausted;
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::StatusCode::kPermissionDenied;
    case EINVAL:
    case ENAMETOOLONG:
    case EFBIG:
      return absl::StatusCode::kInvalidArgument;
    case ENOTDIR:
    case EISDIR:
    case ENOTEMPTY:
    case EXDEV:
    case EMLINK:
    case ESTALE:
      return absl::StatusCode::kFailedPrecondition;
    case EAGAIN:
    case EINTR:
      return absl::StatusCode::kUnavailable;
    case ENOTSUP:
      return absl::StatusCode::kUnimplemented;
    default:
      return absl::StatusCode::kInternal;
  }
}

int ErrnoForCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kNotFound:
      return ENOENT;
    case absl::StatusCode::kAlreadyExists:
      return EEXIST;
    case absl::StatusCode::kResourceExhausted:
      return ENOSPC;
    case absl::StatusCode::kPermissionDenied:
      return EACCES;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return EINVAL;
    case absl::StatusCode::kUnimplemented:
      return ENOTSUP;
    case absl::StatusCode::kUnavailable:
      return EAGAIN;
    default:
      return EIO;
  }
}

}  // namespace

absl::Status FsError(int err, absl::string_view message) {
  absl::Status status(CodeForErrno(err), message);
  status.SetPayload(kErrnoUrl, absl::Cord(absl::StrCat(err)));
  return status;
}

int ErrnoOf(const absl::Status& status) {
  if (status.ok()) return 0;
  if (auto payload = status.GetPayload(kErrnoUrl)) {
    int err = 0;
    if (absl::SimpleAtoi(std::string(*payload), &err) && err > 0) return err;
  }
  return ErrnoForCode(status.code());
}

absl::Status IoError(int err, absl::string_view what, bool retryable) {
  absl::Status status =
      FsError(err == 0 ? EIO : err, absl::StrCat(what, ": ", strerror(err)));
  if (err == EIO || err == 0) status = MarkDataLoss(std::move(status));
  if (retryable || err == ENOSPC || err == EAGAIN || err == EINTR) {
    status = MarkRetryable(std::move(status));
  }
  return status;
}

absl::Status MarkRetryable(absl::Status status) {
  if (!status.ok()) status.SetPayload(kRetryableUrl, absl::Cord("1"));
  return status;
}

absl::Status MarkDataLoss(absl::Status status) {
  if (!status.ok()) status.SetPayload(kDataLossUrl, absl::Cord("1"));
  return status;
}

bool HasRetryableTag(const absl::Status& status) {
  return status.GetPayload(kRetryableUrl).has_value();
}

bool HasDataLossTag(const absl::Status& status) {
  return status.GetPayload(kDataLossUrl).has_value();
}

}  // namespace vnas
