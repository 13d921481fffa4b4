// keys.h — the RocksDB key schema and value encodings of the extent store.
//
// FORMAT VERSION 2. The superblock records the version; Open refuses any
// version it does not know. Persisted tags and kind bytes are never
// renumbered or reused.
//   v1: everything below except inline data.
//   v2: inode flag bit2 and the trailing inline data (a v1 store is a valid
//       v2 store: Open rewrites its superblock as v2).
//
// Notation: BE8 = 8-byte big-endian unsigned, BE4 = 4-byte big-endian,
// V = LEB128 varint (unsigned 64-bit), STR = V length + bytes.
// One default column family; every key starts with a one-byte tag.
//
//   key                                   value
//   "S"                                   Superblock:
//                                           V version (=1) | BE8 store_id |
//                                           V segment_size | V num_members |
//                                           V created_sec | V n | n*STR path
//   "N" name                              BE8 counter (next id to hand out)
//                                           names: "ino" "page" "snap"
//   "I" BE8(ino)                          Inode:
//                                           u8 type (1 reg, 2 dir, 3 symlink)
//                                           u8 flags (bit0 read_only,
//                                                     bit1 has_verifier,
//                                                     bit2 has_inline, v2)
//                                           V mode V uid V gid V nlink V size
//                                           V atime.sec V atime.nsec
//                                           V mtime.sec V mtime.nsec
//                                           V ctime.sec V ctime.nsec
//                                           V generation V parent (dirs)
//                                           V next_cookie (dirs)
//                                           V alloc_offset V reserve_bytes
//                                           8 bytes verifier
//                                           STR symlink target
//                                           V n | n*V map node id
//                                             (map i covers file segments
//                                              [i*2^18, (i+1)*2^18); 0 = none)
//                                           [STR inline data]  (bit2 only)
//                                             a small regular file's bytes,
//                                             exactly `size` of them; such
//                                             an inode maps no segments
//   "D" BE8(dir) name                     BE8 child ino | V cookie
//   "E" BE8(dir) BE8(cookie)              name (ReadDir order index)
//   "L" BE8(leaf id)                      Leaf page: V n | n*(V slot-delta,
//                                           V extent id); slots < 256
//   "M" BE8(map id)                       Map node: V n | n*(V slot-delta,
//                                           V leaf id); slots < 1024
//   "R" kind BE8(id)                      V refcount (> 0; absent = 0)
//                                           kind 'e' extent, 'l' leaf,
//                                           'm' map node
//   "B" BE4(member) BE8(chunk)            free-space bitmap chunk:
//                                           kBitmapChunkBits bits, bit i set
//                                           = segment chunk*bits+i used
//   "T" BE8(snapshot id)                  Snapshot: STR name | V source |
//                                           V root | V sec | V nsec
//   "G" log-name 0x00 BE8(seq)            log record bytes
//
// Extent ids name physical segments: ((member + 1) << 40) | segment index,
// so 0 is never an extent ("hole"). A segment's bytes live at
// segment_index * segment_size in the member file.
#ifndef VNAS_STORAGE_META_KEYS_H_
#define VNAS_STORAGE_META_KEYS_H_

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace vnas::storage::meta {

inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint32_t kOldestFormatVersion = 1;  // opened and upgraded
inline constexpr uint32_t kLeafSlots = 256;
inline constexpr uint32_t kMapSlots = 1024;
inline constexpr uint64_t kSegsPerMap = uint64_t{kLeafSlots} * kMapSlots;
inline constexpr uint32_t kBitmapChunkBits = 4096;

inline uint64_t MakeExtentId(uint32_t member, uint64_t seg) {
  return (uint64_t{member} + 1) << 40 | seg;
}
inline uint32_t ExtentMember(uint64_t e) {
  return static_cast<uint32_t>((e >> 40) - 1);
}
inline uint64_t ExtentSeg(uint64_t e) { return e & ((uint64_t{1} << 40) - 1); }

// ---- primitive codecs ----
void PutVarint(std::string* dst, uint64_t v);
void PutBE8(std::string* dst, uint64_t v);
void PutBE4(std::string* dst, uint32_t v);
void PutStr(std::string* dst, absl::string_view s);
// Each Get* consumes from *in; returns false on truncated/corrupt input.
bool GetVarint(absl::string_view* in, uint64_t* v);
bool GetBE8(absl::string_view* in, uint64_t* v);
bool GetStr(absl::string_view* in, std::string* s);
uint64_t DecodeBE8(const char* p);

// ---- keys ----
std::string SuperKey();
std::string CounterKey(absl::string_view name);
std::string InodeKey(uint64_t ino);
std::string DirentKey(uint64_t dir, absl::string_view name);
std::string DirentPrefix(uint64_t dir);
std::string CookieKey(uint64_t dir, uint64_t cookie);
std::string CookiePrefix(uint64_t dir);
std::string LeafKey(uint64_t id);
std::string MapKey(uint64_t id);
enum class RefKind : char { kExtent = 'e', kLeaf = 'l', kMap = 'm' };
std::string RefKey(RefKind kind, uint64_t id);
std::string BitmapKey(uint32_t member, uint64_t chunk);
std::string SnapshotKey(uint64_t id);
std::string LogKey(absl::string_view log, uint64_t seq);
std::string LogPrefix(absl::string_view log);

// ---- values ----
struct Superblock {
  uint32_t version = kFormatVersion;
  uint64_t store_id = 0;
  uint32_t segment_size = 0;
  uint32_t num_members = 0;
  uint64_t created_sec = 0;
  std::vector<std::string> member_paths;
};
std::string EncodeSuperblock(const Superblock& s);
bool DecodeSuperblock(absl::string_view in, Superblock* s);

struct InodeRec {
  uint8_t type = 1;
  bool read_only = false;
  bool has_verifier = false;
  bool has_inline = false;  // the bytes are `inline_data`, not segments
  uint32_t mode = 0, uid = 0, gid = 0, nlink = 0;
  uint64_t size = 0;
  int64_t atime_sec = 0, mtime_sec = 0, ctime_sec = 0;
  uint32_t atime_nsec = 0, mtime_nsec = 0, ctime_nsec = 0;
  uint64_t generation = 0;
  uint64_t parent = 0;
  uint64_t next_cookie = 0;
  uint64_t alloc_offset = 0;
  uint64_t reserve = 0;
  std::array<uint8_t, 8> verifier{};
  std::string target;
  std::vector<uint64_t> maps;
  std::string inline_data;  // with has_inline: size() == size
};
std::string EncodeInode(const InodeRec& r);
bool DecodeInode(absl::string_view in, InodeRec* r);

// Sparse page: (slot, id) pairs, ids non-zero, slots strictly increasing.
std::string EncodePage(const std::vector<std::pair<uint32_t, uint64_t>>& e);
bool DecodePage(absl::string_view in, uint32_t max_slots,
                std::vector<std::pair<uint32_t, uint64_t>>* e);

std::string EncodeDirent(uint64_t ino, uint64_t cookie);
bool DecodeDirent(absl::string_view in, uint64_t* ino, uint64_t* cookie);

struct SnapshotRec {
  std::string name;
  uint64_t source = 0, root = 0;
  int64_t sec = 0;
  uint32_t nsec = 0;
};
std::string EncodeSnapshot(const SnapshotRec& s);
bool DecodeSnapshot(absl::string_view in, SnapshotRec* s);

}  // namespace vnas::storage::meta

#endif  // VNAS_STORAGE_META_KEYS_H_
