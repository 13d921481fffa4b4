// zeroed_wal_env.cc — log files written over zeros (format in the header).
#include "storage/meta/zeroed_wal_env.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"
#include "absl/strings/string_view.h"

namespace vnas::storage {
namespace {

rocksdb::Status RocksIoError(const std::string& what, const std::string& fname,
                        int err) {
  // RocksDB reads ENOSPC from the message (a no-space error it recovers
  // from differently), as from its own POSIX files.
  if (err == ENOSPC) {
    return rocksdb::Status::NoSpace(what + " " + fname, strerror(err));
  }
  return rocksdb::Status::IOError(what + " " + fname, strerror(err));
}

// kZeroBytes of zeros, for writing ahead of a log's end.
const std::string& Zeros() {
  static const std::string* const zeros =
      new std::string(ZeroedWalEnv::kZeroBytes, '\0');
  return *zeros;
}

// Writes all of [buf, buf + n) at `off`.
bool PWriteAll(int fd, const char* buf, size_t n, uint64_t off, int* err) {
  while (n > 0) {
    ssize_t w = pwrite(fd, buf, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      *err = errno;
      return false;
    }
    buf += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
  return true;
}

class ZeroedLogFile final : public rocksdb::WritableFile {
 public:
  ZeroedLogFile(std::string fname, int fd, const rocksdb::EnvOptions& options)
      : rocksdb::WritableFile(options), fname_(std::move(fname)), fd_(fd) {}
  ~ZeroedLogFile() override {
    if (fd_ >= 0) Close().PermitUncheckedError();
  }

  using rocksdb::WritableFile::Append;
  rocksdb::Status Append(const rocksdb::Slice& data) override {
    if (fd_ < 0) return rocksdb::Status::IOError("append to closed " + fname_);
    const uint64_t end = size_ + data.size();
    int err = 0;
    while (zeroed_ < end) {
      // More zeros ahead. Should this fail (a full file system), the
      // record is still appended; only the next sync costs more.
      if (!PWriteAll(fd_, Zeros().data(), Zeros().size(), zeroed_, &err)) {
        break;
      }
      zeroed_ += Zeros().size();
    }
    if (!PWriteAll(fd_, data.data(), data.size(), size_, &err)) {
      return RocksIoError("append", fname_, err);
    }
    size_ = end;
    return rocksdb::Status::OK();
  }
  rocksdb::Status Flush() override { return rocksdb::Status::OK(); }
  rocksdb::Status Sync() override {
    if (fdatasync(fd_) != 0) return RocksIoError("fdatasync", fname_, errno);
    return rocksdb::Status::OK();
  }
  rocksdb::Status Fsync() override {
    if (fsync(fd_) != 0) return RocksIoError("fsync", fname_, errno);
    return rocksdb::Status::OK();
  }
  bool IsSyncThreadSafe() const override { return true; }
  uint64_t GetFileSize() override { return size_; }
  rocksdb::Status Truncate(uint64_t size) override {
    // The bytes cut off become zeros again (everything past the end reads
    // as padding, should the file be read before Close trims it).
    int err = 0;
    while (size < size_) {
      const size_t n = static_cast<size_t>(
          std::min<uint64_t>(size_ - size, Zeros().size()));
      if (!PWriteAll(fd_, Zeros().data(), n, size_ - n, &err)) {
        return RocksIoError("truncate", fname_, err);
      }
      size_ -= n;
    }
    return rocksdb::Status::OK();
  }
  rocksdb::Status Close() override {
    if (fd_ < 0) return rocksdb::Status::OK();
    rocksdb::Status s;
    if (ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      s = RocksIoError("truncate", fname_, errno);
    }
    if (close(fd_) != 0 && s.ok()) s = RocksIoError("close", fname_, errno);
    fd_ = -1;
    return s;
  }

 private:
  const std::string fname_;
  int fd_;
  uint64_t size_ = 0;    // bytes appended
  uint64_t zeroed_ = 0;  // zeros (or appended bytes) are on file up to here
};

}  // namespace

bool ZeroedWalEnv::IsLogFile(const std::string& fname) {
  absl::string_view base = fname;
  size_t slash = base.rfind('/');
  if (slash != absl::string_view::npos) base.remove_prefix(slash + 1);
  if (!absl::ConsumeSuffix(&base, ".log") || base.empty()) return false;
  return std::all_of(base.begin(), base.end(),
                     [](char c) { return absl::ascii_isdigit(c); });
}

rocksdb::Status ZeroedWalEnv::NewWritableFile(
    const std::string& fname, std::unique_ptr<rocksdb::WritableFile>* result,
    const rocksdb::EnvOptions& options) {
  if (!IsLogFile(fname) || options.use_direct_writes || options.use_mmap_writes) {
    return target()->NewWritableFile(fname, result, options);
  }
  int fd = open(fname.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return RocksIoError("open", fname, errno);
  result->reset(new ZeroedLogFile(fname, fd, options));
  return rocksdb::Status::OK();
}

}  // namespace vnas::storage
