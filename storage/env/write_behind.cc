#include "storage/env/write_behind.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "storage/env/gather.h"

namespace vnas::storage {

WriteBehind::WriteBehind(int threads, size_t max_bytes)
    : max_bytes_(std::max(kPieceBytes, max_bytes)),
      max_buffers_(std::max<size_t>(1, max_bytes / kPieceBytes)) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    threads_.emplace_back([this] { Loop(); });
  }
}

WriteBehind::~WriteBehind() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
    work_.SignalAll();
  }
  for (std::thread& t : threads_) t.join();
}

char* WriteBehind::TakeBuffer() {
  while (free_.empty()) {
    if (buffers_.size() < max_buffers_) {
      AlignedBuffer b = AllocateAligned(kPieceBytes);
      if (!b) return nullptr;
      buffers_.push_back(std::move(b));
      return buffers_.back().get();
    }
    changed_.Wait(&mu_);
  }
  char* b = free_.back();
  free_.pop_back();
  return b;
}

void WriteBehind::Push(Job job) {
  if (job.batch) job.batch->pending.fetch_add(1, std::memory_order_relaxed);
  job.seq = next_seq_++;
  queued_ += job.len;
  jobs_.push_back(std::move(job));
  work_.Signal();
}

bool WriteBehind::Holds(const std::vector<absl::string_view>& parts,
                        const std::shared_ptr<const void>& keep) {
  bool aligned = keep != nullptr;
  for (size_t i = 0; aligned && i < parts.size(); ++i) {
    aligned = reinterpret_cast<uintptr_t>(parts[i].data()) % 4096 == 0 &&
              parts[i].size() % 4096 == 0;
  }
  return aligned;
}

void WriteBehind::Release(Batch* b) {
  if (b->pending.fetch_sub(1, std::memory_order_acq_rel) == 1 && b->done) {
    b->done(b->ok.load(std::memory_order_acquire));
  }
}

bool WriteBehind::Submit(const void* owner, const Writer* writer,
                         uint64_t offset,
                         const std::vector<absl::string_view>& parts,
                         std::shared_ptr<const void> keep, Done done) {
  std::shared_ptr<Batch> batch;
  if (done) {
    batch = std::make_shared<Batch>();
    batch->done = std::move(done);
  }
  // Submit's own count keeps the batch open until every piece is queued.
  struct Hold {
    Batch* b;
    ~Hold() {
      if (b != nullptr) Release(b);
    }
  } hold{batch.get()};
  if (Holds(parts, keep)) {
    // The caller's bytes, held through `keep`: runs of memory-contiguous
    // parts up to kPieceBytes, each queued once there is room for it.
    absl::MutexLock l(&mu_);
    for (size_t i = 0; i < parts.size();) {
      size_t len = parts[i].size();
      size_t j = i + 1;
      while (j < parts.size() && parts[j].data() == parts[i].data() + len &&
             len + parts[j].size() <= kPieceBytes) {
        len += parts[j++].size();
      }
      while (queued_ > 0 && queued_ + len > max_bytes_) changed_.Wait(&mu_);
      if (len > 0) {
        Push(Job{owner, writer, offset, len, parts[i].data(), 0, nullptr, keep,
                 batch});
      }
      offset += len;
      i = j;
    }
    return true;
  }
  GatherCursor at;
  while (!at.done(parts)) {
    char* buf;
    {
      absl::MutexLock l(&mu_);
      // Held bytes and copies share one limit.
      while (queued_ > 0 && queued_ + kPieceBytes > max_bytes_) changed_.Wait(&mu_);
      buf = TakeBuffer();
    }
    if (buf == nullptr) {
      if (batch) batch->done = nullptr;  // no piece can reach it yet
      return false;
    }
    const size_t filled = Gather(parts, &at, buf, kPieceBytes);
    absl::MutexLock l(&mu_);
    if (filled == 0) {  // only empty parts were left
      free_.push_back(buf);
      changed_.SignalAll();  // TakeBuffer() may wait for it
      continue;
    }
    Push(Job{owner, writer, offset, filled, buf, 0, buf, nullptr, batch});
    offset += filled;
  }
  return true;
}

bool WriteBehind::Overlaps(const void* owner, uint64_t offset,
                           uint64_t len) const {
  for (const Job& j : jobs_) {
    if (j.owner == owner && j.offset < offset + len && offset < j.offset + j.len) {
      return true;
    }
  }
  return false;
}

bool WriteBehind::QueuedBefore(const void* owner, uint64_t seq) const {
  for (const Job& j : jobs_) {
    if (j.owner == owner && j.seq < seq) return true;
  }
  return false;
}

void WriteBehind::Wait(const void* owner, uint64_t offset, uint64_t len) {
  absl::MutexLock l(&mu_);
  while (Overlaps(owner, offset, len)) changed_.Wait(&mu_);
}

bool WriteBehind::Busy(const void* owner, uint64_t offset, uint64_t len) const {
  absl::MutexLock l(&mu_);
  return Overlaps(owner, offset, len);
}

absl::Status WriteBehind::Flush(const void* owner) {
  absl::MutexLock l(&mu_);
  const uint64_t before = next_seq_;
  while (QueuedBefore(owner, before)) changed_.Wait(&mu_);
  auto it = errors_.find(owner);
  if (it == errors_.end()) return absl::OkStatus();
  absl::Status s = std::move(it->second);
  errors_.erase(it);
  return s;
}

void WriteBehind::Forget(const void* owner) {
  absl::MutexLock l(&mu_);
  while (Overlaps(owner, 0, UINT64_MAX)) changed_.Wait(&mu_);
  errors_.erase(owner);
}

size_t WriteBehind::queued_bytes() const {
  absl::MutexLock l(&mu_);
  return queued_;
}

int WriteBehind::Runnable() const {
  for (size_t i = 0; i < jobs_.size(); ++i) {
    const Job& j = jobs_[i];
    if (j.running) continue;
    bool blocked = false;
    for (size_t k = 0; k < i && !blocked; ++k) {
      const Job& e = jobs_[k];
      blocked = e.owner == j.owner && e.offset < j.offset + j.len &&
                j.offset < e.offset + e.len;
    }
    if (!blocked) return static_cast<int>(i);
  }
  return -1;
}

void WriteBehind::Loop() {
  absl::MutexLock l(&mu_);
  for (;;) {
    const int i = Runnable();
    if (i < 0) {
      if (stop_ && jobs_.empty()) return;
      work_.Wait(&mu_);
      continue;
    }
    Job& j = jobs_[static_cast<size_t>(i)];
    j.running = true;
    const Job job = j;
    mu_.Unlock();
    absl::Status s = (*job.writer)(job.offset, job.buf, job.len);
    if (job.batch) {
      if (!s.ok()) job.batch->ok.store(false, std::memory_order_release);
      Release(job.batch.get());
    }
    mu_.Lock();
    if (!s.ok()) errors_.emplace(job.owner, std::move(s));  // keeps the first
    if (job.pooled != nullptr) free_.push_back(job.pooled);
    queued_ -= job.len;
    jobs_.erase(std::find_if(jobs_.begin(), jobs_.end(),
                             [&](const Job& x) { return x.seq == job.seq; }));
    changed_.SignalAll();
    if (stop_) {
      work_.SignalAll();  // writers that waited for this job to end may exit
    } else if (jobs_.size() > 1) {
      // This thread takes the next job itself; a second one it may have
      // unblocked goes to another writer.
      work_.Signal();
    }
  }
}

}  // namespace vnas::storage
