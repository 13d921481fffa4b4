// rpc.cc — ONC RPC v2 headers (grammar in rpc.h).
#include "server/nfs/rpc.h"

namespace vnas::nfs {
namespace {

constexpr uint32_t kCall = 0;
constexpr uint32_t kReply = 1;
constexpr uint32_t kMsgAccepted = 0;
constexpr uint32_t kMsgDenied = 1;
constexpr uint32_t kRejectRpcMismatch = 0;
constexpr uint32_t kRejectAuthError = 1;

bool ParseAuthSys(absl::string_view body, AuthSys* cred) {
  XdrDecoder d(body);
  absl::string_view machine;
  uint32_t ngids;
  if (!d.U32(&cred->stamp) || !d.Var(255, &machine) || !d.U32(&cred->uid) ||
      !d.U32(&cred->gid) || !d.U32(&ngids) || ngids > kMaxAuthSysGids) {
    return false;
  }
  cred->machinename.assign(machine.data(), machine.size());
  cred->gids.resize(ngids);
  for (uint32_t i = 0; i < ngids; ++i) {
    if (!d.U32(&cred->gids[i])) return false;
  }
  return d.done();
}

}  // namespace

CallParse ParseCall(absl::string_view record, RpcCall* call, auth_stat* auth) {
  XdrDecoder d(record);
  uint32_t mtype, rpcvers;
  if (!d.U32(&call->xid) || !d.U32(&mtype) || mtype != kCall) {
    return CallParse::kDrop;
  }
  if (!d.U32(&rpcvers)) return CallParse::kDrop;
  if (rpcvers != kRpcVersion) return CallParse::kRpcMismatch;
  uint32_t cred_flavor, verf_flavor;
  absl::string_view cred_body, verf_body;
  if (!d.U32(&call->prog) || !d.U32(&call->vers) || !d.U32(&call->proc)) {
    return CallParse::kDrop;
  }
  if (!d.U32(&cred_flavor) || !d.Var(kMaxAuthBytes, &cred_body) ||
      !d.U32(&verf_flavor) || !d.Var(kMaxAuthBytes, &verf_body)) {
    *auth = AUTH_BADCRED;
    return CallParse::kAuthError;
  }
  call->cred = AuthSys();
  call->cred.flavor = cred_flavor;
  if (cred_flavor == kAuthSys) {
    if (!ParseAuthSys(cred_body, &call->cred)) {
      *auth = AUTH_BADCRED;
      return CallParse::kAuthError;
    }
  } else if (cred_flavor != kAuthNone) {
    *auth = AUTH_REJECTEDCRED;
    return CallParse::kAuthError;
  }
  if (verf_flavor != kAuthNone) {
    *auth = AUTH_BADVERF;
    return CallParse::kAuthError;
  }
  call->args = absl::string_view(d.position(), d.remaining());
  return CallParse::kOk;
}

void WriteAcceptedHeader(XdrEncoder& e, uint32_t xid, accept_stat stat) {
  e.U32(xid);
  e.U32(kReply);
  e.U32(kMsgAccepted);
  e.U32(kAuthNone);  // verifier
  e.U32(0);
  e.U32(stat);
}

void WriteProgMismatch(XdrEncoder& e, uint32_t xid, uint32_t low,
                       uint32_t high) {
  WriteAcceptedHeader(e, xid, PROG_MISMATCH);
  e.U32(low);
  e.U32(high);
}

void WriteRpcMismatch(XdrEncoder& e, uint32_t xid) {
  e.U32(xid);
  e.U32(kReply);
  e.U32(kMsgDenied);
  e.U32(kRejectRpcMismatch);
  e.U32(kRpcVersion);
  e.U32(kRpcVersion);
}

void WriteAuthError(XdrEncoder& e, uint32_t xid, auth_stat stat) {
  e.U32(xid);
  e.U32(kReply);
  e.U32(kMsgDenied);
  e.U32(kRejectAuthError);
  e.U32(stat);
}

void WriteCallHeader(XdrEncoder& e, uint32_t xid, uint32_t prog,
                     uint32_t vers, uint32_t proc, bool auth_sys,
                     uint32_t uid, uint32_t gid) {
  e.U32(xid);
  e.U32(kCall);
  e.U32(kRpcVersion);
  e.U32(prog);
  e.U32(vers);
  e.U32(proc);
  if (auth_sys) {
    e.U32(kAuthSys);
    ByteBuffer body;
    XdrEncoder b(&body);
    b.U32(0);          // stamp
    b.Var("vnas");     // machinename
    b.U32(uid);
    b.U32(gid);
    b.U32(0);          // gids
    e.Var(body.view());
  } else {
    e.U32(kAuthNone);
    e.U32(0);
  }
  e.U32(kAuthNone);
  e.U32(0);
}

}  // namespace vnas::nfs
