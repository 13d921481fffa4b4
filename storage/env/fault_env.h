// fault_env.h — a test Env that simulates power loss and injects I/O errors
// (testonly).
//
// Member files: FaultEnv wraps a base Env (usually mem_env) and keeps, per
// file, an undo log of every write since the file's last Sync. RocksDB
// files: rocksdb_env() is a RocksDB Env over the real file system whose
// writable files remember how many bytes were synced.
//
// Power loss: CrashAfter(n) makes the n-th I/O event from now (member
// PWrite/Sync, RocksDB Append/Sync/rename/delete) and every later one fail
// with EIO without changing anything, as if the machine stopped there. After
// the store is destroyed, Reboot() rolls every member file back to its last
// synced content and truncates every RocksDB file to its synced length, and
// lets I/O succeed again. Renames and deletes count as durable at once
// (RocksDB syncs file contents before it renames them).
//
// Thread safety: all methods may be called concurrently.
#ifndef VNAS_STORAGE_ENV_FAULT_ENV_H_
#define VNAS_STORAGE_ENV_FAULT_ENV_H_

#include <cstdint>
#include <memory>
#include <string>

#include "storage/env/env.h"

namespace vnas::storage {

class FaultEnv final : public Env {
 public:
  // `base` serves the member files; not owned, must outlive this.
  explicit FaultEnv(Env* base);
  ~FaultEnv() override;
  FaultEnv(const FaultEnv&) = delete;
  FaultEnv& operator=(const FaultEnv&) = delete;

  absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                 bool create) override;
  bool FileExists(const std::string& path) override;
  absl::Status CreateDirs(const std::string& path) override;
  absl::StatusOr<uint64_t> FilesystemSize(const std::string& path) override;
  absl::StatusOr<FsSpace> FilesystemSpace(const std::string& path) override;
  rocksdb::Env* rocksdb_env() override;

  // I/O events so far (member writes and syncs, RocksDB appends, syncs,
  // renames, deletes).
  uint64_t io_events() const;
  // The power fails at the n-th event from now (n >= 1).
  void CrashAfter(uint64_t n);
  bool crashed() const;
  // Drops every unsynced change (members and RocksDB files) and restores
  // power. Call only after the store using this Env is destroyed.
  // `keep_unsynced_metadata`: RocksDB files keep their unsynced appends
  // (the kernel had written them back, not the member data: an order a
  // real power loss may leave).
  absl::Status Reboot(bool keep_unsynced_metadata = false);

  // Error injection on member files (not a crash: the store keeps running).
  // The n-th member PWrite from now fails with `err` (ENOSPC, EIO, ...).
  void FailWriteAfter(uint64_t n, int err);
  // The n-th member PWrite from now writes only half its bytes, then fails
  // EIO (a torn write).
  void ShortWriteAfter(uint64_t n);
  // The n-th member Sync from now fails EIO.
  void FailSyncAfter(uint64_t n);
  // While on, every RocksDB append fails NoSpace without changing anything
  // (a full metadata file system; not an I/O event).
  void RefuseMetadataAppends(bool on);
  void ClearFaults();

  struct State;  // shared with the files

 private:
  Env* const base_;
  std::shared_ptr<State> state_;
  std::unique_ptr<rocksdb::Env> rocks_env_;
};

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_ENV_FAULT_ENV_H_
