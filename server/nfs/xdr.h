// xdr.h — bounds-checked XDR (RFC 4506) primitives.
//
// Wire grammar (RFC 4506 §4): every item is a multiple of 4 bytes, big-endian.
//   unsigned int / int / bool / enum   4 bytes
//   unsigned hyper / hyper             8 bytes
//   opaque[n]                          n bytes + pad to 4
//   opaque<max> / string<max>          u32 length, bytes, pad to 4
//
// XdrDecoder never reads past the end of its buffer: every getter returns
// false (and leaves the decoder failed) instead. Variable-length items are
// returned as views into the decoded buffer (zero copy); the buffer must
// outlive them.
//
// XdrEncoder appends to a ByteBuffer, which grows without zero-filling so a
// READ reply can be filled in place.
//
// Thread safety: none; one encoder/decoder per thread.
#ifndef VNAS_SERVER_NFS_XDR_H_
#define VNAS_SERVER_NFS_XDR_H_

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/nfs/block_pool.h"

namespace vnas::nfs {

// BufferStorage
//
// ByteBuffer's storage: the heap for small sizes, BlockPool blocks (reused,
// already faulted in) from BlockPool::kMinBlock up. Throws std::bad_alloc
// when memory is exhausted, as new[] does.
class BufferStorage {
 public:
  BufferStorage() = default;
  explicit BufferStorage(size_t n) : n_(n) {
    if (n >= BlockPool::kMinBlock) {
      p_ = static_cast<char*>(BlockPool::Global().Get(n));
      if (p_ == nullptr) throw std::bad_alloc();
    } else {
      p_ = new char[n];
    }
  }
  ~BufferStorage() { Release(); }
  BufferStorage(BufferStorage&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr; }
  BufferStorage& operator=(BufferStorage&& o) noexcept {
    if (this != &o) {
      Release();
      p_ = o.p_;
      n_ = o.n_;
      o.p_ = nullptr;
    }
    return *this;
  }
  BufferStorage(const BufferStorage&) = delete;
  BufferStorage& operator=(const BufferStorage&) = delete;

  char* get() const { return p_; }

 private:
  void Release() {
    if (p_ == nullptr) return;
    if (n_ >= BlockPool::kMinBlock) {
      BlockPool::Global().Put(p_, n_);
    } else {
      delete[] p_;
    }
    p_ = nullptr;
  }

  char* p_ = nullptr;
  size_t n_ = 0;
};

// ByteBuffer
//
// A growable byte array whose growth does not initialize memory. Owns its
// storage; move-only.
//
// A buffer may end in a tail it does not own (SetTail): bytes held by
// someone else (a READ's data, lent by the store instead of copied), in
// pieces sent end to end after the buffer's own bytes, then zero bytes to
// the next 4-byte boundary (XDR padding). view() and size() are the own
// bytes only; wire_size() counts everything sent.
class ByteBuffer {
 public:
  ByteBuffer() = default;
  explicit ByteBuffer(size_t capacity) { Reserve(capacity); }
  ByteBuffer(ByteBuffer&& o) noexcept { *this = std::move(o); }
  ByteBuffer& operator=(ByteBuffer&& o) noexcept {
    alloc_ = std::move(o.alloc_);
    data_ = o.data_;
    size_ = o.size_;
    cap_ = o.cap_;
    tail_ = std::move(o.tail_);
    tail_size_ = o.tail_size_;
    tail_keep_ = std::move(o.tail_keep_);
    lent_ = std::move(o.lent_);
    o.data_ = nullptr;
    o.size_ = o.cap_ = 0;
    o.tail_.clear();
    o.tail_size_ = 0;
    return *this;
  }
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;

  char* data() { return data_; }
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return cap_; }
  bool empty() const { return size_ == 0; }
  absl::string_view view() const { return absl::string_view(data_, size_); }

  // Makes capacity at least `n`; keeps the contents.
  void Reserve(size_t n) {
    if (n <= cap_) return;
    // Double for small appends; jump straight to `n` for big reservations
    // (a READ reply reserves its whole data area at once).
    size_t c = cap_ * 2 > n ? cap_ * 2 : n;
    if (c < 256) c = 256;
    Reallocate(c, 0, 1);
  }
  // ByteBuffer::ReserveAligned()
  // Like Reserve(n), and data() + at is a multiple of `align` (a power of
  // two), so a direct (O_DIRECT) read can land there. Consume() may undo it.
  void ReserveAligned(size_t n, size_t at, size_t align) {
    if (n <= cap_ && (reinterpret_cast<uintptr_t>(data_ + at) & (align - 1)) == 0) {
      return;
    }
    Reallocate(n > cap_ ? n : cap_, at, align);
  }
  // ByteBuffer::Adopt()
  // Drops the contents and makes `memory` (at least `capacity` bytes, held
  // by the pointer's owner) the storage; growing past it moves to memory
  // of the buffer's own.
  void Adopt(std::shared_ptr<char> memory, size_t capacity) {
    alloc_ = BufferStorage();
    lent_ = std::move(memory);
    data_ = lent_.get();
    size_ = 0;
    cap_ = data_ == nullptr ? 0 : capacity;
  }
  // Sets the size; new bytes are uninitialized.
  void Resize(size_t n) {
    Reserve(n);
    size_ = n;
  }
  void Append(const void* p, size_t n) {
    Reserve(size_ + n);
    memcpy(data_ + size_, p, n);
    size_ += n;
  }
  void Clear() {
    size_ = 0;
    ClearTail();
  }

  // ByteBuffer::SetTail()
  // Makes `pieces` (whose memory `keep` holds unchanged for as long as this
  // buffer, or the one it is moved to, has it) follow the own bytes on the
  // wire, end to end, padded with zeros to a multiple of 4.
  void SetTail(std::vector<absl::string_view> pieces,
               std::shared_ptr<const void> keep) {
    tail_ = std::move(pieces);
    tail_size_ = 0;
    for (absl::string_view p : tail_) tail_size_ += p.size();
    tail_keep_ = std::move(keep);
  }
  void ClearTail() {
    tail_.clear();
    tail_size_ = 0;
    tail_keep_.reset();
  }
  const std::vector<absl::string_view>& tail() const { return tail_; }
  size_t tail_size() const { return tail_size_; }
  size_t tail_pad() const { return (4 - (tail_size_ & 3)) & 3; }
  // Bytes on the wire: own bytes, tail, tail padding.
  size_t wire_size() const { return size_ + tail_size_ + tail_pad(); }
  // Drops the first `n` bytes.
  void Consume(size_t n) {
    if (n >= size_) {
      size_ = 0;
      return;
    }
    memmove(data_, data_ + n, size_ - n);
    size_ -= n;
  }

 private:
  // New storage of capacity `c` whose byte `at` is `align`-aligned.
  void Reallocate(size_t c, size_t at, size_t align) {
    BufferStorage d(c + align - 1);
    const uintptr_t want = reinterpret_cast<uintptr_t>(d.get()) + at;
    char* start = d.get() + (((want + align - 1) & ~(align - 1)) - want);
    if (size_) memcpy(start, data_, size_);
    alloc_ = std::move(d);
    lent_.reset();
    data_ = start;
    cap_ = c;
  }

  BufferStorage alloc_;
  std::shared_ptr<char> lent_;  // or this holds the storage (Adopt)
  char* data_ = nullptr;  // inside alloc_ or lent_
  size_t size_ = 0;
  size_t cap_ = 0;
  std::vector<absl::string_view> tail_;   // not owned; see SetTail
  size_t tail_size_ = 0;
  std::shared_ptr<const void> tail_keep_;
};

inline uint32_t LoadBe32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) |
         (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}
inline void StoreBe32(char* p, uint32_t v) {
  auto* u = reinterpret_cast<unsigned char*>(p);
  u[0] = static_cast<unsigned char>(v >> 24);
  u[1] = static_cast<unsigned char>(v >> 16);
  u[2] = static_cast<unsigned char>(v >> 8);
  u[3] = static_cast<unsigned char>(v);
}

inline size_t XdrPad(size_t n) { return (4 - (n & 3)) & 3; }

// XdrDecoder
class XdrDecoder {
 public:
  XdrDecoder(const char* data, size_t size) : p_(data), end_(data + size) {}
  explicit XdrDecoder(absl::string_view s) : XdrDecoder(s.data(), s.size()) {}

  bool ok() const { return ok_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  // True when everything was consumed without error.
  bool done() const { return ok_ && p_ == end_; }
  const char* position() const { return p_; }
  // Marks the decode failed (for semantic checks, e.g. bad enum values).
  bool Fail() {
    ok_ = false;
    return false;
  }

  bool U32(uint32_t* v) {
    if (!ok_ || remaining() < 4) return Fail();
    *v = LoadBe32(p_);
    p_ += 4;
    return true;
  }
  bool I32(int32_t* v) {
    uint32_t u;
    if (!U32(&u)) return false;
    *v = static_cast<int32_t>(u);
    return true;
  }
  bool U64(uint64_t* v) {
    uint32_t hi, lo;
    if (!U32(&hi) || !U32(&lo)) return false;
    *v = (uint64_t{hi} << 32) | lo;
    return true;
  }
  bool Bool(bool* v) {
    uint32_t u;
    if (!U32(&u)) return false;
    if (u > 1) return Fail();
    *v = u != 0;
    return true;
  }
  // opaque[n]: a view of n bytes (padding skipped).
  bool Fixed(size_t n, absl::string_view* out) {
    size_t total = n + XdrPad(n);
    if (!ok_ || total < n || remaining() < total) return Fail();
    *out = absl::string_view(p_, n);
    p_ += total;
    return true;
  }
  bool FixedCopy(size_t n, void* out) {
    absl::string_view v;
    if (!Fixed(n, &v)) return false;
    memcpy(out, v.data(), n);
    return true;
  }
  // opaque<max> / string<max>: fails when the length exceeds `max` or the
  // buffer.
  bool Var(uint32_t max, absl::string_view* out) {
    uint32_t n;
    if (!U32(&n)) return false;
    if (n > max) return Fail();
    return Fixed(n, out);
  }

 private:
  const char* p_;
  const char* end_;
  bool ok_ = true;
};

// XdrEncoder
class XdrEncoder {
 public:
  explicit XdrEncoder(ByteBuffer* out) : out_(out) {}
  ByteBuffer* buffer() { return out_; }

  void U32(uint32_t v) {
    char b[4];
    StoreBe32(b, v);
    out_->Append(b, 4);
  }
  void I32(int32_t v) { U32(static_cast<uint32_t>(v)); }
  void U64(uint64_t v) {
    char b[8];
    StoreBe32(b, static_cast<uint32_t>(v >> 32));
    StoreBe32(b + 4, static_cast<uint32_t>(v));
    out_->Append(b, 8);
  }
  void Bool(bool v) { U32(v ? 1 : 0); }
  void Fixed(absl::string_view v) {
    // The bytes may already sit where they belong (READ fills the reply
    // buffer in place); then only the position advances.
    size_t pos = out_->size();
    out_->Reserve(pos + v.size() + 4);
    if (v.data() != out_->data() + pos && !v.empty()) {
      memmove(out_->data() + pos, v.data(), v.size());
    }
    size_t pad = XdrPad(v.size());
    out_->Resize(pos + v.size() + pad);
    if (pad) memset(out_->data() + pos + v.size(), 0, pad);
  }
  void Var(absl::string_view v) {
    U32(static_cast<uint32_t>(v.size()));
    Fixed(v);
  }

 private:
  ByteBuffer* out_;
};

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_XDR_H_
