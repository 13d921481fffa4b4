// dispatch.cc — procedure tables and RPC reply construction.
#include "server/nfs/dispatch.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/nfs/mount_types.h"
#include "server/nfs/nfs3_types.h"
#include "server/nfs/rpc.h"
#include "server/nfs/rpcbind.h"

namespace vnas::nfs {

bool IsQuickCall(absl::string_view r) {
  // xid, msg_type (0 = CALL), rpcvers (2), prog, vers, proc.
  if (r.size() < 24 || LoadBe32(r.data() + 4) != 0 ||
      LoadBe32(r.data() + 8) != 2) {
    return false;
  }
  const uint32_t prog = LoadBe32(r.data() + 12);
  const uint32_t vers = LoadBe32(r.data() + 16);
  const uint32_t proc = LoadBe32(r.data() + 20);
  if (prog == kPmapProgram) return true;
  if (prog != kNfsProgram || vers != 3) return false;
  switch (proc) {
    case NFSPROC3_NULL:
    case NFSPROC3_GETATTR:
    case NFSPROC3_LOOKUP:
    case NFSPROC3_ACCESS:
    case NFSPROC3_READLINK:
    case NFSPROC3_FSSTAT:
    case NFSPROC3_FSINFO:
    case NFSPROC3_PATHCONF:
      return true;
    default:
      return false;
  }
}
namespace {

using Outcome = Dispatcher::Outcome;
using ProcEntry = Dispatcher::ProcEntry;

Outcome Null(Dispatcher&, CallContext&, absl::string_view, XdrEncoder&) {
  return Outcome::kOk;
}

// Decodes Args, runs the handler, encodes Res.
template <typename Args, typename Res,
          Res (Nfs3Procs::*Fn)(const CallContext&, const Args&)>
Outcome NfsProc(Dispatcher& d, CallContext& ctx, absl::string_view args,
                XdrEncoder& e) {
  Args a;
  XdrDecoder dec(args);
  if (!Decode(dec, &a)) return Outcome::kGarbageArgs;
  Res r = (d.nfs().*Fn)(ctx, a);
  if (ctx.would_block) return Outcome::kWouldBlock;
  Encode(e, r);
  return r.status == NFS3_OK ? Outcome::kOk : Outcome::kError;
}

#define NFS_PROC(NAME, TYPE, METHOD, IDEMPOTENT)                        \
  {                                                                     \
    NAME, &NfsProc<TYPE##3args, TYPE##3res, &Nfs3Procs::METHOD>, IDEMPOTENT \
  }

// RFC 1813 §3.3, indexed by procedure number. Idempotency as in Linux
// nfsd's cache types: only replies of non-idempotent calls are cached.
const ProcEntry kNfs3Table[kNfs3NumProcs] = {
    {"NULL", &Null, true},
    NFS_PROC("GETATTR", GETATTR, Getattr, true),
    NFS_PROC("SETATTR", SETATTR, Setattr, false),
    NFS_PROC("LOOKUP", LOOKUP, Lookup, true),
    NFS_PROC("ACCESS", ACCESS, Access, true),
    NFS_PROC("READLINK", READLINK, Readlink, true),
    NFS_PROC("READ", READ, Read, true),
    NFS_PROC("WRITE", WRITE, Write, false),
    NFS_PROC("CREATE", CREATE, Create, false),
    NFS_PROC("MKDIR", MKDIR, Mkdir, false),
    NFS_PROC("SYMLINK", SYMLINK, Symlink, false),
    NFS_PROC("MKNOD", MKNOD, Mknod, false),
    NFS_PROC("REMOVE", REMOVE, Remove, false),
    NFS_PROC("RMDIR", RMDIR, Rmdir, false),
    NFS_PROC("RENAME", RENAME, Rename, false),
    NFS_PROC("LINK", LINK, Link, false),
    NFS_PROC("READDIR", READDIR, Readdir, true),
    NFS_PROC("READDIRPLUS", READDIRPLUS, Readdirplus, true),
    NFS_PROC("FSSTAT", FSSTAT, Fsstat, true),
    NFS_PROC("FSINFO", FSINFO, Fsinfo, true),
    NFS_PROC("PATHCONF", PATHCONF, Pathconf, true),
    NFS_PROC("COMMIT", COMMIT, Commit, true),
};

// ---- MOUNT3 ----

Outcome MountMnt(Dispatcher& d, CallContext& ctx, absl::string_view args,
                 XdrEncoder& e) {
  XdrDecoder dec(args);
  absl::string_view path;
  if (!DecodeDirpath(dec, &path)) return Outcome::kGarbageArgs;
  mountres3 r = d.mount().Mnt(ctx, path);
  Encode(e, r);
  return r.fhs_status == MNT3_OK ? Outcome::kOk : Outcome::kError;
}

Outcome MountDump(Dispatcher& d, CallContext& ctx, absl::string_view,
                  XdrEncoder& e) {
  Encode(e, d.mount().Dump(ctx));
  return Outcome::kOk;
}

Outcome MountUmnt(Dispatcher& d, CallContext& ctx, absl::string_view args,
                  XdrEncoder&) {
  XdrDecoder dec(args);
  absl::string_view path;
  if (!DecodeDirpath(dec, &path)) return Outcome::kGarbageArgs;
  d.mount().Umnt(ctx, path);
  return Outcome::kOk;
}

Outcome MountUmntall(Dispatcher& d, CallContext& ctx, absl::string_view,
                     XdrEncoder&) {
  d.mount().Umntall(ctx);
  return Outcome::kOk;
}

Outcome MountExport(Dispatcher& d, CallContext& ctx, absl::string_view,
                    XdrEncoder& e) {
  Encode(e, d.mount().Export(ctx));
  return Outcome::kOk;
}

const ProcEntry kMount3Table[kMountNumProcs] = {
    {"NULL", &Null, true},         {"MNT", &MountMnt, true},
    {"DUMP", &MountDump, true},    {"UMNT", &MountUmnt, true},
    {"UMNTALL", &MountUmntall, true}, {"EXPORT", &MountExport, true},
};

// ---- PMAP2 (RFC 1833 §3) ----

pmaplist Mappings(const Dispatcher& d) {
  pmaplist l;
  if (d.pmap_port()) {
    for (uint32_t v : {kPmapVersion, kRpcbindVersion3, kRpcbindVersion4}) {
      l.push_back({kPmapProgram, v, IPPROTO_TCP_PMAP, d.pmap_port()});
    }
  }
  if (d.nfs_port()) {
    l.push_back({kNfsProgram, kNfsVersion, IPPROTO_TCP_PMAP, d.nfs_port()});
    l.push_back({kMountProgram, kMountVersion, IPPROTO_TCP_PMAP, d.nfs_port()});
  }
  return l;
}

Outcome PmapGetport(Dispatcher& d, CallContext&, absl::string_view args,
                    XdrEncoder& e) {
  XdrDecoder dec(args);
  mapping m;
  if (!Decode(dec, &m)) return Outcome::kGarbageArgs;
  uint32_t port = 0;
  for (const mapping& x : Mappings(d)) {
    if (x.prog == m.prog && x.vers == m.vers && x.prot == m.prot) port = x.port;
  }
  e.U32(port);
  return port ? Outcome::kOk : Outcome::kError;
}

// SET/UNSET: registrations are fixed; answer false.
Outcome PmapSetUnset(Dispatcher&, CallContext&, absl::string_view args,
                     XdrEncoder& e) {
  XdrDecoder dec(args);
  mapping m;
  if (!Decode(dec, &m)) return Outcome::kGarbageArgs;
  e.Bool(false);
  return Outcome::kError;
}

Outcome PmapDump(Dispatcher& d, CallContext&, absl::string_view,
                 XdrEncoder& e) {
  Encode(e, Mappings(d));
  return Outcome::kOk;
}

// CALLIT (5) is not offered (PROC_UNAVAIL): it amplifies traffic.
const ProcEntry kPmap2Table[5] = {
    {"NULL", &Null, true},          {"SET", &PmapSetUnset, true},
    {"UNSET", &PmapSetUnset, true}, {"GETPORT", &PmapGetport, true},
    {"DUMP", &PmapDump, true},
};

// ---- rpcbind v3 and v4 (RFC 1833 §2; rpcbind.h) ----

std::vector<rpcb> Registered(const Dispatcher& d, const CallContext& ctx) {
  return Registrations(RpcbListener{d.nfs_host(), d.nfs_port()},
                       RpcbListener{d.pmap_host(), d.pmap_port()},
                       ctx.local_addr);
}

Outcome RpcbLookUp(Dispatcher& d, CallContext& ctx, absl::string_view args,
                   XdrEncoder& e, bool any_version) {
  XdrDecoder dec(args);
  rpcb want;
  if (!Decode(dec, &want)) return Outcome::kGarbageArgs;
  const std::string addr =
      LookUpAddress(Registered(d, ctx), want, ctx.local_addr, any_version);
  e.Var(addr);
  return addr.empty() ? Outcome::kError : Outcome::kOk;
}

Outcome RpcbGetaddr(Dispatcher& d, CallContext& ctx, absl::string_view args,
                    XdrEncoder& e) {
  return RpcbLookUp(d, ctx, args, e, /*any_version=*/true);
}

Outcome RpcbGetversaddr(Dispatcher& d, CallContext& ctx, absl::string_view args,
                        XdrEncoder& e) {
  return RpcbLookUp(d, ctx, args, e, /*any_version=*/false);
}

// SET/UNSET: registrations are fixed; answer false.
Outcome RpcbSetUnset(Dispatcher&, CallContext&, absl::string_view args,
                     XdrEncoder& e) {
  XdrDecoder dec(args);
  rpcb r;
  if (!Decode(dec, &r)) return Outcome::kGarbageArgs;
  e.Bool(false);
  return Outcome::kError;
}

Outcome RpcbDump(Dispatcher& d, CallContext& ctx, absl::string_view,
                 XdrEncoder& e) {
  Encode(e, Registered(d, ctx));
  return Outcome::kOk;
}

Outcome RpcbGettime(Dispatcher&, CallContext&, absl::string_view,
                    XdrEncoder& e) {
  e.U32(static_cast<uint32_t>(absl::ToUnixSeconds(absl::Now())));
  return Outcome::kOk;
}

// CALLIT/BCAST and INDIRECT amplify traffic, as PMAP2's CALLIT; the address
// translations and GETADDRLIST/GETSTAT are not offered either.
Outcome Unavailable(Dispatcher&, CallContext&, absl::string_view, XdrEncoder&) {
  return Outcome::kProcUnavail;
}

const ProcEntry kRpcb4Table[kRpcb4NumProcs] = {
    {"NULL", &Null, true},
    {"SET", &RpcbSetUnset, true},
    {"UNSET", &RpcbSetUnset, true},
    {"GETADDR", &RpcbGetaddr, true},
    {"DUMP", &RpcbDump, true},
    {"CALLIT", &Unavailable, true},
    {"GETTIME", &RpcbGettime, true},
    {"UADDR2TADDR", &Unavailable, true},
    {"TADDR2UADDR", &Unavailable, true},
    {"GETVERSADDR", &RpcbGetversaddr, true},
    {"INDIRECT", &Unavailable, true},
    {"GETADDRLIST", &Unavailable, true},
    {"GETSTAT", &Unavailable, true},
};

void FinishRecord(ByteBuffer* reply) {
  StoreBe32(reply->data(),
            0x80000000u | static_cast<uint32_t>(reply->wire_size() - 4));
}

}  // namespace

Dispatcher::Dispatcher(storage::ExtentStore* store, const ExportTable* exports,
                       const FileHandleCodec* fh, NfsStats* stats,
                       size_t drc_capacity)
    : stats_(stats),
      nfs_(store, exports, fh, stats),
      mount_(store, exports, fh),
      drc_(drc_capacity) {
  auto add = [&](uint32_t prog, uint32_t vers, const ProcEntry* t, size_t n,
                 const char* prefix) {
    Program p{prog, vers, t, n, {}};
    for (size_t i = 0; i < n; ++i) {
      p.slots.push_back(stats ? stats->AddSlot(absl::StrCat(prefix, ".", t[i].name))
                              : nullptr);
    }
    programs_.push_back(std::move(p));
  };
  add(kNfsProgram, kNfsVersion, kNfs3Table, kNfs3NumProcs, "NFS3");
  add(kMountProgram, kMountVersion, kMount3Table, kMountNumProcs, "MOUNT3");
  add(kPmapProgram, kPmapVersion, kPmap2Table, 5, "PMAP2");
  // v3 is v4's first nine procedures.
  add(kPmapProgram, kRpcbindVersion3, kRpcb4Table, kRpcb3NumProcs, "RPCB3");
  add(kPmapProgram, kRpcbindVersion4, kRpcb4Table, kRpcb4NumProcs, "RPCB4");
}

namespace {

// The fixed call header (xid, CALL, RPC 2, prog, vers, proc) names NFSv3
// procedure `proc`.
bool IsNfs3Call(absl::string_view r, uint32_t proc) {
  return r.size() >= 24 && LoadBe32(r.data() + 4) == 0 &&
         LoadBe32(r.data() + 8) == 2 && LoadBe32(r.data() + 12) == kNfsProgram &&
         LoadBe32(r.data() + 16) == 3 && LoadBe32(r.data() + 20) == proc;
}

}  // namespace

bool IsReadCall(absl::string_view r) { return IsNfs3Call(r, NFSPROC3_READ); }

size_t WriteDataOffset(absl::string_view head) {
  if (!IsNfs3Call(head, NFSPROC3_WRITE)) return 0;
  // RPC call header (xid .. proc), cred, verf; then WRITE3args: file
  // handle, offset, count, stable, and the data's length word.
  XdrDecoder d(head.data() + 24, head.size() - 24);
  uint32_t flavor, len, stable;
  uint64_t offset;
  absl::string_view skip;
  if (!d.U32(&flavor) || !d.Var(kMaxAuthBytes, &skip) || !d.U32(&flavor) ||
      !d.Var(kMaxAuthBytes, &skip) || !d.Var(NFS3_FHSIZE, &skip) || !d.U64(&offset) ||
      !d.U32(&len) || !d.U32(&stable) || !d.U32(&len)) {
    return 0;
  }
  return head.size() - d.remaining();
}

void Dispatcher::Handle(RpcRequest& req, ByteBuffer* reply) {
  (void)Serve(req, reply, /*may_block=*/true, &req.record);
}

bool Dispatcher::TryHandle(const RpcRequest& req, ByteBuffer* reply) {
  return Serve(req, reply, /*may_block=*/false, /*record=*/nullptr);
}

bool Dispatcher::Serve(const RpcRequest& req, ByteBuffer* reply,
                       bool may_block, ByteBuffer* record) {
  const auto start = std::chrono::steady_clock::now();
  reply->Clear();
  reply->Resize(4);  // record mark, filled by FinishRecord
  XdrEncoder e(reply);

  RpcCall call;
  auth_stat auth = AUTH_OK;
  switch (ParseCall(req.record.view(), &call, &auth)) {
    case CallParse::kDrop:
      reply->Clear();
      return true;
    case CallParse::kRpcMismatch:
      WriteRpcMismatch(e, call.xid);
      FinishRecord(reply);
      return true;
    case CallParse::kAuthError:
      WriteAuthError(e, call.xid, auth);
      FinishRecord(reply);
      return true;
    case CallParse::kOk:
      break;
  }

  Program* prog = nullptr;
  bool prog_known = false;
  uint32_t low = ~0u, high = 0;
  for (Program& p : programs_) {
    if (p.prog != call.prog) continue;
    prog_known = true;
    low = std::min(low, p.vers);
    high = std::max(high, p.vers);
    if (p.vers == call.vers) prog = &p;
  }
  if (!prog_known) {
    WriteAcceptedHeader(e, call.xid, PROG_UNAVAIL);
    FinishRecord(reply);
    return true;
  }
  if (!prog) {
    WriteProgMismatch(e, call.xid, low, high);
    FinishRecord(reply);
    return true;
  }
  if (call.proc >= prog->size) {
    WriteAcceptedHeader(e, call.xid, PROC_UNAVAIL);
    FinishRecord(reply);
    return true;
  }
  const ProcEntry& entry = prog->table[call.proc];

  DrcKey key;
  bool cached = !entry.idempotent;
  if (cached) {
    key = DrcKey{req.client_addr, call.xid, call.prog, call.proc,
                 ArgsChecksum(call.args)};
    std::string old;
    switch (drc_.Begin(key, &old)) {
      case DuplicateRequestCache::Lookup::kInProgress:
        reply->Clear();
        return true;
      case DuplicateRequestCache::Lookup::kReplay:
        if (stats_) stats_->OnDrcHit();
        reply->Clear();
        reply->Append(old.data(), old.size());
        return true;
      case DuplicateRequestCache::Lookup::kNew:
        break;
    }
  }

  WriteAcceptedHeader(e, call.xid, SUCCESS);
  CallContext ctx;
  ctx.client_addr = req.client_addr;
  ctx.local_addr = req.local_addr;
  ctx.call = &call;
  ctx.reply = reply;
  ctx.may_block = may_block;
  ctx.record = record;  // args are views into it: they stay valid if taken
  Outcome out = entry.fn(*this, ctx, call.args, e);
  if (out == Outcome::kWouldBlock) {
    // Declined on the I/O thread (only idempotent READ does: no DRC entry
    // to undo, and the worker that takes it over counts it).
    reply->Clear();
    return false;
  }
  if (out == Outcome::kGarbageArgs || out == Outcome::kProcUnavail) {
    reply->Resize(4);
    reply->ClearTail();
    WriteAcceptedHeader(
        e, call.xid, out == Outcome::kGarbageArgs ? GARBAGE_ARGS : PROC_UNAVAIL);
  }
  FinishRecord(reply);
  if (cached) {
    // (Only READ lends its data, and READ is idempotent: never cached.)
    if (out == Outcome::kGarbageArgs || out == Outcome::kProcUnavail ||
        reply->tail_size() > 0) {
      drc_.Abandon(key);
    } else {
      drc_.Finish(key, reply->view());
    }
  }
  if (NfsStats::Slot* slot = prog->slots[call.proc]) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    slot->Record(static_cast<uint64_t>(us), out != Outcome::kOk);
  }
  return true;
}

}  // namespace vnas::nfs
