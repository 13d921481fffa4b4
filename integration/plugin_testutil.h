// plugin_testutil.h — helpers for the plugin and vnasctl integration tests:
// a live vnasd with a known control port, files over NFS (libnfs), the
// vnas-offload / vnasctl binaries, and a small JSON reader for their --json
// output.
#ifndef VNAS_INTEGRATION_PLUGIN_TESTUTIL_H_
#define VNAS_INTEGRATION_PLUGIN_TESTUTIL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "integration/harness.h"
#include "integration/libnfs_client.h"

namespace vnas::plugintest {

// A JSON value (numbers kept as their text; AsUint/AsInt parse it).
struct Json {
  enum Type { kNull, kBool, kNumber, kString, kArray, kObject } type = kNull;
  bool b = false;
  std::string text;  // number text or string value
  std::vector<Json> items;
  std::map<std::string, Json> fields;

  // Parses one JSON document (trailing whitespace allowed).
  static absl::StatusOr<Json> Parse(const std::string& s);

  // Path lookup: "store.used", "vms.0.name". A missing step returns a null
  // value.
  const Json& At(const std::string& path) const;
  uint64_t AsUint() const;
  int64_t AsInt() const;
  const std::string& Str() const { return text; }
  bool Bool() const { return b; }
  size_t size() const { return type == kArray ? items.size() : fields.size(); }
  bool is_null() const { return type == kNull; }
};

// A running vnasd (harness) plus its control endpoint.
struct Live {
  std::unique_ptr<harness::Vnasd> vnasd;
  int control_port = 0;
  std::unique_ptr<harness::NfsClient> nfs;

  std::string Control() const;  // "127.0.0.1:PORT"
  // nfs:// URL of `path` with the ports.
  std::string Url(const std::string& path) const { return vnasd->Url(path); }
  // "<vnasctl> --control ... " prefix, ready for arguments.
  std::string Vnasctl() const;
  // "<vnas-offload> --control ... " prefix.
  std::string Offload() const;

  // Writes `data` to `path` (mkdir -p of its directory; replaces the file).
  absl::Status Write(const std::string& path, const std::string& data);
  // Writes `data` at `offset` of an existing or new file (no truncation).
  absl::Status WriteAt(const std::string& path, uint64_t offset, const std::string& data);
  absl::Status Mkdirs(const std::string& dir);
  absl::StatusOr<std::string> Read(const std::string& path);
  bool Exists(const std::string& path);
};

// Starts vnasd (fresh data dir, free ports) and mounts /vnas.
absl::StatusOr<std::unique_ptr<Live>> StartLive();

// Path of a binary in the test's runfiles, e.g. "server/admin/vnasctl".
std::string BinPath(const std::string& rel);

// Runs `cmd`, returning exit code and stdout only (stderr is dropped to
// keep --json parseable unless `with_stderr`).
harness::CommandResult RunCmd(const std::string& cmd, bool with_stderr = false,
                              int timeout_s = 60);

// Runs `prefix + args + " --json"` (prefix: Live::Vnasctl() or
// Live::Offload()), expects exit code `want_exit` and parseable stdout, and
// returns it parsed (a null value if it does not parse).
Json RunJson(const std::string& prefix, const std::string& args, int want_exit);

// A fixture with a live vnasd (StartLive) in `live_`.
class LiveTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // Runs vnasctl with --json; checks the exit code; parses stdout.
  Json Ctl(const std::string& args, int want_exit = 0) {
    return RunJson(live_->Vnasctl(), args, want_exit);
  }

  std::unique_ptr<Live> live_;
};

// Deterministic bytes for test data.
std::string RandomBytes(size_t n, uint32_t seed);

}  // namespace vnas::plugintest

#endif  // VNAS_INTEGRATION_PLUGIN_TESTUTIL_H_
