// writeback.h — starts writeback of freshly written unstable data early.
//
// An unstable NFS write leaves its data dirty in the page cache until a
// COMMIT (or the kernel's own writeback, tens of seconds later) writes it
// out. For a sequential stream of new data that makes the final COMMIT of a
// large copy wait for the whole copy to reach the disk. Writeback takes
// hints — "this member range was just written" — and, on its own thread,
// asks the kernel to start writing them back (File::StartWriteback, i.e.
// sync_file_range(SYNC_FILE_RANGE_WRITE)), so the disk works while the
// client is still sending and the COMMIT finds little left to do.
//
// Contract: hints change no durability guarantee (a Sync still does all of
// it); Hint never blocks on I/O; hints beyond kMaxPending are dropped (the
// data is written back by the next Sync anyway). Adjacent hints of one
// member are merged. Stop() (and the destructor) drops pending hints and
// joins.
//
// Thread safety: Hint may be called from any thread.
#ifndef VNAS_STORAGE_COMMIT_WRITEBACK_H_
#define VNAS_STORAGE_COMMIT_WRITEBACK_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace vnas::storage {

class Writeback {
 public:
  // Called on the writeback thread for each (merged) hint.
  using StartFn =
      std::function<void(uint32_t member, uint64_t offset, uint64_t len)>;
  static constexpr size_t kMaxPending = 1024;

  explicit Writeback(StartFn start);
  ~Writeback();
  Writeback(const Writeback&) = delete;
  Writeback& operator=(const Writeback&) = delete;

  void Hint(uint32_t member, uint64_t offset, uint64_t len)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Drops pending hints, waits for a running start to return and ends the
  // thread; later hints are dropped. Idempotent; the destructor calls it.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  // Whether Stop() has begun.
  bool stopping() const ABSL_LOCKS_EXCLUDED(mu_);

  // Hints started and dropped so far (tests, statistics).
  uint64_t started() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t dropped() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Range {
    uint32_t member;
    uint64_t offset, len;
  };
  void Run();

  const StartFn start_;
  mutable absl::Mutex mu_;
  std::deque<Range> pending_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t started_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;  // last: starts after the fields above exist
};

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_COMMIT_WRITEBACK_H_
