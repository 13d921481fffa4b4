// meta_ops — metadata call rates of one synchronous NFSv3 client (libnfs raw
// RPC, one call in flight, each reply awaited before the next call):
// NULL, GETATTR, LOOKUP, CREATE and REMOVE. NULL does no work on the server,
// so its rate is this client's ceiling over this connection: a server whose
// GETATTR rate comes close to it adds almost nothing per call.
//
//   meta_ops --port=2049 --mount_port=2049 --export=/vnas --files=2000
//
// Works in a directory "meta_ops" under the export (created if missing):
// CREATE (GUARDED) of --files files, LOOKUP of them round-robin, REMOVE of
// all. NULL, GETATTR (of that directory) and LOOKUP run for --seconds each;
// NULL and GETATTR in alternating slices, so their ratio is fair.
// Prints one line:
//   "meta_ops null/s=A getattr/s=B lookup/s=C create/s=D remove/s=E".
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

extern "C" {
#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>
}

ABSL_FLAG(std::string, server, "127.0.0.1", "server address");
ABSL_FLAG(int, port, 2049, "NFS port");
ABSL_FLAG(int, mount_port, 0, "MOUNT port (0 = --port)");
ABSL_FLAG(std::string, export_path, "/vnas", "export to mount");
ABSL_FLAG(int, files, 2000, "files created, looked up and removed");
ABSL_FLAG(double, seconds, 3, "duration of the NULL, GETATTR, LOOKUP runs");

namespace {

using Clock = std::chrono::steady_clock;

// One RPC connection used synchronously: Call() queues one request and
// services the socket until its reply has been handled.
class SyncRpc {
 public:
  SyncRpc() = default;
  SyncRpc(const SyncRpc&) = delete;
  SyncRpc& operator=(const SyncRpc&) = delete;
  ~SyncRpc() {
    if (rpc_ != nullptr) rpc_destroy_context(rpc_);
  }

  absl::Status Connect(const std::string& server, int port) {
    rpc_ = rpc_init_context();
    if (rpc_ == nullptr) return absl::InternalError("rpc_init_context");
    return Call("connect", [&](rpc_cb cb, void* p) {
      return rpc_connect_async(rpc_, server.c_str(), port, cb, p);
    }, [](void*) { return absl::OkStatus(); });
  }

  // Queues a call with `issue(cb, private_data)` and waits for its reply;
  // `on_reply` sees the decoded result (valid only during the call) and
  // returns the procedure's own status.
  absl::Status Call(const char* what,
                    const std::function<int(rpc_cb, void*)>& issue,
                    const std::function<absl::Status(void*)>& on_reply) {
    Pending p;
    p.on_reply = &on_reply;
    if (issue(&SyncRpc::OnReply, &p) != 0) {
      return absl::InternalError(
          absl::StrCat(what, ": queue: ", rpc_get_error(rpc_)));
    }
    while (!p.done) {
      pollfd fd{rpc_get_fd(rpc_), static_cast<short>(rpc_which_events(rpc_)),
                0};
      if (poll(&fd, 1, 100) < 0) return absl::ErrnoToStatus(errno, "poll");
      if (rpc_service(rpc_, fd.revents) < 0) {
        return absl::UnavailableError(
            absl::StrCat(what, ": ", rpc_get_error(rpc_)));
      }
    }
    if (!p.status.ok()) {
      return absl::Status(p.status.code(),
                          absl::StrCat(what, ": ", p.status.message()));
    }
    return absl::OkStatus();
  }

  rpc_context* get() const { return rpc_; }

 private:
  struct Pending {
    const std::function<absl::Status(void*)>* on_reply = nullptr;
    bool done = false;
    absl::Status status;
  };

  static void OnReply(rpc_context* /*rpc*/, int status, void* data,
                      void* private_data) {
    Pending* p = static_cast<Pending*>(private_data);
    p->done = true;
    if (status != RPC_STATUS_SUCCESS) {
      p->status = absl::UnavailableError(
          status == RPC_STATUS_ERROR && data != nullptr
              ? static_cast<const char*>(data)
              : "RPC failed");
      return;
    }
    p->status = (*p->on_reply)(data);
  }

  rpc_context* rpc_ = nullptr;
};

absl::Status Nfs3(nfsstat3 s) {
  if (s == NFS3_OK) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("nfsstat3 ", static_cast<int>(s)));
}

// A file handle owned by this program (the decoded results' memory is not).
struct Fh {
  std::string bytes;
  nfs_fh3 view() {
    nfs_fh3 fh;
    fh.data.data_len = static_cast<u_int>(bytes.size());
    fh.data.data_val = bytes.data();
    return fh;
  }
};

absl::Status Mount(const std::string& server, int port,
                   const std::string& export_path, Fh* root) {
  SyncRpc m;
  absl::Status s = m.Connect(server, port);
  if (!s.ok()) return s;
  std::string path = export_path;
  return m.Call("MNT", [&](rpc_cb cb, void* p) {
    return rpc_mount3_mnt_async(m.get(), cb, path.data(), p);
  }, [&](void* data) {
    auto* res = static_cast<mountres3*>(data);
    if (res->fhs_status != MNT3_OK) {
      return absl::PermissionDeniedError(
          absl::StrCat("mountstat3 ", static_cast<int>(res->fhs_status)));
    }
    const fhandle3& fh = res->mountres3_u.mountinfo.fhandle;
    root->bytes.assign(fh.fhandle3_val, fh.fhandle3_len);
    return absl::OkStatus();
  });
}

class MetaOps {
 public:
  explicit MetaOps(SyncRpc* rpc) : rpc_(rpc) {}

  absl::Status Null() {
    return rpc_->Call("NULL", [&](rpc_cb cb, void* p) {
      return rpc_nfs3_null_async(rpc_->get(), cb, p);
    }, [](void*) { return absl::OkStatus(); });
  }

  absl::Status Getattr(Fh* fh) {
    GETATTR3args a{};
    a.object = fh->view();
    return rpc_->Call("GETATTR", [&](rpc_cb cb, void* p) {
      return rpc_nfs3_getattr_async(rpc_->get(), cb, &a, p);
    }, [](void* d) { return Nfs3(static_cast<GETATTR3res*>(d)->status); });
  }

  // LOOKUP of `name` in `dir`; fills *out when out is not null.
  absl::Status Lookup(Fh* dir, std::string name, Fh* out) {
    LOOKUP3args a{};
    a.what.dir = dir->view();
    a.what.name = name.data();
    return rpc_->Call("LOOKUP", [&](rpc_cb cb, void* p) {
      return rpc_nfs3_lookup_async(rpc_->get(), cb, &a, p);
    }, [&](void* d) {
      auto* res = static_cast<LOOKUP3res*>(d);
      if (res->status == NFS3_OK && out != nullptr) {
        const nfs_fh3& fh = res->LOOKUP3res_u.resok.object;
        out->bytes.assign(fh.data.data_val, fh.data.data_len);
      }
      return Nfs3(res->status);
    });
  }

  // MKDIR of `name` in `dir` (mode 0755); an existing one is fine.
  absl::Status Mkdir(Fh* dir, std::string name) {
    MKDIR3args a{};
    a.where.dir = dir->view();
    a.where.name = name.data();
    a.attributes.mode.set_it = 1;
    a.attributes.mode.set_mode3_u.mode = 0755;
    return rpc_->Call("MKDIR", [&](rpc_cb cb, void* p) {
      return rpc_nfs3_mkdir_async(rpc_->get(), cb, &a, p);
    }, [](void* d) {
      nfsstat3 s = static_cast<MKDIR3res*>(d)->status;
      return s == NFS3ERR_EXIST ? absl::OkStatus() : Nfs3(s);
    });
  }

  // CREATE GUARDED of `name` in `dir`, mode 0644.
  absl::Status Create(Fh* dir, std::string name) {
    CREATE3args a{};
    a.where.dir = dir->view();
    a.where.name = name.data();
    a.how.mode = GUARDED;
    a.how.createhow3_u.obj_attributes.mode.set_it = 1;
    a.how.createhow3_u.obj_attributes.mode.set_mode3_u.mode = 0644;
    return rpc_->Call("CREATE", [&](rpc_cb cb, void* p) {
      return rpc_nfs3_create_async(rpc_->get(), cb, &a, p);
    }, [](void* d) { return Nfs3(static_cast<CREATE3res*>(d)->status); });
  }

  absl::Status Remove(Fh* dir, std::string name) {
    REMOVE3args a{};
    a.object.dir = dir->view();
    a.object.name = name.data();
    return rpc_->Call("REMOVE", [&](rpc_cb cb, void* p) {
      return rpc_nfs3_remove_async(rpc_->get(), cb, &a, p);
    }, [](void* d) { return Nfs3(static_cast<REMOVE3res*>(d)->status); });
  }

 private:
  SyncRpc* rpc_;
};

// Calls op(i) for i = 0, 1, ... until `seconds` pass (timed) or, when
// seconds <= 0, for i < count. Returns calls per second in *rate.
absl::Status Rate(double seconds, int count,
                  const std::function<absl::Status(int)>& op, double* rate) {
  const Clock::time_point t0 = Clock::now();
  const auto limit = std::chrono::duration<double>(seconds);
  int i = 0;
  for (;; ++i) {
    if (seconds > 0 ? Clock::now() - t0 >= limit : i >= count) break;
    absl::Status s = op(i);
    if (!s.ok()) return s;
  }
  *rate = i / std::chrono::duration<double>(Clock::now() - t0).count();
  return absl::OkStatus();
}

// Runs a and b in turn, `rounds` slices of seconds / rounds each, and
// returns each one's calls per second: drifting machine load (CPU clock,
// neighbours) then weighs on both alike, so their ratio stays fair.
absl::Status InterleavedRates(double seconds, int rounds,
                              const std::function<absl::Status(int)>& a,
                              const std::function<absl::Status(int)>& b,
                              double* rate_a, double* rate_b) {
  double calls_a = 0, calls_b = 0;
  for (int r = 0; r < rounds; ++r) {
    double ra = 0, rb = 0;
    absl::Status s = Rate(seconds / rounds, 0, a, &ra);
    if (s.ok()) s = Rate(seconds / rounds, 0, b, &rb);
    if (!s.ok()) return s;
    calls_a += ra;
    calls_b += rb;
  }
  *rate_a = calls_a / rounds;
  *rate_b = calls_b / rounds;
  return absl::OkStatus();
}

std::string FileName(int i) { return absl::StrCat("f", i); }

absl::Status RunAll(double* null_s, double* getattr_s, double* lookup_s,
                    double* create_s, double* remove_s) {
  const std::string server = absl::GetFlag(FLAGS_server);
  const int port = absl::GetFlag(FLAGS_port);
  const int mport = absl::GetFlag(FLAGS_mount_port);
  const int n = absl::GetFlag(FLAGS_files);
  const double secs = absl::GetFlag(FLAGS_seconds);
  Fh root, dir;
  absl::Status s =
      Mount(server, mport ? mport : port, absl::GetFlag(FLAGS_export_path),
            &root);
  if (!s.ok()) return s;
  SyncRpc rpc;
  s = rpc.Connect(server, port);
  if (!s.ok()) return s;
  MetaOps ops(&rpc);
  s = ops.Mkdir(&root, "meta_ops");
  if (s.ok()) s = ops.Lookup(&root, "meta_ops", &dir);
  if (s.ok()) {
    s = InterleavedRates(
        2 * secs, 10, [&](int) { return ops.Null(); },
        [&](int) { return ops.Getattr(&dir); }, null_s, getattr_s);
  }
  if (s.ok()) {
    s = Rate(0, n, [&](int i) { return ops.Create(&dir, FileName(i)); },
             create_s);
  }
  if (s.ok()) {
    s = Rate(secs, 0,
             [&](int i) { return ops.Lookup(&dir, FileName(i % n), nullptr); },
             lookup_s);
  }
  if (s.ok()) {
    s = Rate(0, n, [&](int i) { return ops.Remove(&dir, FileName(i)); },
             remove_s);
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_files) <= 0) {
    fprintf(stderr, "meta_ops: --files must be positive\n");
    return 2;
  }
  double null_s = 0, getattr_s = 0, lookup_s = 0, create_s = 0, remove_s = 0;
  absl::Status s = RunAll(&null_s, &getattr_s, &lookup_s, &create_s, &remove_s);
  if (!s.ok()) {
    fprintf(stderr, "meta_ops: %s\n", s.ToString().c_str());
    return 1;
  }
  printf("meta_ops null/s=%.0f getattr/s=%.0f lookup/s=%.0f create/s=%.0f "
         "remove/s=%.0f\n",
         null_s, getattr_s, lookup_s, create_s, remove_s);
  return 0;
}
