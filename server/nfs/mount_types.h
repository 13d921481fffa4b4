// mount_types.h — MOUNT v3 (RFC 1813 Appendix I) and PMAP v2 (RFC 1833 §3)
// types and their XDR.
//
// Grammar (wire order):
//   MOUNT3 (program 100005, version 3)
//     dirpath   string<1024>        name      string<255>
//     fhandle3  opaque<64>
//     mountres3 = mountstat3 status; OK: fhandle3, int auth_flavors<>
//     mountlist = *{ bool follows=1; name ml_hostname; dirpath ml_directory }
//                 bool follows=0
//     exports   = *{ bool 1; dirpath ex_dir; groups; } bool 0
//     groups    = *{ bool 1; name gr_name } bool 0
//   PMAP2 (program 100000, version 2)
//     mapping   = u32 prog, vers, prot, port
//     pmaplist  = *{ bool 1; mapping } bool 0
#ifndef VNAS_SERVER_NFS_MOUNT_TYPES_H_
#define VNAS_SERVER_NFS_MOUNT_TYPES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/nfs/nfs3_types.h"
#include "server/nfs/xdr.h"

namespace vnas::nfs {

inline constexpr uint32_t kMountProgram = 100005;
inline constexpr uint32_t kMountVersion = 3;
inline constexpr uint32_t MNTPATHLEN = 1024;
inline constexpr uint32_t MNTNAMLEN = 255;

enum MountProc : uint32_t {
  MOUNTPROC3_NULL = 0,
  MOUNTPROC3_MNT = 1,
  MOUNTPROC3_DUMP = 2,
  MOUNTPROC3_UMNT = 3,
  MOUNTPROC3_UMNTALL = 4,
  MOUNTPROC3_EXPORT = 5,
  kMountNumProcs = 6,
};

enum mountstat3 : uint32_t {
  MNT3_OK = 0,
  MNT3ERR_PERM = 1,
  MNT3ERR_NOENT = 2,
  MNT3ERR_IO = 5,
  MNT3ERR_ACCES = 13,
  MNT3ERR_NOTDIR = 20,
  MNT3ERR_INVAL = 22,
  MNT3ERR_NAMETOOLONG = 63,
  MNT3ERR_NOTSUPP = 10004,
  MNT3ERR_SERVERFAULT = 10006,
};

inline constexpr uint32_t AUTH_NONE_FLAVOR = 0;
inline constexpr uint32_t AUTH_SYS_FLAVOR = 1;

struct mountres3 {
  mountstat3 fhs_status = MNT3_OK;
  FhBytes fhandle;                    // OK
  std::vector<uint32_t> auth_flavors; // OK
};

struct mountbody {
  std::string ml_hostname;
  std::string ml_directory;
};
using mountlist = std::vector<mountbody>;

struct exportnode {
  std::string ex_dir;
  std::vector<std::string> ex_groups;
};
using exports = std::vector<exportnode>;

bool DecodeDirpath(XdrDecoder& d, absl::string_view* path);
void Encode(XdrEncoder& e, const mountres3& v);
void Encode(XdrEncoder& e, const mountlist& v);
void Encode(XdrEncoder& e, const exports& v);

// ---- PMAP2 -------------------------------------------------------------

inline constexpr uint32_t kPmapProgram = 100000;
inline constexpr uint32_t kPmapVersion = 2;
inline constexpr uint32_t IPPROTO_TCP_PMAP = 6;
inline constexpr uint32_t IPPROTO_UDP_PMAP = 17;

enum PmapProc : uint32_t {
  PMAPPROC_NULL = 0,
  PMAPPROC_SET = 1,
  PMAPPROC_UNSET = 2,
  PMAPPROC_GETPORT = 3,
  PMAPPROC_DUMP = 4,
  PMAPPROC_CALLIT = 5,
  kPmapNumProcs = 6,
};

struct mapping {
  uint32_t prog = 0;
  uint32_t vers = 0;
  uint32_t prot = 0;
  uint32_t port = 0;
};
using pmaplist = std::vector<mapping>;

bool Decode(XdrDecoder& d, mapping* v);
void Encode(XdrEncoder& e, const mapping& v);
void Encode(XdrEncoder& e, const pmaplist& v);

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_MOUNT_TYPES_H_
