// rpc.h — ONC RPC v2 (RFC 5531) call/reply headers and AUTH_SYS.
//
// Grammar (RFC 5531 §9, wire order):
//   call  = u32 xid; u32 mtype=0 (CALL); u32 rpcvers=2; u32 prog; u32 vers;
//           u32 proc; opaque_auth cred; opaque_auth verf; args...
//   opaque_auth = u32 flavor; opaque body<400>
//   authsys_parms (flavor 1, §A) = u32 stamp; string machinename<255>;
//           u32 uid; u32 gid; u32 gids<16>
//   reply = u32 xid; u32 mtype=1 (REPLY); u32 reply_stat;
//     MSG_ACCEPTED(0): opaque_auth verf; u32 accept_stat;
//        SUCCESS(0): results | PROG_MISMATCH(2): u32 low, high | others: void
//     MSG_DENIED(1): u32 reject_stat;
//        RPC_MISMATCH(0): u32 low, high | AUTH_ERROR(1): u32 auth_stat
// Record marking (§11): each fragment is preceded by a u32 whose top bit
// marks the last fragment and whose low 31 bits give its length.
#ifndef VNAS_SERVER_NFS_RPC_H_
#define VNAS_SERVER_NFS_RPC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/nfs/xdr.h"

namespace vnas::nfs {

enum accept_stat : uint32_t {
  SUCCESS = 0,
  PROG_UNAVAIL = 1,
  PROG_MISMATCH = 2,
  PROC_UNAVAIL = 3,
  GARBAGE_ARGS = 4,
  SYSTEM_ERR = 5,
};

enum auth_stat : uint32_t {
  AUTH_OK = 0,
  AUTH_BADCRED = 1,
  AUTH_REJECTEDCRED = 2,
  AUTH_BADVERF = 3,
  AUTH_REJECTEDVERF = 4,
  AUTH_TOOWEAK = 5,
};

inline constexpr uint32_t kRpcVersion = 2;
inline constexpr uint32_t kMaxAuthBytes = 400;
inline constexpr uint32_t kMaxAuthSysGids = 16;
inline constexpr uint32_t kAuthNone = 0;
inline constexpr uint32_t kAuthSys = 1;
// Largest record (all fragments) a connection may send: a 1 MiB WRITE plus
// headers. Larger records close the connection.
inline constexpr uint32_t kMaxRecordSize = (1 << 20) + (64 << 10);

// Credentials of a call (AUTH_SYS parsed; AUTH_NONE is uid/gid 65534).
struct AuthSys {
  uint32_t flavor = kAuthNone;
  uint32_t stamp = 0;
  std::string machinename;
  uint32_t uid = 65534;
  uint32_t gid = 65534;
  std::vector<uint32_t> gids;
};

struct RpcCall {
  uint32_t xid = 0;
  uint32_t prog = 0;
  uint32_t vers = 0;
  uint32_t proc = 0;
  AuthSys cred;
  absl::string_view args;  // the bytes after the header (view into record)
};

enum class CallParse {
  kOk,
  kDrop,         // not a call or too short to answer: drop silently
  kRpcMismatch,  // answer MSG_DENIED / RPC_MISMATCH
  kAuthError,    // answer MSG_DENIED / AUTH_ERROR with *auth
};

// ParseCall()
//
// Parses the call header of one record. On kOk fills *call (args is a view
// into `record`). On kRpcMismatch/kAuthError, call->xid is valid and
// *auth holds the auth_stat for kAuthError.
CallParse ParseCall(absl::string_view record, RpcCall* call, auth_stat* auth);

// Reply writers. Each appends a complete reply header to `out`; the caller
// appends results after WriteAcceptedHeader(SUCCESS).
void WriteAcceptedHeader(XdrEncoder& e, uint32_t xid, accept_stat stat);
void WriteProgMismatch(XdrEncoder& e, uint32_t xid, uint32_t low,
                       uint32_t high);
void WriteRpcMismatch(XdrEncoder& e, uint32_t xid);
void WriteAuthError(XdrEncoder& e, uint32_t xid, auth_stat stat);

// Bytes WriteAcceptedHeader() appends.
inline constexpr size_t kAcceptedHeaderSize = 24;

// Client side (tests, fuzzer, bench): encodes a call header with AUTH_SYS
// (uid/gid, no extra gids) or AUTH_NONE when `auth_sys` is false.
void WriteCallHeader(XdrEncoder& e, uint32_t xid, uint32_t prog,
                     uint32_t vers, uint32_t proc, bool auth_sys = true,
                     uint32_t uid = 0, uint32_t gid = 0);

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_RPC_H_
