// env_posix.cc — the Linux implementation of Env (pread/pwrite/fdatasync).
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/base/status_util.h"
#include "storage/env/env.h"

namespace vnas::storage {
namespace {

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  absl::Status PRead(uint64_t offset, size_t n, char* buf) override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, buf + done, n - done, offset + done);
      if (r < 0) {
        if (errno == EINTR) continue;
        return IoError(errno, absl::StrCat("pread ", path_));
      }
      if (r == 0) {  // past EOF: zeros
        std::memset(buf + done, 0, n - done);
        break;
      }
      done += static_cast<size_t>(r);
    }
    return absl::OkStatus();
  }

  absl::Status PWrite(uint64_t offset, absl::string_view data) override {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t r =
          ::pwrite(fd_, data.data() + done, data.size() - done, offset + done);
      if (r < 0) {
        if (errno == EINTR) continue;
        return IoError(errno, absl::StrCat("pwrite ", path_),
                       /*retryable=*/errno == ENOSPC);
      }
      done += static_cast<size_t>(r);
    }
    return absl::OkStatus();
  }

  absl::Status PReadV(uint64_t offset,
                      const std::vector<absl::Span<char>>& parts) override {
    std::vector<iovec> iov;
    iov.reserve(parts.size());
    for (const absl::Span<char>& p : parts) iov.push_back({p.data(), p.size()});
    size_t i = 0;
    while (i < iov.size()) {
      const int cnt = static_cast<int>(std::min<size_t>(iov.size() - i, IOV_MAX));
      ssize_t r = ::preadv(fd_, &iov[i], cnt, static_cast<off_t>(offset));
      if (r < 0) {
        if (errno == EINTR) continue;
        return IoError(errno, absl::StrCat("preadv ", path_));
      }
      if (r == 0) {  // past EOF: zeros
        for (; i < iov.size(); ++i) std::memset(iov[i].iov_base, 0, iov[i].iov_len);
        break;
      }
      offset += static_cast<uint64_t>(r);
      Advance(iov, &i, static_cast<size_t>(r));
    }
    return absl::OkStatus();
  }

  absl::Status PWriteVDurable(
      uint64_t offset, const std::vector<absl::string_view>& parts) override {
    return WriteV(offset, parts, RWF_DSYNC);
  }

  absl::Status PWriteV(uint64_t offset,
                       const std::vector<absl::string_view>& parts) override {
    return WriteV(offset, parts, 0);
  }

  absl::Status Sync() override {
    if (::fdatasync(fd_) != 0) {
      return MarkDataLoss(IoError(errno, absl::StrCat("fdatasync ", path_)));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return IoError(errno, "fstat " + path_);
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  // pwritev2 with `flags` (RWF_DSYNC: each call's bytes are durable when it
  // returns). Kernels without pwritev2 flags get pwritev + fdatasync.
  absl::Status WriteV(uint64_t offset,
                      const std::vector<absl::string_view>& parts, int flags) {
    std::vector<iovec> iov;
    iov.reserve(parts.size());
    for (absl::string_view p : parts) {
      iov.push_back({const_cast<char*>(p.data()), p.size()});
    }
    size_t i = 0;
    while (i < iov.size()) {
      const int cnt = static_cast<int>(std::min<size_t>(iov.size() - i, IOV_MAX));
      ssize_t r = flags ? ::pwritev2(fd_, &iov[i], cnt,
                                     static_cast<off_t>(offset), flags)
                        : ::pwritev(fd_, &iov[i], cnt, static_cast<off_t>(offset));
      if (r < 0) {
        if (errno == EINTR) continue;
        if (flags && (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)) {
          std::vector<absl::string_view> rest;
          for (size_t k = i; k < iov.size(); ++k) {
            rest.emplace_back(static_cast<const char*>(iov[k].iov_base),
                              iov[k].iov_len);
          }
          absl::Status s = WriteV(offset, rest, 0);
          return s.ok() ? Sync() : s;
        }
        return IoError(errno, absl::StrCat("pwritev ", path_),
                       /*retryable=*/errno == ENOSPC);
      }
      offset += static_cast<uint64_t>(r);
      Advance(iov, &i, static_cast<size_t>(r));
    }
    return absl::OkStatus();
  }

  // Consumes n transferred bytes from iov[*i...], skipping empty parts.
  static void Advance(std::vector<iovec>& iov, size_t* i, size_t n) {
    while (*i < iov.size() && n >= iov[*i].iov_len) {
      n -= iov[*i].iov_len;
      ++*i;
    }
    if (n > 0) {
      iov[*i].iov_base = static_cast<char*>(iov[*i].iov_base) + n;
      iov[*i].iov_len -= n;
    }
  }

  const int fd_;
  const std::string path_;
};

class PosixEnv final : public Env {
 public:
  absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                 bool create) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0),
                    0644);
    if (fd < 0) {
      if (errno == ENOENT) return FsError(ENOENT, "no such file: " + path);
      return IoError(errno, "open " + path);
    }
    return std::unique_ptr<File>(new PosixFile(fd, path));
  }

  bool FileExists(const std::string& path) override {
    return ::access(path.c_str(), F_OK) == 0;
  }

  absl::Status CreateDirs(const std::string& path) override {
    std::string cur;
    for (size_t i = 0; i <= path.size(); ++i) {
      if (i == path.size() || (path[i] == '/' && i > 0)) {
        cur = path.substr(0, i);
        if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
          return IoError(errno, "mkdir " + cur);
        }
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> FilesystemSize(const std::string& path) override {
    struct statvfs sv;
    if (::statvfs(path.c_str(), &sv) != 0) {
      return IoError(errno, "statvfs " + path);
    }
    return static_cast<uint64_t>(sv.f_blocks) * sv.f_frsize;
  }
  absl::StatusOr<FsSpace> FilesystemSpace(const std::string& path) override {
    struct statvfs sv;
    if (::statvfs(path.c_str(), &sv) != 0) {
      return IoError(errno, "statvfs " + path);
    }
    FsSpace fs;
    fs.total = static_cast<uint64_t>(sv.f_blocks) * sv.f_frsize;
    fs.avail = static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
    fs.id = static_cast<uint64_t>(sv.f_fsid);
    return fs;
  }
};

}  // namespace

Env* Env::Posix() {
  static Env* env = new PosixEnv();
  return env;
}

}  // namespace vnas::storage
