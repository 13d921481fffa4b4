// extent_store_data.cc — ExtentStoreImpl: Read, Write, Commit, PunchHole,
// truncation and the segment write primitive.
#include "storage/extent_store_impl.h"

namespace vnas::storage::internal {

absl::Status ExtentStoreImpl::ReadSegment(uint64_t e, uint32_t a, uint32_t len,
                                          char* out) {
  MemberState& m = *members_[meta::ExtentMember(e)];
  VNAS_RETURN_IF_ERROR(
      m.file->PRead(meta::ExtentSeg(e) * seg_ + a, len, out));
  m.bytes_read.fetch_add(len, std::memory_order_relaxed);
  m.reads.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status ExtentStoreImpl::WriteMember(uint64_t e, uint32_t a,
                                          absl::string_view data,
                                          bool before_sync) {
  MemberState& m = *members_[meta::ExtentMember(e)];
  const uint64_t at = meta::ExtentSeg(e) * seg_ + a;
  VNAS_RETURN_IF_ERROR(before_sync ? m.file->PWriteVNow(at, {data})
                                   : m.file->PWrite(at, data));
  m.bytes_written.fetch_add(data.size(), std::memory_order_relaxed);
  m.writes.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status ExtentStoreImpl::ReadRun(
    const MemberRuns<absl::Span<char>>::Run& run, bool cached_only) {
  MemberState& m = *members_[run.member];
  VNAS_RETURN_IF_ERROR(cached_only ? m.file->PReadVCached(run.offset, run.parts)
                                   : m.file->PReadV(run.offset, run.parts));
  m.bytes_read.fetch_add(run.bytes, std::memory_order_relaxed);
  m.reads.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status ExtentStoreImpl::WriteRun(
    const MemberRuns<absl::string_view>::Run& run, RunMode mode,
    const std::shared_ptr<const void>& keep) {
  MemberState& m = *members_[run.member];
  absl::Status s;
  switch (mode) {
    case RunMode::kDurable:
      s = m.file->PWriteVDurable(run.offset, run.parts);
      break;
    case RunMode::kBeforeSync:
      s = m.file->PWriteVNow(run.offset, run.parts);
      break;
    case RunMode::kUnstable:
      s = keep ? m.file->PWriteVOwned(run.offset, run.parts, keep)
               : m.file->PWriteV(run.offset, run.parts);
      break;
  }
  VNAS_RETURN_IF_ERROR(s);
  m.bytes_written.fetch_add(run.bytes, std::memory_order_relaxed);
  m.writes.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

void ExtentStoreImpl::HintWriteback(
    const MemberRuns<absl::string_view>::Run& run) {
  // A direct write (the bulk policy of env_posix) leaves nothing to write
  // back: no hint, and no wake-up of the writeback thread.
  if (run.bytes >= kWritebackMinBytes &&
      members_[run.member]->file->LeavesDirtyPages(run.offset, run.bytes)) {
    writeback_->Hint(run.member, run.offset, run.bytes);
  }
}

uint64_t ExtentStoreImpl::Pin() {
  const uint64_t seq = gc_->next_seq();
  pin_seqs_.insert(seq);
  return seq;
}

void ExtentStoreImpl::Unpin(uint64_t seq) {
  absl::MutexLock l(&mu_);
  pin_seqs_.erase(pin_seqs_.find(seq));
}

void ExtentStoreImpl::UnclaimAll(const std::vector<uint64_t>& targets) {
  for (uint64_t p : targets) {
    alloc_->Unclaim(meta::ExtentMember(p), meta::ExtentSeg(p));
  }
}

void ExtentStoreImpl::MapFresh(Txn& t, Inode* n, uint64_t si, uint64_t p,
                               uint64_t old, bool partial) {
  t.members.insert(meta::ExtentMember(p));
  // A segment the file already owned alone was not owed to its reservation
  // (a concurrent write of new data mapped it, or its unsharing is not
  // durable yet): replacing it changes nothing there.
  const bool owned = old && tree_->Unique(n->rec.maps, si);
  tree_->SetSegment(&n->rec.maps, si, p);
  if (old) {
    ++n->align.cow_segments;
    if (partial) ++n->align.partial_segment_writes;
  }
  if (!owned && si < ReserveSegs(*n) && n->outstanding > 0) {
    --n->outstanding;
    --total_outstanding_;
  }
}

void ExtentStoreImpl::RecomputeOutstanding(Inode* n) {
  uint64_t now =
      n->rec.reserve ? tree_->NotUniqueBelow(n->rec.maps, ReserveSegs(*n)) : 0;
  total_outstanding_ = total_outstanding_ - n->outstanding + now;
  n->outstanding = now;
}

absl::Status ExtentStoreImpl::CheckSpace(const Inode& n, uint64_t allocs,
                                         uint64_t in_reserve) {
  uint64_t credit = std::min(in_reserve, n.outstanding);
  uint64_t need = allocs - credit;
  uint64_t committed = UsedSegs() + total_outstanding_;
  if (need > 0 && committed + need > cap_segs_) {
    return FsError(ENOSPC, absl::StrCat("no space: ", need,
                                        " segments needed, ",
                                        cap_segs_ > committed
                                            ? cap_segs_ - committed
                                            : 0,
                                        " free"));
  }
  if (allocs == 0) return absl::OkStatus();
  // AllocSeg fills holes in the member files first; only the rest grows
  // them. Reservations that the remaining holes cannot hold need
  // file-system space.
  const uint64_t holes = BackedFreeSegs();
  const uint64_t from_holes = std::min(holes, allocs);
  const uint64_t growth = allocs - from_holes;
  if (growth == 0) return absl::OkStatus();
  const uint64_t out_after = total_outstanding_ - credit;
  const uint64_t unbacked = out_after > holes - from_holes
                                ? out_after - (holes - from_holes)
                                : 0;
  return CheckFsSpace(growth, unbacked, /*reserved_only=*/need == 0,
                      /*consume=*/true);
}

uint64_t ExtentStoreImpl::BackedFreeSegs() const {
  uint64_t holes = 0;
  for (uint32_t m = 0; m < nmembers_; ++m) {
    uint64_t top = std::min(backed_segs_[m], alloc_->Limit(m));
    uint64_t used = alloc_->Used(m);
    if (top > used) holes += top - used;
  }
  return holes;
}

absl::Status ExtentStoreImpl::CheckFsSpace(uint64_t growth, uint64_t unbacked,
                                           bool reserved_only, bool consume) {
  absl::MutexLock l(&fs_mu_);
  const absl::Time now = absl::Now();
  for (FsWatch& w : fs_) {
    const uint64_t required =
        growth * seg_ +
        (reserved_only ? w.reserve / 2 : w.reserve + unbacked * seg_);
    for (int attempt = 0;; ++attempt) {
      if (attempt > 0 ||
          now - w.read_at > absl::Milliseconds(kFsSpaceCacheMs)) {
        auto sp = env_->FilesystemSpace(w.path);
        if (sp.ok()) {
          w.avail = sp->avail;
          w.used_since = 0;
          w.read_at = now;
        } else if (attempt > 0) {
          return sp.status();
        }
      }
      const uint64_t avail = w.avail > w.used_since ? w.avail - w.used_since : 0;
      if (avail >= required) break;
      if (attempt > 0) {
        return FsError(
            ENOSPC,
            absl::StrCat("no space: the file system holding ", w.path,
                         " has ", avail >> 20, " MiB free; ", required >> 20,
                         " MiB needed (", w.reserve >> 20,
                         " MiB kept for metadata)"));
      }
    }
  }
  if (consume) {
    for (FsWatch& w : fs_) w.used_since += growth * seg_;
  }
  return absl::OkStatus();
}

uint64_t ExtentStoreImpl::FsFreeBytes() {
  absl::MutexLock l(&fs_mu_);
  const absl::Time now = absl::Now();
  uint64_t least = ~uint64_t{0};
  for (FsWatch& w : fs_) {
    if (now - w.read_at > absl::Milliseconds(kFsSpaceCacheMs)) {
      auto sp = env_->FilesystemSpace(w.path);
      if (sp.ok()) {
        w.avail = sp->avail;
        w.used_since = 0;
        w.read_at = now;
      }
    }
    const uint64_t avail = w.avail > w.used_since ? w.avail - w.used_since : 0;
    least = std::min(least, avail > w.reserve ? avail - w.reserve : 0);
  }
  return fs_.empty() ? 0 : least;
}

absl::StatusOr<uint64_t> ExtentStoreImpl::AllocSeg(const Inode& n,
                                                   uint64_t si, bool claim) {
  // Striping: a file's segments go to its members in stripe units of
  // kStripeBytes, rotating from a per-file starting member, so parallel
  // sequential writers spread over every member while one stable 1 MiB write
  // touches (and syncs) one member file.
  const uint64_t unit = std::max<uint64_t>(1, kStripeBytes / seg_);
  const uint32_t first =
      static_cast<uint32_t>((si / unit + n.rec.alloc_offset) % nmembers_);
  // Holes below a member's high-water mark first: they cost no new
  // file-system space (CheckSpace counted on that).
  for (uint32_t i = 0; i < nmembers_; ++i) {
    uint32_t m = (first + i) % nmembers_;
    const uint64_t limit = alloc_->Limit(m);
    const uint64_t top = std::min(backed_segs_[m], limit);
    if (alloc_->Used(m) >= top) continue;
    alloc_->SetLimit(m, top);
    auto s = claim ? alloc_->Claim(m) : alloc_->Allocate(m);
    alloc_->SetLimit(m, limit);
    if (s) return meta::MakeExtentId(m, *s);
  }
  for (uint32_t i = 0; i < nmembers_; ++i) {
    uint32_t m = (first + i) % nmembers_;
    if (auto s = claim ? alloc_->Claim(m) : alloc_->Allocate(m)) {
      backed_segs_[m] = std::max(backed_segs_[m], *s + 1);
      return meta::MakeExtentId(m, *s);
    }
  }
  return FsError(ENOSPC, "every member is full");
}

uint64_t ExtentStoreImpl::SplitPoint(const Inode& n, uint64_t offset,
                                     absl::string_view data) const {
  const uint64_t end = offset + data.size();
  if (data.empty() || offset / seg_ == (end - 1) / seg_) return 0;
  enum Kind { kInPlace, kFresh, kOther };
  auto kind = [&](uint64_t si) {
    const SegPart part = PartOf(si, offset, data.size());
    const char* p = data.data() + (part.from - offset);
    const uint32_t a = static_cast<uint32_t>(part.from % seg_);
    const uint32_t len = static_cast<uint32_t>(part.to - part.from);
    const bool own = InPlaceOk(n.rec.maps, si);  // false for a hole
    if (own && part.to <= n.rec.size && !ReclaimsZeros(n, si, a, p, len)) {
      return kInPlace;
    }
    if (!own && !AllZero(p, len)) return kFresh;
    return kOther;
  };
  const uint64_t si0 = offset / seg_, si1 = (end - 1) / seg_;
  const Kind first = kind(si0);
  for (uint64_t si = si0 + 1; si <= si1; ++si) {
    if (kind(si) != first) return si * seg_;
  }
  return 0;
}

bool ExtentStoreImpl::ReclaimsZeros(const Inode& n, uint64_t si, uint32_t a,
                                    const char* data, uint32_t len) const {
  return a == 0 && len == seg_ && si >= ReserveSegs(n) && AllZero(data, len);
}

bool ExtentStoreImpl::NeedsAlloc(const Inode& n, uint64_t si, uint32_t a,
                                 const char* data, uint32_t len) const {
  uint64_t e = tree_->Lookup(n.rec.maps, si);
  if (e && InPlaceOk(n.rec.maps, si)) return false;
  if (AllZero(data, len) && (e == 0 || (a == 0 && len == seg_))) return false;
  return true;
}

absl::Status ExtentStoreImpl::WriteSeg(Txn& t, Inode* n, uint64_t si,
                                       uint32_t a, const char* data,
                                       uint32_t len, bool* meta_changed) {
  MapList& maps = n->rec.maps;
  const uint64_t e = tree_->Lookup(maps, si);
  const bool before_sync = t.need == GroupCommit::Need::kDurable;
  if (e && ReclaimsZeros(*n, si, a, data, len)) {
    // A whole segment of zeros: the segment goes (its space is free once
    // the batch is durable) and the segment reads as a hole.
    t.inodes.insert(n->ino);
    *meta_changed = true;
    tree_->SetSegment(&maps, si, 0);
    return absl::OkStatus();
  }
  if (e && InPlaceOk(maps, si)) {  // overwrite in place
    NoteInPlace(e);
    VNAS_RETURN_IF_ERROR(
        WriteMember(e, a, absl::string_view(data, len), before_sync));
    t.members.insert(meta::ExtentMember(e));
    return absl::OkStatus();
  }
  const bool zero = AllZero(data, len);
  const bool full = a == 0 && len == seg_;
  if (zero && e == 0) return absl::OkStatus();  // holes read as zeros
  t.inodes.insert(n->ino);
  *meta_changed = true;
  if (zero && full) {  // a shared segment becomes a hole
    tree_->SetSegment(&maps, si, 0);
    return absl::OkStatus();
  }
  VNAS_ASSIGN_OR_RETURN(uint64_t p, AllocSeg(*n, si));
  absl::Status s;
  if (full) {
    s = WriteMember(p, 0, absl::string_view(data, len), before_sync);
  } else {
    std::string buf(seg_, '\0');
    if (e) s = ReadSegment(e, 0, seg_, buf.data());
    if (s.ok()) {
      std::memcpy(buf.data() + a, data, len);
      s = WriteMember(p, 0, buf, before_sync);
    }
  }
  if (!s.ok()) {
    alloc_->Free(meta::ExtentMember(p), meta::ExtentSeg(p));
    return s;
  }
  MapFresh(t, n, si, p, e, !full);
  return absl::OkStatus();
}

absl::Status ExtentStoreImpl::WriteFullSegs(Txn& t, Inode* n, uint64_t si0,
                                            const char* data, uint64_t nsegs,
                                            bool* meta_changed,
                                            uint64_t* done) {
  struct Item {
    uint64_t si, old, target;
    bool fresh;
  };
  MapList& maps = n->rec.maps;
  std::vector<Item> items;
  items.reserve(nsegs);
  MemberRuns<absl::string_view> runs(nmembers_);
  // Plan: in place where the file owns the segment alone, else a fresh one.
  size_t bad = nsegs;  // items from here on are not applied
  absl::Status err;
  for (uint64_t k = 0; k < nsegs; ++k) {
    const uint64_t si = si0 + k;
    const uint64_t e = tree_->Lookup(maps, si);
    Item it{si, e, e, false};
    if (e && InPlaceOk(maps, si)) {
      NoteInPlace(e);
    } else {
      absl::StatusOr<uint64_t> p = AllocSeg(*n, si);
      if (!p.ok()) {
        bad = k;
        err = p.status();
        break;
      }
      it.target = *p;
      it.fresh = true;
    }
    runs.Add(meta::ExtentMember(it.target), meta::ExtentSeg(it.target) * seg_,
             absl::string_view(data + k * seg_, seg_), items.size());
    items.push_back(it);
  }
  // The data, one call per run; a failed run stops the mapping at its first
  // segment.
  for (const auto& run : runs.Finish()) {
    absl::Status s = WriteRun(run, RunMode::kUnstable);
    if (!s.ok() && run.tags.front() < bad) {
      bad = run.tags.front();
      err = s;
    }
  }
  // The mappings, in file order, only for data that is written.
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& it = items[i];
    if (i >= bad) {
      if (it.fresh) {
        alloc_->Free(meta::ExtentMember(it.target), meta::ExtentSeg(it.target));
      }
      continue;
    }
    if (!it.fresh) {
      t.members.insert(meta::ExtentMember(it.target));
      continue;
    }
    t.inodes.insert(n->ino);
    *meta_changed = true;
    MapFresh(t, n, it.si, it.target, it.old, /*partial=*/false);
  }
  *done = std::min<uint64_t>(bad, items.size());
  return err;
}

absl::Status ExtentStoreImpl::ZeroRange(Txn& t, Inode* n, uint64_t off,
                                        uint64_t len) {
  if (len == 0) return absl::OkStatus();
  if (n->rec.has_inline) {
    std::string& d = n->rec.inline_data;
    if (off < d.size()) {
      std::memset(d.data() + off, 0, std::min<uint64_t>(len, d.size() - off));
    }
    t.inodes.insert(n->ino);
    return absl::OkStatus();
  }
  const uint64_t end = off + len;
  const uint64_t first_full = (off + seg_ - 1) / seg_;
  const uint64_t last_full = end / seg_;  // exclusive
  std::string zeros(seg_, '\0');
  bool changed = false;
  // Partial ends first (they may need a copy of a shared segment).
  std::vector<std::pair<uint64_t, uint64_t>> parts;  // [from, to)
  if (first_full > last_full) {
    parts.emplace_back(off, end);  // inside one segment
  } else {
    if (off % seg_) parts.emplace_back(off, first_full * seg_);
    if (end % seg_ && last_full * seg_ >= off) {
      parts.emplace_back(last_full * seg_, end);
    }
  }
  uint64_t allocs = 0;
  for (auto [from, to] : parts) {
    allocs += NeedsAlloc(*n, from / seg_, static_cast<uint32_t>(from % seg_),
                         zeros.data(), static_cast<uint32_t>(to - from));
  }
  VNAS_RETURN_IF_ERROR(CheckSpace(*n, allocs, 0));
  for (auto [from, to] : parts) {
    VNAS_RETURN_IF_ERROR(WriteSeg(t, n, from / seg_,
                                  static_cast<uint32_t>(from % seg_),
                                  zeros.data(),
                                  static_cast<uint32_t>(to - from), &changed));
  }
  if (first_full < last_full) {
    tree_->UnmapRange(&n->rec.maps, first_full, last_full);
  }
  t.inodes.insert(n->ino);
  return absl::OkStatus();
}

absl::Status ExtentStoreImpl::ZeroPastEof(Txn& t, Inode* n,
                                         uint64_t new_size) {
  const uint64_t old = n->rec.size;
  if (new_size <= old || old % seg_ == 0) return absl::OkStatus();
  const uint64_t e = tree_->Lookup(n->rec.maps, old / seg_);
  if (e == 0) return absl::OkStatus();
  const uint32_t a = static_cast<uint32_t>(old % seg_);
  const uint32_t len =
      static_cast<uint32_t>(std::min<uint64_t>(seg_ - a, new_size - old));
  std::string buf(len, '\0');
  VNAS_RETURN_IF_ERROR(ReadSegment(e, a, len, buf.data()));
  if (AllZero(buf.data(), len)) return absl::OkStatus();
  return ZeroRange(t, n, old, len);
}

bool ExtentStoreImpl::InlineFits(const Inode& n, uint64_t offset,
                                 uint64_t len) const {
  if (len == 0 || !n.is_reg() || n.rec.reserve != 0) return false;
  if (offset > inline_max_ || len > inline_max_ - offset) return false;
  if (n.rec.has_inline) return true;
  if (n.rec.size > inline_max_) return false;
  for (uint64_t m : n.rec.maps) {
    if (m != 0) return false;
  }
  return true;  // all holes so far: zeros
}

bool ExtentStoreImpl::RewrittenOften(Inode* n, uint64_t offset, uint64_t len,
                                     Stability stability) {
  if (!n->rec.has_inline || stability == Stability::kUnstable ||
      offset + len > n->rec.size) {
    return false;
  }
  return ++n->inline_rewrites > kInlineStableRewrites;
}

void ExtentStoreImpl::WriteInline(Inode* n, uint64_t offset,
                                  absl::string_view data) {
  InodeRec& rec = n->rec;
  if (!rec.has_inline) {
    rec.maps.clear();  // names no map node (InlineFits)
    rec.inline_data.assign(rec.size, '\0');
    rec.has_inline = true;
    inline_bytes_ += rec.size;
  }
  const uint64_t end = offset + data.size();
  if (end > rec.inline_data.size()) {
    inline_bytes_ += end - rec.inline_data.size();
    rec.inline_data.resize(end, '\0');
  }
  std::memcpy(rec.inline_data.data() + offset, data.data(), data.size());
  rec.size = rec.inline_data.size();
}

absl::Status ExtentStoreImpl::Spill(Txn& t, Inode* n) {
  std::string bytes = std::move(n->rec.inline_data);
  n->rec.inline_data.clear();
  n->rec.has_inline = false;
  inline_bytes_ -= bytes.size();
  t.inodes.insert(n->ino);
  bool changed = false;
  absl::Status s =
      bytes.empty() ? absl::OkStatus()
                    : WriteSeg(t, n, 0, 0, bytes.data(),
                               static_cast<uint32_t>(bytes.size()), &changed);
  if (!s.ok()) {  // WriteSeg mapped nothing
    inline_bytes_ += bytes.size();
    n->rec.inline_data = std::move(bytes);
    n->rec.has_inline = true;
  }
  return s;
}

absl::Status ExtentStoreImpl::Truncate(Txn& t, Inode* n, uint64_t size) {
  if (n->rec.has_inline) {
    if (size <= inline_max_) {
      inline_bytes_ += size;
      inline_bytes_ -= n->rec.inline_data.size();
      n->rec.inline_data.resize(size, '\0');
      n->rec.size = size;
      t.inodes.insert(n->ino);
      return absl::OkStatus();
    }
    if (AllZero(n->rec.inline_data.data(), n->rec.inline_data.size())) {
      // Zeros need no segment: the file becomes all holes (maps is empty
      // while inline, see WriteInline).
      inline_bytes_ -= n->rec.inline_data.size();
      n->rec.inline_data.clear();
      n->rec.has_inline = false;
      t.inodes.insert(n->ino);
    } else {
      VNAS_RETURN_IF_ERROR(CheckSpace(*n, 1, ReserveSegs(*n) > 0 ? 1 : 0));
      VNAS_RETURN_IF_ERROR(Spill(t, n));
    }
  }
  if (size > n->rec.size) {
    VNAS_RETURN_IF_ERROR(ZeroPastEof(t, n, size));
  }
  if (size < n->rec.size) {
    if (size % seg_) {  // fail before changing anything
      std::string zeros(seg_ - size % seg_, '\0');
      VNAS_RETURN_IF_ERROR(CheckSpace(
          *n,
          NeedsAlloc(*n, size / seg_, size % seg_, zeros.data(),
                     static_cast<uint32_t>(zeros.size())),
          0));
    }
    const uint64_t keep = (size + seg_ - 1) / seg_;
    tree_->UnmapRange(&n->rec.maps, keep, ~uint64_t{0});
    if (size % seg_) {
      VNAS_RETURN_IF_ERROR(ZeroRange(t, n, size, seg_ - size % seg_));
    }
  }
  n->rec.size = size;
  if (n->rec.reserve) RecomputeOutstanding(n);
  t.inodes.insert(n->ino);
  return absl::OkStatus();
}

absl::StatusOr<ReadResult> ExtentStoreImpl::Read(InodeId ino, uint64_t offset,
                                                 uint32_t count, char* out) {
  absl::ReaderMutexLock l(&mu_);
  return ReadLocked(ino, offset, count, out, /*cached_only=*/false);
}

absl::StatusOr<ReadResult> ExtentStoreImpl::ReadCached(InodeId ino,
                                                       uint64_t offset,
                                                       uint32_t count,
                                                       char* out) {
  if (!mu_.ReaderTryLock()) return FsError(EAGAIN, "store busy");
  absl::StatusOr<ReadResult> r =
      ReadLocked(ino, offset, count, out, /*cached_only=*/true);
  mu_.ReaderUnlock();
  return r;
}

absl::StatusOr<ReadResult> ExtentStoreImpl::ReadLent(
    InodeId ino, uint64_t offset, uint32_t count, bool may_block,
    LentBytes* out) {
  // Locked as Read (may_block) and ReadCached (not) are.
  if (may_block) {
    absl::ReaderMutexLock l(&mu_);
    return ReadLentLocked(ino, offset, count, true, out);
  }
  if (!mu_.ReaderTryLock()) return FsError(EAGAIN, "store busy");
  absl::StatusOr<ReadResult> r =
      ReadLentLocked(ino, offset, count, false, out);
  mu_.ReaderUnlock();
  return r;
}

absl::StatusOr<ReadResult> ExtentStoreImpl::ReadLentLocked(
    InodeId ino, uint64_t offset, uint32_t count, bool may_block,
    LentBytes* out) {
  VNAS_ASSIGN_OR_RETURN(Inode * n, Get(ino));
  if (n->is_dir()) return FsError(EISDIR, "read of a directory");
  if (!n->is_reg()) return FsError(EINVAL, "read of a non-file");
  const uint64_t size = n->rec.size;
  if (offset >= size || count == 0 || n->rec.has_inline) {
    return absl::UnavailableError("nothing to lend");
  }
  const uint32_t todo =
      static_cast<uint32_t>(std::min<uint64_t>(count, size - offset));
  // Only a range that lies end to end in one member, without holes.
  uint32_t member = 0;
  uint64_t at = 0;  // the range's offset in the member
  for (uint64_t pos = offset; pos < offset + todo;) {
    const uint64_t si = pos / seg_;
    const uint64_t e = tree_->Lookup(n->rec.maps, si);
    if (e == 0) return absl::UnavailableError("a hole");
    const uint64_t where = meta::ExtentSeg(e) * seg_ + pos % seg_;
    if (pos == offset) {
      member = meta::ExtentMember(e);
      at = where;
    } else if (meta::ExtentMember(e) != member || where != at + (pos - offset)) {
      return absl::UnavailableError("spread over the members");
    }
    pos = (si + 1) * seg_;
  }
  MemberState& m = *members_[member];
  if (!m.file->PReadLent(at, todo, may_block, out)) {
    return absl::UnavailableError("not in memory");
  }
  m.bytes_read.fetch_add(todo, std::memory_order_relaxed);
  m.reads.fetch_add(1, std::memory_order_relaxed);
  ReadResult r;
  r.count = todo;
  r.eof = offset + todo >= size;
  r.attr = ToAttr(*n);
  return r;
}

absl::StatusOr<ReadResult> ExtentStoreImpl::ReadLocked(InodeId ino,
                                                       uint64_t offset,
                                                       uint32_t count,
                                                       char* out,
                                                       bool cached_only) {
  VNAS_ASSIGN_OR_RETURN(Inode * n, Get(ino));
  if (n->is_dir()) return FsError(EISDIR, "read of a directory");
  if (!n->is_reg()) return FsError(EINVAL, "read of a non-file");
  ReadResult r;
  const uint64_t size = n->rec.size;
  if (offset < size) {
    uint64_t todo = std::min<uint64_t>(count, size - offset);
    if (n->rec.has_inline) {
      std::memcpy(out, n->rec.inline_data.data() + offset, todo);
      r.count = static_cast<uint32_t>(todo);
      r.eof = offset + r.count >= size;
      r.attr = ToAttr(*n);
      return r;
    }
    // Segments that lie end to end in a member are read with one call.
    MemberRuns<absl::Span<char>> runs(nmembers_);
    uint64_t done = 0;
    while (done < todo) {
      uint64_t pos = offset + done;
      uint64_t si = pos / seg_;
      uint32_t a = static_cast<uint32_t>(pos % seg_);
      uint32_t len = static_cast<uint32_t>(
          std::min<uint64_t>(seg_ - a, todo - done));
      uint64_t e = tree_->Lookup(n->rec.maps, si);
      if (e) {
        runs.Add(meta::ExtentMember(e), meta::ExtentSeg(e) * seg_ + a,
                 absl::MakeSpan(out + done, len));
      } else {
        std::memset(out + done, 0, len);
      }
      done += len;
    }
    for (const auto& run : runs.Finish()) {
      VNAS_RETURN_IF_ERROR(ReadRun(run, cached_only));
    }
    r.count = static_cast<uint32_t>(todo);
  }
  r.eof = offset + r.count >= size;
  r.attr = ToAttr(*n);
  return r;
}

absl::StatusOr<WriteResult> ExtentStoreImpl::Write(InodeId ino,
                                                   uint64_t offset,
                                                   absl::string_view data,
                                                   Stability stability,
                                                   std::shared_ptr<const void> keep) {
  return WritePart(ino, offset, data, stability, keep, /*counted=*/false);
}

absl::StatusOr<WriteResult> ExtentStoreImpl::WritePart(
    InodeId ino, uint64_t offset, absl::string_view data, Stability stability,
    const std::shared_ptr<const void>& keep, bool counted) {
  // Whole segments of nonzero data may take the lock-free fresh path (see
  // FreshIo); the zero scan runs before mu_ is taken.
  bool fresh_ok = !data.empty() && offset % seg_ == 0 && data.size() % seg_ == 0;
  for (size_t k = 0; fresh_ok && k < data.size(); k += seg_) {
    fresh_ok = !AllZero(data.data() + k, seg_);
  }
  // Other writes of fresh segments may copy on write without mu_
  // (PlanCow); once only: a stale copy is redone under mu_.
  const bool cow_ok = !data.empty();
  InPlaceIo io;
  FreshIo fresh;
  uint64_t split = 0;
  absl::StatusOr<WriteResult> r = Mutate([&]() {
    return WriteLocked(ino, offset, data, stability, fresh_ok, cow_ok,
                       /*redo=*/counted, &io, &fresh, &split);
  });
  if (split != 0 && r.ok()) {
    // The parts in turn, each on its own plan (a failure leaves the parts
    // before it written, as the locked path leaves the segments before a
    // failed one).
    const size_t at = static_cast<size_t>(split - offset);
    absl::StatusOr<WriteResult> head =
        WritePart(ino, offset, data.substr(0, at), stability, keep, true);
    if (!head.ok()) return head;
    absl::StatusOr<WriteResult> tail =
        WritePart(ino, split, data.substr(at), stability, keep, true);
    if (!tail.ok()) return tail;
    WriteResult w = *std::move(tail);
    w.count += head->count;
    w.file.before = head->file.before;
    w.committed = std::min(w.committed, head->committed);
    return w;
  }
  if (!fresh.targets.empty()) {
    // The data goes to the claimed segments without mu_ (a copy on write
    // merges partial segments first); FinishFresh maps them (the commit
    // group syncs their members before the batch).
    absl::Status s;
    if (fresh.cow) {
      s = WriteCow(offset, data, stability, fresh);
    } else {
      for (const auto& run : fresh.runs) {
        s = WriteRun(run,
                     stability == Stability::kUnstable ? RunMode::kUnstable
                                                       : RunMode::kBeforeSync,
                     keep);
        if (!s.ok()) break;
        if (stability == Stability::kUnstable) HintWriteback(run);
      }
    }
    Unpin(fresh.pin_seq);
    bool redo = false;
    r = Mutate([&]() {
      return FinishFresh(ino, offset, data.size(), stability, fresh, s, &redo);
    });
    if (!redo) return r;
    io = InPlaceIo();
    fresh = FreshIo();
    r = Mutate([&]() {
      return WriteLocked(ino, offset, data, stability, /*fresh_ok=*/false,
                         /*cow_ok=*/false, /*redo=*/true, &io, &fresh);
    });
  }
  if (io.runs.empty()) return r;
  // The in-place fast path: the data goes to the members without mu_.
  absl::Status s;
  std::set<uint32_t> members;
  for (const auto& run : io.runs) {
    members.insert(run.member);
    s = WriteRun(run, io.durable ? RunMode::kDurable : RunMode::kUnstable, keep);
    if (!s.ok()) break;
    if (!io.durable) HintWriteback(run);
  }
  Unpin(io.pin_seq);
  if (!io.durable || !s.ok()) {
    // Owed a sync: registered only now that the data is in the members, so
    // no sync that started before it can count it as done.
    gc_->NoteUnsynced(members);
  }
  if (s.ok() && io.flush_after) s = gc_->Flush();
  if (!s.ok()) return s;
  return r;
}

bool ExtentStoreImpl::PlanFresh(const Inode& n, uint64_t offset,
                                absl::string_view data, FreshIo* io) {
  const uint64_t si0 = offset / seg_;
  const uint64_t nsegs = data.size() / seg_;
  const uint64_t rsegs = ReserveSegs(n);
  uint64_t in_reserve = 0;
  for (uint64_t si = si0; si < si0 + nsegs; ++si) {
    const uint64_t e = tree_->Lookup(n.rec.maps, si);
    if (e && InPlaceOk(n.rec.maps, si)) return false;
    in_reserve += si < rsegs;
  }
  if (!ClaimFresh(n, si0, nsegs, in_reserve, io)) return false;
  MemberRuns<absl::string_view> runs(nmembers_);
  for (uint64_t k = 0; k < nsegs; ++k) {
    const uint64_t p = io->targets[k];
    runs.Add(meta::ExtentMember(p), meta::ExtentSeg(p) * seg_,
             data.substr(k * seg_, seg_));
  }
  io->runs = runs.Finish();
  return true;
}

bool ExtentStoreImpl::ClaimFresh(const Inode& n, uint64_t si0, uint64_t nsegs,
                                 uint64_t in_reserve, FreshIo* io) {
  // A refusal is left to the locked path, which reports it.
  if (!CheckSpace(n, nsegs, in_reserve).ok()) return false;
  for (uint64_t si = si0; si < si0 + nsegs; ++si) {
    absl::StatusOr<uint64_t> p = AllocSeg(n, si, /*claim=*/true);
    if (!p.ok()) {
      UnclaimAll(io->targets);
      io->targets.clear();
      return false;
    }
    io->targets.push_back(*p);
  }
  io->reloads = reloads_;
  // Segments freed from now on stay quarantined until Unpin: nothing this
  // write reads or writes is handed to another file meanwhile.
  io->pin_seq = Pin();
  return true;
}

bool ExtentStoreImpl::PlanCow(const Inode& n, uint64_t offset,
                              absl::string_view data, FreshIo* io) {
  const uint64_t si0 = offset / seg_;
  const uint64_t si1 = (offset + data.size() - 1) / seg_;
  const uint64_t rsegs = ReserveSegs(n);
  std::vector<uint64_t> olds;
  uint64_t in_reserve = 0;
  for (uint64_t si = si0; si <= si1; ++si) {
    const uint64_t e = tree_->Lookup(n.rec.maps, si);
    if (e && InPlaceOk(n.rec.maps, si)) return false;  // in place, locked
    const SegPart part = PartOf(si, offset, data.size());
    if ((e == 0 || part.whole) &&
        AllZero(data.data() + (part.from - offset), part.to - part.from)) {
      return false;  // a hole stays (or becomes) one: no segment needed
    }
    olds.push_back(e);
    in_reserve += si < rsegs;
  }
  if (!ClaimFresh(n, si0, olds.size(), in_reserve, io)) return false;
  for (uint64_t si = si0; si <= si1; ++si) {
    const uint64_t e = olds[si - si0];
    if (e && !PartOf(si, offset, data.size()).whole) ++copying_[e].count;
  }
  io->cow = true;
  io->cow_old = std::move(olds);
  io->cow_size = n.rec.size;
  return true;
}

absl::Status ExtentStoreImpl::WriteCow(uint64_t offset, absl::string_view data,
                                       Stability stability,
                                       const FreshIo& io) {
  const bool before_sync = stability != Stability::kUnstable;
  const uint64_t si0 = offset / seg_;
  std::string seg;
  for (size_t k = 0; k < io.targets.size(); ++k) {
    const uint64_t si = si0 + k;
    const SegPart part = PartOf(si, offset, data.size());
    const absl::string_view mine =
        data.substr(part.from - offset, part.to - part.from);
    if (part.whole) {
      VNAS_RETURN_IF_ERROR(WriteMember(io.targets[k], 0, mine, before_sync));
      continue;
    }
    // Bytes at or past the size when planned read as zeros (they may hold
    // an old tail: see ZeroPastEof).
    const uint64_t base = si * seg_;
    seg.assign(seg_, '\0');
    if (io.cow_old[k] && io.cow_size > base) {
      const uint32_t keep =
          static_cast<uint32_t>(std::min<uint64_t>(seg_, io.cow_size - base));
      VNAS_RETURN_IF_ERROR(ReadSegment(io.cow_old[k], 0, keep, seg.data()));
    }
    std::memcpy(seg.data() + (part.from - base), mine.data(), mine.size());
    VNAS_RETURN_IF_ERROR(WriteMember(io.targets[k], 0, seg, before_sync));
  }
  return absl::OkStatus();
}

absl::StatusOr<WriteResult> ExtentStoreImpl::FinishFresh(
    InodeId ino, uint64_t offset, uint64_t len, Stability stability,
    const FreshIo& io, absl::Status written, bool* redo) {
  const uint64_t si0 = offset / seg_;
  bool stale = false;
  for (size_t k = 0; io.cow && k < io.targets.size(); ++k) {
    if (io.cow_old[k] == 0 || PartOf(si0 + k, offset, len).whole) continue;
    auto it = copying_.find(io.cow_old[k]);
    stale |= it->second.dirty;
    if (--it->second.count == 0) copying_.erase(it);
  }
  if (io.reloads != reloads_) {
    // The claims went with the old mirrors (a failed batch was rolled back
    // meanwhile); the client resends unstable data for the new verifier.
    return IoError(EIO, "the store rolled back a failed change during this "
                        "write; retry it");
  }
  if (!written.ok()) {
    UnclaimAll(io.targets);
    return written;
  }
  absl::StatusOr<Inode*> got = Get(ino);
  if (!got.ok()) {  // removed meanwhile
    UnclaimAll(io.targets);
    return got.status();
  }
  Inode* n = *got;
  if (n->rec.has_inline) {
    // It went inline meanwhile (truncated, then written small): the locked
    // path moves those bytes to a segment first.
    UnclaimAll(io.targets);
    *redo = true;
    return WriteResult();
  }
  if (io.cow) {
    stale |= n->rec.size < io.cow_size;
    for (size_t k = 0; !stale && k < io.targets.size(); ++k) {
      stale = !PartOf(si0 + k, offset, len).whole &&
              tree_->Lookup(n->rec.maps, si0 + k) != io.cow_old[k];
    }
    if (stale) {
      UnclaimAll(io.targets);
      *redo = true;
      return WriteResult();
    }
  }
  WriteResult r;
  r.file.before = Wcc(*n);
  r.committed = stability;
  Txn t;
  t.need = WriteNeed(stability);
  // The gap past the old EOF must read as zeros; a copy-on-write zeroed
  // its own segments' part of it.
  if (offset > n->rec.size && !(io.cow && n->rec.size / seg_ >= si0)) {
    absl::Status z = ZeroPastEof(t, n, offset);
    if (!z.ok()) {  // keep what was done: it is consistent
      UnclaimAll(io.targets);
      CommitTxn(t);
      return z;
    }
  }
  for (size_t k = 0; k < io.targets.size(); ++k) {
    const uint64_t p = io.targets[k];
    alloc_->Adopt(meta::ExtentMember(p), meta::ExtentSeg(p));
    MapFresh(t, n, si0 + k, p, tree_->Lookup(n->rec.maps, si0 + k),
             /*partial=*/io.cow && !PartOf(si0 + k, offset, len).whole);
  }
  n->rec.size = std::max(n->rec.size, offset + len);
  t.inodes.insert(n->ino);
  Touch(t, n, true, Now());
  if (t.need == GroupCommit::Need::kDurable) t.force = true;
  CommitTxn(t);
  r.count = static_cast<uint32_t>(len);
  r.file.after = ToAttr(*n);
  return r;
}

absl::StatusOr<WriteResult> ExtentStoreImpl::WriteLocked(
    InodeId ino, uint64_t offset, absl::string_view data,
    Stability stability, bool fresh_ok, bool cow_ok, bool redo, InPlaceIo* io,
    FreshIo* fresh, uint64_t* split) {
  VNAS_ASSIGN_OR_RETURN(Inode * n, Get(ino));
  if (n->is_dir()) return FsError(EISDIR, "write to a directory");
  if (!n->is_reg()) return FsError(EINVAL, "write to a non-file");
  if (n->rec.read_only) return FsError(EROFS, "snapshot file");
  if (offset > kMaxFileSize || data.size() > kMaxFileSize - offset) {
    return FsError(EFBIG, "write beyond the maximum file size");
  }
  WriteResult r;
  r.file.before = Wcc(*n);
  r.committed = stability;
  const uint64_t end = offset + data.size();
  if (!redo) {
    AlignmentStats& al = n->align;
    ++al.writes;
    al.offset_aligned_4k += offset % 4096 == 0;
    al.length_aligned_4k += data.size() % 4096 == 0;
    al.offset_aligned_segment += offset % seg_ == 0;
    al.length_aligned_segment += data.size() % seg_ == 0;
  }
  if (InlineFits(*n, offset, data.size()) &&
      !RewrittenOften(n, offset, data.size(), stability)) {
    // One metadata batch holds the bytes: no member I/O, no member sync.
    Txn t;
    t.need = WriteNeed(stability);
    WriteInline(n, offset, data);
    Touch(t, n, true, Now());
    if (t.need == GroupCommit::Need::kDurable) t.force = true;
    CommitTxn(t);
    r.count = static_cast<uint32_t>(data.size());
    r.file.after = ToAttr(*n);
    return r;
  }
  // An inline file outgrowing inline_max_ (or rewritten often) takes the
  // locked path, which moves its bytes to segment 0 in the same batch as
  // this write.
  const bool spill = n->rec.has_inline;
  if (!spill && PlanInPlace(*n, offset, data, stability, io)) {
    TouchLater(n, Now());
    r.count = static_cast<uint32_t>(data.size());
    r.file.after = ToAttr(*n);
    return r;
  }
  // Write() finishes these two.
  if (!spill && fresh_ok && PlanFresh(*n, offset, data, fresh)) return r;
  if (!spill && cow_ok && PlanCow(*n, offset, data, fresh)) return r;
  if (!spill && split != nullptr) {
    *split = SplitPoint(*n, offset, data);
    if (*split != 0) return r;  // Write() does the parts
  }
  // Plan: how many fresh segments, how many inside the reservation.
  const uint64_t rsegs = ReserveSegs(*n);
  uint64_t allocs = 0, in_reserve = 0;
  bool seg0 = false;  // this write allocates segment 0
  for (uint64_t pos = offset; pos < end;) {
    uint64_t si = pos / seg_;
    uint32_t a = static_cast<uint32_t>(pos % seg_);
    uint32_t len = static_cast<uint32_t>(std::min<uint64_t>(seg_ - a, end - pos));
    if (NeedsAlloc(*n, si, a, data.data() + (pos - offset), len)) {
      ++allocs;
      if (si < rsegs) ++in_reserve;
      seg0 |= si == 0;
    }
    pos += len;
  }
  // A spill allocates segment 0 for the inline bytes (then written in place
  // by this write, if it covers it).
  if (spill && !seg0 &&
      !AllZero(n->rec.inline_data.data(), n->rec.inline_data.size())) {
    ++allocs;
    if (rsegs > 0) ++in_reserve;
  }
  VNAS_RETURN_IF_ERROR(CheckSpace(*n, allocs, in_reserve));

  Txn t;
  t.need = WriteNeed(stability);
  bool meta_changed = false;
  if (spill) VNAS_RETURN_IF_ERROR(Spill(t, n));  // nothing changed on failure
  if (offset > n->rec.size) {  // the gap past the old EOF must read as zeros
    absl::Status z = ZeroPastEof(t, n, offset);
    if (!z.ok()) {  // keep what was done: it is consistent
      CommitTxn(t);
      return z;
    }
  }
  absl::Status status;
  uint64_t pos = offset;
  while (pos < end) {
    uint64_t si = pos / seg_;
    uint32_t a = static_cast<uint32_t>(pos % seg_);
    uint32_t len = static_cast<uint32_t>(std::min<uint64_t>(seg_ - a, end - pos));
    const char* src = data.data() + (pos - offset);
    if (a == 0 && len == seg_ && !AllZero(src, seg_)) {
      // A run of whole segments with data: written with one call per
      // member, mapped once the data is written.
      uint64_t k = 1;
      while (pos + (k + 1) * seg_ <= end && !AllZero(src + k * seg_, seg_)) {
        ++k;
      }
      uint64_t done = 0;
      status = WriteFullSegs(t, n, si, src, k, &meta_changed, &done);
      pos += done * seg_;
      if (!status.ok()) break;
      continue;
    }
    status = WriteSeg(t, n, si, a, src, len, &meta_changed);
    if (!status.ok()) break;
    pos += len;
  }
  if (pos > n->rec.size) {
    n->rec.size = pos;
    meta_changed = true;
  }
  if (meta_changed) {
    Touch(t, n, true, Now());
  } else {
    TouchLater(n, Now());  // in place: times need no batch of their own
  }
  // Stable: the commit group syncs the members written here (in place or
  // fresh) and then the batch, whether or not the metadata changed; the
  // lock-free path (PlanInPlace) is the fast one for plain overwrites.
  if (t.need == GroupCommit::Need::kDurable) t.force = true;
  CommitTxn(t);
  VNAS_RETURN_IF_ERROR(status);
  r.count = static_cast<uint32_t>(data.size());
  r.file.after = ToAttr(*n);
  return r;
}

bool ExtentStoreImpl::PlanInPlace(const Inode& n, uint64_t offset,
                                  absl::string_view data, Stability stability,
                                  InPlaceIo* io) {
  const uint64_t end = offset + data.size();
  if (share_gate_ > 0 || data.empty() || end > n.rec.size) return false;
  MemberRuns<absl::string_view> runs(nmembers_);
  for (uint64_t pos = offset; pos < end;) {
    const uint64_t si = pos / seg_;
    const uint32_t a = static_cast<uint32_t>(pos % seg_);
    const uint32_t len =
        static_cast<uint32_t>(std::min<uint64_t>(seg_ - a, end - pos));
    const uint64_t e = tree_->Lookup(n.rec.maps, si);
    if (e == 0 || !InPlaceOk(n.rec.maps, si)) return false;
    // Whole segments of zeros are unmapped instead, under mu_.
    if (ReclaimsZeros(n, si, a, data.data() + (pos - offset), len)) return false;
    NoteInPlace(e);  // (a refusal after this only makes a copy redo)
    runs.Add(meta::ExtentMember(e), meta::ExtentSeg(e) * seg_ + a,
             data.substr(pos - offset, len));
    pos += len;
  }
  io->runs = runs.Finish();
  io->durable = stability != Stability::kUnstable;
  io->flush_after = io->durable && n.last_seq > gc_->durable_seq();
  // Pinned: segments freed from now on stay quarantined until the data is
  // written (see PrepareMutation), so they cannot be handed to another file
  // under this write.
  io->pin_seq = Pin();
  return true;
}

absl::StatusOr<Attr> ExtentStoreImpl::Commit(InodeId ino) {
  {
    absl::ReaderMutexLock l(&mu_);
    VNAS_RETURN_IF_ERROR(Usable());
  }
  PersistLazyTimes();
  // Syncs every member written by unstable changes and the metadata log,
  // sharing the syncs with concurrent stable writers. When that fails,
  // acknowledged unstable data may be lost (a failed write-back, or a
  // write-behind write that failed, is reported only once): a new write
  // verifier makes clients resend what they had not seen committed.
  if (absl::Status s = gc_->Flush(); !s.ok()) {
    ChangeVerifier();
    return s;
  }
  absl::ReaderMutexLock l(&mu_);
  VNAS_ASSIGN_OR_RETURN(Inode * n, Get(ino));
  return ToAttr(*n);
}

absl::StatusOr<Change> ExtentStoreImpl::PunchHole(InodeId ino, uint64_t offset,
                                                  uint64_t length) {
  return Mutate([&]() -> absl::StatusOr<Change> {
  VNAS_ASSIGN_OR_RETURN(Inode * n, Get(ino));
  if (n->is_dir()) return FsError(EISDIR, "punch a directory");
  if (!n->is_reg()) return FsError(EINVAL, "punch a non-file");
  if (n->rec.read_only) return FsError(EROFS, "snapshot file");
  Change c;
  c.before = Wcc(*n);
  uint64_t end = offset + std::min(length, ~uint64_t{0} - offset);
  end = std::min(end, n->rec.size);
  Txn t;
  if (offset < end) {
    absl::Status s = ZeroRange(t, n, offset, end - offset);
    if (n->rec.reserve) RecomputeOutstanding(n);
    if (!s.ok()) {  // keep what was done: it is consistent
      Touch(t, n, true, Now());
      CommitTxn(t);
      return s;
    }
  }
  Touch(t, n, true, Now());
  CommitTxn(t);
  c.after = ToAttr(*n);
  return c;
  });
}

}  // namespace vnas::storage::internal
