// args.h — command-line helpers shared by vnas-offload and vnasctl.
#ifndef VNAS_PLUGINS_CLI_ARGS_H_
#define VNAS_PLUGINS_CLI_ARGS_H_

#include "absl/strings/string_view.h"

namespace vnas::cli {

// ShowFlagsOfFile()
//
// Makes --help list the flags defined in source files whose path contains
// `file_part` (e.g. "vnasctl_main"), instead of abseil's default guess from
// the program name.
void ShowFlagsOfFile(absl::string_view file_part);

// DashFlagsToUnderscores()
//
// Rewrites "--dry-run" / "--dry-run=x" to "--dry_run" in place (the flag
// name only, up to '='), so users may type either spelling of the
// abseil flags. Stops at a bare "--". `argv` strings must be writable.
void DashFlagsToUnderscores(int argc, char** argv);

}  // namespace vnas::cli

#endif  // VNAS_PLUGINS_CLI_ARGS_H_
