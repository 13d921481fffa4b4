// vnasctl — the vnas admin CLI. Talks to vnasd's control plane only.
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "plugins/cli/args.h"
#include "plugins/cli/control_client.h"
#include "server/admin/vnasctl.h"

ABSL_FLAG(std::string, control, "127.0.0.1:50051", "vnasd control endpoint host:port");
ABSL_FLAG(std::string, token_file, "", "file holding the bearer token (non-loopback endpoints)");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA bundle that signed vnasd's control TLS certificate");
ABSL_FLAG(bool, json, false, "print the full reply as JSON");
ABSL_FLAG(int, timeout, 30, "seconds per call");
ABSL_FLAG(bool, lazy, false, "clone: fast (linked) clone through a snapshot");
ABSL_FLAG(bool, dry_run, false, "clone: only report what would happen and why");
ABSL_FLAG(bool, guarded, false, "clone: fail if the destination exists");
ABSL_FLAG(bool, wait, false, "clone of a VM directory: wait, showing progress");
ABSL_FLAG(bool, all, false, "ops: include finished operations");
ABSL_FLAG(bool, follow, false, "receipts: keep streaming new receipts");
ABSL_FLAG(uint32_t, last, 20, "receipts: how many of the newest to show");
ABSL_FLAG(std::string, client_id, "vnasctl", "name recorded in receipts");

int main(int argc, char** argv) {
  vnas::cli::DashFlagsToUnderscores(argc, argv);
  vnas::cli::ShowFlagsOfFile("vnasctl_main");
  absl::SetProgramUsageMessage(vnas::admin::kVnasctlUsage);
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(rest.begin() + 1, rest.end());

  auto token = vnas::cli::ReadTokenFile(absl::GetFlag(FLAGS_token_file));
  if (!token.ok()) {
    std::cerr << "vnasctl: " << token.status().message() << "\n";
    return vnas::admin::kExitUsage;
  }
  auto ca = vnas::cli::ReadWholeFile(absl::GetFlag(FLAGS_tls_ca));
  if (!ca.ok()) {
    std::cerr << "vnasctl: " << ca.status().message() << "\n";
    return vnas::admin::kExitUsage;
  }
  auto client = vnas::cli::ControlClient::Connect(absl::GetFlag(FLAGS_control), *token,
                                                  absl::Seconds(absl::GetFlag(FLAGS_timeout)), *ca);
  vnas::admin::CtlOptions o;
  o.json = absl::GetFlag(FLAGS_json);
  o.terminal = isatty(STDOUT_FILENO) == 1;
  o.lazy = absl::GetFlag(FLAGS_lazy);
  o.dry_run = absl::GetFlag(FLAGS_dry_run);
  o.guarded = absl::GetFlag(FLAGS_guarded);
  o.wait = absl::GetFlag(FLAGS_wait);
  o.all = absl::GetFlag(FLAGS_all);
  o.follow = absl::GetFlag(FLAGS_follow);
  o.last = absl::GetFlag(FLAGS_last);
  o.client_id = absl::GetFlag(FLAGS_client_id);
  vnas::admin::Vnasctl ctl(client.get(), o, &std::cout, &std::cerr);
  return ctl.Run(args);
}
