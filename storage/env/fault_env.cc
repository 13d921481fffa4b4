#include "storage/env/fault_env.h"

#include <errno.h>
#include <unistd.h>

#include <map>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "storage/base/status_util.h"

namespace vnas::storage {

struct FaultEnv::State {
  absl::Mutex mu;
  uint64_t events ABSL_GUARDED_BY(mu) = 0;
  uint64_t crash_at ABSL_GUARDED_BY(mu) = 0;  // 0 = never
  bool crashed ABSL_GUARDED_BY(mu) = false;
  // Member files: undo records since last sync, by path.
  struct Undo {
    uint64_t offset;
    std::string old;
  };
  std::map<std::string, std::vector<Undo>> undo ABSL_GUARDED_BY(mu);
  // RocksDB files: synced length, by path.
  struct Tracked {
    uint64_t size = 0, synced = 0;
  };
  std::map<std::string, Tracked> rocks ABSL_GUARDED_BY(mu);
  // Injected member faults (countdowns; 0 = off).
  uint64_t fail_write_in ABSL_GUARDED_BY(mu) = 0;
  int fail_write_err ABSL_GUARDED_BY(mu) = EIO;
  uint64_t short_write_in ABSL_GUARDED_BY(mu) = 0;
  uint64_t fail_sync_in ABSL_GUARDED_BY(mu) = 0;
  bool refuse_appends ABSL_GUARDED_BY(mu) = false;  // RocksDB: NoSpace

  // Counts one event; false when the power is (now) off.
  bool Event() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (crashed) return false;
    ++events;
    if (crash_at && events >= crash_at) {
      crashed = true;
      return false;
    }
    return true;
  }
  static bool Countdown(uint64_t* c) {
    if (*c == 0) return false;
    return --*c == 0;
  }
};

namespace {

using State = FaultEnv::State;

class FaultFile final : public File {
 public:
  FaultFile(std::unique_ptr<File> base, std::string path,
            std::shared_ptr<State> st)
      : base_(std::move(base)), path_(std::move(path)), st_(std::move(st)) {}

  absl::Status PRead(uint64_t offset, size_t n, char* buf) override {
    return base_->PRead(offset, n, buf);
  }

  absl::Status PWrite(uint64_t offset, absl::string_view data) override {
    absl::MutexLock l(&st_->mu);
    if (!st_->Event()) return IoError(EIO, "power lost: pwrite " + path_);
    if (State::Countdown(&st_->fail_write_in)) {
      return IoError(st_->fail_write_err, "injected: pwrite " + path_,
                     st_->fail_write_err == ENOSPC);
    }
    size_t n = data.size();
    bool torn = State::Countdown(&st_->short_write_in);
    if (torn) n /= 2;
    State::Undo u{offset, std::string(n, '\0')};
    VNAS_RETURN_IF_ERROR(base_->PRead(offset, n, u.old.data()));
    st_->undo[path_].push_back(std::move(u));
    VNAS_RETURN_IF_ERROR(base_->PWrite(offset, data.substr(0, n)));
    if (torn) return IoError(EIO, "injected: short pwrite " + path_);
    return absl::OkStatus();
  }

  // Written like PWriteV (its faults apply), then only this range becomes
  // durable: a power loss no longer undoes it, while earlier unsynced writes
  // elsewhere in the file may still be lost.
  absl::Status PWriteVDurable(
      uint64_t offset, const std::vector<absl::string_view>& parts) override {
    VNAS_RETURN_IF_ERROR(PWriteV(offset, parts));
    uint64_t n = 0;
    for (absl::string_view p : parts) n += p.size();
    absl::MutexLock l(&st_->mu);
    if (!st_->Event()) return IoError(EIO, "power lost: dsync " + path_);
    if (State::Countdown(&st_->fail_sync_in)) {
      return IoError(EIO, "injected: dsync " + path_);
    }
    const uint64_t a = offset, b = offset + n;
    std::vector<State::Undo> kept;
    for (State::Undo& u : st_->undo[path_]) {
      const uint64_t ua = u.offset, ub = u.offset + u.old.size();
      if (ub <= a || b <= ua) {
        kept.push_back(std::move(u));
        continue;
      }
      if (ua < a) kept.push_back({ua, u.old.substr(0, a - ua)});
      if (b < ub) kept.push_back({b, u.old.substr(b - ua)});
    }
    st_->undo[path_] = std::move(kept);
    return absl::OkStatus();
  }

  absl::Status Sync() override {
    absl::MutexLock l(&st_->mu);
    if (!st_->Event()) return IoError(EIO, "power lost: sync " + path_);
    if (State::Countdown(&st_->fail_sync_in)) {
      return IoError(EIO, "injected: sync " + path_);
    }
    VNAS_RETURN_IF_ERROR(base_->Sync());
    st_->undo[path_].clear();
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size() override { return base_->Size(); }

 private:
  std::unique_ptr<File> base_;
  const std::string path_;
  std::shared_ptr<State> st_;
};

// ---- RocksDB side ----

rocksdb::IOStatus PowerLost(const std::string& what) {
  return rocksdb::IOStatus::IOError("power lost: " + what);
}

class FaultWritable final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultWritable(std::unique_ptr<rocksdb::FSWritableFile> t, std::string path,
                std::shared_ptr<State> st)
      : FSWritableFileOwnerWrapper(std::move(t)),
        path_(std::move(path)),
        st_(std::move(st)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data,
                           const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* dbg) override {
    {
      absl::MutexLock l(&st_->mu);
      if (st_->refuse_appends) {
        return rocksdb::IOStatus::NoSpace("injected ENOSPC");
      }
      if (!st_->Event()) return PowerLost("append " + path_);
      st_->rocks[path_].size += data.size();
    }
    return target()->Append(data, o, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data,
                           const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& /*info*/,
                           rocksdb::IODebugContext* dbg) override {
    return Append(data, o, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data,
                                     uint64_t offset,
                                     const rocksdb::IOOptions& o,
                                     rocksdb::IODebugContext* dbg) override {
    {
      absl::MutexLock l(&st_->mu);
      if (!st_->Event()) return PowerLost("append " + path_);
      auto& t = st_->rocks[path_];
      t.size = std::max<uint64_t>(t.size, offset + data.size());
    }
    return target()->PositionedAppend(data, offset, o, dbg);
  }
  rocksdb::IOStatus PositionedAppend(
      const rocksdb::Slice& data, uint64_t offset, const rocksdb::IOOptions& o,
      const rocksdb::DataVerificationInfo& /*info*/,
      rocksdb::IODebugContext* dbg) override {
    return PositionedAppend(data, offset, o, dbg);
  }
  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
    {
      absl::MutexLock l(&st_->mu);
      if (!st_->Event()) return PowerLost("truncate " + path_);
      auto& t = st_->rocks[path_];
      t.size = size;
      t.synced = std::min(t.synced, size);
    }
    return target()->Truncate(size, o, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o,
                         rocksdb::IODebugContext* dbg) override {
    return DoSync([&] { return target()->Sync(o, dbg); });
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o,
                          rocksdb::IODebugContext* dbg) override {
    return DoSync([&] { return target()->Fsync(o, dbg); });
  }
  rocksdb::IOStatus RangeSync(uint64_t /*offset*/, uint64_t /*nbytes*/,
                              const rocksdb::IOOptions& /*o*/,
                              rocksdb::IODebugContext* /*dbg*/) override {
    return rocksdb::IOStatus::OK();  // not a durability point
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions& o,
                          rocksdb::IODebugContext* dbg) override {
    return target()->Close(o, dbg);
  }

 private:
  template <typename F>
  rocksdb::IOStatus DoSync(F f) {
    absl::MutexLock l(&st_->mu);
    if (!st_->Event()) return PowerLost("sync " + path_);
    rocksdb::IOStatus s = f();
    if (s.ok()) {
      auto& t = st_->rocks[path_];
      t.synced = t.size;
    }
    return s;
  }

  const std::string path_;
  std::shared_ptr<State> st_;
};

class FaultFS final : public rocksdb::FileSystemWrapper {
 public:
  FaultFS(const std::shared_ptr<rocksdb::FileSystem>& t,
          std::shared_ptr<State> st)
      : FileSystemWrapper(t), st_(std::move(st)) {}
  const char* Name() const override { return "VnasFaultFS"; }

  rocksdb::IOStatus NewWritableFile(
      const std::string& f, const rocksdb::FileOptions& o,
      std::unique_ptr<rocksdb::FSWritableFile>* r,
      rocksdb::IODebugContext* dbg) override {
    {
      absl::MutexLock l(&st_->mu);
      if (!st_->Event()) return PowerLost("create " + f);
    }
    std::unique_ptr<rocksdb::FSWritableFile> base;
    rocksdb::IOStatus s = target()->NewWritableFile(f, o, &base, dbg);
    if (!s.ok()) return s;
    {
      absl::MutexLock l(&st_->mu);
      st_->rocks[f] = State::Tracked{};
    }
    r->reset(new FaultWritable(std::move(base), f, st_));
    return s;
  }

  rocksdb::IOStatus ReopenWritableFile(
      const std::string& f, const rocksdb::FileOptions& o,
      std::unique_ptr<rocksdb::FSWritableFile>* r,
      rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSWritableFile> base;
    rocksdb::IOStatus s = target()->ReopenWritableFile(f, o, &base, dbg);
    if (!s.ok()) return s;
    uint64_t size = 0;
    target()->GetFileSize(f, rocksdb::IOOptions(), &size, dbg)
        .PermitUncheckedError();
    {
      absl::MutexLock l(&st_->mu);
      auto it = st_->rocks.find(f);
      if (it == st_->rocks.end()) st_->rocks[f] = State::Tracked{size, size};
    }
    r->reset(new FaultWritable(std::move(base), f, st_));
    return s;
  }

  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& dst,
                               const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override {
    {
      absl::MutexLock l(&st_->mu);
      if (!st_->Event()) return PowerLost("rename " + src);
    }
    rocksdb::IOStatus s = target()->RenameFile(src, dst, o, dbg);
    if (s.ok()) {
      absl::MutexLock l(&st_->mu);
      auto it = st_->rocks.find(src);
      if (it != st_->rocks.end()) {
        st_->rocks[dst] = it->second;
        st_->rocks.erase(src);
      } else {
        st_->rocks.erase(dst);
      }
    }
    return s;
  }

  rocksdb::IOStatus DeleteFile(const std::string& f,
                               const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override {
    {
      absl::MutexLock l(&st_->mu);
      if (!st_->Event()) return PowerLost("delete " + f);
    }
    rocksdb::IOStatus s = target()->DeleteFile(f, o, dbg);
    if (s.ok()) {
      absl::MutexLock l(&st_->mu);
      st_->rocks.erase(f);
    }
    return s;
  }

 private:
  std::shared_ptr<State> st_;
};

}  // namespace

FaultEnv::FaultEnv(Env* base)
    : base_(base), state_(std::make_shared<State>()) {
  auto fs = std::make_shared<FaultFS>(rocksdb::FileSystem::Default(), state_);
  rocks_env_ = rocksdb::NewCompositeEnv(fs);
}

FaultEnv::~FaultEnv() = default;

absl::StatusOr<std::unique_ptr<File>> FaultEnv::OpenFile(
    const std::string& path, bool create) {
  VNAS_ASSIGN_OR_RETURN(std::unique_ptr<File> f, base_->OpenFile(path, create));
  return std::unique_ptr<File>(new FaultFile(std::move(f), path, state_));
}

bool FaultEnv::FileExists(const std::string& path) {
  return base_->FileExists(path);
}

absl::Status FaultEnv::CreateDirs(const std::string& path) {
  return base_->CreateDirs(path);
}

absl::StatusOr<uint64_t> FaultEnv::FilesystemSize(const std::string& path) {
  return base_->FilesystemSize(path);
}

absl::StatusOr<FsSpace> FaultEnv::FilesystemSpace(const std::string& path) {
  return base_->FilesystemSpace(path);
}

rocksdb::Env* FaultEnv::rocksdb_env() { return rocks_env_.get(); }

uint64_t FaultEnv::io_events() const {
  absl::MutexLock l(&state_->mu);
  return state_->events;
}

void FaultEnv::CrashAfter(uint64_t n) {
  absl::MutexLock l(&state_->mu);
  state_->crash_at = state_->events + n;
}

bool FaultEnv::crashed() const {
  absl::MutexLock l(&state_->mu);
  return state_->crashed;
}

absl::Status FaultEnv::Reboot(bool keep_unsynced_metadata) {
  absl::MutexLock l(&state_->mu);
  for (auto& [path, undo] : state_->undo) {
    if (undo.empty()) continue;
    VNAS_ASSIGN_OR_RETURN(std::unique_ptr<File> f, base_->OpenFile(path, false));
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
      VNAS_RETURN_IF_ERROR(f->PWrite(it->offset, it->old));
    }
    undo.clear();
  }
  for (auto& [path, t] : state_->rocks) {
    if (keep_unsynced_metadata) {
      t.synced = t.size;
      continue;
    }
    if (t.synced < t.size) {
      if (::truncate(path.c_str(), static_cast<off_t>(t.synced)) != 0 &&
          errno != ENOENT) {
        return IoError(errno, "truncate " + path);
      }
      t.size = t.synced;
    }
  }
  state_->crashed = false;
  state_->crash_at = 0;
  return absl::OkStatus();
}

void FaultEnv::FailWriteAfter(uint64_t n, int err) {
  absl::MutexLock l(&state_->mu);
  state_->fail_write_in = n;
  state_->fail_write_err = err;
}

void FaultEnv::ShortWriteAfter(uint64_t n) {
  absl::MutexLock l(&state_->mu);
  state_->short_write_in = n;
}

void FaultEnv::FailSyncAfter(uint64_t n) {
  absl::MutexLock l(&state_->mu);
  state_->fail_sync_in = n;
}

void FaultEnv::RefuseMetadataAppends(bool on) {
  absl::MutexLock l(&state_->mu);
  state_->refuse_appends = on;
}

void FaultEnv::ClearFaults() {
  absl::MutexLock l(&state_->mu);
  state_->fail_write_in = state_->short_write_in = state_->fail_sync_in = 0;
}

}  // namespace vnas::storage
