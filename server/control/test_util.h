// test_util.h — an extent store on a temp dir plus an in-process control
// server on 127.0.0.1 port 0, and helpers to write files into the store.
#ifndef VNAS_SERVER_CONTROL_TEST_UTIL_H_
#define VNAS_SERVER_CONTROL_TEST_UTIL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "proto/vnas.grpc.pb.h"
#include "server/control/control_server.h"
#include "storage/extent_store.h"

namespace vnas::control::testing {

// A fresh temporary directory (removed by the destructor).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class ControlFixture {
 public:
  // Opens a store in a temp dir (2 members, 64 KiB segments, 1 GiB) and
  // starts a server on 127.0.0.1:0 with `opts` (listen is overridden).
  explicit ControlFixture(ControlServerOptions opts = {});
  ~ControlFixture();

  storage::ExtentStore* store() { return store_.get(); }
  v1::Control::Stub* stub() { return stub_.get(); }
  ControlServer* server() { return server_.get(); }

  // Makes directories along `path` ("a/b").
  storage::InodeId Mkdirs(const std::string& path);
  // Writes `data` as file `path` (parents made), mtime = now unless given.
  storage::InodeId WriteFile(const std::string& path, const std::string& data);
  // Sets a file's mtime (seconds since the epoch).
  void SetMtime(const std::string& path, int64_t sec);
  // The whole content of `path`; "" + failure when missing.
  absl::StatusOr<std::string> ReadFile(const std::string& path);
  bool Exists(const std::string& path);

 private:
  TempDir dir_;
  std::unique_ptr<storage::ExtentStore> store_;
  std::unique_ptr<ControlServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Control::Stub> stub_;
};

}  // namespace vnas::control::testing

#endif  // VNAS_SERVER_CONTROL_TEST_UTIL_H_
