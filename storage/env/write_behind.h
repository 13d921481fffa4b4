// write_behind.h — unstable bulk writes acknowledged once copied, written to
// the device by background threads.
//
// A direct (O_DIRECT) write makes its caller wait for the device, which is
// right for a durable write and wasted for an unstable one: NFS lets the
// server answer an UNSTABLE WRITE before the data is on disk, as long as a
// later COMMIT (here: File::Sync) waits for it. WriteBehind is the small
// cache that makes that overlap possible without the page cache: Submit
// copies the bytes into one of its own aligned buffers, or, when the
// caller hands over shared ownership of page-aligned bytes (`keep`), just
// holds on to them, and returns; background threads write them in order.
// At most max_bytes are queued: Submit waits for room beyond that.
//
// Contract, per file (`owner`):
//   - Order: a queued write starts only once every earlier queued write of
//     the same file that overlaps it has finished, so overlapping writes
//     land in submission order. Writes that do not overlap may go in
//     parallel.
//   - Coherence is the caller's: before any other read or write of a range,
//     call Wait(owner, range) (or, where it must not block, Busy()).
//   - Durability: Flush(owner) returns once every write submitted for the
//     owner before the call is on the device as far as the Writer's call
//     goes (the caller then syncs the device cache). It returns the first
//     error a background write of that owner hit since the last Flush, like
//     fsync after a failed write-back: the bytes of that write are lost.
//   - Forget(owner) must be called before the owner (and its Writer) goes
//     away; it waits for the owner's writes.
//
// Thread safety: all methods may be called concurrently.
#ifndef VNAS_STORAGE_ENV_WRITE_BEHIND_H_
#define VNAS_STORAGE_ENV_WRITE_BEHIND_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "storage/env/aligned_buffer.h"

namespace vnas::storage {

class WriteBehind {
 public:
  // Writes `len` bytes from `buf` (4 KiB aligned) at `offset`, completely.
  using Writer =
      std::function<absl::Status(uint64_t offset, const char* buf, size_t len)>;
  // Called once when every piece of a submission has been written (ok) or
  // one failed (!ok).
  using Done = std::function<void(bool ok)>;
  // Writes longer than this are queued as several pieces of this size.
  static constexpr size_t kPieceBytes = 1 << 20;

  // `threads` background writers; at most `max_bytes` (a multiple of
  // kPieceBytes, at least one piece) of buffers, allocated as needed.
  WriteBehind(int threads, size_t max_bytes);
  ~WriteBehind();  // writes out everything queued
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // Queues `parts` (end to end) for writing at `offset` with `*writer`,
  // which must stay valid until Forget(owner). With `keep` (which owns the
  // parts' memory; it must not change while held) and parts that are all
  // 4 KiB aligned in address and length, the parts themselves are queued;
  // otherwise a copy (Holds tells which). Returns false when no buffer
  // memory can be had (pieces queued before still get written); the caller
  // then writes it all itself, after Wait().
  // `done`, when given and Submit returns true, is called once every
  // piece is written, on the thread that wrote the last one (or in Submit
  // when they all were by then), before Wait, Busy, Flush or Forget see
  // them finished. Parts that were held are still valid while it runs.
  bool Submit(const void* owner, const Writer* writer, uint64_t offset,
              const std::vector<absl::string_view>& parts,
              std::shared_ptr<const void> keep = nullptr,
              Done done = nullptr);
  // Whether Submit(…, parts, keep) holds the parts rather than copying.
  static bool Holds(const std::vector<absl::string_view>& parts,
                    const std::shared_ptr<const void>& keep);
  // Blocks until no queued write of `owner` overlaps [offset, offset+len).
  void Wait(const void* owner, uint64_t offset, uint64_t len);
  // True when a queued write of `owner` overlaps [offset, offset+len).
  bool Busy(const void* owner, uint64_t offset, uint64_t len) const;
  // See the contract above.
  absl::Status Flush(const void* owner);
  void Forget(const void* owner);

  // Bytes queued or being written now (for tests).
  size_t queued_bytes() const;

 private:
  // The pieces of one submission that has a Done.
  struct Batch {
    Done done;
    std::atomic<int> pending{1};  // queued pieces, +1 while Submit runs
    std::atomic<bool> ok{true};
  };
  // Drops one count of `b`; the last one calls its Done.
  static void Release(Batch* b);

  struct Job {
    const void* owner;
    const Writer* writer;
    uint64_t offset;
    size_t len;
    const char* buf;
    uint64_t seq;
    char* pooled;                      // our buffer (buf), or null
    std::shared_ptr<const void> keep;  // owns buf when not pooled
    std::shared_ptr<Batch> batch;      // or null
    bool running = false;
  };

  void Loop();
  // Index of the first job that may start now, or -1.
  int Runnable() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Overlaps(const void* owner, uint64_t offset, uint64_t len) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A job of `owner` submitted before sequence number `seq` is queued.
  bool QueuedBefore(const void* owner, uint64_t seq) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A free buffer, waiting for one when all max_bytes are in use; nullptr
  // when none can be allocated.
  char* TakeBuffer() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Push(Job job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_bytes_;
  const size_t max_buffers_;
  mutable absl::Mutex mu_;
  absl::CondVar work_;     // a job was queued, or stopping (writers wait)
  absl::CondVar changed_;  // a job finished (everyone else waits)
  std::deque<Job> jobs_ ABSL_GUARDED_BY(mu_);  // submission order
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  size_t queued_ ABSL_GUARDED_BY(mu_) = 0;  // bytes in jobs_
  std::vector<AlignedBuffer> buffers_ ABSL_GUARDED_BY(mu_);
  std::vector<char*> free_ ABSL_GUARDED_BY(mu_);
  std::map<const void*, absl::Status> errors_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_ENV_WRITE_BEHIND_H_
