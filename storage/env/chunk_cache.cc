// chunk_cache.cc — see chunk_cache.h.
#include "storage/env/chunk_cache.h"

#include <sys/mman.h>

#include <cerrno>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <utility>

#include "storage/env/gather.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older C libraries lack it
#endif

namespace vnas::storage {
namespace {

// Copies `n` bytes starting `skip` bytes into the concatenation of `parts`
// to `out`.
void CopyOut(const std::vector<absl::string_view>& parts, size_t skip,
             char* out, size_t n) {
  GatherCursor at = SeekCursor(parts, skip);
  Gather(parts, &at, out, n);
}

// Copies `n` bytes of `in` into the concatenation of `parts`, starting
// `skip` bytes into it.
void CopyIn(const std::vector<absl::Span<char>>& parts, size_t skip,
            const char* in, size_t n) {
  GatherCursor at = SeekCursor(parts, skip);
  Scatter(parts, &at, in, n);
}

std::vector<absl::string_view> AsViews(
    const std::vector<absl::Span<char>>& parts) {
  std::vector<absl::string_view> v;
  v.reserve(parts.size());
  for (absl::Span<char> p : parts) v.emplace_back(p.data(), p.size());
  return v;
}

size_t Total(const std::vector<absl::string_view>& parts) {
  size_t n = 0;
  for (absl::string_view p : parts) n += p.size();
  return n;
}

}  // namespace

ChunkCache::ChunkCache(size_t capacity_bytes, size_t ahead_bytes) {
  const size_t chunks = capacity_bytes / kChunkBytes;
  if (chunks == 0) return;
  // Plain pages, touched as slots are first used (transparent huge pages
  // were measured far slower to fault in on a VM: 8 s for 3 GiB against
  // 1.2 s).
  mapped_ = chunks * kChunkBytes;
  void* p = ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    mapped_ = 0;
    return;
  }
  map_base_ = static_cast<char*>(p);
  arena_ = map_base_;  // page-aligned, so every slot is
  capacity_chunks_ = chunks;
  absl::MutexLock l(&mu_);
  recent_.assign(kRecentSlots, 0);
  slots_.resize(chunks);
  free_.reserve(chunks);
  for (size_t i = chunks; i > 0; --i) free_.push_back(static_cast<int32_t>(i - 1));
  if (ahead_bytes == kCommitAll) {
    // On every core (faulting is CPU-bound: 3 GiB took 1.3-2.5 s on one
    // core of a 2-core VM, 1.0-1.3 s on two). Where the kernel cannot
    // populate, slots fault in as they are first used, as without this.
    const size_t parts = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
    std::atomic<bool> ok{true};
    std::vector<std::thread> threads;
    for (size_t i = 0; i < parts; ++i) {
      const size_t from = chunks * i / parts, to = chunks * (i + 1) / parts;
      if (from == to) continue;
      threads.emplace_back([this, from, to, &ok] {
        if (!Populate(from, to)) ok = false;
      });
    }
    for (std::thread& t : threads) t.join();
    faulted_ = ok ? chunks : 0;
    return;
  }
  ahead_chunks_ = ahead_bytes / kChunkBytes;
  if (ahead_chunks_ > 0) prefaulter_ = std::thread([this] { Prefault(); });
}

bool ChunkCache::Populate(size_t from, size_t to) const {
  // Faults the pages in as if written, without changing a byte, so a slot
  // a fill is copying into meanwhile is safe.
  for (;;) {
    if (::madvise(SlotData(from), (to - from) * kChunkBytes,
                  MADV_POPULATE_WRITE) == 0) {
      return true;
    }
    if (errno != EINTR && errno != EAGAIN) return false;
  }
}

ChunkCache::~ChunkCache() {
  if (prefaulter_.joinable()) {
    {
      absl::MutexLock l(&mu_);
      stop_ = true;
    }
    prefaulter_.join();
  }
  if (map_base_ != nullptr) ::munmap(map_base_, mapped_);
}

bool ChunkCache::PrefaultWanted() const {
  return stop_ ||
         faulted_ < std::min(capacity_chunks_, used_ + ahead_chunks_);
}

void ChunkCache::Prefault() {
  // Steps small enough that the slots a fill takes next are soon there.
  constexpr size_t kStepChunks = (4 << 20) / kChunkBytes;
  absl::MutexLock l(&mu_);
  for (;;) {
    mu_.Await(absl::Condition(this, &ChunkCache::PrefaultWanted));
    if (stop_) return;
    const size_t from = faulted_;
    const size_t to = std::min(
        {capacity_chunks_, used_ + ahead_chunks_, from + kStepChunks});
    mu_.Unlock();
    // Unsupported (Linux before 5.14): pages are faulted in on first use,
    // as without this.
    const bool ok = Populate(from, to);
    mu_.Lock();
    faulted_ = ok ? to : capacity_chunks_;
  }
}

uint64_t ChunkCache::NewFile() {
  absl::MutexLock l(&mu_);
  return next_file_++;
}

void ChunkCache::Forget(uint64_t file) {
  absl::MutexLock l(&mu_);
  std::vector<Key> keys;
  for (auto& [key, e] : entries_) {
    if (key.file == file) keys.push_back(key);
  }
  for (const Key& k : keys) {
    Entry& e = entries_[k];
    DropSlot(e);
    // A fill or install still copying finds no entry and frees its slot.
    entries_.erase(k);
  }
}

ChunkCache::WriteTicket ChunkCache::BeginWrite(uint64_t file, uint64_t offset,
                                               uint64_t len) {
  WriteTicket t;
  if (!usable() || len == 0) return t;
  absl::MutexLock l(&mu_);
  t.seq = ++seq_;
  t.alone = true;
  in_flight_.insert(t.seq);
  NoteWrite(file, offset, len, t.seq);
  const uint64_t first = offset / kChunkBytes;
  const uint64_t last = (offset + len - 1) / kChunkBytes;
  for (uint64_t c = first; c <= last; ++c) {
    Entry& e = entries_[Key{file, c}];
    if (e.writers > 0) t.alone = false;
    ++e.writers;
    DropSlot(e);
  }
  return t;
}

void ChunkCache::EndWrite(uint64_t file, const WriteTicket& t, uint64_t offset,
                          const std::vector<absl::string_view>& parts,
                          bool ok) {
  if (!usable() || t.seq == 0) return;
  const uint64_t len = Total(parts);
  const uint64_t first = offset / kChunkBytes;
  const uint64_t last = (offset + len - 1) / kChunkBytes;
  std::vector<Pending> todo;
  {
    absl::MutexLock l(&mu_);
    in_flight_.erase(t.seq);
    for (uint64_t c = first; c <= last; ++c) {
      const Key key{file, c};
      auto it = entries_.find(key);
      if (it == entries_.end()) continue;  // forgotten
      Entry& e = it->second;
      --e.writers;
      const uint64_t at = c * kChunkBytes;
      const bool whole = at >= offset && at + kChunkBytes <= offset + len;
      if (ok && whole && t.alone && e.writers == 0 && Recent(key) == t.seq &&
          e.slot < 0 && e.filling < 0) {
        const int32_t own = BorrowedSlotAt(parts, at - offset);
        if (own >= 0) {
          // The bytes already sit in a slot of their own: publish it. Its
          // run pins it until returned, as the run's memory is not ours.
          Slot& slot = slots_[own];
          slot.key = key;
          slot.state = SlotState::kValid;
          slot.referenced = false;
          ++slot.pins;
          e.slot = own;
          ++stats_.installed;
          ++stats_.adopted;
          continue;
        }
        const int32_t s = TakeSlot();
        if (s >= 0) {
          slots_[s].key = key;
          e.filling = s;
          todo.push_back({key, s, at});
          continue;
        }
      }
      MaybeErase(key);
    }
  }
  // A write that began while copying makes these bytes old.
  CopyAndPublish(todo, parts, offset,
                 [this, &t](const Key& key, const Entry& e)
                     ABSL_NO_THREAD_SAFETY_ANALYSIS {
                       return e.writers == 0 && Recent(key) == t.seq;
                     });
}

void ChunkCache::Invalidate(uint64_t file, uint64_t offset, uint64_t len) {
  if (!usable() || len == 0) return;
  absl::MutexLock l(&mu_);
  InvalidateLocked(file, offset, len);
}

void ChunkCache::InvalidateLocked(uint64_t file, uint64_t offset,
                                  uint64_t len) {
  // Fills and installs under way are void.
  NoteWrite(file, offset, len, ++seq_);
  const uint64_t first = offset / kChunkBytes;
  const uint64_t last = (offset + len - 1) / kChunkBytes;
  for (uint64_t c = first; c <= last; ++c) {
    auto it = entries_.find(Key{file, c});
    if (it == entries_.end()) continue;
    DropSlot(it->second);
    MaybeErase(it->first);
  }
}

uint64_t ChunkCache::FillTicket() {
  absl::MutexLock l(&mu_);
  return in_flight_.empty() ? seq_ : *in_flight_.begin() - 1;
}

uint64_t& ChunkCache::Recent(const Key& key) {
  const size_t h = absl::Hash<Key>{}(key);
  return recent_[h % kRecentSlots];
}

void ChunkCache::NoteWrite(uint64_t file, uint64_t offset, uint64_t len,
                           uint64_t seq) {
  const uint64_t first = offset / kChunkBytes;
  const uint64_t last = (offset + len - 1) / kChunkBytes;
  for (uint64_t c = first; c <= last; ++c) Recent(Key{file, c}) = seq;
}

bool ChunkCache::FillAllowed(const Key& key, uint64_t ticket) {
  if (Recent(key) > ticket) return false;
  auto it = entries_.find(key);
  return it == entries_.end() || it->second.writers == 0;
}

void ChunkCache::Fill(uint64_t file, uint64_t ticket, uint64_t offset,
                      const std::vector<absl::Span<char>>& parts) {
  if (!usable()) return;
  const std::vector<absl::string_view> views = AsViews(parts);
  const uint64_t len = Total(views);
  if (len < kChunkBytes) return;
  const uint64_t first = (offset + kChunkBytes - 1) / kChunkBytes;
  const uint64_t end = (offset + len) / kChunkBytes;  // exclusive
  std::vector<Pending> todo;
  {
    absl::MutexLock l(&mu_);
    for (uint64_t c = first; c < end; ++c) {
      const Key key{file, c};
      if (!FillAllowed(key, ticket)) continue;
      Entry& e = entries_[key];
      if (e.slot >= 0 || e.filling >= 0) continue;
      const int32_t s = TakeSlot();
      if (s < 0) {
        MaybeErase(key);
        break;
      }
      slots_[s].key = key;
      e.filling = s;
      todo.push_back({key, s, c * kChunkBytes});
    }
  }
  CopyAndPublish(todo, views, offset,
                 [this, ticket](const Key& key, const Entry&)
                     ABSL_NO_THREAD_SAFETY_ANALYSIS {
                       return FillAllowed(key, ticket);
                     });
}

void ChunkCache::CopyAndPublish(const std::vector<Pending>& todo,
                                const std::vector<absl::string_view>& parts,
                                uint64_t offset, const KeepIf& keep) {
  if (todo.empty()) return;
  for (const Pending& p : todo) {
    CopyOut(parts, p.offset - offset, SlotData(p.slot), kChunkBytes);
  }
  absl::MutexLock l(&mu_);
  for (const Pending& p : todo) Publish(p.key, p.slot, keep);
}

bool ChunkCache::Publish(const Key& key, int32_t slot, const KeepIf& keep) {
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.filling == slot) {
    Entry& e = it->second;
    e.filling = -1;
    if (keep(key, e)) {
      e.slot = slot;
      slots_[slot].state = SlotState::kValid;
      slots_[slot].referenced = false;  // a read makes it so
      ++stats_.installed;
      return true;
    }
    MaybeErase(key);
  }
  ReleaseSlot(slot);
  return false;
}

bool ChunkCache::ReadChunkThrough(uint64_t file, uint64_t offset,
                                  uint64_t ticket,
                                  const std::vector<absl::Span<char>>& parts,
                                  const ChunkReader& read,
                                  absl::Status* status) {
  if (!usable()) return false;
  size_t len = 0;
  for (absl::Span<char> p : parts) len += p.size();
  if (len == 0 || offset / kChunkBytes != (offset + len - 1) / kChunkBytes) {
    return false;
  }
  const Key key{file, offset / kChunkBytes};
  const uint64_t at = key.chunk * kChunkBytes;
  int32_t s;
  {
    absl::MutexLock l(&mu_);
    if (!FillAllowed(key, ticket)) return false;
    Entry& e = entries_[key];
    if (e.slot >= 0 || e.filling >= 0) return false;
    s = TakeSlot();
    if (s < 0) {
      MaybeErase(key);
      return false;
    }
    slots_[s].key = key;
    e.filling = s;
  }
  *status = read(at, SlotData(s), kChunkBytes);
  if (status->ok()) {
    CopyIn(parts, 0, SlotData(s) + (offset - at), len);
  }
  absl::MutexLock l(&mu_);
  const bool ok = status->ok();
  Publish(key, s, [&](const Key& k, const Entry&) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return ok && FillAllowed(k, ticket);
  });
  return true;
}

int32_t ChunkCache::PublishedSlot(uint64_t file, uint64_t chunk) const {
  auto it = entries_.find(Key{file, chunk});
  return it == entries_.end() ? -1 : it->second.slot;
}

void ChunkCache::PinnedPieces(uint64_t offset, uint64_t len,
                              const std::vector<int32_t>& pinned,
                              std::vector<absl::string_view>* pieces) const {
  const uint64_t first = offset / kChunkBytes;
  pieces->clear();
  pieces->reserve(pinned.size());
  for (size_t i = 0; i < pinned.size(); ++i) {
    const uint64_t at = (first + i) * kChunkBytes;
    const uint64_t from = std::max<uint64_t>(at, offset);
    const uint64_t to = std::min<uint64_t>(at + kChunkBytes, offset + len);
    pieces->emplace_back(SlotData(pinned[i]) + (from - at), to - from);
  }
}

bool ChunkCache::PinLocked(uint64_t file, uint64_t first, uint64_t last,
                           std::vector<int32_t>* pinned) {
  pinned->clear();
  pinned->reserve(last - first + 1);
  for (uint64_t c = first; c <= last; ++c) {
    const int32_t s = PublishedSlot(file, c);
    if (s < 0) {
      for (int32_t p : *pinned) --slots_[p].pins;
      pinned->clear();
      return false;
    }
    ++slots_[s].pins;
    slots_[s].referenced = true;
    pinned->push_back(s);
  }
  ++stats_.hits;
  return true;
}

void ChunkCache::Unpin(const std::vector<int32_t>& pinned) {
  absl::MutexLock l(&mu_);
  for (int32_t s : pinned) UnpinSlot(s);
}

void ChunkCache::UnpinSlot(int32_t s) {
  if (--slots_[s].pins == 0 && slots_[s].state == SlotState::kDead) {
    ReleaseSlot(s);
  }
}

bool ChunkCache::Read(uint64_t file, uint64_t offset,
                      const std::vector<absl::Span<char>>& parts) {
  if (!usable()) return false;
  size_t len = 0;
  for (absl::Span<char> p : parts) len += p.size();
  if (len == 0) return false;
  const uint64_t first = offset / kChunkBytes;
  const uint64_t last = (offset + len - 1) / kChunkBytes;
  std::vector<int32_t> pinned;
  {
    absl::MutexLock l(&mu_);
    if (!PinLocked(file, first, last, &pinned)) return false;
  }
  std::vector<absl::string_view> pieces;
  PinnedPieces(offset, len, pinned, &pieces);
  size_t done = 0;
  for (absl::string_view p : pieces) {
    CopyIn(parts, done, p.data(), p.size());
    done += p.size();
  }
  Unpin(pinned);
  return true;
}

bool ChunkCache::Holds(uint64_t file, uint64_t offset, uint64_t len) const {
  if (!usable() || len == 0) return false;
  absl::MutexLock l(&mu_);
  for (uint64_t c = offset / kChunkBytes; c <= (offset + len - 1) / kChunkBytes;
       ++c) {
    if (PublishedSlot(file, c) < 0) return false;
  }
  return true;
}

std::shared_ptr<const void> ChunkCache::Lend(
    uint64_t file, uint64_t offset, uint64_t len,
    std::vector<absl::string_view>* pieces) {
  if (!usable() || len == 0) return nullptr;
  std::shared_ptr<ChunkCache> self = weak_from_this().lock();
  if (!self) return nullptr;
  // Unpins its chunks when the last holder lets go.
  struct Loan {
    std::shared_ptr<ChunkCache> cache;
    std::vector<int32_t> slots;
    ~Loan() {
      if (cache) cache->Unpin(slots);
    }
  };
  auto loan = std::make_shared<Loan>();
  const uint64_t first = offset / kChunkBytes;
  const uint64_t last = (offset + len - 1) / kChunkBytes;
  {
    absl::MutexLock l(&mu_);
    if (!PinLocked(file, first, last, &loan->slots)) return nullptr;
  }
  loan->cache = std::move(self);
  PinnedPieces(offset, len, loan->slots, pieces);
  return loan;
}

ChunkCache::Stats ChunkCache::stats() const {
  absl::MutexLock l(&mu_);
  Stats s = stats_;
  s.faulted_chunks = faulted_;
  s.cached_chunks = 0;
  for (const Slot& slot : slots_) s.cached_chunks += slot.state == SlotState::kValid;
  return s;
}

int32_t ChunkCache::TakeSlot() {
  while (!free_.empty()) {
    const int32_t s = free_.back();
    free_.pop_back();
    slots_[s].listed = false;
    if (slots_[s].state != SlotState::kFree) continue;  // a run took it
    slots_[s].state = SlotState::kFilling;
    used_ = std::max(used_, static_cast<size_t>(s) + 1);  // wakes Prefault
    return s;
  }
  // CLOCK: a valid, unpinned slot not referenced since the hand last
  // passed; at most two turns.
  const size_t n = slots_.size();
  for (size_t step = 0; step < 2 * n; ++step) {
    const size_t i = hand_;
    hand_ = (hand_ + 1) % n;
    Slot& slot = slots_[i];
    if (slot.state != SlotState::kValid || slot.pins > 0) continue;
    if (slot.referenced) {
      slot.referenced = false;
      continue;
    }
    Evict(static_cast<int32_t>(i));
    slot.state = SlotState::kFilling;
    return static_cast<int32_t>(i);
  }
  return -1;
}

void ChunkCache::Evict(int32_t s) {
  auto it = entries_.find(slots_[s].key);
  if (it != entries_.end() && it->second.slot == s) {
    it->second.slot = -1;
    MaybeErase(slots_[s].key);
  }
  ++stats_.evicted;
}

void ChunkCache::DropSlot(Entry& e) {
  if (e.slot < 0) return;
  Slot& slot = slots_[e.slot];
  if (slot.pins > 0) {
    slot.state = SlotState::kDead;  // freed by its last reader
  } else {
    ReleaseSlot(e.slot);
  }
  e.slot = -1;
}

void ChunkCache::ReleaseSlot(int32_t s) {
  slots_[s].state = SlotState::kFree;
  slots_[s].referenced = false;
  if (!slots_[s].listed) {
    slots_[s].listed = true;
    free_.push_back(s);
  }
}

std::shared_ptr<char> ChunkCache::BorrowRun(size_t lead, size_t len) {
  if (!usable() || lead >= kChunkBytes || len <= lead) return nullptr;
  std::shared_ptr<ChunkCache> self = weak_from_this().lock();
  if (!self) return nullptr;
  const size_t n = 1 + (len - lead + kChunkBytes - 1) / kChunkBytes;
  int32_t first;
  {
    absl::MutexLock l(&mu_);
    first = TakeRun(n);
  }
  if (first < 0) return nullptr;
  // Returns the run when the last holder lets go.
  struct Run {
    Run(std::shared_ptr<ChunkCache> c, int32_t f, size_t k)
        : cache(std::move(c)), first(f), n(k) {}
    Run(const Run&) = delete;
    Run& operator=(const Run&) = delete;
    ~Run() { cache->ReturnRun(first, n); }
    const std::shared_ptr<ChunkCache> cache;
    const int32_t first;
    const size_t n;
  };
  auto run = std::make_shared<Run>(std::move(self), first, n);
  // The first slot holds only the `lead` bytes before the run proper.
  char* start = SlotData(static_cast<size_t>(first) + 1) - lead;
  return std::shared_ptr<char>(std::move(run), start);
}

int32_t ChunkCache::TakeRun(size_t n) {
  const size_t cap = slots_.size();
  if (n == 0 || n > cap || borrowed_ + n > cap / 4) return -1;
  // A run is n contiguous slots that are free, or valid, unpinned and not
  // referenced since this hand last passed (second chance, as CLOCK). The
  // search is bounded (the caller is a network thread, under the lock);
  // where it fails, the hand has moved on and cleared the bits it passed.
  constexpr size_t kMaxSteps = 8192;
  size_t start = 0, have = 0;
  for (size_t step = 0; step < std::min(2 * cap, kMaxSteps) + n; ++step) {
    const size_t i = run_hand_;
    run_hand_ = (run_hand_ + 1) % cap;
    if (i == 0) have = 0;  // runs do not wrap around the arena
    Slot& slot = slots_[i];
    bool fits = slot.state == SlotState::kFree;
    if (slot.state == SlotState::kValid && slot.pins == 0) {
      fits = !slot.referenced;
      slot.referenced = false;
    }
    if (!fits) {
      have = 0;
      continue;
    }
    if (have++ == 0) start = i;
    if (have < n) continue;
    for (size_t k = start; k < start + n; ++k) {
      Slot& s = slots_[k];
      if (s.state == SlotState::kValid) Evict(static_cast<int32_t>(k));
      s.state = SlotState::kBorrowed;  // a listed one is skipped when popped
      s.referenced = false;
    }
    borrowed_ += n;
    used_ = std::max(used_, start + n);  // wakes Prefault
    return static_cast<int32_t>(start);
  }
  return -1;
}

void ChunkCache::ReturnRun(int32_t first, size_t n) {
  absl::MutexLock l(&mu_);
  for (size_t k = static_cast<size_t>(first); k < first + n; ++k) {
    if (slots_[k].state == SlotState::kBorrowed) {
      ReleaseSlot(static_cast<int32_t>(k));
    } else {
      UnpinSlot(static_cast<int32_t>(k));  // published by a write
    }
  }
  borrowed_ -= n;
}

int32_t ChunkCache::BorrowedSlotAt(const std::vector<absl::string_view>& parts,
                                   uint64_t skip) const {
  const GatherCursor c = SeekCursor(parts, skip);
  if (c.done(parts)) return -1;
  const absl::string_view p = parts[c.part];
  const char* at = p.data() + c.in_part;
  if (p.size() - c.in_part < kChunkBytes || at < arena_ ||
      at >= arena_ + capacity_chunks_ * kChunkBytes ||
      (at - arena_) % kChunkBytes != 0) {
    return -1;
  }
  const size_t slot = static_cast<size_t>(at - arena_) / kChunkBytes;
  return slots_[slot].state == SlotState::kBorrowed ? static_cast<int32_t>(slot)
                                                    : -1;
}

void ChunkCache::MaybeErase(const Key& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  const Entry& e = it->second;
  if (e.slot < 0 && e.filling < 0 && e.writers == 0) entries_.erase(it);
}

}  // namespace vnas::storage
