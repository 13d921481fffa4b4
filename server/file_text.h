// file_text.h — reading a small local file (a certificate, a token, a
// cgroup limit) whole.
#ifndef VNAS_SERVER_FILE_TEXT_H_
#define VNAS_SERVER_FILE_TEXT_H_

#include <string>

#include "absl/status/statusor.h"

namespace vnas::server {

// The file's bytes; FailedPrecondition ("cannot read \"<path>\"") when it
// cannot be opened.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

}  // namespace vnas::server

#endif  // VNAS_SERVER_FILE_TEXT_H_
