#include "server/control/reasons.h"

#include <cerrno>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "storage/base/status_util.h"

namespace vnas::control {
namespace {
constexpr char kReasonUrl[] = "vnas.reason";
}  // namespace

absl::Status Refusal(absl::StatusCode code, v1::ReasonCode reason,
                     absl::string_view text) {
  absl::Status s(code, absl::StrCat(ReasonName(reason), ": ", text));
  return WithReason(std::move(s), reason);
}

absl::Status WithReason(absl::Status status, v1::ReasonCode reason) {
  if (status.ok()) return status;
  status.SetPayload(kReasonUrl, absl::Cord(absl::StrCat(static_cast<int>(reason))));
  return status;
}

v1::ReasonCode ReasonOf(const absl::Status& status) {
  if (status.ok()) return v1::REASON_NONE;
  if (auto p = status.GetPayload(kReasonUrl)) {
    int n = 0;
    if (absl::SimpleAtoi(std::string(*p), &n) && v1::ReasonCode_IsValid(n)) {
      return static_cast<v1::ReasonCode>(n);
    }
  }
  switch (vnas::ErrnoOf(status)) {
    case ENOSPC:
      return v1::REASON_NO_SPACE;
    case EEXIST:
      return v1::REASON_DESTINATION_EXISTS;
    case EISDIR:
      return v1::REASON_NOT_A_REGULAR_FILE;
    case ENOTDIR:
      return v1::REASON_NOT_A_DIRECTORY;
    default:
      break;
  }
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return v1::REASON_NOT_FOUND;
    case absl::StatusCode::kAlreadyExists:
      return v1::REASON_DESTINATION_EXISTS;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return v1::REASON_INVALID_ARGUMENT;
    case absl::StatusCode::kCancelled:
      return v1::REASON_CANCELLED;
    case absl::StatusCode::kResourceExhausted:
      return v1::REASON_NO_SPACE;
    default:
      return v1::REASON_STORE_ERROR;
  }
}

std::string ReasonName(v1::ReasonCode reason) {
  std::string name = v1::ReasonCode_Name(reason);
  if (name.empty()) return absl::StrCat("REASON_", static_cast<int>(reason));
  if (absl::StartsWith(name, "REASON_")) name = name.substr(7);
  return name;
}

v1::Reason MakeReason(v1::ReasonCode code, absl::string_view text) {
  v1::Reason r;
  r.set_code(code);
  r.set_name(ReasonName(code));
  r.set_text(std::string(text));
  return r;
}

std::string ReasonText(const absl::Status& status) {
  absl::string_view text = status.message();
  absl::ConsumePrefix(&text, absl::StrCat(ReasonName(ReasonOf(status)), ": "));
  return std::string(text);
}

v1::Reason ReasonFromStatus(const absl::Status& status) {
  return MakeReason(ReasonOf(status), ReasonText(status));
}

}  // namespace vnas::control
