#include "storage/meta/keys.h"

namespace vnas::storage::meta {

void PutVarint(std::string* dst, uint64_t v) {
  while (v >= 0x80) {
    dst->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  dst->push_back(static_cast<char>(v));
}

void PutBE8(std::string* dst, uint64_t v) {
  for (int i = 7; i >= 0; --i) dst->push_back(static_cast<char>(v >> (8 * i)));
}

void PutBE4(std::string* dst, uint32_t v) {
  for (int i = 3; i >= 0; --i) dst->push_back(static_cast<char>(v >> (8 * i)));
}

void PutStr(std::string* dst, absl::string_view s) {
  PutVarint(dst, s.size());
  dst->append(s.data(), s.size());
}

bool GetVarint(absl::string_view* in, uint64_t* v) {
  uint64_t r = 0;
  for (int shift = 0; shift <= 63; shift += 7) {
    if (in->empty()) return false;
    uint8_t b = static_cast<uint8_t>((*in)[0]);
    in->remove_prefix(1);
    r |= uint64_t{b & 0x7fu} << shift;
    if (!(b & 0x80)) {
      *v = r;
      return true;
    }
  }
  return false;
}

uint64_t DecodeBE8(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}

bool GetBE8(absl::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  *v = DecodeBE8(in->data());
  in->remove_prefix(8);
  return true;
}

bool GetStr(absl::string_view* in, std::string* s) {
  uint64_t n;
  if (!GetVarint(in, &n) || in->size() < n) return false;
  s->assign(in->data(), n);
  in->remove_prefix(n);
  return true;
}

namespace {
std::string Tagged(char tag, uint64_t id) {
  std::string k(1, tag);
  PutBE8(&k, id);
  return k;
}
template <typename T>
bool GetV(absl::string_view* in, T* out) {
  uint64_t v;
  if (!GetVarint(in, &v)) return false;
  *out = static_cast<T>(v);
  return true;
}
}  // namespace

std::string SuperKey() { return "S"; }
std::string CounterKey(absl::string_view name) {
  return std::string("N") + std::string(name);
}
std::string InodeKey(uint64_t ino) { return Tagged('I', ino); }
std::string DirentPrefix(uint64_t dir) { return Tagged('D', dir); }
std::string DirentKey(uint64_t dir, absl::string_view name) {
  return DirentPrefix(dir) + std::string(name);
}
std::string CookiePrefix(uint64_t dir) { return Tagged('E', dir); }
std::string CookieKey(uint64_t dir, uint64_t cookie) {
  std::string k = CookiePrefix(dir);
  PutBE8(&k, cookie);
  return k;
}
std::string LeafKey(uint64_t id) { return Tagged('L', id); }
std::string MapKey(uint64_t id) { return Tagged('M', id); }
std::string RefKey(RefKind kind, uint64_t id) {
  std::string k = "R";
  k.push_back(static_cast<char>(kind));
  PutBE8(&k, id);
  return k;
}
std::string BitmapKey(uint32_t member, uint64_t chunk) {
  std::string k = "B";
  PutBE4(&k, member);
  PutBE8(&k, chunk);
  return k;
}
std::string SnapshotKey(uint64_t id) { return Tagged('T', id); }
std::string LogPrefix(absl::string_view log) {
  std::string k = "G";
  k.append(log.data(), log.size());
  k.push_back('\0');
  return k;
}
std::string LogKey(absl::string_view log, uint64_t seq) {
  std::string k = LogPrefix(log);
  PutBE8(&k, seq);
  return k;
}

std::string EncodeSuperblock(const Superblock& s) {
  std::string v;
  PutVarint(&v, s.version);
  PutBE8(&v, s.store_id);
  PutVarint(&v, s.segment_size);
  PutVarint(&v, s.num_members);
  PutVarint(&v, s.created_sec);
  PutVarint(&v, s.member_paths.size());
  for (const auto& p : s.member_paths) PutStr(&v, p);
  return v;
}

bool DecodeSuperblock(absl::string_view in, Superblock* s) {
  uint64_t n;
  if (!GetV(&in, &s->version)) return false;
  if (s->version < kOldestFormatVersion || s->version > kFormatVersion) {
    return true;  // caller refuses
  }
  if (!GetBE8(&in, &s->store_id) || !GetV(&in, &s->segment_size) ||
      !GetV(&in, &s->num_members) || !GetV(&in, &s->created_sec) ||
      !GetVarint(&in, &n)) {
    return false;
  }
  s->member_paths.resize(n);
  for (auto& p : s->member_paths) {
    if (!GetStr(&in, &p)) return false;
  }
  return in.empty();
}

std::string EncodeInode(const InodeRec& r) {
  std::string v;
  v.push_back(static_cast<char>(r.type));
  v.push_back(static_cast<char>((r.read_only ? 1 : 0) |
                                (r.has_verifier ? 2 : 0) |
                                (r.has_inline ? 4 : 0)));
  for (uint64_t x : {uint64_t{r.mode}, uint64_t{r.uid}, uint64_t{r.gid},
                     uint64_t{r.nlink}, r.size,
                     static_cast<uint64_t>(r.atime_sec), uint64_t{r.atime_nsec},
                     static_cast<uint64_t>(r.mtime_sec), uint64_t{r.mtime_nsec},
                     static_cast<uint64_t>(r.ctime_sec), uint64_t{r.ctime_nsec},
                     r.generation, r.parent, r.next_cookie, r.alloc_offset,
                     r.reserve}) {
    PutVarint(&v, x);
  }
  v.append(reinterpret_cast<const char*>(r.verifier.data()), 8);
  PutStr(&v, r.target);
  PutVarint(&v, r.maps.size());
  for (uint64_t m : r.maps) PutVarint(&v, m);
  if (r.has_inline) PutStr(&v, r.inline_data);
  return v;
}

bool DecodeInode(absl::string_view in, InodeRec* r) {
  if (in.size() < 2) return false;
  r->type = static_cast<uint8_t>(in[0]);
  uint8_t flags = static_cast<uint8_t>(in[1]);
  r->read_only = flags & 1;
  r->has_verifier = flags & 2;
  r->has_inline = flags & 4;
  if (flags & ~7) return false;
  in.remove_prefix(2);
  if (!GetV(&in, &r->mode) || !GetV(&in, &r->uid) || !GetV(&in, &r->gid) ||
      !GetV(&in, &r->nlink) || !GetV(&in, &r->size) ||
      !GetV(&in, &r->atime_sec) || !GetV(&in, &r->atime_nsec) ||
      !GetV(&in, &r->mtime_sec) || !GetV(&in, &r->mtime_nsec) ||
      !GetV(&in, &r->ctime_sec) || !GetV(&in, &r->ctime_nsec) ||
      !GetV(&in, &r->generation) || !GetV(&in, &r->parent) ||
      !GetV(&in, &r->next_cookie) || !GetV(&in, &r->alloc_offset) ||
      !GetV(&in, &r->reserve)) {
    return false;
  }
  if (in.size() < 8) return false;
  for (int i = 0; i < 8; ++i) r->verifier[i] = static_cast<uint8_t>(in[i]);
  in.remove_prefix(8);
  uint64_t n;
  if (!GetStr(&in, &r->target) || !GetVarint(&in, &n)) return false;
  if (n > in.size()) return false;
  r->maps.resize(n);
  for (auto& m : r->maps) {
    if (!GetVarint(&in, &m)) return false;
  }
  r->inline_data.clear();
  if (r->has_inline) {
    // Readers copy `size` bytes from it: it must hold exactly those.
    if (!GetStr(&in, &r->inline_data) || r->type != 1 ||
        r->inline_data.size() != r->size) {
      return false;
    }
    for (uint64_t m : r->maps) {
      if (m != 0) return false;
    }
  }
  return in.empty();
}

std::string EncodePage(const std::vector<std::pair<uint32_t, uint64_t>>& e) {
  std::string v;
  PutVarint(&v, e.size());
  uint32_t prev = 0;
  bool first = true;
  for (const auto& [slot, id] : e) {
    PutVarint(&v, first ? slot : slot - prev);
    PutVarint(&v, id);
    prev = slot;
    first = false;
  }
  return v;
}

bool DecodePage(absl::string_view in, uint32_t max_slots,
                std::vector<std::pair<uint32_t, uint64_t>>* e) {
  uint64_t n;
  if (!GetVarint(&in, &n) || n > max_slots) return false;
  e->clear();
  uint64_t slot = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t d, id;
    if (!GetVarint(&in, &d) || !GetVarint(&in, &id)) return false;
    slot = i == 0 ? d : slot + d;
    if ((i > 0 && d == 0) || slot >= max_slots || id == 0) return false;
    e->emplace_back(static_cast<uint32_t>(slot), id);
  }
  return in.empty();
}

std::string EncodeDirent(uint64_t ino, uint64_t cookie) {
  std::string v;
  PutBE8(&v, ino);
  PutVarint(&v, cookie);
  return v;
}

bool DecodeDirent(absl::string_view in, uint64_t* ino, uint64_t* cookie) {
  return GetBE8(&in, ino) && GetVarint(&in, cookie) && in.empty();
}

std::string EncodeSnapshot(const SnapshotRec& s) {
  std::string v;
  PutStr(&v, s.name);
  PutVarint(&v, s.source);
  PutVarint(&v, s.root);
  PutVarint(&v, static_cast<uint64_t>(s.sec));
  PutVarint(&v, s.nsec);
  return v;
}

bool DecodeSnapshot(absl::string_view in, SnapshotRec* s) {
  return GetStr(&in, &s->name) && GetV(&in, &s->source) &&
         GetV(&in, &s->root) && GetV(&in, &s->sec) && GetV(&in, &s->nsec) &&
         in.empty();
}

}  // namespace vnas::storage::meta
