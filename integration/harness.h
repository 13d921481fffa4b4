// harness.h — test harness for integration tests: runs the real vnasd
// binary on loopback and external client commands.
//
// Example:
//   auto d = vnas::harness::Vnasd::Start({});       // fresh data dir, free port
//   ASSERT_TRUE(d.ok()) << d.status();
//   auto r = vnas::harness::RunCommand("nfs-ls '" + (*d)->Url("") + "'");
//   EXPECT_EQ(r.exit_code, 0) << r.output;
//   ASSERT_TRUE((*d)->Restart().ok());              // SIGTERM + start
//   ASSERT_TRUE((*d)->Restart(/*kill9=*/true).ok()); // crash + start
//
// qemu-img/qemu-io cannot name NFS ports: they always ask the portmapper on
// 127.0.0.1:111. Such tests link //integration:netns_gtest_main, which puts
// the test process (as root) into a private network namespace before any
// thread starts; there vnasd may own port 111 (Options::portmap = true)
// without touching the machine's.
//
// Thread safety: none; use from the test thread.
#ifndef VNAS_INTEGRATION_HARNESS_H_
#define VNAS_INTEGRATION_HARNESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vnas::harness {

struct CommandResult {
  int exit_code = -1;  // 124 when the timeout killed it
  std::string output;  // stdout and stderr, interleaved
};

// RunCommand()
// Runs `command` with /bin/sh, capturing its output; killed after
// `timeout_s` seconds.
CommandResult RunCommand(const std::string& command, int timeout_s = 60);

// EnterPrivateNetns()
// unshare(CLONE_NEWNET) and bring lo up. Must run before any thread exists.
// Fails (and changes nothing) when not root or not permitted.
absl::Status EnterPrivateNetns();
// True after a successful EnterPrivateNetns() in this process.
bool InPrivateNetns();

// A fresh directory under $TEST_TMPDIR (or /tmp).
std::string MakeTempDir(const std::string& prefix);
// A TCP port on 127.0.0.1 that was free a moment ago.
int PickFreePort();
// Path of the vnasd binary in the test's runfiles ($VNAS_VNASD overrides).
std::string VnasdPath();
// Whole contents of a file ("" when missing).
std::string ReadFile(const std::string& path);
// Writes `n` pseudo-random bytes (seeded) to `path`; returns false on error.
bool WriteRandomFile(const std::string& path, size_t n, uint32_t seed);
// Writes 1 MiB blocks to a new file `path` until its file system is full;
// returns false if the file cannot be created.
bool FillFileSystem(const std::string& path);

class Vnasd {
 public:
  struct Options {
    std::string data_dir;      // "" = a fresh temp dir
    int nfs_port = 0;          // 0 = a free port
    bool portmap = false;      // serve PMAP2 on 127.0.0.1:111 (netns only)
    // Listen for NFS (and the portmapper) on [::] (IPv6 and, dual-stack,
    // IPv4) instead of 127.0.0.1.
    bool dual_stack = false;
    std::string exports;       // exports file text; "" = vnasd's default
    uint64_t capacity = 8ull << 30;
    std::vector<std::string> extra_flags;
  };

  // Vnasd::Start()
  // Starts vnasd and waits (≤ 15 s) until it answers an RPC NULL call on the
  // NFS port. Fails with the daemon's output when it exits or times out.
  static absl::StatusOr<std::unique_ptr<Vnasd>> Start(Options options);
  ~Vnasd();  // SIGKILLs a daemon still running

  // Stops (SIGTERM, or SIGKILL when kill9) and starts again on the same
  // data dir and ports.
  absl::Status Restart(bool kill9 = false);
  // SIGTERM and wait; returns the exit status (0 = clean shutdown).
  absl::StatusOr<int> Stop();
  void Kill9();

  int nfs_port() const { return port_; }
  // The gRPC control port on 127.0.0.1 (picked once; kept across restarts
  // unless extra_flags override --control_listen).
  int control_port() const { return control_port_; }
  const std::string& data_dir() const { return opts_.data_dir; }
  pid_t pid() const { return pid_; }
  // Everything the daemon printed so far (all runs).
  std::string Output() const;
  // "nfs://127.0.0.1/vnas/<path>?nfsport=P&mountport=P" (path without a
  // leading '/'; "" = the export root).
  std::string Url(const std::string& path) const;
  // Url() over IPv6 loopback: "nfs://::1/vnas/<path>?nfsport=P&mountport=P"
  // (libnfs takes the address without brackets).
  std::string Url6(const std::string& path) const;
  // "nfs://127.0.0.1/vnas/<path>" for clients that use the portmapper.
  std::string PortmapUrl(const std::string& path) const;

 private:
  explicit Vnasd(Options o) : opts_(std::move(o)) {}
  absl::Status Spawn();
  absl::Status WaitReady();

  Options opts_;
  int port_ = 0;
  int control_port_ = 0;
  pid_t pid_ = -1;
  std::string log_path_;
};

// Sends an RPC NULL call (program/version) to 127.0.0.1:port; true when a
// reply came back within `timeout_ms`.
bool RpcPing(int port, uint32_t prog, uint32_t vers, int timeout_ms);

}  // namespace vnas::harness

#endif  // VNAS_INTEGRATION_HARNESS_H_
