// transport.h — ONC RPC over TCP: epoll, nonblocking sockets, record
// marking (RFC 5531 §11), and a worker pool.
//
// One I/O thread owns every socket. It reassembles records (multi-fragment
// allowed, at most kMaxRecordSize bytes in all, else the connection is
// closed) and hands each complete record to the worker pool. Workers call
// the handler, which fills a reply, and send the reply themselves (no
// hand-off back to the I/O thread, which only finishes what the socket
// would not take at once); replies leave whole, in completion order (out of
// order with respect to the calls, as RPC over TCP allows). Records an
// optional predicate marks as quick are handled on the I/O thread itself;
// records another predicate marks are first tried there by a handler that
// may decline them (a READ whose data is not in memory), and declined ones
// go to the pool. Each connection has at most kMaxInFlight calls in the
// pool; beyond that it is not read.
//
// Large fragment bodies are received straight into the record buffer, whose
// ownership passes to the handler (WRITE data is a view into it).
//
// Thread safety: Listen() before Start(); Stop() from any one thread.
#ifndef VNAS_SERVER_NFS_TRANSPORT_H_
#define VNAS_SERVER_NFS_TRANSPORT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/nfs/client_addr.h"
#include "server/nfs/stats.h"
#include "server/nfs/xdr.h"

namespace vnas::nfs {

// One complete RPC record from a client.
struct RpcRequest {
  ClientAddr client_addr;
  uint16_t client_port = 0;
  ClientAddr local_addr;     // the server address the client connected to
  ByteBuffer record;         // the record without fragment headers
};

// Fills `reply` with the record-marked reply bytes, or leaves it empty to
// send nothing. Called on worker threads, concurrently. The handler may
// take `req.record` over (move it), e.g. to keep a WRITE's data past the
// call without a copy.
using RpcHandler = std::function<void(RpcRequest& req, ByteBuffer* reply)>;

// True for a record the handler answers quickly without blocking on I/O
// (e.g. GETATTR): it is handled on the I/O thread itself, saving the two
// thread hand-offs that dominate a small call's latency.
using InlinePredicate = std::function<bool(absl::string_view record)>;

// Tries a record on the I/O thread without blocking: true = answered
// (`reply` filled, or left empty to send nothing); false = declined (it
// would wait on I/O), and the record goes to a worker's RpcHandler.
using TryInlineHandler =
    std::function<bool(const RpcRequest& req, ByteBuffer* reply)>;

// Given the first bytes of a record (as many as have arrived), where its
// bulk data begins, or 0 when it has none or cannot tell yet. The
// transport then receives a big record with that byte on a 4 KiB boundary.
using DataOffsetHint = std::function<size_t(absl::string_view head)>;
// Memory for a big record of `len` bytes whose bulk data starts at byte
// `lead` (from DataOffsetHint): at least `len` bytes with byte `lead` on
// a 4 KiB boundary, held by the pointer's owner; or null, and the
// transport allocates the record itself. (vnasd gives the store's Env's
// WriteMemory, so a WRITE's data arrives where the data cache keeps it.)
using RecordMemory = std::function<std::shared_ptr<char>(size_t lead, size_t len)>;

// Splits "host:port": an IPv4 address, "localhost" (127.0.0.1), or an IPv6
// address in brackets ("[::1]:2049"; `host` without them). An empty host
// is 0.0.0.0. Fails InvalidArgument.
absl::Status ParseHostPort(absl::string_view s, std::string* host,
                           uint16_t* port);

class RpcTransport {
 public:
  static constexpr int kMaxInFlight = 64;

  // `stats` (may be null) gets connect/disconnect events; not owned.
  RpcTransport(RpcHandler handler, int num_workers, NfsStats* stats);
  ~RpcTransport();
  RpcTransport(const RpcTransport&) = delete;
  RpcTransport& operator=(const RpcTransport&) = delete;

  // RpcTransport::Listen()
  // Binds and listens on "host:port" (port 0 picks one). Returns the bound
  // port. Fails with the errno (e.g. EADDRINUSE, EACCES) as an FsError.
  absl::StatusOr<uint16_t> Listen(absl::string_view host_port);

  // Records for which `quick` holds are handled on the I/O thread (before
  // Start()); the rest go to the workers.
  void SetInlinePredicate(InlinePredicate quick);
  // Records for which `candidate` holds are first offered to `try_inline`
  // on the I/O thread (before Start()).
  void SetTryInline(InlinePredicate candidate, TryInlineHandler try_inline);
  // Records of 16 KiB or more are laid out so that byte `hint(head)` is
  // page-aligned (before Start()); see DataOffsetHint.
  void SetDataOffsetHint(DataOffsetHint hint);
  // Where records laid out by the hint are received (before Start()); see
  // RecordMemory.
  void SetRecordMemory(RecordMemory memory);

  // Starts the I/O thread and workers.
  absl::Status Start();
  // Closes every socket and joins all threads. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_TRANSPORT_H_
