// store_testutil.cc — see store_testutil.h.
#include "storage/store_testutil.h"

#include <unistd.h>

#include <cstdlib>
#include <utility>

#include "gtest/gtest.h"

namespace vnas::storage {

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  return std::string(base ? base : "/tmp") + "/" + name + "-" +
         std::to_string(::getpid()) + "-" + std::to_string(std::rand());
}

void ReopenStore(const StoreOptions& opts,
                 std::unique_ptr<ExtentStore>* store) {
  store->reset();
  auto s = ExtentStore::Open(opts);
  ASSERT_TRUE(s.ok()) << s.status();
  *store = std::move(*s);
}

std::string ReadBytes(ExtentStore* store, InodeId ino, uint64_t off,
                      uint32_t n) {
  std::string buf(n, '?');
  auto r = store->Read(ino, off, n, buf.data());
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  buf.resize(r->count);
  return buf;
}

class GateEnv::GatedFile final : public File {
 public:
  GatedFile(GateEnv* env, std::unique_ptr<File> f)
      : env_(env), f_(std::move(f)) {}
  absl::Status PRead(uint64_t o, size_t n, char* b) override {
    return f_->PRead(o, n, b);
  }
  absl::Status PReadV(uint64_t o,
                      const std::vector<absl::Span<char>>& parts) override {
    return f_->PReadV(o, parts);
  }
  absl::Status PWrite(uint64_t o, absl::string_view d) override {
    return env_->Pass(First(d), [&] { return f_->PWrite(o, d); });
  }
  absl::Status PWriteV(uint64_t o,
                       const std::vector<absl::string_view>& parts) override {
    return env_->Pass(parts.empty() ? 0 : First(parts[0]),
                      [&] { return f_->PWriteV(o, parts); });
  }
  absl::Status PWriteVDurable(
      uint64_t o, const std::vector<absl::string_view>& parts) override {
    return env_->Pass(parts.empty() ? 0 : First(parts[0]),
                      [&] { return f_->PWriteVDurable(o, parts); });
  }
  absl::Status Sync() override { return f_->Sync(); }
  void StartWriteback(uint64_t o, uint64_t len) override {
    f_->StartWriteback(o, len);
  }
  absl::StatusOr<uint64_t> Size() override { return f_->Size(); }

 private:
  static char First(absl::string_view d) { return d.empty() ? 0 : d[0]; }
  GateEnv* const env_;
  std::unique_ptr<File> f_;
};

absl::StatusOr<std::unique_ptr<File>> GateEnv::OpenFile(const std::string& path,
                                                        bool create) {
  auto f = base_->OpenFile(path, create);
  if (!f.ok()) return f.status();
  return std::unique_ptr<File>(new GatedFile(this, std::move(*f)));
}

void GateEnv::Close(char marker, bool after_write) {
  absl::MutexLock l(&mu_);
  closed_ = true;
  after_ = after_write;
  marker_ = marker;
  held_ = 0;
}

void GateEnv::AwaitHeld(int n) {
  absl::MutexLock l(&mu_);
  std::pair<int*, int> want(&held_, n);
  mu_.Await(absl::Condition(
      +[](std::pair<int*, int>* a) { return *a->first >= a->second; },
      &want));
}

void GateEnv::Open() {
  absl::MutexLock l(&mu_);
  closed_ = false;
}

absl::Status GateEnv::Pass(char first,
                           const std::function<absl::Status()>& write) {
  bool after;
  {
    absl::MutexLock l(&mu_);
    if (!closed_ || first != marker_) return write();
    after = after_;
    ++held_;
  }
  absl::Status s;
  if (after) s = write();
  {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](bool* closed) { return !*closed; }, &closed_));
  }
  if (!after) s = write();
  return s;
}

}  // namespace vnas::storage
