// libnfs_client.cc — see libnfs_client.h. Debian 12's libnfs 4.0.0.
#include "integration/libnfs_client.h"

#include <fcntl.h>
#include <poll.h>

#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

extern "C" {
#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs.h>
}

namespace vnas::harness {
namespace {

// libnfs 4.0.0 keeps `struct nfs_fh` private (lib/libnfs-private.h); this is
// its layout there, needed to read a handle out of an open nfsfh.
struct NfsFhMirror {
  int len;
  char* val;
};

struct Pending {
  bool done = false;
  int status = -1;
  std::string error;
  // Copied out of the callback's result.
  uint32_t nfs_status = 0;
  uint32_t count = 0;
  uint32_t committed = 0;
  std::string verf;
  uint64_t size = 0;
};

// rpc_get_error() may be NULL (e.g. a call failed by a disconnect).
std::string ErrorText(rpc_context* r) {
  const char* e = rpc_get_error(r);
  return e ? e : "";
}

absl::Status Wait(rpc_context* rpc, Pending* p) {
  for (int i = 0; i < 300 && !p->done; ++i) {
    pollfd pfd{rpc_get_fd(rpc), static_cast<short>(rpc_which_events(rpc)), 0};
    int n = poll(&pfd, 1, 100);
    if (n < 0) return absl::InternalError("poll");
    if (rpc_service(rpc, n == 0 ? 0 : pfd.revents) < 0) {
      return absl::UnavailableError(
          absl::StrCat("rpc_service: ", ErrorText(rpc)));
    }
  }
  if (!p->done) return absl::DeadlineExceededError("no reply in 30 s");
  if (p->status != RPC_STATUS_SUCCESS) {
    return absl::UnavailableError(absl::StrCat("rpc status ", p->status, " ",
                                               p->error));
  }
  return absl::OkStatus();
}

nfs_fh3 ToFh3(const std::string& fh) {
  nfs_fh3 f;
  f.data.data_len = static_cast<u_int>(fh.size());
  f.data.data_val = const_cast<char*>(fh.data());
  return f;
}

// The rpc_cb of a raw call whose reply is a `Res`: records the RPC status and
// the NFS status, and on NFS3_OK lets `Copy` copy the reply's fields out.
template <typename Res, void (*Copy)(const Res&, Pending*)>
void OnReply(rpc_context* r, int status, void* data, void* priv) {
  auto* p = static_cast<Pending*>(priv);
  p->done = true;
  p->status = status;
  if (status != RPC_STATUS_SUCCESS) {
    p->error = ErrorText(r);
    return;
  }
  auto* res = static_cast<Res*>(data);
  p->nfs_status = res->status;
  if (res->status == NFS3_OK) Copy(*res, p);
}

// Sends `a` with `send` (an rpc_nfs3_*_async function named `name`) and waits
// for the reply, which `cb` copies into the returned Pending.
template <typename Args>
absl::StatusOr<Pending> Call(nfs_context* nfs,
                             int (*send)(rpc_context*, rpc_cb, Args*, void*),
                             const char* name, rpc_cb cb, Args* a) {
  auto owned = std::make_unique<Pending>();
  Pending& p = *owned;
  rpc_context* rpc = nfs_get_rpc_context(nfs);
  if (send(rpc, cb, a, &p) != 0) {
    return absl::InternalError(name);
  }
  absl::Status s = Wait(rpc, &p);
  if (!p.done) {
    // The call is still queued in libnfs, which calls back (cancelled) from
    // rpc_destroy_context: `p` must outlive the context, so leak it.
    owned.release();
  }
  if (!s.ok()) return s;
  return p;
}

void CopyWrite(const WRITE3res& res, Pending* p) {
  p->count = res.WRITE3res_u.resok.count;
  p->committed = res.WRITE3res_u.resok.committed;
  p->verf.assign(res.WRITE3res_u.resok.verf, 8);
}

void CopyCommit(const COMMIT3res& res, Pending* p) {
  p->verf.assign(res.COMMIT3res_u.resok.verf, 8);
}

void CopyGetattr(const GETATTR3res& res, Pending* p) {
  p->size = res.GETATTR3res_u.resok.obj_attributes.size;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NfsClient>> NfsClient::Mount(
    int port, const std::string& export_path, const std::string& url_options) {
  std::unique_ptr<NfsClient> c(new NfsClient);
  c->nfs_ = nfs_init_context();
  if (!c->nfs_) return absl::InternalError("nfs_init_context");
  std::string url = absl::StrCat("nfs://127.0.0.1", export_path,
                                 "?nfsport=", port, "&mountport=", port,
                                 url_options);
  nfs_url* u = nfs_parse_url_dir(c->nfs_, url.c_str());
  if (!u) return absl::InvalidArgumentError("url: " + c->Error());
  nfs_set_timeout(c->nfs_, 20000);
  int rc = nfs_mount(c->nfs_, u->server, u->path);
  nfs_destroy_url(u);
  if (rc != 0) return absl::UnavailableError("mount: " + c->Error());
  return c;
}

NfsClient::~NfsClient() {
  if (nfs_) nfs_destroy_context(nfs_);
}

std::string NfsClient::Error() const {
  const char* e = nfs_ ? nfs_get_error(nfs_) : nullptr;
  return e ? e : "";
}

absl::StatusOr<std::string> NfsClient::Handle(const std::string& path) {
  nfsfh* fh = nullptr;
  if (nfs_open(nfs_, path.c_str(), O_RDONLY, &fh) != 0) {
    return absl::NotFoundError("open " + path + ": " + Error());
  }
  auto* m = reinterpret_cast<NfsFhMirror*>(nfs_get_fh(fh));
  std::string out(m->val, static_cast<size_t>(m->len));
  nfs_close(nfs_, fh);
  return out;
}

absl::Status NfsClient::CreateFile(const std::string& path,
                                   const std::string& data, int mode) {
  nfsfh* fh = nullptr;
  if (nfs_creat(nfs_, path.c_str(), mode, &fh) != 0) {
    return absl::InternalError("create " + path + ": " + Error());
  }
  if (!data.empty()) {
    int n = nfs_pwrite(nfs_, fh, 0, data.size(), data.data());
    if (n != static_cast<int>(data.size())) {
      absl::Status s = absl::InternalError(
          absl::StrCat("write ", path, ": ", n, " of ", data.size(), " bytes: ",
                       Error()));
      nfs_close(nfs_, fh);
      return s;
    }
  }
  nfs_close(nfs_, fh);
  return absl::OkStatus();
}

absl::StatusOr<NfsClient::WriteReply> NfsClient::RawWrite(
    const std::string& fh, uint64_t offset, const std::string& data,
    int stable) {
  WRITE3args a;
  memset(&a, 0, sizeof(a));
  a.file = ToFh3(fh);
  a.offset = offset;
  a.count = static_cast<count3>(data.size());
  a.stable = static_cast<stable_how>(stable);
  a.data.data_len = static_cast<u_int>(data.size());
  a.data.data_val = const_cast<char*>(data.data());
  absl::StatusOr<Pending> p =
      Call(nfs_, rpc_nfs3_write_async, "rpc_nfs3_write_async",
           OnReply<WRITE3res, CopyWrite>, &a);
  if (!p.ok()) return p.status();
  WriteReply w;
  w.status = p->nfs_status;
  w.count = p->count;
  w.committed = p->committed;
  w.verf = p->verf;
  return w;
}

absl::StatusOr<std::pair<uint32_t, std::string>> NfsClient::RawCommit(
    const std::string& fh) {
  COMMIT3args a;
  memset(&a, 0, sizeof(a));
  a.file = ToFh3(fh);
  absl::StatusOr<Pending> p =
      Call(nfs_, rpc_nfs3_commit_async, "rpc_nfs3_commit_async",
           OnReply<COMMIT3res, CopyCommit>, &a);
  if (!p.ok()) return p.status();
  return std::make_pair(p->nfs_status, p->verf);
}

absl::StatusOr<std::pair<uint32_t, uint64_t>> NfsClient::RawGetattr(
    const std::string& fh) {
  GETATTR3args a;
  memset(&a, 0, sizeof(a));
  a.object = ToFh3(fh);
  absl::StatusOr<Pending> p =
      Call(nfs_, rpc_nfs3_getattr_async, "rpc_nfs3_getattr_async",
           OnReply<GETATTR3res, CopyGetattr>, &a);
  if (!p.ok()) return p.status();
  return std::make_pair(p->nfs_status, p->size);
}

}  // namespace vnas::harness
