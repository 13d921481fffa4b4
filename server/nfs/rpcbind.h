// rpcbind.h — rpcbind versions 3 and 4 (RFC 1833 §2) beside PMAP2: what
// vnasd registers, under which netids and universal addresses.
//
// IPv6 clients cannot use PMAP2 (its mappings carry no address); they ask
// rpcbind v3/v4 GETADDR, as libnfs does for an IPv6 server. vnasd's
// registrations are fixed: the portmapper itself (100000 v2, v3, v4), NFS
// (100003 v3) and MOUNT (100005 v3), each on the listener serving it. A
// listener bound to an IPv4 address is netid "tcp", to an IPv6 address
// "tcp6", and "[::]" (dual-stack) both.
//
// Wire (XDR, RFC 1833):
//   rpcb         = u32 r_prog, u32 r_vers, string r_netid, string r_addr,
//                  string r_owner
//   rpcblist_ptr = *{ bool 1; rpcb } bool 0
//   GETADDR/GETVERSADDR: rpcb -> string (universal address, "" = none)
//   DUMP: void -> rpcblist_ptr;  GETTIME: void -> u32 seconds since 1970
//   SET/UNSET: rpcb -> bool (always false: registrations are fixed)
// Universal addresses (RFC 5665 §5.2.3.3/4): "h1.h2.h3.h4.p1.p2" for IPv4,
// "<IPv6 text>.p1.p2" for IPv6, p1.p2 the port's high and low byte.
//
// Thread safety: functions of their arguments.
#ifndef VNAS_SERVER_NFS_RPCBIND_H_
#define VNAS_SERVER_NFS_RPCBIND_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/nfs/client_addr.h"
#include "server/nfs/xdr.h"

namespace vnas::nfs {

inline constexpr uint32_t kRpcbindVersion3 = 3;
inline constexpr uint32_t kRpcbindVersion4 = 4;

enum RpcbProc : uint32_t {
  RPCBPROC_NULL = 0,
  RPCBPROC_SET = 1,
  RPCBPROC_UNSET = 2,
  RPCBPROC_GETADDR = 3,
  RPCBPROC_DUMP = 4,
  RPCBPROC_CALLIT = 5,  // v4: BCAST
  RPCBPROC_GETTIME = 6,
  RPCBPROC_UADDR2TADDR = 7,
  RPCBPROC_TADDR2UADDR = 8,
  kRpcb3NumProcs = 9,
  RPCBPROC_GETVERSADDR = 9,  // v4 only, as those below
  RPCBPROC_INDIRECT = 10,
  RPCBPROC_GETADDRLIST = 11,
  RPCBPROC_GETSTAT = 12,
  kRpcb4NumProcs = 13,
};

struct rpcb {
  uint32_t prog = 0;
  uint32_t vers = 0;
  std::string netid;
  std::string addr;
  std::string owner;
};

bool Decode(XdrDecoder& d, rpcb* v);
void Encode(XdrEncoder& e, const rpcb& v);
void Encode(XdrEncoder& e, const std::vector<rpcb>& list);  // rpcblist_ptr

// A listener as configured: its host text ("127.0.0.1", "::", "::1",
// "0.0.0.0") and bound port (0 = not serving).
struct RpcbListener {
  std::string host;
  uint16_t port = 0;
};

// "h1.h2.h3.h4.p1.p2" or "<ipv6>.p1.p2" (RFC 5665).
std::string UniversalAddress(const ClientAddr& addr, uint16_t port);

// Everything vnasd registers, as a client that reached the server at
// `local` (the address its connection came in on) sees it: a wildcard
// listener reports `local` for its own family, and the family's wildcard
// ("0.0.0.0", "::") for the other.
std::vector<rpcb> Registrations(const RpcbListener& nfs,
                                const RpcbListener& portmap,
                                const ClientAddr& local);

// GETADDR (any_version: v3/v4 GETADDR, where another version of the
// program on that netid will do when the asked one is not registered) or
// GETVERSADDR (exact version): the universal address, or "". An empty
// netid means the netid of the caller's own connection (`local`).
std::string LookUpAddress(const std::vector<rpcb>& regs, const rpcb& want,
                          const ClientAddr& local, bool any_version);

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_RPCBIND_H_
