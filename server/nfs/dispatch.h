// dispatch.h — routes one RPC record to its program/procedure handler and
// builds the reply.
//
// Each program (NFS3, MOUNT3, PMAP2) has a table indexed by procedure
// number: {name, handler, idempotent}. A parallel stats slot per entry counts
// calls, errors and latency. Non-idempotent procedures go through the
// duplicate-request cache. RPC-level failures are answered here:
//   unknown program → PROG_UNAVAIL, version → PROG_MISMATCH,
//   procedure → PROC_UNAVAIL, undecodable args → GARBAGE_ARGS,
//   rpcvers ≠ 2 → RPC_MISMATCH, other auth flavors → AUTH_ERROR.
//
// Thread safety: Handle() is called concurrently from worker threads.
#ifndef VNAS_SERVER_NFS_DISPATCH_H_
#define VNAS_SERVER_NFS_DISPATCH_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "server/nfs/drc.h"
#include "server/nfs/exports.h"
#include "server/nfs/fh.h"
#include "server/nfs/mount3.h"
#include "server/nfs/nfs3_procs.h"
#include "server/nfs/stats.h"
#include "server/nfs/transport.h"
#include "storage/extent_store.h"

namespace vnas::nfs {

// True for calls answered from memory without waiting on I/O: NFS NULL,
// GETATTR, LOOKUP, ACCESS, READLINK, FSINFO, PATHCONF, FSSTAT, and every
// portmapper call. The transport runs these on its I/O thread (see
// InlinePredicate). Reads only the fixed call header; anything malformed is
// "not quick" (the workers answer it with the proper error).
bool IsQuickCall(absl::string_view record);
// True for an NFS3 READ call: the transport first tries it on its I/O
// thread (Dispatcher::TryHandle), which answers it when the data is in
// memory and hands it to a worker otherwise.
bool IsReadCall(absl::string_view record);
// For an NFS3 WRITE call whose first bytes are `head`: where its data begins
// in the record, so the transport can receive the record with the data on a
// page boundary and the store can write it direct (O_DIRECT) without a
// bounce copy. 0 for any other call, or when `head` is too short or
// malformed (a layout hint only: the call is still fully decoded later).
size_t WriteDataOffset(absl::string_view head);

class Dispatcher {
 public:
  // What a table entry's handler returns: the reply was filled (with an OK
  // or an error status), the arguments did not decode, or (may_block false
  // only) the call would have to wait on the device.
  // kProcUnavail: the procedure is in the table but not offered.
  enum class Outcome { kOk, kError, kGarbageArgs, kWouldBlock, kProcUnavail };
  using ProcFn = Outcome (*)(Dispatcher& d, CallContext& ctx,
                             absl::string_view args, XdrEncoder& e);
  struct ProcEntry {
    const char* name;
    ProcFn fn;
    bool idempotent;
  };

  // Pointers are not owned and must outlive the dispatcher.
  Dispatcher(storage::ExtentStore* store, const ExportTable* exports,
             const FileHandleCodec* fh, NfsStats* stats,
             size_t drc_capacity = 8192);

  // Ports the portmapper reports (0 = not served). Set before serving.
  void SetPorts(uint16_t nfs_port, uint16_t pmap_port) {
    nfs_port_ = nfs_port;
    pmap_port_ = pmap_port;
  }
  // The hosts the NFS and portmapper listeners are bound to ("0.0.0.0",
  // "127.0.0.1", "::", "::1"; see RpcbListener), for rpcbind's netids and
  // addresses. Default "0.0.0.0". Set before serving.
  void SetHosts(std::string nfs_host, std::string pmap_host) {
    nfs_host_ = std::move(nfs_host);
    pmap_host_ = std::move(pmap_host);
  }
  const std::string& nfs_host() const { return nfs_host_; }
  const std::string& pmap_host() const { return pmap_host_; }

  // Dispatcher::Handle()
  // Fills `reply` with the record-marked reply to `req.record`, or leaves
  // it empty when nothing must be sent (not a call, duplicate in progress).
  void Handle(RpcRequest& req, ByteBuffer* reply);
  // Dispatcher::TryHandle()
  // Handle() for the transport's I/O thread: nothing in it waits on the
  // device. Returns false (reply empty, nothing counted) when the call
  // would have to (a READ of data not in memory); it then goes to Handle()
  // on a worker.
  bool TryHandle(const RpcRequest& req, ByteBuffer* reply);

  Nfs3Procs& nfs() { return nfs_; }
  MountProcs& mount() { return mount_; }
  uint16_t nfs_port() const { return nfs_port_; }
  uint16_t pmap_port() const { return pmap_port_; }
  const DuplicateRequestCache& drc() const { return drc_; }

 private:
  // `record`: the record a handler may take over (CallContext::record).
  bool Serve(const RpcRequest& req, ByteBuffer* reply, bool may_block,
             ByteBuffer* record);
  struct Program {
    uint32_t prog, vers;
    const ProcEntry* table;
    size_t size;
    std::vector<NfsStats::Slot*> slots;
  };

  NfsStats* const stats_;
  Nfs3Procs nfs_;
  MountProcs mount_;
  DuplicateRequestCache drc_;
  std::vector<Program> programs_;
  std::atomic<uint16_t> nfs_port_{0}, pmap_port_{0};
  std::string nfs_host_ = "0.0.0.0", pmap_host_ = "0.0.0.0";
};

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_DISPATCH_H_
