// rpc_load — pipelined RPC load on vnasd's NFS port: N connections, each
// keeping D calls in flight (NULL or GETATTR of the export root), for S
// seconds. Prints calls/s: the front end's own capacity (transport, XDR,
// dispatch, handle check; GETATTR adds one store lookup).
//
//   rpc_load --port=2049 --conns=4 --depth=32 --seconds=5 --proc=getattr
// Any NFSv3 server works (e.g. nfs-ganesha with --mount_port=20048).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "server/nfs/mount_types.h"
#include "server/nfs/nfs3_types.h"
#include "server/nfs/rpc.h"
#include "server/nfs/xdr.h"

ABSL_FLAG(int, port, 2049, "NFS port on 127.0.0.1");
ABSL_FLAG(int, mount_port, 0, "MOUNT port (0 = --port)");
ABSL_FLAG(int, conns, 4, "connections");
ABSL_FLAG(int, depth, 32, "calls in flight per connection");
ABSL_FLAG(int, seconds, 5, "duration");
ABSL_FLAG(std::string, proc, "getattr", "null | getattr");
ABSL_FLAG(std::string, export_path, "/vnas", "export to mount");

namespace {

using vnas::nfs::ByteBuffer;
using vnas::nfs::XdrEncoder;

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    perror("connect");
    exit(1);
  }
  return fd;
}

bool ReadFull(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// Reads one single-fragment reply; returns its body.
bool ReadReply(int fd, std::string* body) {
  char mark[4];
  if (!ReadFull(fd, mark, 4)) return false;
  uint32_t len = vnas::nfs::LoadBe32(mark) & 0x7fffffffu;
  body->resize(len);
  return ReadFull(fd, body->data(), len);
}

std::string Call(uint32_t xid, uint32_t prog, uint32_t proc,
                 const std::string& args) {
  ByteBuffer b;
  XdrEncoder e(&b);
  e.U32(0);  // record mark placeholder
  vnas::nfs::WriteCallHeader(e, xid, prog, 3, proc);
  b.Append(args.data(), args.size());
  vnas::nfs::StoreBe32(b.data(), 0x80000000u | static_cast<uint32_t>(b.size() - 4));
  return std::string(b.view());
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int port = absl::GetFlag(FLAGS_port);
  // MNT the export for the root handle.
  std::string root;
  {
    const int mport = absl::GetFlag(FLAGS_mount_port);
    int fd = Connect(mport ? mport : port);
    ByteBuffer a;
    XdrEncoder e(&a);
    e.Var(absl::GetFlag(FLAGS_export_path));
    std::string c = Call(1, vnas::nfs::kMountProgram, vnas::nfs::MOUNTPROC3_MNT,
                         std::string(a.view()));
    if (write(fd, c.data(), c.size()) != static_cast<ssize_t>(c.size())) return 1;
    std::string body;
    if (!ReadReply(fd, &body) || body.size() < 32 ||
        vnas::nfs::LoadBe32(body.data() + 24) != 0) {
      fprintf(stderr, "rpc_load: MNT failed\n");
      return 1;
    }
    uint32_t len = vnas::nfs::LoadBe32(body.data() + 28);
    root = body.substr(32, len);
    close(fd);
  }
  const bool getattr = absl::GetFlag(FLAGS_proc) == "getattr";
  std::string args;
  if (getattr) {
    ByteBuffer a;
    XdrEncoder e(&a);
    e.Var(root);
    args = std::string(a.view());
  }
  const uint32_t proc =
      getattr ? static_cast<uint32_t>(vnas::nfs::NFSPROC3_GETATTR) : 0u;
  std::atomic<uint64_t> total{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < absl::GetFlag(FLAGS_conns); ++t) {
    threads.emplace_back([&, t] {
      int fd = Connect(port);
      uint32_t xid = static_cast<uint32_t>(t) << 24;
      std::string burst;
      for (int i = 0; i < absl::GetFlag(FLAGS_depth); ++i) {
        burst += Call(++xid, vnas::nfs::kNfsProgram, proc, args);
      }
      if (write(fd, burst.data(), burst.size()) < 0) return;
      std::string body;
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!ReadReply(fd, &body)) break;
        ++n;
        std::string c = Call(++xid, vnas::nfs::kNfsProgram, proc, args);
        if (write(fd, c.data(), c.size()) < 0) break;
      }
      total += n;
      close(fd);
    });
  }
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(absl::GetFlag(FLAGS_seconds)));
  stop = true;
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (std::thread& th : threads) th.join();
  printf("rpc_load %s conns=%d depth=%d: %.0f calls/s\n",
         getattr ? "GETATTR" : "NULL", absl::GetFlag(FLAGS_conns),
         absl::GetFlag(FLAGS_depth), static_cast<double>(total.load()) / secs);
  return 0;
}
