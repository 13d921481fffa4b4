// chunk_cache.h — a memory cache of data-file chunks that bypass the page
// cache (direct bulk I/O): what was just written, or read from the device,
// is served from memory on the next read.
//
// Why: with direct bulk I/O (env_posix.cc) neither a write nor a cold read
// leaves anything in the page cache, so a re-read of just-written data (a
// VM reading back what it wrote, a clone reading its base right after the
// copy) and the blocks of a shared base disk that every linked clone boots
// from come from the device each time. Filling the page cache instead costs
// a page allocation per 4 KiB on the request path. This cache copies chunks
// into memory it keeps mapped (reused, no allocation per request), bounded
// by its capacity, evicted by CLOCK.
//
// Contract:
//   - A chunk is kChunkBytes of one file at a kChunkBytes-aligned offset
//     (offsets are those of the data file, so extents shared by clones share
//     their cached chunks too). Only whole chunks are cached.
//   - The cache never returns bytes older than the file's: every write of a
//     file calls BeginWrite before its bytes can reach the device and
//     EndWrite after (or, for a write left to write-behind, once queued),
//     and drops what it overlaps. Its bytes are kept (EndWrite with ok) only
//     when no other write of the same chunk was under way at any time during
//     it, so the cache holds what the device ends up with; a failed
//     write-behind write calls Invalidate.
//   - A fill (bytes read from the device) is kept only when no write of
//     its chunk began after its ticket (FillTicket: just before the oldest
//     write still under way, so a write in flight at the ticket counts as
//     after it), and none is under way.
//     The caller takes the ticket *before* it waits for queued writes of
//     the range and reads the device, so a write acknowledged before the
//     ticket is on the device when it reads, and one after voids the fill.
//     Writes are remembered per chunk in a fixed table of sequence numbers
//     (a lossy max: two chunks sharing a slot can only void each other's
//     fills, never keep a stale one).
//   - Read copies out (and Lend lends) only when every chunk of the range
//     is cached.
//   - Memory: the arena is mapped whole and its pages are faulted in by a
//     background thread, `ahead_bytes` beyond the highest slot ever used,
//     so a fill on the request path copies into memory that is already
//     there (a first touch costs a page allocation per 4 KiB, which on a
//     VM made a 1 MiB bulk write ~8x slower). Faulted pages are kept.
//   - Who fills it is the caller's policy (env_posix.cc): a small read that
//     missed reads its whole chunk into the cache (ReadChunkThrough: one
//     device read, no copy but the asked bytes); bulk reads (Fill) copy
//     every byte they move, and so do bulk writes (EndWrite) but for the
//     chunks whose bytes were received into a borrowed run (BorrowRun):
//     those slots are published as they are.
// Thread-safe. Copies happen outside the lock (slots are pinned).
#ifndef VNAS_STORAGE_ENV_CHUNK_CACHE_H_
#define VNAS_STORAGE_ENV_CHUNK_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace vnas::storage {

class ChunkCache : public std::enable_shared_from_this<ChunkCache> {
 public:
  static constexpr size_t kChunkBytes = 64 << 10;

  static constexpr size_t kDefaultAheadBytes = 128 << 20;

  // `ahead_bytes` meaning: the whole arena is faulted in before the
  // constructor returns.
  static constexpr size_t kCommitAll = SIZE_MAX;

  // Up to `capacity_bytes` (rounded down to whole chunks) of memory, mapped
  // at once; pages are faulted in `ahead_bytes` ahead of use (above; 0:
  // touched as chunks are first used; kCommitAll: all of them now, as a
  // storage array commits its cache memory at boot, so neither a fill nor
  // a background prefault ever faults pages in while clients are served;
  // on a VM such faults also slowed the clients' own page faults).
  explicit ChunkCache(size_t capacity_bytes,
                      size_t ahead_bytes = kDefaultAheadBytes);
  ~ChunkCache();
  ChunkCache(const ChunkCache&) = delete;
  ChunkCache& operator=(const ChunkCache&) = delete;

  // False when the memory could not be mapped: every call is then a no-op
  // and Read always misses.
  bool usable() const { return arena_ != nullptr; }
  size_t capacity_chunks() const { return capacity_chunks_; }

  // A new id for a file's chunks; Forget drops them (the file is closing).
  uint64_t NewFile();
  void Forget(uint64_t file);

  // A write of [offset, offset + len): see the contract above.
  struct WriteTicket {
    uint64_t seq = 0;
    bool alone = false;  // no other write of its chunks was under way
  };
  WriteTicket BeginWrite(uint64_t file, uint64_t offset, uint64_t len);
  // `parts` are the bytes written at offset; `ok`: they are (or are queued
  // to be) on the device.
  void EndWrite(uint64_t file, const WriteTicket& ticket, uint64_t offset,
                const std::vector<absl::string_view>& parts, bool ok);
  // Drops [offset, offset + len) (a queued write of it failed).
  void Invalidate(uint64_t file, uint64_t offset, uint64_t len);

  // A read from the device: FillTicket before it (and before waiting for
  // queued writes), Fill with its bytes after.
  uint64_t FillTicket();
  void Fill(uint64_t file, uint64_t ticket, uint64_t offset,
            const std::vector<absl::Span<char>>& parts);

  // A read within one chunk that Read missed: reads the whole chunk through
  // `read` (offset, buffer, length; kChunkBytes at a chunk-aligned offset,
  // into 4 KiB-aligned memory) straight into a free slot, keeps it unless
  // a write of the chunk began after `ticket` (FillTicket), and copies the
  // asked range out of it. Returns false, having done nothing, when the
  // range spans chunks, no slot is free or the chunk was written since the
  // ticket; otherwise true, with `read`'s outcome in *status.
  using ChunkReader = std::function<absl::Status(uint64_t, char*, size_t)>;
  bool ReadChunkThrough(uint64_t file, uint64_t offset, uint64_t ticket,
                        const std::vector<absl::Span<char>>& parts,
                        const ChunkReader& read, absl::Status* status);

  // Copies [offset, offset + total of parts) into parts when all of it is
  // cached; false (nothing copied) otherwise.
  bool Read(uint64_t file, uint64_t offset,
            const std::vector<absl::Span<char>>& parts);

  // Whether every chunk of [offset, offset + len) is cached now.
  bool Holds(uint64_t file, uint64_t offset, uint64_t len) const;

  // Read without the copy: when all of [offset, offset + len) is cached,
  // `*pieces` (one per chunk, end to end) point into the cache's memory and
  // the returned holder keeps those chunks pinned: their bytes stay as they
  // are and their slots are not reused until it is released (a write of
  // them meanwhile unpublishes them, so later reads miss; the loan keeps
  // the bytes it had). The holder keeps the cache itself alive, so it may
  // outlive the file and its owner. Null (nothing lent) on a miss, or when
  // the cache is not owned by a std::shared_ptr.
  std::shared_ptr<const void> Lend(uint64_t file, uint64_t offset,
                                   uint64_t len,
                                   std::vector<absl::string_view>* pieces);

  // Memory for bytes on their way to being written (a WRITE's data,
  // received from the network): `len` bytes, of which byte `lead` (less
  // than kChunkBytes) starts a slot, in whole slots of the arena lent
  // unkeyed. When a write's bytes lie in such a slot as one whole chunk,
  // EndWrite publishes that very slot for the chunk instead of copying
  // them into another (no copy on the write path). The returned pointer's
  // owner lends the run: on release, slots nobody published go back to
  // the free list; published ones stay cached. Runs come from arena order
  // (a second hand, taking free slots and unpinned ones not referenced
  // since it last passed), never more than a quarter of the arena in all.
  // Null when no run can be had, or when the cache is not owned by a
  // std::shared_ptr; the caller then uses its own memory.
  std::shared_ptr<char> BorrowRun(size_t lead, size_t len);

  struct Stats {
    uint64_t hits = 0, installed = 0, evicted = 0;
    uint64_t adopted = 0;  // chunks published in a borrowed slot, uncopied
    size_t cached_chunks = 0;
    size_t faulted_chunks = 0;  // slots whose pages are faulted in
  };
  Stats stats() const;

 private:
  struct Key {
    uint64_t file;
    uint64_t chunk;
    bool operator==(const Key& o) const {
      return file == o.file && chunk == o.chunk;
    }
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.file, k.chunk);
    }
  };
  struct Entry {
    int32_t slot = -1;     // the published slot, or -1
    int32_t filling = -1;  // a slot being copied into, not yet published
    uint32_t writers = 0;  // writes of this chunk under way
  };
  // kBorrowed: lent by BorrowRun, unkeyed. A borrowed slot that a write
  // publishes stays pinned (once) by its run until the run is returned.
  enum class SlotState : uint8_t { kFree, kFilling, kValid, kDead, kBorrowed };
  struct Slot {
    Key key{0, 0};
    SlotState state = SlotState::kFree;
    bool referenced = false;  // CLOCK
    bool listed = true;       // in free_ (which may hold non-free slots)
    uint32_t pins = 0;        // readers copying out of it, or its run
  };
  // One chunk to copy in: its key, slot and where its bytes come from.
  struct Pending {
    Key key;
    int32_t slot;
    uint64_t offset;  // file offset of the chunk
  };

  // Whether a chunk just copied in may be published (called under mu_).
  using KeepIf = std::function<bool(const Key&, const Entry&)>;
  // Copies each pending chunk's bytes out of `parts` (which start at file
  // offset `offset`) into its slot, then publishes those `keep` allows and
  // frees the others.
  void CopyAndPublish(const std::vector<Pending>& todo,
                      const std::vector<absl::string_view>& parts,
                      uint64_t offset, const KeepIf& keep)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Ends the filling of `slot` for `key`: published when `keep` allows (and
  // the entry still waits for it), else freed. True when published.
  bool Publish(const Key& key, int32_t slot, const KeepIf& keep)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  char* SlotData(size_t slot) const { return arena_ + slot * kChunkBytes; }
  // Faults the pages of slots [from, to) in, as if written, without
  // changing a byte; false when the kernel cannot (before Linux 5.14).
  bool Populate(size_t from, size_t to) const;
  // The prefaulter thread: faults slots in, ahead_chunks_ beyond used_.
  void Prefault();
  bool PrefaultWanted() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A slot to fill, evicting by CLOCK; -1 when every slot is busy.
  int32_t TakeSlot() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The first of `n` contiguous slots now borrowed (see BorrowRun), or -1.
  int32_t TakeRun(size_t n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Gives back a run: borrowed slots are freed, published ones unpinned.
  void ReturnRun(int32_t first, size_t n) ABSL_LOCKS_EXCLUDED(mu_);
  // The borrowed slot that holds, as one whole chunk, the kChunkBytes of
  // `parts` that start `skip` bytes in; -1 when none does.
  int32_t BorrowedSlotAt(const std::vector<absl::string_view>& parts,
                         uint64_t skip) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks the chunks of [offset, offset + len) written at `seq`.
  void NoteWrite(uint64_t file, uint64_t offset, uint64_t len, uint64_t seq)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Unpublishes the valid slot `slot` for a new use (counted evicted).
  void Evict(int32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Unpublishes e's slot (freed now, or when its last reader unpins it).
  void DropSlot(Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReleaseSlot(int32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The slot published for a chunk, or -1.
  int32_t PublishedSlot(uint64_t file, uint64_t chunk) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // [offset, offset + len) as pieces of the pinned slots of its chunks
  // (pinned[i] holds the i-th chunk of the range), end to end.
  void PinnedPieces(uint64_t offset, uint64_t len,
                    const std::vector<int32_t>& pinned,
                    std::vector<absl::string_view>* pieces) const;
  // Pins the slots of chunks [first, last] of `file` into *pinned (marking
  // them referenced); false, with nothing pinned, unless all are cached.
  bool PinLocked(uint64_t file, uint64_t first, uint64_t last,
                 std::vector<int32_t>* pinned) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops one pin of `slot`; a slot dropped meanwhile is freed with its
  // last pin.
  void UnpinSlot(int32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Unpins what PinLocked pinned; a slot dropped meanwhile is freed.
  void Unpin(const std::vector<int32_t>& pinned) ABSL_LOCKS_EXCLUDED(mu_);
  void MaybeErase(const Key& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void InvalidateLocked(uint64_t file, uint64_t offset, uint64_t len)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  char* arena_ = nullptr;
  size_t capacity_chunks_ = 0;
  size_t mapped_ = 0;
  char* map_base_ = nullptr;

  mutable absl::Mutex mu_;
  std::vector<Slot> slots_ ABSL_GUARDED_BY(mu_);
  std::vector<int32_t> free_ ABSL_GUARDED_BY(mu_);
  size_t hand_ ABSL_GUARDED_BY(mu_) = 0;
  size_t run_hand_ ABSL_GUARDED_BY(mu_) = 0;  // BorrowRun's
  size_t borrowed_ ABSL_GUARDED_BY(mu_) = 0;  // slots in lent runs
  absl::flat_hash_map<Key, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // The seq of the last write to begin on any chunk hashing to each slot
  // (so Recent(key) == a write's seq: no later write of that chunk began).
  static constexpr size_t kRecentSlots = 1 << 16;
  uint64_t& Recent(const Key& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // True when a fill of `key` on `ticket` may still be kept.
  bool FillAllowed(const Key& key, uint64_t ticket)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<uint64_t> recent_ ABSL_GUARDED_BY(mu_);
  // Seqs of the writes begun and not yet ended.
  std::set<uint64_t> in_flight_ ABSL_GUARDED_BY(mu_);
  size_t ahead_chunks_ = 0;
  // Slots [0, faulted_) have their pages; used_ is one more than the
  // highest slot ever taken (free slots are taken in ascending order).
  size_t faulted_ ABSL_GUARDED_BY(mu_) = 0;
  size_t used_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread prefaulter_;

  uint64_t next_file_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_ENV_CHUNK_CACHE_H_
