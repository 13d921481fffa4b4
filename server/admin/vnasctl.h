// vnasctl.h — the vnasctl commands, over the Control StubInterface (so the
// tests drive them with the generated MockControlStub).
//
// Every command prints a human-readable form by default and the full reply
// as JSON with `json` set. Exit codes: 0 success, 1 failure (the error text
// goes to `err`), 2 usage error.
#ifndef VNAS_SERVER_ADMIN_VNASCTL_H_
#define VNAS_SERVER_ADMIN_VNASCTL_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "plugins/cli/control_client.h"

namespace vnas::admin {

struct CtlOptions {
  bool json = false;
  bool terminal = false;   // stdout is a terminal: redraw progress in place
  bool lazy = false;       // clone
  bool dry_run = false;    // clone
  bool guarded = false;    // clone
  bool wait = false;       // clone of a VM directory: wait with progress
  bool all = false;        // ops: include finished operations
  bool follow = false;     // receipts: keep streaming
  uint32_t last = 20;      // receipts: how many
  std::string client_id = "vnasctl";
};

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// The command list for --help.
extern const char kVnasctlUsage[];

class Vnasctl {
 public:
  // `client`, `out` and `err` must outlive the object.
  Vnasctl(const cli::ControlClient* client, CtlOptions options, std::ostream* out,
          std::ostream* err);

  // Vnasctl::Run()
  //
  // Runs `args` (command and its arguments, e.g. {"space"} or
  // {"snapshot", "create", "vm1", "before-upgrade"}); returns the exit code.
  int Run(const std::vector<std::string>& args);

 private:
  int Space();
  int Stat(const std::string& path);
  int Clone(const std::string& src, const std::string& dst);
  int Ops(const std::vector<std::string>& args);
  int Snapshot(const std::vector<std::string>& args);
  int Reserve(const std::string& path, const std::string& size);
  int Chain(const std::string& path);
  int Receipts();
  int Alignment(const std::vector<std::string>& args);
  int Members();
  int Fsck();
  int Status();
  int Capabilities();

  // Follows operation `id` with a progress bar until it is final; prints the
  // final state. Returns 0 when it succeeded.
  int WatchOperation(const std::string& id);

  int Fail(const absl::Status& status);
  int Usage(const std::string& message);
  // Prints `msg` as JSON when json, else nothing; returns kExitOk.
  int PrintJson(const google::protobuf::Message& msg);

  const cli::ControlClient* client_;
  CtlOptions options_;
  std::ostream& out_;
  std::ostream& err_;
};

}  // namespace vnas::admin

#endif  // VNAS_SERVER_ADMIN_VNASCTL_H_
