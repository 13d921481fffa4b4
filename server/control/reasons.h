// reasons.h — refusal reasons carried inside absl::Status.
//
// The control plane explains every refusal with a vnas.v1.ReasonCode and
// human text. Inside server/control a refusal is an absl::Status whose
// canonical code is the gRPC code to return and which carries the reason as a
// payload, so one conversion at the service boundary yields the gRPC status,
// the "vnas-reason-code" trailer and the receipt fields.
//
// Payload (type URL "vnas.reason"): the ReasonCode number in decimal, e.g.
// "1" for REASON_VSS_SIBLING_REDO_LOGS. Absent: the reason follows the
// canonical code (ReasonOf).
//
// Thread safety: pure functions.
#ifndef VNAS_SERVER_CONTROL_REASONS_H_
#define VNAS_SERVER_CONTROL_REASONS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/vnas.pb.h"

namespace vnas::control {

// Refusal()
//
// A non-OK status with canonical code `code` carrying `reason`. The message
// is "<REASON_NAME>: <text>".
absl::Status Refusal(absl::StatusCode code, v1::ReasonCode reason,
                     absl::string_view text);

// WithReason(): `status` (non-OK) tagged with `reason`, message unchanged.
absl::Status WithReason(absl::Status status, v1::ReasonCode reason);

// ReasonOf()
//
// The reason carried by `status`; without a payload, a best fit for its
// canonical code and errno (NotFound -> REASON_NOT_FOUND, ENOSPC ->
// REASON_NO_SPACE, ...). REASON_NONE for OK.
v1::ReasonCode ReasonOf(const absl::Status& status);

// ReasonName(): the stable name without the "REASON_" prefix, e.g.
// "VSS_SIBLING_REDO_LOGS", "NONE".
std::string ReasonName(v1::ReasonCode reason);

// MakeReason(): fills a vnas.v1.Reason message.
v1::Reason MakeReason(v1::ReasonCode code, absl::string_view text);

// ReasonText(): the human text of `status` without the leading
// "<REASON_NAME>: " that Refusal() puts in front of gRPC messages, so that
// receipts and Reason messages, which carry the name separately, do not
// repeat it.
std::string ReasonText(const absl::Status& status);

// ReasonFromStatus(): the Reason message describing `status`.
v1::Reason ReasonFromStatus(const absl::Status& status);

}  // namespace vnas::control

#endif  // VNAS_SERVER_CONTROL_REASONS_H_
