#include "storage/env/mem_env.h"

#include <errno.h>

#include <cstring>
#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "storage/base/status_util.h"

namespace vnas::storage {
namespace {

struct MemData {
  absl::Mutex mu;
  std::string bytes ABSL_GUARDED_BY(mu);
};

class MemFile final : public File {
 public:
  explicit MemFile(std::shared_ptr<MemData> d) : d_(std::move(d)) {}
  absl::Status PRead(uint64_t offset, size_t n, char* buf) override {
    absl::MutexLock l(&d_->mu);
    const std::string& b = d_->bytes;
    size_t avail = offset < b.size() ? b.size() - offset : 0;
    size_t k = std::min(avail, n);
    if (k > 0) std::memcpy(buf, b.data() + offset, k);
    if (k < n) std::memset(buf + k, 0, n - k);
    return absl::OkStatus();
  }
  absl::Status PWrite(uint64_t offset, absl::string_view data) override {
    absl::MutexLock l(&d_->mu);
    std::string& b = d_->bytes;
    if (b.size() < offset + data.size()) b.resize(offset + data.size(), '\0');
    std::memcpy(&b[offset], data.data(), data.size());
    return absl::OkStatus();
  }
  absl::Status Sync() override { return absl::OkStatus(); }
  absl::StatusOr<uint64_t> Size() override {
    absl::MutexLock l(&d_->mu);
    return d_->bytes.size();
  }

 private:
  std::shared_ptr<MemData> d_;
};

class MemEnv final : public Env {
 public:
  absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                 bool create) override {
    absl::MutexLock l(&mu_);
    auto it = files_.find(path);
    if (it == files_.end()) {
      if (!create) return FsError(ENOENT, "no such file: " + path);
      it = files_.emplace(path, std::make_shared<MemData>()).first;
    }
    return std::unique_ptr<File>(new MemFile(it->second));
  }
  bool FileExists(const std::string& path) override {
    absl::MutexLock l(&mu_);
    return files_.count(path) > 0;
  }
  absl::Status CreateDirs(const std::string&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<uint64_t> FilesystemSize(const std::string&) override {
    return uint64_t{1} << 40;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<MemData>> files_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Env> NewMemEnv() { return std::make_unique<MemEnv>(); }

}  // namespace vnas::storage
