// nfs3_types.h — NFSv3 (RFC 1813) argument and result types and their XDR.
//
// Every struct is named as in RFC 1813 §2.5-§3.3 and lists its fields in
// wire order. Variable-length fields decoded from a call are views into the
// call's record buffer (zero copy): the record must outlive the args.
//
// Decode*(): returns false on any malformed or out-of-bounds input (never
// reads past the end). Encode*(): appends to the encoder.
//
// Grammar version: RFC 1813 (NFS program 100003, version 3). Limits we
// enforce while decoding: nfs_fh3 ≤ NFS3_FHSIZE (64), filename3 ≤ 1024 bytes
// (handlers answer NAMETOOLONG beyond 255), SYMLINK's nfspath3 ≤ 4096
// (kMaxSymlinkLen), WRITE data ≤ kMaxIoSize and equal to `count`.
#ifndef VNAS_SERVER_NFS_NFS3_TYPES_H_
#define VNAS_SERVER_NFS_NFS3_TYPES_H_

#include <array>
#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/nfs/xdr.h"

namespace vnas::nfs {

inline constexpr uint32_t kNfsProgram = 100003;
inline constexpr uint32_t kNfsVersion = 3;
inline constexpr uint32_t NFS3_FHSIZE = 64;
inline constexpr uint32_t kMaxNameLen = 255;
inline constexpr uint32_t kMaxPathLen = 1024;
// SYMLINK target (nfspath3): Linux's PATH_MAX, the limit of the Linux client
// and of knfsd (NFS3_MAXPATHLEN) and the store's own.
inline constexpr uint32_t kMaxSymlinkLen = 4096;
// rtmax / wtmax / dtpref advertised in FSINFO (§3.3.19).
inline constexpr uint32_t kMaxIoSize = 1 << 20;

// nfsstat3 (§2.6)
enum nfsstat3 : uint32_t {
  NFS3_OK = 0,
  NFS3ERR_PERM = 1,
  NFS3ERR_NOENT = 2,
  NFS3ERR_IO = 5,
  NFS3ERR_NXIO = 6,
  NFS3ERR_ACCES = 13,
  NFS3ERR_EXIST = 17,
  NFS3ERR_XDEV = 18,
  NFS3ERR_NODEV = 19,
  NFS3ERR_NOTDIR = 20,
  NFS3ERR_ISDIR = 21,
  NFS3ERR_INVAL = 22,
  NFS3ERR_FBIG = 27,
  NFS3ERR_NOSPC = 28,
  NFS3ERR_ROFS = 30,
  NFS3ERR_MLINK = 31,
  NFS3ERR_NAMETOOLONG = 63,
  NFS3ERR_NOTEMPTY = 66,
  NFS3ERR_DQUOT = 69,
  NFS3ERR_STALE = 70,
  NFS3ERR_REMOTE = 71,
  NFS3ERR_BADHANDLE = 10001,
  NFS3ERR_NOT_SYNC = 10002,
  NFS3ERR_BAD_COOKIE = 10003,
  NFS3ERR_NOTSUPP = 10004,
  NFS3ERR_TOOSMALL = 10005,
  NFS3ERR_SERVERFAULT = 10006,
  NFS3ERR_BADTYPE = 10007,
  NFS3ERR_JUKEBOX = 10008,
};

// ftype3 (§2.5)
enum ftype3 : uint32_t {
  NF3REG = 1,
  NF3DIR = 2,
  NF3BLK = 3,
  NF3CHR = 4,
  NF3LNK = 5,
  NF3SOCK = 6,
  NF3FIFO = 7,
};

// Procedure numbers (§3.3).
enum Nfs3Proc : uint32_t {
  NFSPROC3_NULL = 0,
  NFSPROC3_GETATTR = 1,
  NFSPROC3_SETATTR = 2,
  NFSPROC3_LOOKUP = 3,
  NFSPROC3_ACCESS = 4,
  NFSPROC3_READLINK = 5,
  NFSPROC3_READ = 6,
  NFSPROC3_WRITE = 7,
  NFSPROC3_CREATE = 8,
  NFSPROC3_MKDIR = 9,
  NFSPROC3_SYMLINK = 10,
  NFSPROC3_MKNOD = 11,
  NFSPROC3_REMOVE = 12,
  NFSPROC3_RMDIR = 13,
  NFSPROC3_RENAME = 14,
  NFSPROC3_LINK = 15,
  NFSPROC3_READDIR = 16,
  NFSPROC3_READDIRPLUS = 17,
  NFSPROC3_FSSTAT = 18,
  NFSPROC3_FSINFO = 19,
  NFSPROC3_PATHCONF = 20,
  NFSPROC3_COMMIT = 21,
  kNfs3NumProcs = 22,
};

// ACCESS3 bits (§3.3.4)
inline constexpr uint32_t ACCESS3_READ = 0x0001;
inline constexpr uint32_t ACCESS3_LOOKUP = 0x0002;
inline constexpr uint32_t ACCESS3_MODIFY = 0x0004;
inline constexpr uint32_t ACCESS3_EXTEND = 0x0008;
inline constexpr uint32_t ACCESS3_DELETE = 0x0010;
inline constexpr uint32_t ACCESS3_EXECUTE = 0x0020;

// FSINFO properties (§3.3.19)
inline constexpr uint32_t FSF3_LINK = 0x0001;
inline constexpr uint32_t FSF3_SYMLINK = 0x0002;
inline constexpr uint32_t FSF3_HOMOGENEOUS = 0x0008;
inline constexpr uint32_t FSF3_CANSETTIME = 0x0010;

enum stable_how : uint32_t { UNSTABLE = 0, DATA_SYNC = 1, FILE_SYNC = 2 };
enum createmode3 : uint32_t { UNCHECKED = 0, GUARDED = 1, EXCLUSIVE = 2 };
enum time_how : uint32_t {
  DONT_CHANGE = 0,
  SET_TO_SERVER_TIME = 1,
  SET_TO_CLIENT_TIME = 2
};

using cookieverf3 = std::array<char, 8>;
using createverf3 = std::array<char, 8>;
using writeverf3 = std::array<char, 8>;

// nfs_fh3: opaque data<NFS3_FHSIZE>. A view into the call (args) or into
// handle storage the result owns (see FhBytes).
struct nfs_fh3 {
  absl::string_view data;
};

// Inline storage for a handle sent in a reply.
struct FhBytes {
  std::array<char, NFS3_FHSIZE> bytes{};
  uint32_t len = 0;
  absl::string_view view() const { return {bytes.data(), len}; }
};

struct nfstime3 {
  uint32_t seconds = 0;
  uint32_t nseconds = 0;
};

struct specdata3 {
  uint32_t specdata1 = 0;
  uint32_t specdata2 = 0;
};

struct fattr3 {
  ftype3 type = NF3REG;
  uint32_t mode = 0;
  uint32_t nlink = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  uint64_t used = 0;
  specdata3 rdev;
  uint64_t fsid = 0;
  uint64_t fileid = 0;
  nfstime3 atime;
  nfstime3 mtime;
  nfstime3 ctime;
};

struct post_op_attr {
  bool attributes_follow = false;
  fattr3 attributes;
};

struct wcc_attr {
  uint64_t size = 0;
  nfstime3 mtime;
  nfstime3 ctime;
};

struct pre_op_attr {
  bool attributes_follow = false;
  wcc_attr attributes;
};

struct wcc_data {
  pre_op_attr before;
  post_op_attr after;
};

struct post_op_fh3 {
  bool handle_follows = false;
  FhBytes handle;
};

struct sattr3 {
  bool set_mode = false;
  uint32_t mode = 0;
  bool set_uid = false;
  uint32_t uid = 0;
  bool set_gid = false;
  uint32_t gid = 0;
  bool set_size = false;
  uint64_t size = 0;
  time_how set_atime = DONT_CHANGE;
  nfstime3 atime;
  time_how set_mtime = DONT_CHANGE;
  nfstime3 mtime;
};

struct diropargs3 {
  nfs_fh3 dir;
  absl::string_view name;  // filename3
};

struct sattrguard3 {
  bool check = false;
  nfstime3 obj_ctime;
};

// ---- Arguments (§3.3) ------------------------------------------------------

struct GETATTR3args { nfs_fh3 object; };
struct SETATTR3args { nfs_fh3 object; sattr3 new_attributes; sattrguard3 guard; };
struct LOOKUP3args { diropargs3 what; };
struct ACCESS3args { nfs_fh3 object; uint32_t access = 0; };
struct READLINK3args { nfs_fh3 symlink; };
struct READ3args { nfs_fh3 file; uint64_t offset = 0; uint32_t count = 0; };
struct WRITE3args {
  nfs_fh3 file;
  uint64_t offset = 0;
  uint32_t count = 0;
  stable_how stable = UNSTABLE;
  absl::string_view data;  // view into the call record
};
struct createhow3 {
  createmode3 mode = UNCHECKED;
  sattr3 obj_attributes;  // UNCHECKED, GUARDED
  createverf3 verf{};     // EXCLUSIVE
};
struct CREATE3args { diropargs3 where; createhow3 how; };
struct MKDIR3args { diropargs3 where; sattr3 attributes; };
struct symlinkdata3 { sattr3 symlink_attributes; absl::string_view symlink_data; };
struct SYMLINK3args { diropargs3 where; symlinkdata3 symlink; };
struct mknoddata3 {
  ftype3 type = NF3REG;
  sattr3 dev_attributes;  // NF3CHR, NF3BLK
  specdata3 spec;         // NF3CHR, NF3BLK
  sattr3 pipe_attributes; // NF3SOCK, NF3FIFO
};
struct MKNOD3args { diropargs3 where; mknoddata3 what; };
struct REMOVE3args { diropargs3 object; };
struct RMDIR3args { diropargs3 object; };
struct RENAME3args { diropargs3 from; diropargs3 to; };
struct LINK3args { nfs_fh3 file; diropargs3 link; };
struct READDIR3args {
  nfs_fh3 dir;
  uint64_t cookie = 0;
  cookieverf3 cookieverf{};
  uint32_t count = 0;
};
struct READDIRPLUS3args {
  nfs_fh3 dir;
  uint64_t cookie = 0;
  cookieverf3 cookieverf{};
  uint32_t dircount = 0;
  uint32_t maxcount = 0;
};
struct FSSTAT3args { nfs_fh3 fsroot; };
struct FSINFO3args { nfs_fh3 fsroot; };
struct PATHCONF3args { nfs_fh3 object; };
struct COMMIT3args { nfs_fh3 file; uint64_t offset = 0; uint32_t count = 0; };

// ---- Results (§3.3) --------------------------------------------------------
// Each result carries `status`; the resok fields are sent when status is
// NFS3_OK, the resfail fields otherwise (most resfail bodies are a subset of
// the resok fields, so one struct holds both).

struct GETATTR3res { nfsstat3 status = NFS3_OK; fattr3 obj_attributes; };
struct SETATTR3res { nfsstat3 status = NFS3_OK; wcc_data obj_wcc; };
struct LOOKUP3res {
  nfsstat3 status = NFS3_OK;
  FhBytes object;               // resok
  post_op_attr obj_attributes;  // resok
  post_op_attr dir_attributes;  // resok and resfail
};
struct ACCESS3res {
  nfsstat3 status = NFS3_OK;
  post_op_attr obj_attributes;
  uint32_t access = 0;  // resok
};
struct READLINK3res {
  nfsstat3 status = NFS3_OK;
  post_op_attr symlink_attributes;
  std::string data;  // resok: nfspath3
};
struct READ3res {
  nfsstat3 status = NFS3_OK;
  post_op_attr file_attributes;
  uint32_t count = 0;       // resok
  bool eof = false;         // resok
  absl::string_view data;   // resok; may already sit in the reply buffer
  // With data_keep, the data is `lent` instead (pieces end to end, lent by
  // ExtentStore::ReadLent) and goes out as the reply's tail
  // (ByteBuffer::SetTail) instead of being copied in.
  std::vector<absl::string_view> lent;
  std::shared_ptr<const void> data_keep;
};
struct WRITE3res {
  nfsstat3 status = NFS3_OK;
  wcc_data file_wcc;
  uint32_t count = 0;           // resok
  stable_how committed = FILE_SYNC;
  writeverf3 verf{};
};
// CREATE, MKDIR, SYMLINK, MKNOD share this shape (§3.3.8-11).
struct CREATE3res {
  nfsstat3 status = NFS3_OK;
  post_op_fh3 obj;              // resok
  post_op_attr obj_attributes;  // resok
  wcc_data dir_wcc;             // resok and resfail
};
using MKDIR3res = CREATE3res;
using SYMLINK3res = CREATE3res;
using MKNOD3res = CREATE3res;
struct REMOVE3res { nfsstat3 status = NFS3_OK; wcc_data dir_wcc; };
using RMDIR3res = REMOVE3res;
struct RENAME3res {
  nfsstat3 status = NFS3_OK;
  wcc_data fromdir_wcc;
  wcc_data todir_wcc;
};
struct LINK3res {
  nfsstat3 status = NFS3_OK;
  post_op_attr file_attributes;
  wcc_data linkdir_wcc;
};
struct entry3 {
  uint64_t fileid = 0;
  std::string name;
  uint64_t cookie = 0;
};
struct READDIR3res {
  nfsstat3 status = NFS3_OK;
  post_op_attr dir_attributes;
  cookieverf3 cookieverf{};  // resok
  std::vector<entry3> entries;
  bool eof = false;
};
struct entryplus3 {
  uint64_t fileid = 0;
  std::string name;
  uint64_t cookie = 0;
  post_op_attr name_attributes;
  post_op_fh3 name_handle;
};
struct READDIRPLUS3res {
  nfsstat3 status = NFS3_OK;
  post_op_attr dir_attributes;
  cookieverf3 cookieverf{};
  std::vector<entryplus3> entries;
  bool eof = false;
};
struct FSSTAT3res {
  nfsstat3 status = NFS3_OK;
  post_op_attr obj_attributes;
  uint64_t tbytes = 0, fbytes = 0, abytes = 0;
  uint64_t tfiles = 0, ffiles = 0, afiles = 0;
  uint32_t invarsec = 0;
};
struct FSINFO3res {
  nfsstat3 status = NFS3_OK;
  post_op_attr obj_attributes;
  uint32_t rtmax = 0, rtpref = 0, rtmult = 0;
  uint32_t wtmax = 0, wtpref = 0, wtmult = 0;
  uint32_t dtpref = 0;
  uint64_t maxfilesize = 0;
  nfstime3 time_delta;
  uint32_t properties = 0;
};
struct PATHCONF3res {
  nfsstat3 status = NFS3_OK;
  post_op_attr obj_attributes;
  uint32_t linkmax = 0;
  uint32_t name_max = 0;
  bool no_trunc = true;
  bool chown_restricted = true;
  bool case_insensitive = false;
  bool case_preserving = true;
};
struct COMMIT3res {
  nfsstat3 status = NFS3_OK;
  wcc_data file_wcc;
  writeverf3 verf{};  // resok
};

// Wire sizes used to budget READDIR replies and to place READ data.
inline constexpr size_t kFattr3Size = 84;
inline constexpr size_t kPostOpAttrSize = 4 + kFattr3Size;
// READ3resok bytes before the data: status, post_op_attr (with attributes),
// count, eof, data length.
inline constexpr size_t kRead3DataOffset = 4 + kPostOpAttrSize + 4 + 4 + 4;

// ---- Codecs ----------------------------------------------------------------

bool Decode(XdrDecoder& d, nfs_fh3* v);
bool Decode(XdrDecoder& d, sattr3* v);
bool Decode(XdrDecoder& d, diropargs3* v);
bool Decode(XdrDecoder& d, GETATTR3args* v);
bool Decode(XdrDecoder& d, SETATTR3args* v);
bool Decode(XdrDecoder& d, LOOKUP3args* v);
bool Decode(XdrDecoder& d, ACCESS3args* v);
bool Decode(XdrDecoder& d, READLINK3args* v);
bool Decode(XdrDecoder& d, READ3args* v);
bool Decode(XdrDecoder& d, WRITE3args* v);
bool Decode(XdrDecoder& d, CREATE3args* v);
bool Decode(XdrDecoder& d, MKDIR3args* v);
bool Decode(XdrDecoder& d, SYMLINK3args* v);
bool Decode(XdrDecoder& d, MKNOD3args* v);
bool Decode(XdrDecoder& d, REMOVE3args* v);
bool Decode(XdrDecoder& d, RMDIR3args* v);
bool Decode(XdrDecoder& d, RENAME3args* v);
bool Decode(XdrDecoder& d, LINK3args* v);
bool Decode(XdrDecoder& d, READDIR3args* v);
bool Decode(XdrDecoder& d, READDIRPLUS3args* v);
bool Decode(XdrDecoder& d, FSSTAT3args* v);
bool Decode(XdrDecoder& d, FSINFO3args* v);
bool Decode(XdrDecoder& d, PATHCONF3args* v);
bool Decode(XdrDecoder& d, COMMIT3args* v);

void Encode(XdrEncoder& e, const fattr3& v);
void Encode(XdrEncoder& e, const post_op_attr& v);
void Encode(XdrEncoder& e, const wcc_data& v);
void Encode(XdrEncoder& e, const post_op_fh3& v);
void Encode(XdrEncoder& e, const GETATTR3res& v);
void Encode(XdrEncoder& e, const SETATTR3res& v);
void Encode(XdrEncoder& e, const LOOKUP3res& v);
void Encode(XdrEncoder& e, const ACCESS3res& v);
void Encode(XdrEncoder& e, const READLINK3res& v);
void Encode(XdrEncoder& e, const READ3res& v);
void Encode(XdrEncoder& e, const WRITE3res& v);
void Encode(XdrEncoder& e, const CREATE3res& v);
void Encode(XdrEncoder& e, const REMOVE3res& v);
void Encode(XdrEncoder& e, const RENAME3res& v);
void Encode(XdrEncoder& e, const LINK3res& v);
void Encode(XdrEncoder& e, const READDIR3res& v);
void Encode(XdrEncoder& e, const READDIRPLUS3res& v);
void Encode(XdrEncoder& e, const FSSTAT3res& v);
void Encode(XdrEncoder& e, const FSINFO3res& v);
void Encode(XdrEncoder& e, const PATHCONF3res& v);
void Encode(XdrEncoder& e, const COMMIT3res& v);

// Wire size of one READDIR / READDIRPLUS entry (for the count budget).
size_t EncodedSize(const entry3& v);
size_t EncodedSize(const entryplus3& v);

// Decoders for the test-side (client) direction, used by unit tests and the
// fuzzer to check round trips.
bool Decode(XdrDecoder& d, fattr3* v);
bool Decode(XdrDecoder& d, post_op_attr* v);

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_NFS3_TYPES_H_
