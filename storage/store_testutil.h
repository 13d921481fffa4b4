// store_testutil.h — helpers shared by the ExtentStore tests (testonly).
#ifndef VNAS_STORAGE_STORE_TESTUTIL_H_
#define VNAS_STORAGE_STORE_TESTUTIL_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "storage/env/env.h"
#include "storage/extent_store.h"

namespace vnas::storage {

// A fresh directory name below $TEST_TMPDIR (or /tmp):
// "<name>-<pid>-<random>".
std::string TempDir(const std::string& name);

// Closes `*store` (if open), then opens `opts` into it; failing to open
// fails the test.
void ReopenStore(const StoreOptions& opts, std::unique_ptr<ExtentStore>* store);

// Reads up to `n` bytes of `ino` at `off`; a failed read fails the test and
// returns "".
std::string ReadBytes(ExtentStore* store, InodeId ino, uint64_t off,
                      uint32_t n);

// GateEnv — an Env decorator that holds member writes whose data begins
// with a chosen byte, so a test can stop a write at a known point (a write
// of new data between the claim of its segments and their mapping) and
// change the store meanwhile. Everything else passes through to `base`
// (rocksdb_env() included).
//
// Thread safety: all methods may be called concurrently.
class GateEnv final : public Env {
 public:
  // `base` is not owned and must outlive this.
  explicit GateEnv(Env* base) : base_(base) {}

  // GateEnv::Close()
  //
  // From now on, member writes (PWrite, PWriteV, PWriteVDurable) whose first
  // byte is `marker` stop at the gate: before they reach `base`
  // (`after_write` false) or once they have (true), until Open().
  void Close(char marker, bool after_write);
  // GateEnv::AwaitHeld()
  //
  // Blocks until `n` writes have reached the gate since Close().
  void AwaitHeld(int n);
  // GateEnv::Open()
  //
  // Lets the held writes, and every later one, through.
  void Open();

  absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                 bool create) override;
  bool FileExists(const std::string& path) override {
    return base_->FileExists(path);
  }
  absl::Status CreateDirs(const std::string& path) override {
    return base_->CreateDirs(path);
  }
  absl::StatusOr<uint64_t> FilesystemSize(const std::string& path) override {
    return base_->FilesystemSize(path);
  }
  absl::StatusOr<FsSpace> FilesystemSpace(const std::string& path) override {
    return base_->FilesystemSpace(path);
  }
  rocksdb::Env* rocksdb_env() override { return base_->rocksdb_env(); }

 private:
  class GatedFile;
  // Runs `write` for data starting with `first`, holding it as Close() says.
  absl::Status Pass(char first, const std::function<absl::Status()>& write);

  Env* const base_;
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool after_ ABSL_GUARDED_BY(mu_) = false;
  char marker_ ABSL_GUARDED_BY(mu_) = 0;
  int held_ ABSL_GUARDED_BY(mu_) = 0;  // reached the gate since Close()
};

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_STORE_TESTUTIL_H_
