// rpcbind.cc — see rpcbind.h.
#include "server/nfs/rpcbind.h"

#include "absl/strings/str_cat.h"
#include "server/nfs/mount_types.h"
#include "server/nfs/nfs3_types.h"

namespace vnas::nfs {
namespace {

// Netids and owner strings are short; anything longer is garbage.
constexpr uint32_t kMaxRpcbString = 1024;

bool DecodeString(XdrDecoder& d, std::string* out) {
  absl::string_view s;
  if (!d.Var(kMaxRpcbString, &s)) return false;
  out->assign(s.data(), s.size());
  return true;
}

// The registrations of one listener for program/versions `versions`.
void Add(const RpcbListener& l, uint32_t prog,
         std::initializer_list<uint32_t> versions, const ClientAddr& local,
         std::vector<rpcb>* out) {
  if (l.port == 0) return;
  std::optional<ClientAddr> bound = ClientAddr::Parse(l.host);
  if (!bound) return;
  const bool wildcard4 = *bound == ClientAddr::V4(0);  // 0.0.0.0
  const bool wildcard6 = *bound == ClientAddr();       // ::
  struct Family {
    const char* netid;
    ClientAddr addr;
  };
  std::vector<Family> fams;
  if (wildcard6) {  // dual-stack
    fams.push_back({"tcp", local.is_v4() ? local : ClientAddr::V4(0)});
    fams.push_back({"tcp6", local.is_v4() ? ClientAddr() : local});
  } else if (wildcard4) {
    fams.push_back({"tcp", local.is_v4() ? local : ClientAddr::V4(0)});
  } else {
    fams.push_back({bound->is_v4() ? "tcp" : "tcp6", *bound});
  }
  for (const Family& f : fams) {
    for (uint32_t v : versions) {
      out->push_back(
          rpcb{prog, v, f.netid, UniversalAddress(f.addr, l.port), "vnasd"});
    }
  }
}

}  // namespace

bool Decode(XdrDecoder& d, rpcb* v) {
  return d.U32(&v->prog) && d.U32(&v->vers) && DecodeString(d, &v->netid) &&
         DecodeString(d, &v->addr) && DecodeString(d, &v->owner);
}

void Encode(XdrEncoder& e, const rpcb& v) {
  e.U32(v.prog);
  e.U32(v.vers);
  e.Var(v.netid);
  e.Var(v.addr);
  e.Var(v.owner);
}

void Encode(XdrEncoder& e, const std::vector<rpcb>& list) {
  for (const rpcb& r : list) {
    e.Bool(true);
    Encode(e, r);
  }
  e.Bool(false);
}

std::string UniversalAddress(const ClientAddr& addr, uint16_t port) {
  return absl::StrCat(addr.ToString(), ".", port >> 8, ".", port & 0xff);
}

std::vector<rpcb> Registrations(const RpcbListener& nfs,
                                const RpcbListener& portmap,
                                const ClientAddr& local) {
  std::vector<rpcb> out;
  Add(portmap, kPmapProgram, {kPmapVersion, kRpcbindVersion3, kRpcbindVersion4},
      local, &out);
  Add(nfs, kNfsProgram, {kNfsVersion}, local, &out);
  Add(nfs, kMountProgram, {kMountVersion}, local, &out);
  return out;
}

std::string LookUpAddress(const std::vector<rpcb>& regs, const rpcb& want,
                          const ClientAddr& local, bool any_version) {
  const std::string netid =
      want.netid.empty() ? (local.is_v4() ? "tcp" : "tcp6") : want.netid;
  std::string other;
  for (const rpcb& r : regs) {
    if (r.prog != want.prog || r.netid != netid) continue;
    if (r.vers == want.vers) return r.addr;
    if (other.empty()) other = r.addr;
  }
  return any_version ? other : std::string();
}

}  // namespace vnas::nfs
