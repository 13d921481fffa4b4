#include "plugins/cli/args.h"

#include <cstring>
#include <string>

#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"

namespace vnas::cli {

void ShowFlagsOfFile(absl::string_view file_part) {
  absl::FlagsUsageConfig config;
  std::string part(file_part);
  config.contains_help_flags = [part](absl::string_view file) {
    return absl::StrContains(file, part);
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  absl::SetFlagsUsageConfig(config);
}

void DashFlagsToUnderscores(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* a = argv[i];
    if (a[0] != '-') continue;
    if (strcmp(a, "--") == 0) return;
    char* p = a + 1;
    if (*p == '-') ++p;
    for (; *p != '\0' && *p != '='; ++p) {
      if (*p == '-') *p = '_';
    }
  }
}

}  // namespace vnas::cli
