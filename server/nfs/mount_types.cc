// mount_types.cc — XDR for MOUNT3 and PMAP2 (grammar in mount_types.h).
#include "server/nfs/mount_types.h"

namespace vnas::nfs {

bool DecodeDirpath(XdrDecoder& d, absl::string_view* path) {
  return d.Var(MNTPATHLEN, path);
}

void Encode(XdrEncoder& e, const mountres3& v) {
  e.U32(v.fhs_status);
  if (v.fhs_status != MNT3_OK) return;
  e.Var(v.fhandle.view());
  e.U32(static_cast<uint32_t>(v.auth_flavors.size()));
  for (uint32_t f : v.auth_flavors) e.U32(f);
}

void Encode(XdrEncoder& e, const mountlist& v) {
  for (const mountbody& m : v) {
    e.Bool(true);
    e.Var(m.ml_hostname);
    e.Var(m.ml_directory);
  }
  e.Bool(false);
}

void Encode(XdrEncoder& e, const exports& v) {
  for (const exportnode& n : v) {
    e.Bool(true);
    e.Var(n.ex_dir);
    for (const std::string& g : n.ex_groups) {
      e.Bool(true);
      e.Var(g);
    }
    e.Bool(false);
  }
  e.Bool(false);
}

bool Decode(XdrDecoder& d, mapping* v) {
  return d.U32(&v->prog) && d.U32(&v->vers) && d.U32(&v->prot) &&
         d.U32(&v->port);
}

void Encode(XdrEncoder& e, const mapping& v) {
  e.U32(v.prog);
  e.U32(v.vers);
  e.U32(v.prot);
  e.U32(v.port);
}

void Encode(XdrEncoder& e, const pmaplist& v) {
  for (const mapping& m : v) {
    e.Bool(true);
    Encode(e, m);
  }
  e.Bool(false);
}

}  // namespace vnas::nfs
