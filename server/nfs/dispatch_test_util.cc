#include "server/nfs/dispatch_test_util.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "server/nfs/mount_types.h"
#include "server/nfs/nfs3_types.h"
#include "storage/base/status_util.h"
#include "storage/env/mem_env.h"

namespace vnas::nfs {

uint32_t Reply::FirstWord() const {
  return body.size() >= 4 ? LoadBe32(body.data()) : 0xffffffffu;
}

namespace {

// The in-memory Env, but no read is ever answered from "memory".
class ColdFile final : public storage::File {
 public:
  explicit ColdFile(std::unique_ptr<storage::File> f) : f_(std::move(f)) {}
  absl::Status PRead(uint64_t o, size_t n, char* b) override {
    return f_->PRead(o, n, b);
  }
  absl::Status PReadV(uint64_t o,
                      const std::vector<absl::Span<char>>& parts) override {
    return f_->PReadV(o, parts);
  }
  absl::Status PReadVCached(uint64_t,
                            const std::vector<absl::Span<char>>&) override {
    return FsError(EAGAIN, "cold");
  }
  absl::Status PWrite(uint64_t o, absl::string_view d) override {
    return f_->PWrite(o, d);
  }
  absl::Status PWriteV(uint64_t o,
                       const std::vector<absl::string_view>& parts) override {
    return f_->PWriteV(o, parts);
  }
  absl::Status Sync() override { return f_->Sync(); }
  absl::StatusOr<uint64_t> Size() override { return f_->Size(); }

 private:
  std::unique_ptr<storage::File> f_;
};

class ColdEnv final : public storage::Env {
 public:
  explicit ColdEnv(storage::Env* base) : base_(base) {}
  absl::StatusOr<std::unique_ptr<storage::File>> OpenFile(
      const std::string& path, bool create) override {
    auto f = base_->OpenFile(path, create);
    if (!f.ok()) return f.status();
    return std::unique_ptr<storage::File>(new ColdFile(*std::move(f)));
  }
  bool FileExists(const std::string& p) override {
    return base_->FileExists(p);
  }
  absl::Status CreateDirs(const std::string& p) override {
    return base_->CreateDirs(p);
  }
  absl::StatusOr<uint64_t> FilesystemSize(const std::string& p) override {
    return base_->FilesystemSize(p);
  }

 private:
  storage::Env* const base_;
};

}  // namespace

DispatchFixture::DispatchFixture(const std::string& exports_text,
                                 uint64_t capacity, bool cold_reads) {
  mem_ = storage::NewMemEnv();
  env_ = cold_reads ? std::make_unique<ColdEnv>(mem_.get())
                    : storage::NewMemEnv();
  storage::StoreOptions o;
  // RocksDB keeps the metadata on the real disk; member data is in memory.
  static int n = 0;
  const char* tmp = getenv("TEST_TMPDIR");
  o.dir = std::string(tmp ? tmp : "/tmp") + "/dispatch-store-" +
          std::to_string(getpid()) + "-" + std::to_string(n++);
  o.env = env_.get();
  o.num_members = 1;
  o.segment_size = 64 << 10;
  o.capacity = capacity;
  auto s = storage::ExtentStore::Open(o);
  if (!s.ok()) {
    fprintf(stderr, "DispatchFixture: store: %s\n", s.status().ToString().c_str());
    abort();
  }
  store_ = *std::move(s);
  auto e = ExportTable::Parse(exports_text);
  if (!e.ok()) abort();
  exports_ = *std::move(e);
  HandleKey key;
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i * 7);
  codec_ = std::make_unique<FileHandleCodec>(key);
  dispatcher_ = std::make_unique<Dispatcher>(store_.get(), &exports_,
                                             codec_.get(), &stats_, 64);
  dispatcher_->SetPorts(2049, 111);
}

DispatchFixture::~DispatchFixture() = default;

Reply DispatchFixture::Send(const std::string& record, uint32_t client) {
  return SendFrom(record, ClientAddr::V4(client));
}

Reply DispatchFixture::CallFrom(const ClientAddr& client, uint32_t prog,
                                uint32_t vers, uint32_t proc,
                                const std::string& args, uint32_t xid,
                                std::optional<ClientAddr> local) {
  ByteBuffer b;
  XdrEncoder e(&b);
  WriteCallHeader(e, xid, prog, vers, proc, true, 0, 0);
  b.Append(args.data(), args.size());
  return SendFrom(std::string(b.view()), client, local);
}

Reply DispatchFixture::SendFrom(const std::string& record,
                                const ClientAddr& client,
                                std::optional<ClientAddr> local) {
  RpcRequest req;
  req.client_addr = client;
  req.local_addr = local.value_or(client);
  req.record.Append(record.data(), record.size());
  ByteBuffer out;
  dispatcher_->Handle(req, &out);
  return Parse(out);
}

Reply DispatchFixture::TryCall(uint32_t proc, const std::string& args,
                               bool* answered) {
  ByteBuffer b;
  XdrEncoder e(&b);
  WriteCallHeader(e, 7, kNfsProgram, 3, proc, true, 0, 0);
  b.Append(args.data(), args.size());
  RpcRequest req;
  req.client_addr = ClientAddr::V4(0x7f000001);
  req.record.Append(b.data(), b.size());
  ByteBuffer out;
  *answered = dispatcher_->TryHandle(req, &out);
  return Parse(out);
}

Reply DispatchFixture::Parse(const ByteBuffer& out) {
  Reply r;
  if (out.empty()) {
    r.dropped = true;
    return r;
  }
  r.raw = std::string(out.view());
  XdrDecoder d(out.data() + 4, out.size() - 4);
  uint32_t mtype, reply_stat, flavor;
  absl::string_view verf;
  d.U32(&r.xid);
  d.U32(&mtype);
  d.U32(&reply_stat);
  r.accepted = reply_stat == 0;
  if (r.accepted) {
    d.U32(&flavor);
    d.Var(400, &verf);
  }
  d.U32(&r.stat);
  r.body = std::string(d.position(), d.remaining());
  return r;
}

Reply DispatchFixture::Call(uint32_t prog, uint32_t vers, uint32_t proc,
                            const std::string& args, uint32_t xid,
                            uint32_t uid, uint32_t client) {
  ByteBuffer b;
  XdrEncoder e(&b);
  WriteCallHeader(e, xid, prog, vers, proc, true, uid, uid);
  b.Append(args.data(), args.size());
  return Send(std::string(b.view()), client);
}

Reply DispatchFixture::CallAs(uint32_t proc, const std::string& args,
                              uint32_t uid, uint32_t gid,
                              const std::vector<uint32_t>& gids, uint32_t xid,
                              uint32_t client) {
  std::string cred = XU32(0) + XOpaque("vnas") + XU32(uid) + XU32(gid) +
                     XU32(static_cast<uint32_t>(gids.size()));
  for (uint32_t g : gids) cred += XU32(g);
  std::string rec = XU32(xid) + XU32(0) + XU32(kRpcVersion) +
                    XU32(kNfsProgram) + XU32(3) + XU32(proc) +
                    XU32(kAuthSys) + XOpaque(cred) + XU32(kAuthNone) + XU32(0) +
                    args;
  return Send(rec, client);
}

std::string DispatchFixture::Mount(const std::string& path, uint32_t client) {
  Reply r = Call(kMountProgram, 3, MOUNTPROC3_MNT, XOpaque(path), 99, 0, client);
  if (r.FirstWord() != 0 || r.body.size() < 8) return "";
  uint32_t len = LoadBe32(r.body.data() + 4);
  return r.body.substr(8, len);
}

std::string XU32(uint32_t v) {
  char b[4];
  StoreBe32(b, v);
  return std::string(b, 4);
}

std::string XU64(uint64_t v) {
  return XU32(static_cast<uint32_t>(v >> 32)) + XU32(static_cast<uint32_t>(v));
}

std::string XOpaque(const std::string& s) {
  return XU32(static_cast<uint32_t>(s.size())) + s +
         std::string(XdrPad(s.size()), '\0');
}

}  // namespace vnas::nfs
