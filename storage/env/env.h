// env.h — the disk access interface of the extent store.
//
// Every access to member data files goes through an Env, so tests can run on
// an in-memory Env (mem_env) or on one that loses unsynced writes and injects
// I/O errors (fault_env). The RocksDB metadata database is reached through
// the rocksdb::Env returned by rocksdb_env() (nullptr = RocksDB's default), so
// a fault Env can also simulate power loss under the metadata.
//
// Thread safety: Env and File implementations are safe for concurrent use;
// concurrent PWrite calls to overlapping ranges of one file are the caller's
// problem (the store never issues them).
#ifndef VNAS_STORAGE_ENV_ENV_H_
#define VNAS_STORAGE_ENV_ENV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "absl/strings/string_view.h"
#include "storage/base/lent_bytes.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace vnas::storage {

// One open data file. Offsets are absolute; the file grows on writes past
// its end (gaps read as zeros).
class File {
 public:
  virtual ~File() = default;
  // Reads exactly n bytes at offset into buf (caller-owned). Bytes past the
  // end of the file read as zeros. Fails EIO (IoError) on an I/O error.
  virtual absl::Status PRead(uint64_t offset, size_t n, char* buf) = 0;
  // Writes all of data at offset; a short write is retried, an error fails.
  virtual absl::Status PWrite(uint64_t offset, absl::string_view data) = 0;
  // Vectored forms: the parts lie end to end from offset, as one PRead or
  // PWrite of their concatenation would (same errors). These defaults issue
  // one call per part; the POSIX Env issues one preadv/pwritev.
  virtual absl::Status PReadV(uint64_t offset,
                              const std::vector<absl::Span<char>>& parts) {
    for (const absl::Span<char>& p : parts) {
      absl::Status s = PRead(offset, p.size(), p.data());
      if (!s.ok()) return s;
      offset += p.size();
    }
    return absl::OkStatus();
  }
  // PReadV that answers only from memory (the page cache): fails EAGAIN
  // (FsError), having read nothing useful, where PReadV would wait for the
  // device or for a page under I/O. The default (memory-backed Envs) is
  // PReadV.
  virtual absl::Status PReadVCached(
      uint64_t offset, const std::vector<absl::Span<char>>& parts) {
    return PReadV(offset, parts);
  }
  // Lends [offset, offset + n) from memory the file keeps anyway (a
  // prefetch, the data cache) instead of copying it: true with `out` set
  // (LentBytes: n bytes in all, unchanged while anyone holds its keep);
  // false, having done nothing, when they are not there (the caller then
  // reads as usual). The bytes are what PReadV would have read at the
  // call. With !may_block it never waits (for a prefetch in flight, or
  // queued writes of the range). The default lends nothing.
  virtual bool PReadLent(uint64_t offset, size_t n, bool may_block,
                         LentBytes* out) {
    (void)offset;
    (void)n;
    (void)may_block;
    (void)out;
    return false;
  }
  virtual absl::Status PWriteV(uint64_t offset,
                               const std::vector<absl::string_view>& parts) {
    for (absl::string_view p : parts) {
      absl::Status s = PWrite(offset, p);
      if (!s.ok()) return s;
      offset += p.size();
    }
    return absl::OkStatus();
  }
  // PWriteV whose parts' memory is owned by `keep`: the file may go on
  // referring to it after returning (write-behind, without a copy) for as
  // long as it holds `keep`; the bytes must not change meanwhile. The
  // default is PWriteV (nothing is held).
  virtual absl::Status PWriteVOwned(uint64_t offset,
                                    const std::vector<absl::string_view>& parts,
                                    std::shared_ptr<const void> keep) {
    (void)keep;
    return PWriteV(offset, parts);
  }
  // PWriteV for bytes the caller makes durable (Sync) right after: the
  // transfer is done when it returns, never left to a write-behind. The
  // default is PWriteV.
  virtual absl::Status PWriteVNow(uint64_t offset,
                                  const std::vector<absl::string_view>& parts) {
    return PWriteV(offset, parts);
  }
  // PWriteV whose bytes are durable when it returns (O_DSYNC: only this
  // range is written back, not the file's other dirty data). The default
  // writes, then syncs the whole file.
  virtual absl::Status PWriteVDurable(
      uint64_t offset, const std::vector<absl::string_view>& parts) {
    absl::Status s = PWriteV(offset, parts);
    return s.ok() ? Sync() : s;
  }
  // Makes every completed write durable (fdatasync).
  virtual absl::Status Sync() = 0;
  // Starts writing back [offset, offset + len) without waiting for it (a
  // hint: a later Sync() then has less to do). The default does nothing.
  virtual void StartWriteback(uint64_t offset, uint64_t len) {
    (void)offset;
    (void)len;
  }
  // Whether an unstable PWriteV of [offset, offset + len) leaves dirty
  // pages behind (false: it bypasses the page cache, and StartWriteback
  // would find nothing to do). The default says it may.
  virtual bool LeavesDirtyPages(uint64_t offset, size_t len) const {
    (void)offset;
    (void)len;
    return true;
  }
  virtual absl::StatusOr<uint64_t> Size() = 0;
};

// The size and free space of one file system (see Env::FilesystemSpace).
struct FsSpace {
  uint64_t total = 0;  // bytes
  uint64_t avail = 0;  // bytes an unprivileged writer may still use
  uint64_t id = 0;     // tells file systems apart (statvfs f_fsid)
};

// Page-cache choices of the POSIX Env (env_posix.cc explains the policy).
struct PosixEnvOptions {
  // Bulk transfers (64 KiB or more, 4 KiB aligned) bypass the page cache
  // (O_DIRECT): unstable writes always, reads when nothing of the range is
  // cached. Off: both go through the page cache (kernel readahead, write-
  // back), so a re-read of just-written data is served from memory.
  bool direct_bulk_io = false;
  // With direct_bulk_io: unstable bulk writes are acknowledged once copied
  // into up to this many bytes of write-behind buffers, and written by
  // background threads (File::Sync waits for them; write_behind.h). 0: they
  // wait for the device.
  size_t write_behind_bytes = 0;
  // With direct_bulk_io: up to this many bytes of whole 64 KiB chunks are
  // kept in memory and serve later reads (chunk_cache.h); a small read
  // that finds its range neither there nor in the page cache reads its
  // whole chunk into it. 0: none.
  size_t cache_bytes = 0;
  // With cache_bytes: bulk writes and direct bulk reads fill it too, at
  // the price of a copy of every byte they move.
  bool cache_bulk = false;
};

class Env {
 public:
  virtual ~Env() = default;
  // Opens `path` for reading and writing, creating it when `create`.
  // Fails ENOENT when missing and !create. The caller owns the File.
  virtual absl::StatusOr<std::unique_ptr<File>> OpenFile(
      const std::string& path, bool create) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  // Creates the directory (and parents); OK when it exists.
  virtual absl::Status CreateDirs(const std::string& path) = 0;
  // Total bytes of the file system holding `path`.
  virtual absl::StatusOr<uint64_t> FilesystemSize(const std::string& path) = 0;
  // Size and free space of the file system holding `path` (statvfs). The
  // default reports FilesystemSize as both size and free space (a file
  // system that never fills up) with id 0.
  virtual absl::StatusOr<FsSpace> FilesystemSpace(const std::string& path) {
    auto size = FilesystemSize(path);
    if (!size.ok()) return size.status();
    return FsSpace{*size, *size, 0};
  }
  // The rocksdb::Env for the metadata database; nullptr = rocksdb default.
  // Not owned by the caller.
  virtual rocksdb::Env* rocksdb_env() { return nullptr; }

  // The data cache's figures since the Env was made (PosixEnvOptions::
  // cache_bytes); nullopt when it has none.
  struct DataCacheStatus {
    uint64_t capacity_bytes = 0;
    uint64_t cached_bytes = 0;
    uint64_t hits = 0;     // reads served from it
    uint64_t filled = 0;   // chunks brought in
    uint64_t evicted = 0;  // chunks pushed out to make room
    uint64_t resident_bytes = 0;  // memory faulted in (committed) so far
    uint64_t filled_in_place = 0;  // of filled: received there (WriteMemory)
  };
  virtual std::optional<DataCacheStatus> data_cache_status() {
    return std::nullopt;
  }

  // Memory to receive bytes into that will then be written to files of
  // this Env (a WRITE's data, off the network): `len` bytes, whose byte
  // `lead` (below 64 KiB) is where the data starts. Writes of the data
  // from there may fill the data cache without copying it (a whole cache
  // chunk's worth at a time: ChunkCache::BorrowRun). The memory stays the
  // caller's while it holds the pointer, and must not change once
  // handed to a write. Null when the Env has none to give; the caller then
  // uses its own.
  virtual std::shared_ptr<char> WriteMemory(size_t lead, size_t len) {
    (void)lead;
    (void)len;
    return nullptr;
  }

  // The process-wide POSIX Env with default options (never deleted).
  static Env* Posix();
  // A POSIX Env with `options`; it must outlive the files it opens.
  static std::unique_ptr<Env> NewPosix(const PosixEnvOptions& options);
};

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_ENV_ENV_H_
