// env_posix.cc — the Linux implementation of Env (pread/pwrite/fdatasync).
//
// Durable writes (PWriteVDurable) that are 4 KiB aligned in offset and
// length, and at most kMaxDirectBytes, go through a second descriptor opened
// O_DIRECT, with RWF_DSYNC: the device gets the bytes with FUA (or one cache
// flush) and the page cache is bypassed, so concurrent small stable writes
// do not queue behind page-cache writeback of the same file. The kernel
// writes back and drops cached pages of the range around a direct write, so
// buffered reads and writes of the same file stay coherent. File systems
// without O_DIRECT (tmpfs before 6.6), or a first direct write that fails
// EINVAL, fall back to buffered pwritev2(RWF_DSYNC) for good.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/base/status_util.h"
#include "storage/env/env.h"

namespace vnas::storage {
namespace {

// Alignment of direct I/O buffers, offsets and lengths: safe for devices
// with 512-byte and 4 KiB logical blocks.
constexpr size_t kDirectAlign = 4096;
// Larger durable writes stay buffered: a bounce copy per call would cost
// more than the page cache saves.
constexpr size_t kMaxDirectBytes = 1 << 20;

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};

class PosixFile final : public File {
 public:
  PosixFile(int fd, int direct_fd, std::string path)
      : fd_(fd), direct_fd_(direct_fd), path_(std::move(path)) {}
  ~PosixFile() override {
    ::close(fd_);
    if (direct_fd_ >= 0) ::close(direct_fd_);
  }
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
    size_t total = 0;
    for (absl::string_view p : parts) total += p.size();
    if (direct_ok_.load(std::memory_order_relaxed) && total > 0 &&
        total <= kMaxDirectBytes && offset % kDirectAlign == 0 &&
        total % kDirectAlign == 0) {
      absl::Status s = WriteDirect(offset, parts, total);
      if (!IsDirectUnsupported(s)) return s;
      direct_ok_.store(false, std::memory_order_relaxed);
    }
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

  void StartWriteback(uint64_t offset, uint64_t len) override {
    (void)::sync_file_range(fd_, static_cast<off64_t>(offset),
                            static_cast<off64_t>(len), SYNC_FILE_RANGE_WRITE);
  }

  absl::StatusOr<uint64_t> Size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return IoError(errno, "fstat " + path_);
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  // Sentinel of WriteDirect: the file system refused direct I/O.
  static absl::Status DirectUnsupported() {
    return absl::UnimplementedError("direct I/O unsupported");
  }
  static bool IsDirectUnsupported(const absl::Status& s) {
    return absl::IsUnimplemented(s);
  }

  // One durable direct write of `total` aligned bytes. Parts whose memory
  // is not aligned are gathered into a per-thread aligned bounce buffer.
  absl::Status WriteDirect(uint64_t offset,
                           const std::vector<absl::string_view>& parts,
                           size_t total) {
    bool aligned = true;
    for (absl::string_view p : parts) {
      aligned &= reinterpret_cast<uintptr_t>(p.data()) % kDirectAlign == 0 &&
                 p.size() % kDirectAlign == 0;
    }
    std::vector<iovec> iov;
    if (aligned) {
      for (absl::string_view p : parts) {
        iov.push_back({const_cast<char*>(p.data()), p.size()});
      }
    } else {
      thread_local std::unique_ptr<char, FreeDeleter> bounce;
      if (!bounce) {
        void* mem = nullptr;
        if (::posix_memalign(&mem, kDirectAlign, kMaxDirectBytes) != 0) {
          return DirectUnsupported();  // no memory: the buffered path
        }
        bounce.reset(static_cast<char*>(mem));
      }
      size_t at = 0;
      for (absl::string_view p : parts) {
        std::memcpy(bounce.get() + at, p.data(), p.size());
        at += p.size();
      }
      iov.push_back({bounce.get(), total});
    }
    const uint64_t start = offset;
    const int err = WriteAll(direct_fd_, &iov, &offset, RWF_DSYNC);
    if (err == 0) return absl::OkStatus();
    // Nothing was written by a refused call: the buffered path redoes the
    // whole write.
    if (offset == start &&
        (err == EINVAL || err == EOPNOTSUPP || err == ENOSYS)) {
      return DirectUnsupported();
    }
    return IoError(err, absl::StrCat("pwritev2(O_DIRECT) ", path_),
                   /*retryable=*/err == ENOSPC);
  }

  // pwritev2 with `flags` (RWF_DSYNC: each call's bytes are durable when it
  // returns). Kernels without pwritev2 flags get pwritev + fdatasync.
  absl::Status WriteV(uint64_t offset,
                      const std::vector<absl::string_view>& parts, int flags) {
    std::vector<iovec> iov;
    iov.reserve(parts.size());
    for (absl::string_view p : parts) {
      iov.push_back({const_cast<char*>(p.data()), p.size()});
    }
    const int err = WriteAll(fd_, &iov, &offset, flags);
    if (err == 0) return absl::OkStatus();
    if (flags && (err == EOPNOTSUPP || err == ENOSYS || err == EINVAL)) {
      std::vector<absl::string_view> rest;
      for (const iovec& v : iov) {
        rest.emplace_back(static_cast<const char*>(v.iov_base), v.iov_len);
      }
      absl::Status st = WriteV(offset, rest, 0);
      return st.ok() ? Sync() : st;
    }
    return IoError(err, absl::StrCat("pwritev ", path_),
                   /*retryable=*/err == ENOSPC);
  }

  // Writes all of *iov at *offset on `fd` (pwritev2 with `flags`, pwritev
  // for 0), going on after short writes and EINTR. Returns 0, or the errno
  // of the call that failed; *iov and *offset are then what is left.
  static int WriteAll(int fd, std::vector<iovec>* iov, uint64_t* offset,
                      int flags) {
    size_t i = 0;
    int err = 0;
    while (i < iov->size()) {
      const int cnt =
          static_cast<int>(std::min<size_t>(iov->size() - i, IOV_MAX));
      ssize_t r = flags ? ::pwritev2(fd, &(*iov)[i], cnt,
                                     static_cast<off_t>(*offset), flags)
                        : ::pwritev(fd, &(*iov)[i], cnt,
                                    static_cast<off_t>(*offset));
      if (r < 0) {
        if (errno == EINTR) continue;
        err = errno;
        break;
      }
      *offset += static_cast<uint64_t>(r);
      Advance(*iov, &i, static_cast<size_t>(r));
    }
    iov->erase(iov->begin(), iov->begin() + static_cast<ptrdiff_t>(i));
    return err;
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
  const int direct_fd_;  // O_DIRECT descriptor of the same file, or -1
  std::atomic<bool> direct_ok_{direct_fd_ >= 0};
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
    // Best effort: a file system without O_DIRECT keeps every write
    // buffered.
    int direct_fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_DIRECT);
    return std::unique_ptr<File>(new PosixFile(fd, direct_fd, path));
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
