#include "server/control/test_util.h"

#include <stdlib.h>

#include <filesystem>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "storage/base/status_util.h"

namespace vnas::control::testing {

TempDir::TempDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") +
                     "/vnas-control-XXXXXX";
  char* p = mkdtemp(tmpl.data());
  if (p == nullptr) abort();
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ControlFixture::ControlFixture(ControlServerOptions opts) {
  storage::StoreOptions so;
  so.dir = dir_.path();
  so.num_members = 2;
  so.segment_size = 64 << 10;
  so.capacity = uint64_t{1} << 30;
  auto store = storage::ExtentStore::Open(so);
  if (!store.ok()) {
    ADD_FAILURE() << "store open: " << store.status();
    abort();
  }
  store_ = std::move(*store);
  opts.listen = "127.0.0.1:0";
  auto server = ControlServer::Start(store_.get(), opts);
  if (!server.ok()) {
    ADD_FAILURE() << "server start: " << server.status();
    abort();
  }
  server_ = std::move(*server);
  channel_ = grpc::CreateChannel(server_->address(),
                                 grpc::InsecureChannelCredentials());
  stub_ = v1::Control::NewStub(channel_);
}

ControlFixture::~ControlFixture() {
  stub_.reset();
  channel_.reset();
  server_.reset();
  store_.reset();
}

storage::InodeId ControlFixture::Mkdirs(const std::string& path) {
  storage::InodeId cur = storage::kRootInode;
  for (absl::string_view c : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    auto a = store_->Lookup(cur, c);
    if (a.ok()) {
      cur = a->ino;
      continue;
    }
    auto m = store_->Mkdir(cur, c, 0755, 0, 0);
    EXPECT_TRUE(m.ok()) << m.status();
    cur = m->attr.ino;
  }
  return cur;
}

storage::InodeId ControlFixture::WriteFile(const std::string& path,
                                           const std::string& data) {
  size_t slash = path.rfind('/');
  storage::InodeId dir = slash == std::string::npos
                             ? storage::kRootInode
                             : Mkdirs(path.substr(0, slash));
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  storage::CreateRequest req;
  req.size = 0;
  auto c = store_->Create(dir, name, req);
  EXPECT_TRUE(c.ok()) << c.status();
  if (!data.empty()) {
    auto w = store_->Write(c->attr.ino, 0, data, storage::Stability::kFileSync);
    EXPECT_TRUE(w.ok()) << w.status();
  }
  return c->attr.ino;
}

void ControlFixture::SetMtime(const std::string& path, int64_t sec) {
  auto a = store_->ResolvePath(path);
  ASSERT_TRUE(a.ok()) << a.status();
  storage::SetAttrRequest req;
  req.mtime_how = storage::SetAttrRequest::TimeHow::kClientTime;
  req.mtime.sec = sec;
  ASSERT_TRUE(store_->SetAttr(a->ino, req).ok());
}

absl::StatusOr<std::string> ControlFixture::ReadFile(const std::string& path) {
  VNAS_ASSIGN_OR_RETURN(storage::Attr a, store_->ResolvePath(path));
  std::string out(a.size, '\0');
  uint64_t off = 0;
  while (off < a.size) {
    uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(a.size - off, 1 << 20));
    VNAS_ASSIGN_OR_RETURN(storage::ReadResult r,
                          store_->Read(a.ino, off, n, &out[off]));
    if (r.count == 0) break;
    off += r.count;
  }
  out.resize(off);
  return out;
}

bool ControlFixture::Exists(const std::string& path) {
  return store_->ResolvePath(path).ok();
}

}  // namespace vnas::control::testing
