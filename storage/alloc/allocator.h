// allocator.h — segment allocation policy of the extent store.
//
// An Allocator is an in-memory policy over the segments of N members. Its
// state is persisted by the caller: mutators mark bitmap chunks dirty and
// Persist() writes exactly those chunks into the caller's rocksdb::WriteBatch,
// which also carries the metadata that uses (or frees) the segments, so space
// and metadata change atomically. See storage/meta/keys.h for the chunk key.
//
// Thread safety: none; the store serializes calls under its metadata mutex.
#ifndef VNAS_STORAGE_ALLOC_ALLOCATOR_H_
#define VNAS_STORAGE_ALLOC_ALLOCATOR_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace rocksdb {
class WriteBatch;
}  // namespace rocksdb

namespace vnas::storage {

class Allocator {
 public:
  virtual ~Allocator() = default;

  // Members are numbered [0, members()). Each has a segment limit that may
  // grow or shrink (shrinking never frees used segments).
  virtual uint32_t members() const = 0;
  virtual void SetLimit(uint32_t member, uint64_t segments) = 0;
  virtual uint64_t Limit(uint32_t member) const = 0;

  // Allocate()
  //
  // Returns a free segment of `member` below its limit (next-fit, so a
  // sequential writer gets consecutive segments), marked used; nullopt when
  // the member is full.
  virtual std::optional<uint64_t> Allocate(uint32_t member) = 0;
  // Marks a used segment free; marking a free one is a no-op.
  virtual void Free(uint32_t member, uint64_t seg) = 0;
  // Marks a segment used (loading, tests).
  virtual void MarkUsed(uint32_t member, uint64_t seg) = 0;
  virtual bool IsUsed(uint32_t member, uint64_t seg) const = 0;
  virtual uint64_t Used(uint32_t member) const = 0;

  // Loads one persisted chunk (value of a "B" key) as is.
  virtual void LoadChunk(uint32_t member, uint64_t chunk,
                         absl::string_view bits) = 0;
  // Puts every chunk changed since the last Persist() into `batch` (deleting
  // all-free chunks) and forgets the dirty set.
  virtual void Persist(rocksdb::WriteBatch* batch) = 0;
  // Forgets the dirty set without writing (after a failed batch the caller
  // reloads).
  virtual void ClearDirty() = 0;
};

// The bitmap allocator: one bit per segment, kBitmapChunkBits per chunk.
std::unique_ptr<Allocator> NewBitmapAllocator(uint32_t members);

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_ALLOC_ALLOCATOR_H_
