// env_posix.cc — the Linux implementation of Env (pread/pwrite/fdatasync).
//
// Page-cache policy. Every data file has two descriptors: a buffered one and
// one opened O_DIRECT.
//   - Durable writes that are 4 KiB aligned in offset and length go direct
//     with RWF_DSYNC (FUA or one cache flush for just that range), so
//     concurrent stable writes do not queue behind the write-back of the
//     file's other dirty pages.
//   - With PosixEnvOptions::direct_bulk_io, bulk transfers (at least
//     kDirectMinBytes, aligned) bypass the page cache too: unstable writes,
//     and reads of ranges of which no page is cached (cachestat(2), Linux
//     6.5+; without it reads stay buffered). Sequential streams and
//     copy-on-write copies then cost no page allocation and no write-back
//     later, COMMIT has only the device cache to flush, and cold bulk reads
//     do not fill the cache with data read once; the price is that a re-read
//     of bulk data comes from the device, without kernel readahead. Small
//     transfers and ranges with cached (possibly dirty) pages keep using the
//     cache, so hot small-block working sets (boot storms on shared base
//     disks) stay cached.
//   - With PosixEnvOptions::write_behind_bytes as well, those unstable bulk
//     writes do not wait for the device: they are copied into write-behind
//     buffers (or, from PWriteVOwned, held where they are) and written by
//     background threads (write_behind.h), so the device works while the
//     client sends the next request. PWriteVNow never leaves a write behind. Every other
//     read and write of a range waits for queued writes that overlap it,
//     Sync() waits for all of the file's, and the range is allocated first
//     (fallocate), so a full file system fails the WRITE itself, not a
//     later COMMIT.
//   - With PosixEnvOptions::cache_bytes as well, whole 64 KiB chunks are
//     kept in a memory cache of that size (chunk_cache.h); a read that
//     finds all of its range there is served from it, before the
//     write-behind or the device is asked. A small read that misses both
//     it and the page cache reads its whole chunk direct into the cache
//     (one device read; random small reads of a disk image then warm up
//     chunk by chunk, as an array's read cache does). With cache_bulk,
//     bulk writes and direct bulk reads (prefetches too) copy their chunks
//     in as well; a write the write-behind holds is copied in by its
//     thread once it is written, so the client's WRITE does not wait for
//     that copy.
//     Every write drops the chunks it touches before its bytes go out.
//   - Otherwise (the default) everything else goes through the page cache.
// The kernel writes back and drops cached pages around a direct write, and
// writes back dirty pages before a direct read, so the two descriptors stay
// coherent. Memory that is not 4 KiB aligned goes through a per-thread
// aligned bounce buffer, in pieces of kBounceBytes. File systems without
// O_DIRECT (tmpfs before 6.6), or a first direct call that fails EINVAL,
// fall back to the buffered descriptor for good.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/base/status_util.h"
#include "storage/env/aligned_buffer.h"
#include "storage/env/chunk_cache.h"
#include "storage/env/direct_readahead.h"
#include "storage/env/env.h"
#include "storage/env/gather.h"
#include "storage/env/write_behind.h"

namespace vnas::storage {
namespace {

// Alignment of direct I/O buffers, offsets and lengths: safe for devices
// with 512-byte and 4 KiB logical blocks.
constexpr size_t kDirectAlign = 4096;
// Unstable writes and reads at least this long may go direct (see above).
constexpr size_t kDirectMinBytes = 64 << 10;
// The per-thread bounce buffer for unaligned memory; longer transfers go
// through it piece by piece.
constexpr size_t kBounceBytes = 1 << 20;

#ifndef __NR_cachestat
#define __NR_cachestat 451  // the same on every architecture
#endif
struct CachestatRange {
  uint64_t off;
  uint64_t len;
};
struct Cachestat {
  uint64_t nr_cache;
  uint64_t nr_dirty;
  uint64_t nr_writeback;
  uint64_t nr_evicted;
  uint64_t nr_recently_evicted;
};
// Cleared once cachestat(2) turns out to be missing (ENOSYS).
std::atomic<bool> cachestat_ok{true};
// Cleared once preadv2(RWF_NOWAIT) turns out to be unsupported.
std::atomic<bool> nowait_ok{true};


class PosixFile final : public File {
 public:
  // `write_behind` and `cache` (either may be null) must outlive the file.
  PosixFile(int fd, int direct_fd, std::string path, PosixEnvOptions options,
            WriteBehind* write_behind, ChunkCache* cache)
      : fd_(fd),
        direct_fd_(direct_fd),
        path_(std::move(path)),
        bulk_direct_min_(options.direct_bulk_io ? kDirectMinBytes
                                                 : SIZE_MAX),
        wb_(options.direct_bulk_io ? write_behind : nullptr),
        cache_(options.direct_bulk_io ? cache : nullptr),
        cache_id_(cache_ ? cache_->NewFile() : 0),
        cache_bulk_(options.cache_bulk) {}
  ~PosixFile() override {
    if (wb_) wb_->Forget(this);  // queued writes land first
    readahead_.reset();  // no prefetch may outlive the descriptors
    if (cache_) cache_->Forget(cache_id_);
    ::close(fd_);
    if (direct_fd_ >= 0) ::close(direct_fd_);
  }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  absl::Status PRead(uint64_t offset, size_t n, char* buf) override {
    return PReadV(offset, {absl::Span<char>(buf, n)});
  }

  absl::Status PWrite(uint64_t offset, absl::string_view data) override {
    return Write(offset, {data}, 0, bulk_direct_min_);
  }

  absl::Status PReadV(uint64_t offset,
                      const std::vector<absl::Span<char>>& parts) override {
    const size_t total = Total(parts);
    if (cache_ && cache_->Read(cache_id_, offset, parts)) {
      NoteCachedRead(offset, total);
      return absl::OkStatus();
    }
    // Only for a read that may fill the cache, and before waiting for
    // queued writes: any write acknowledged after it voids the fill.
    const bool may_fill =
        cache_ && (cache_bulk_ || total < kDirectMinBytes);
    const uint64_t ticket = may_fill ? cache_->FillTicket() : 0;
    if (wb_) wb_->Wait(this, offset, total);
    if (ReadsDirect(offset, total)) {
      // Alone: no other blocking bulk read of the file is under way. A
      // client with several reads in flight keeps the device busy itself,
      // and prefetching for it only adds a copy of every byte.
      const bool alone = bulk_reads_.fetch_add(1) == 0;
      absl::Status s;
      if (readahead_->TryServe(offset, parts, total, /*wait=*/true)) {
        s = absl::OkStatus();
      } else {
        readahead_->OnDeviceRead(offset, total);
        s = ReadDirect(offset, parts);
      }
      bulk_reads_.fetch_sub(1);
      if (s.ok()) {
        readahead_->OnRead(offset, total, alone);
        if (cache_ && cache_bulk_) cache_->Fill(cache_id_, ticket, offset, parts);
      }
      if (!IsDirectUnsupported(s)) return s;
      direct_ok_.store(false, std::memory_order_relaxed);
    } else if (may_fill && total < kDirectMinBytes &&
               direct_ok_.load(std::memory_order_relaxed)) {
      // The whole chunk, direct, into the cache (waiting for queued writes
      // of all of it first).
      const uint64_t chunk = offset / ChunkCache::kChunkBytes * ChunkCache::kChunkBytes;
      if (wb_) wb_->Wait(this, chunk, ChunkCache::kChunkBytes);
      absl::Status s;
      if (cache_->ReadChunkThrough(
              cache_id_, offset, ticket, parts,
              [this](uint64_t at, char* buf, size_t len) {
                std::vector<iovec> iov{{buf, len}};
                return ReadAll(direct_fd_, &iov, at, "preadv(O_DIRECT) ");
              },
              &s)) {
        if (!Refused(ErrnoOf(s))) return s;
        direct_ok_.store(false, std::memory_order_relaxed);
      }
    }
    std::vector<iovec> iov = Iov(parts);
    return ReadAll(fd_, &iov, offset, "preadv ");
  }

  bool PReadLent(uint64_t offset, size_t n, bool may_block,
                 LentBytes* out) override {
    // From the data cache: bulk re-reads go out from its chunks (smaller
    // reads are copied: a copy costs them no more than a loan).
    if (cache_ && n >= ChunkCache::kChunkBytes) {
      std::shared_ptr<const void> keep =
          cache_->Lend(cache_id_, offset, n, &out->pieces);
      if (keep) {
        out->keep = std::move(keep);
        NoteCachedRead(offset, n);
        return true;
      }
    }
    // Only what the bulk policy reads direct is prefetched.
    if (!ReadsDirect(offset, n)) return false;
    if (wb_) {
      if (!may_block && wb_->Busy(this, offset, n)) return false;
      if (may_block) wb_->Wait(this, offset, n);
    }
    // As PReadV and PReadVCached count this file's blocking bulk reads.
    const bool alone = may_block ? bulk_reads_.fetch_add(1) == 0
                                 : bulk_reads_.load() == 0;
    const char* data = nullptr;
    std::shared_ptr<const void> keep;
    const bool lent = readahead_->TryLend(offset, n, may_block, &data, &keep);
    if (may_block) bulk_reads_.fetch_sub(1);
    if (!lent) return false;
    readahead_->OnRead(offset, n, alone);
    out->pieces.assign(1, absl::string_view(data, n));
    out->keep = std::move(keep);
    return true;
  }

  absl::Status PReadVCached(
      uint64_t offset, const std::vector<absl::Span<char>>& parts) override {
    if (cache_ && cache_->Read(cache_id_, offset, parts)) {
      return absl::OkStatus();
    }
    const size_t total = Total(parts);
    if (wb_ && wb_->Busy(this, offset, total)) return WouldBlock();
    // A range the bulk policy would read direct is not served from memory
    // (and RWF_NOWAIT would start readahead into the cache).
    if (ReadsDirect(offset, total)) {
      if (!readahead_->TryServe(offset, parts, total)) return WouldBlock();
      readahead_->OnRead(offset, total, bulk_reads_.load() == 0);
      return absl::OkStatus();
    }
    if (!nowait_ok.load(std::memory_order_relaxed) || parts.size() > IOV_MAX) {
      return WouldBlock();
    }
    std::vector<iovec> iov = Iov(parts);
    for (;;) {
      ssize_t r = ::preadv2(fd_, iov.data(), static_cast<int>(iov.size()),
                            static_cast<off_t>(offset), RWF_NOWAIT);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)) {
        nowait_ok.store(false, std::memory_order_relaxed);
        return WouldBlock();
      }
      if (r < 0 && errno != EAGAIN) {
        return IoError(errno, absl::StrCat("preadv2 ", path_));
      }
      // Not (all) in memory, or short (the end of the file, which the
      // blocking path fills with zeros).
      if (r < 0 || static_cast<size_t>(r) < total) return WouldBlock();
      return absl::OkStatus();
    }
  }

  absl::Status PWriteVDurable(
      uint64_t offset, const std::vector<absl::string_view>& parts) override {
    return Write(offset, parts, RWF_DSYNC, /*direct_min=*/1);
  }

  absl::Status PWriteV(uint64_t offset,
                       const std::vector<absl::string_view>& parts) override {
    return Write(offset, parts, 0, bulk_direct_min_);
  }

  absl::Status PWriteVNow(uint64_t offset,
                          const std::vector<absl::string_view>& parts) override {
    return Write(offset, parts, 0, bulk_direct_min_, nullptr, /*behind=*/false);
  }

  absl::Status PWriteVOwned(uint64_t offset,
                            const std::vector<absl::string_view>& parts,
                            std::shared_ptr<const void> keep) override {
    return Write(offset, parts, 0, bulk_direct_min_, std::move(keep));
  }

  absl::Status Sync() override {
    if (wb_) {
      absl::Status s = wb_->Flush(this);
      if (!s.ok()) return MarkDataLoss(s);
    }
    if (::fdatasync(fd_) != 0) {
      return MarkDataLoss(IoError(errno, absl::StrCat("fdatasync ", path_)));
    }
    return absl::OkStatus();
  }

  bool LeavesDirtyPages(uint64_t offset, size_t len) const override {
    return !GoesDirect(offset, len, bulk_direct_min_);
  }

  void StartWriteback(uint64_t offset, uint64_t len) override {
    (void)::sync_file_range(fd_, static_cast<off64_t>(offset),
                            static_cast<off64_t>(len), SYNC_FILE_RANGE_WRITE);
  }

  absl::StatusOr<uint64_t> Size() override {
    if (wb_) wb_->Wait(this, 0, UINT64_MAX);  // queued writes may extend it
    struct stat st;
    if (::fstat(fd_, &st) != 0) return IoError(errno, "fstat " + path_);
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  // Sentinel of the direct paths: the file system refused direct I/O and
  // nothing was transferred.
  static absl::Status DirectUnsupported() {
    return absl::UnimplementedError("direct I/O unsupported");
  }
  static bool IsDirectUnsupported(const absl::Status& s) {
    return absl::IsUnimplemented(s);
  }
  static absl::Status WouldBlock() {
    return FsError(EAGAIN, "not in the page cache");
  }
  static bool Refused(int err) {
    return err == EINVAL || err == EOPNOTSUPP || err == ENOSYS;
  }

  static size_t Total(const std::vector<absl::Span<char>>& parts) {
    size_t total = 0;
    for (const absl::Span<char>& p : parts) total += p.size();
    return total;
  }
  static std::vector<iovec> Iov(const std::vector<absl::Span<char>>& parts) {
    std::vector<iovec> iov;
    iov.reserve(parts.size());
    for (const absl::Span<char>& p : parts) iov.push_back({p.data(), p.size()});
    return iov;
  }
  static std::vector<iovec> Iov(const std::vector<absl::string_view>& parts) {
    std::vector<iovec> iov;
    iov.reserve(parts.size());
    for (absl::string_view p : parts) {
      iov.push_back({const_cast<char*>(p.data()), p.size()});
    }
    return iov;
  }
  // A bulk read served from the data cache continues its stream all the
  // same (a prefetch fills the cache, so the next read of a stream is
  // served from there): the stretch after it is read ahead unless the
  // cache holds it already.
  void NoteCachedRead(uint64_t offset, size_t n) {
    if (!GoesDirect(offset, n, bulk_direct_min_)) return;
    readahead_->OnRead(offset, n,
                       bulk_reads_.load() == 0 &&
                           !cache_->Holds(cache_id_, offset + n, n));
  }

  // The bulk policy's choice for a read of `total` bytes at offset: direct
  // (aligned, long enough, nothing of it cached).
  bool ReadsDirect(uint64_t offset, size_t total) const {
    return GoesDirect(offset, total, bulk_direct_min_) &&
           Uncached(offset, total);
  }

  // Whether a transfer of `total` bytes at offset goes O_DIRECT when the
  // policy sends transfers of `direct_min` bytes or more there (reads
  // also ask that nothing of the range be cached).
  bool GoesDirect(uint64_t offset, size_t total, size_t direct_min) const {
    return total >= direct_min && DirectFits(offset, total);
  }

  bool DirectFits(uint64_t offset, size_t total) const {
    return direct_ok_.load(std::memory_order_relaxed) && total > 0 &&
           offset % kDirectAlign == 0 && total % kDirectAlign == 0;
  }

  // True when no page of [offset, offset + len) is in the page cache. False
  // when it cannot tell (no cachestat): the caller then reads buffered.
  bool Uncached(uint64_t offset, size_t len) const {
    if (!cachestat_ok.load(std::memory_order_relaxed)) return false;
    CachestatRange range{offset, len};
    Cachestat cs{};
    if (::syscall(__NR_cachestat, fd_, &range, &cs, 0) != 0) {
      if (errno == ENOSYS) cachestat_ok.store(false, std::memory_order_relaxed);
      return false;
    }
    return cs.nr_cache == 0;
  }

  // The calling thread's kBounceBytes aligned buffer, or nullptr when
  // memory is short.
  static char* Bounce() {
    thread_local AlignedBuffer bounce;
    if (!bounce) bounce = AllocateAligned(kBounceBytes, kDirectAlign);
    return bounce.get();
  }

  template <typename Part>
  static bool MemoryAligned(const std::vector<Part>& parts) {
    for (const Part& p : parts) {
      if (reinterpret_cast<uintptr_t>(p.data()) % kDirectAlign != 0 ||
          p.size() % kDirectAlign != 0) {
        return false;
      }
    }
    return true;
  }

  // A write of `parts` at offset with pwritev2 `flags`: direct when it is
  // aligned and at least `direct_min` bytes, else buffered.
  // `keep`: see PWriteVOwned; `behind`: an unstable write may be left to
  // the write-behind.
  absl::Status Write(uint64_t offset,
                     const std::vector<absl::string_view>& parts, int flags,
                     size_t direct_min, std::shared_ptr<const void> keep = nullptr,
                     bool behind = true) {
    size_t total = 0;
    for (absl::string_view p : parts) total += p.size();
    readahead_->BeginWrite();
    ChunkCache::WriteTicket cached;
    if (cache_) cached = cache_->BeginWrite(cache_id_, offset, total);
    const bool direct = GoesDirect(offset, total, direct_min);
    if (wb_ && behind && flags == 0 && direct && Allocate(offset, total)) {
      // Bytes the write-behind holds (not copies) are copied into the cache
      // by its thread once written, off the caller's path; until then the
      // range is a write under way, which reads of it wait for anyway.
      const bool cache_later =
          cache_ && cache_bulk_ && WriteBehind::Holds(parts, keep);
      WriteBehind::Done done;
      if (cache_later) {
        done = [this, cached, offset, parts](bool ok) {
          cache_->EndWrite(cache_id_, cached, offset, parts, ok);
        };
      }
      if (wb_->Submit(this, &wb_writer_, offset, parts, std::move(keep),
                      std::move(done))) {
        readahead_->EndWrite();  // older prefetches are void from here on
        // Queued, so the newest bytes of the range: reads may have them.
        if (cache_ && !cache_later) {
          cache_->EndWrite(cache_id_, cached, offset, parts, cache_bulk_);
        }
        return absl::OkStatus();
      }
    }
    if (wb_) wb_->Wait(this, offset, total);
    absl::Status s = DirectUnsupported();
    if (direct) {
      s = WriteDirect(offset, parts, flags);
      if (IsDirectUnsupported(s)) {
        direct_ok_.store(false, std::memory_order_relaxed);
      }
    }
    if (IsDirectUnsupported(s)) s = WriteV(offset, parts, flags);
    readahead_->EndWrite();
    if (cache_) {
      cache_->EndWrite(cache_id_, cached, offset, parts, cache_bulk_ && s.ok());
    }
    return s;
  }

  // Allocates [offset, offset + len) in the file system without changing
  // the size, so a queued write of it cannot fail for space. False when
  // that fails (full, or unsupported): the write then happens in the call.
  bool Allocate(uint64_t offset, size_t len) {
    return ::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                       static_cast<off_t>(len)) == 0;
  }

  // One direct write of aligned `parts` (RWF_DSYNC in `flags`: every piece
  // is durable when its call returns). Unaligned memory is gathered into
  // the bounce buffer a piece at a time.
  absl::Status WriteDirect(uint64_t offset,
                           const std::vector<absl::string_view>& parts,
                           int flags) {
    const uint64_t start = offset;
    int err = 0;
    if (MemoryAligned(parts)) {
      std::vector<iovec> iov = Iov(parts);
      err = WriteAll(direct_fd_, &iov, &offset, flags);
    } else {
      char* bounce = Bounce();
      if (bounce == nullptr) return DirectUnsupported();
      GatherCursor at;
      while (err == 0 && !at.done(parts)) {
        const size_t filled = Gather(parts, &at, bounce, kBounceBytes);
        std::vector<iovec> iov{{bounce, filled}};
        err = WriteAll(direct_fd_, &iov, &offset, flags);
      }
    }
    if (err == 0) return absl::OkStatus();
    // Nothing was written by a refused call: the buffered path redoes the
    // whole write.
    if (offset == start && Refused(err)) return DirectUnsupported();
    return IoError(err, absl::StrCat("pwritev(O_DIRECT) ", path_),
                   /*retryable=*/err == ENOSPC);
  }

  // One direct read into `parts` (aligned in file offset and total length).
  // Unaligned memory is filled from the bounce buffer a piece at a time.
  absl::Status ReadDirect(uint64_t offset,
                          const std::vector<absl::Span<char>>& parts) {
    absl::Status s;
    if (MemoryAligned(parts)) {
      std::vector<iovec> iov = Iov(parts);
      s = ReadAll(direct_fd_, &iov, offset, "preadv(O_DIRECT) ");
    } else {
      char* bounce = Bounce();
      if (bounce == nullptr) return DirectUnsupported();
      GatherCursor at;
      for (size_t left = Total(parts); s.ok() && left > 0;) {
        const size_t want = std::min(left, kBounceBytes);
        std::vector<iovec> iov{{bounce, want}};
        s = ReadAll(direct_fd_, &iov, offset, "preadv(O_DIRECT) ");
        if (!s.ok()) break;
        offset += want;
        left -= Scatter(parts, &at, bounce, want);
      }
    }
    // Reads are idempotent: after a refusal the buffered path reads it all.
    if (!s.ok() && Refused(ErrnoOf(s))) return DirectUnsupported();
    return s;
  }

  // Reads all of *iov at offset on `fd`, going on after short reads and
  // EINTR; bytes past the end of the file read as zeros. A short direct
  // read means the end of the file (the next offset would be unaligned).
  absl::Status ReadAll(int fd, std::vector<iovec>* iov, uint64_t offset,
                       const char* what) {
    size_t i = 0;
    while (i < iov->size()) {
      const int cnt =
          static_cast<int>(std::min<size_t>(iov->size() - i, IOV_MAX));
      ssize_t r = ::preadv(fd, &(*iov)[i], cnt, static_cast<off_t>(offset));
      if (r < 0) {
        if (errno == EINTR) continue;
        return IoError(errno, absl::StrCat(what, path_));
      }
      if (r == 0 || (fd == direct_fd_ &&
                     static_cast<size_t>(r) < Left(*iov, i, cnt))) {
        Advance(*iov, &i, static_cast<size_t>(r));  // past EOF: zeros
        for (; i < iov->size(); ++i) {
          std::memset((*iov)[i].iov_base, 0, (*iov)[i].iov_len);
        }
        break;
      }
      offset += static_cast<uint64_t>(r);
      Advance(*iov, &i, static_cast<size_t>(r));
    }
    return absl::OkStatus();
  }

  // pwritev2 with `flags` (RWF_DSYNC: each call's bytes are durable when it
  // returns). Kernels without pwritev2 flags get pwritev + fdatasync.
  absl::Status WriteV(uint64_t offset,
                      const std::vector<absl::string_view>& parts, int flags) {
    std::vector<iovec> iov = Iov(parts);
    const int err = WriteAll(fd_, &iov, &offset, flags);
    if (err == 0) return absl::OkStatus();
    if (flags && (err == EOPNOTSUPP || err == ENOSYS || err == EINVAL)) {
      std::vector<absl::string_view> rest;
      for (const iovec& v : iov) {
        rest.emplace_back(static_cast<const char*>(v.iov_base), v.iov_len);
      }
      absl::Status st = WriteV(offset, rest, 0);
      return st.ok() ? Sync() : st;
    }
    return IoError(err, absl::StrCat("pwritev ", path_),
                   /*retryable=*/err == ENOSPC);
  }

  // Writes all of *iov at *offset on `fd` (pwritev2 with `flags`, pwritev
  // for 0), going on after short writes and EINTR. Returns 0, or the errno
  // of the call that failed; *iov and *offset are then what is left.
  static int WriteAll(int fd, std::vector<iovec>* iov, uint64_t* offset,
                      int flags) {
    size_t i = 0;
    int err = 0;
    while (i < iov->size()) {
      const int cnt =
          static_cast<int>(std::min<size_t>(iov->size() - i, IOV_MAX));
      ssize_t r = flags ? ::pwritev2(fd, &(*iov)[i], cnt,
                                     static_cast<off_t>(*offset), flags)
                        : ::pwritev(fd, &(*iov)[i], cnt,
                                    static_cast<off_t>(*offset));
      if (r < 0) {
        if (errno == EINTR) continue;
        err = errno;
        break;
      }
      *offset += static_cast<uint64_t>(r);
      Advance(*iov, &i, static_cast<size_t>(r));
    }
    iov->erase(iov->begin(), iov->begin() + static_cast<ptrdiff_t>(i));
    return err;
  }

  // Bytes in iov[i, i + cnt).
  static size_t Left(const std::vector<iovec>& iov, size_t i, int cnt) {
    size_t n = 0;
    for (size_t end = i + static_cast<size_t>(cnt); i < end; ++i) {
      n += iov[i].iov_len;
    }
    return n;
  }

  // Consumes n transferred bytes from iov[*i...], skipping empty parts.
  static void Advance(std::vector<iovec>& iov, size_t* i, size_t n) {
    while (*i < iov.size() && n >= iov[*i].iov_len) {
      n -= iov[*i].iov_len;
      ++*i;
    }
    if (n > 0) {
      iov[*i].iov_base = static_cast<char*>(iov[*i].iov_base) + n;
      iov[*i].iov_len -= n;
    }
  }

  const int fd_;
  const int direct_fd_;  // O_DIRECT descriptor of the same file, or -1
  std::atomic<bool> direct_ok_{direct_fd_ >= 0};
  const std::string path_;
  // Unstable writes and uncached reads at least this long (and aligned) go
  // direct.
  const size_t bulk_direct_min_;
  // Blocking bulk reads of this file under way, served by a direct read or
  // from a prefetch (see DirectReadahead::OnRead).
  std::atomic<int> bulk_reads_{0};
  // Follows sequential direct reads (a blocking direct read of its own).
  // Unstable bulk writes queued here are not on the device yet; null
  // without write-behind.
  WriteBehind* const wb_;
  // Bulk chunks kept in memory (null without), and this file's id in it.
  ChunkCache* const cache_;
  const uint64_t cache_id_;
  const bool cache_bulk_;  // bulk writes and reads copy their chunks in
  // How a queued write reaches the device (on a write-behind thread).
  const WriteBehind::Writer wb_writer_ = [this](uint64_t offset, const char* buf,
                                                size_t len) {
    readahead_->BeginWrite();
    const uint64_t start = offset;
    std::vector<iovec> iov{{const_cast<char*>(buf), len}};
    const int err = WriteAll(direct_fd_, &iov, &offset, 0);
    readahead_->EndWrite();
    if (err == 0) return absl::OkStatus();
    // What the cache took from it at submit is not what the device has.
    if (cache_) cache_->Invalidate(cache_id_, start, len);
    return IoError(err, absl::StrCat("pwritev(O_DIRECT, write-behind) ", path_));
  };
  // A prefetch is a direct bulk read like any other: with cache_bulk its
  // chunks are copied into the cache too (on the prefetch thread), so what
  // a sequential reader was lent is still in memory for later random
  // reads of it (a clone booting from a base disk that was just copied).
  std::unique_ptr<DirectReadahead> readahead_ =
      std::make_unique<DirectReadahead>(
          [this](uint64_t offset, size_t len, char* buf) {
            const bool fill = cache_ && cache_bulk_;
            const uint64_t ticket = fill ? cache_->FillTicket() : 0;
            if (wb_) wb_->Wait(this, offset, len);
            std::vector<iovec> iov{{buf, len}};
            absl::Status s =
                ReadAll(direct_fd_, &iov, offset, "preadv(O_DIRECT) ");
            if (s.ok() && fill) {
              cache_->Fill(cache_id_, ticket, offset, {absl::MakeSpan(buf, len)});
            }
            return s;
          });
};

class PosixEnv final : public Env {
 public:
  explicit PosixEnv(PosixEnvOptions options)
      : options_(options),
        write_behind_(options.direct_bulk_io && options.write_behind_bytes > 0
                          ? std::make_unique<WriteBehind>(kWriteBehindThreads,
                                                          options.write_behind_bytes)
                          : nullptr),
        // Where bulk writes fill the cache at stream rate, its memory is
        // committed at start (faulting it in while serving slowed both the
        // server and its clients); small-read fills touch pages as they
        // come, and such a server pays nothing at start.
        cache_(options.direct_bulk_io && options.cache_bytes > 0
                   ? std::make_shared<ChunkCache>(
                         options.cache_bytes,
                         options.cache_bulk ? ChunkCache::kCommitAll : 0)
                   : nullptr) {
    if (cache_ && !cache_->usable()) cache_.reset();
  }

  absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                 bool create) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0),
                    0644);
    if (fd < 0) {
      if (errno == ENOENT) return FsError(ENOENT, "no such file: " + path);
      return IoError(errno, "open " + path);
    }
    // Best effort: a file system without O_DIRECT keeps every write
    // buffered.
    int direct_fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_DIRECT);
    return std::unique_ptr<File>(
        new PosixFile(fd, direct_fd, path, options_, write_behind_.get(),
                      cache_.get()));
  }

  std::optional<DataCacheStatus> data_cache_status() override {
    if (!cache_) return std::nullopt;
    const ChunkCache::Stats s = cache_->stats();
    DataCacheStatus d;
    d.capacity_bytes = cache_->capacity_chunks() * ChunkCache::kChunkBytes;
    d.cached_bytes = s.cached_chunks * ChunkCache::kChunkBytes;
    d.hits = s.hits;
    d.filled = s.installed;
    d.evicted = s.evicted;
    d.resident_bytes = s.faulted_chunks * ChunkCache::kChunkBytes;
    d.filled_in_place = s.adopted;
    return d;
  }

  std::shared_ptr<char> WriteMemory(size_t lead, size_t len) override {
    // Only where bulk writes fill the cache is there a copy to save.
    if (!cache_ || !options_.cache_bulk) return nullptr;
    return cache_->BorrowRun(lead, len);
  }

  bool FileExists(const std::string& path) override {
    return ::access(path.c_str(), F_OK) == 0;
  }

  absl::Status CreateDirs(const std::string& path) override {
    std::string cur;
    for (size_t i = 0; i <= path.size(); ++i) {
      if (i == path.size() || (path[i] == '/' && i > 0)) {
        cur = path.substr(0, i);
        if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
          return IoError(errno, "mkdir " + cur);
        }
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> FilesystemSize(const std::string& path) override {
    struct statvfs sv;
    if (::statvfs(path.c_str(), &sv) != 0) {
      return IoError(errno, "statvfs " + path);
    }
    return static_cast<uint64_t>(sv.f_blocks) * sv.f_frsize;
  }
  absl::StatusOr<FsSpace> FilesystemSpace(const std::string& path) override {
    struct statvfs sv;
    if (::statvfs(path.c_str(), &sv) != 0) {
      return IoError(errno, "statvfs " + path);
    }
    FsSpace fs;
    fs.total = static_cast<uint64_t>(sv.f_blocks) * sv.f_frsize;
    fs.avail = static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
    fs.id = static_cast<uint64_t>(sv.f_fsid);
    return fs;
  }

 private:
  // Two: one device write can be in flight while the next is set up.
  static constexpr int kWriteBehindThreads = 2;
  const PosixEnvOptions options_;
  const std::unique_ptr<WriteBehind> write_behind_;
  // Null when off or unmappable; shared, so chunks lent from it (Lend)
  // keep it alive.
  std::shared_ptr<ChunkCache> cache_;
};

}  // namespace

Env* Env::Posix() {
  static Env* env = new PosixEnv(PosixEnvOptions{});
  return env;
}

std::unique_ptr<Env> Env::NewPosix(const PosixEnvOptions& options) {
  return std::make_unique<PosixEnv>(options);
}

}  // namespace vnas::storage
