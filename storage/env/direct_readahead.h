// direct_readahead.h — readahead for direct (O_DIRECT) reads of one file.
//
// Direct reads bypass the kernel's page cache and with it its readahead: a
// client reading a file one request at a time then waits for the device on
// every request. DirectReadahead notices reads that continue where an
// earlier one ended (up to kStreams interleaved streams per file) and reads
// the next stretch of the same length ahead on a background thread, so the
// next request is a copy from memory.
//
// Coherence: every write to the file is bracketed by BeginWrite/EndWrite. A
// prefetch that overlapped a write in time is dropped, and a prefetched
// buffer is served only while no write has happened since it was read, so a
// completed write is never hidden by older prefetched bytes.
//
// Thread safety: all methods may be called concurrently. The destructor
// waits for a prefetch in flight.
#ifndef VNAS_STORAGE_ENV_DIRECT_READAHEAD_H_
#define VNAS_STORAGE_ENV_DIRECT_READAHEAD_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "storage/env/aligned_buffer.h"

namespace vnas::storage {

class DirectReadahead {
 public:
  // A blocking direct read of `len` bytes at `offset` into `buf` (aligned
  // for direct I/O, at least kMaxBytes long); bytes past the end of the
  // file must read as zeros.
  using Reader =
      std::function<absl::Status(uint64_t offset, size_t len, char* buf)>;
  // Sequential reads are followed at most this far (and reads longer than
  // this are not prefetched).
  static constexpr size_t kMaxBytes = 1 << 20;
  static constexpr int kStreams = 4;

  explicit DirectReadahead(Reader read);
  ~DirectReadahead();
  DirectReadahead(const DirectReadahead&) = delete;
  DirectReadahead& operator=(const DirectReadahead&) = delete;

  // Copies [offset, offset + len) into `parts` (end to end, `len` bytes in
  // all) when a valid prefetch holds all of it; returns whether it did.
  // With `wait`, a prefetch of that range still in flight is waited for
  // (instead of reading the same bytes a second time). Either way, call
  // OnRead after the bytes are in `parts`.
  bool TryServe(uint64_t offset, const std::vector<absl::Span<char>>& parts,
                size_t len, bool wait = false);
  // TryServe without the copy: lends the prefetched bytes themselves.
  // `*keep` holds them (the buffer is not reused for a later prefetch
  // while anyone holds it, so they never change); `*data` points at them.
  bool TryLend(uint64_t offset, size_t len, bool wait, const char** data,
               std::shared_ptr<const void>* keep);
  // Notes a read of [offset, offset + len); when it continues a stream,
  // the next `len` bytes are read ahead, unless !may_prefetch (the caller
  // saw other reads of the file in flight: a client with many requests in
  // flight keeps the device busy itself, and a prefetch would likely read
  // what one of them is already reading).
  void OnRead(uint64_t offset, size_t len, bool may_prefetch = true);
  // Notes that a read of [offset, offset + len) goes to the device itself
  // (no prefetch held it); call it as that read starts. A prefetch never
  // reads bytes that such a read asked for within the last kRecentWindow:
  // the client already has them or is getting them. (A client with reads
  // in flight asks for the next stretch before the one that would start
  // its prefetch ends; qemu-img's sequential read, 16 in flight, read
  // 13-18% of the file twice without this.)
  void OnDeviceRead(uint64_t offset, size_t len);

  // Around every write of the file.
  void BeginWrite();
  void EndWrite();

  // Blocks until no prefetch is queued or in flight (tests use it to check
  // what was, or was not, prefetched without guessing at timing).
  void WaitIdle();

 private:
  // A prefetch buffer; shared with whoever borrowed its bytes (TryLend).
  using Buffer = std::shared_ptr<AlignedBuffer>;
  // Lent buffers kept for reuse once returned (beyond this, freed).
  static constexpr size_t kMaxSpares = 2 * kStreams;

  struct Stream {
    uint64_t next = ~uint64_t{0};  // where a continuing read would start
    uint64_t used = 0;             // for replacing the least recent stream
    // The prefetched stretch (valid while ready and gen == gen_).
    Buffer buf;
    uint64_t off = 0;
    size_t len = 0;
    uint64_t gen = 0;
    bool ready = false;
    bool inflight = false;  // a job reads [pend_off, pend_off + pend_len)
    uint64_t pend_off = 0;
    size_t pend_len = 0;
  };
  // A device read noted by OnDeviceRead.
  struct Recent {
    uint64_t off = 0;
    uint64_t end = 0;  // off == end: unused
    absl::Time at;
  };
  static constexpr int kRecent = 32;
  static constexpr absl::Duration kRecentWindow = absl::Seconds(1);

  struct Job {
    int stream;
    uint64_t off;
    size_t len;
  };

  void Loop();
  bool Quiet() const;  // no write in flight
  // Whether a device read noted within kRecentWindow overlaps
  // [offset, offset + len).
  bool RecentlyRead(uint64_t offset, size_t len) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The stream whose valid prefetch holds [offset, offset + len) (after
  // waiting for one in flight, with `wait`), or null.
  Stream* Holding(uint64_t offset, size_t len, bool wait)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A buffer nobody borrows for the next prefetch into stream `s`'s: its
  // own unless lent out, else a returned spare, else a new one (null when
  // memory is short).
  Buffer FreeBuffer(Buffer own) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Reader read_;
  // Bumped by BeginWrite and EndWrite; writing_ counts writes in flight.
  std::atomic<uint64_t> gen_{0};
  std::atomic<int> writing_{0};

  absl::Mutex mu_;
  Stream streams_[kStreams] ABSL_GUARDED_BY(mu_);
  uint64_t clock_ ABSL_GUARDED_BY(mu_) = 0;
  Recent recent_[kRecent] ABSL_GUARDED_BY(mu_);
  int recent_next_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Job> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<Buffer> spares_ ABSL_GUARDED_BY(mu_);  // may still be lent
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // started with the first job
};

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_ENV_DIRECT_READAHEAD_H_
