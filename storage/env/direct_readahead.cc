// direct_readahead.cc — see direct_readahead.h.
#include "storage/env/direct_readahead.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace vnas::storage {

DirectReadahead::DirectReadahead(Reader read) : read_(std::move(read)) {}

DirectReadahead::~DirectReadahead() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool DirectReadahead::Quiet() const {
  return writing_.load(std::memory_order_acquire) == 0;
}

void DirectReadahead::BeginWrite() {
  writing_.fetch_add(1, std::memory_order_acq_rel);
  gen_.fetch_add(1, std::memory_order_acq_rel);
}

void DirectReadahead::EndWrite() {
  gen_.fetch_add(1, std::memory_order_acq_rel);
  writing_.fetch_sub(1, std::memory_order_acq_rel);
}

DirectReadahead::Stream* DirectReadahead::Holding(uint64_t offset, size_t len,
                                                  bool wait) {
  if (wait) {
    for (Stream& s : streams_) {
      if (s.inflight && s.pend_off <= offset &&
          offset + len <= s.pend_off + s.pend_len) {
        struct Settled {
          const DirectReadahead* r;
          const Stream* s;
        } w{this, &s};
        mu_.Await(absl::Condition(
            +[](Settled* x) ABSL_NO_THREAD_SAFETY_ANALYSIS {
              return !x->s->inflight || x->r->stop_;
            },
            &w));
        break;
      }
    }
  }
  for (Stream& s : streams_) {
    if (!s.ready || offset < s.off || offset + len > s.off + s.len) continue;
    if (s.gen != gen_.load(std::memory_order_acquire) || !Quiet()) {
      s.ready = false;  // a write came after it was read
      return nullptr;
    }
    return &s;
  }
  return nullptr;
}

bool DirectReadahead::TryServe(uint64_t offset,
                               const std::vector<absl::Span<char>>& parts,
                               size_t len, bool wait) {
  absl::MutexLock l(&mu_);
  Stream* s = Holding(offset, len, wait);
  if (s == nullptr) return false;
  const char* from = s->buf->get() + (offset - s->off);
  for (const absl::Span<char>& p : parts) {
    std::memcpy(p.data(), from, p.size());
    from += p.size();
  }
  return true;
}

bool DirectReadahead::TryLend(uint64_t offset, size_t len, bool wait,
                              const char** data,
                              std::shared_ptr<const void>* keep) {
  absl::MutexLock l(&mu_);
  Stream* s = Holding(offset, len, wait);
  if (s == nullptr) return false;
  *data = s->buf->get() + (offset - s->off);
  *keep = s->buf;
  return true;
}

DirectReadahead::Buffer DirectReadahead::FreeBuffer(Buffer own) {
  // use_count() == 1 under mu_: nobody else holds it, and nobody can
  // borrow it without mu_.
  if (own && own.use_count() == 1) return own;
  Buffer found;
  for (size_t i = 0; i < spares_.size(); ++i) {
    if (spares_[i].use_count() == 1) {
      found = std::move(spares_[i]);
      spares_.erase(spares_.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }
  if (own) {  // lent out: kept for later, or let go with its last borrower
    if (spares_.size() >= kMaxSpares) spares_.erase(spares_.begin());
    spares_.push_back(std::move(own));
  }
  if (found) return found;
  AlignedBuffer b = AllocateAligned(kMaxBytes);
  if (!b) return nullptr;
  return std::make_shared<AlignedBuffer>(std::move(b));
}

void DirectReadahead::OnDeviceRead(uint64_t offset, size_t len) {
  if (len == 0) return;
  const absl::Time now = absl::Now();
  absl::MutexLock l(&mu_);
  recent_[recent_next_] = Recent{offset, offset + len, now};
  recent_next_ = (recent_next_ + 1) % kRecent;
}

bool DirectReadahead::RecentlyRead(uint64_t offset, size_t len) const {
  const absl::Time since = absl::Now() - kRecentWindow;
  for (const Recent& r : recent_) {
    if (r.off < offset + len && offset < r.end && r.at >= since) return true;
  }
  return false;
}

void DirectReadahead::OnRead(uint64_t offset, size_t len,
                             bool may_prefetch) {
  if (len == 0 || len > kMaxBytes) return;
  absl::MutexLock l(&mu_);
  int hit = -1;
  for (int i = 0; i < kStreams; ++i) {
    if (streams_[i].next == offset) hit = i;
  }
  if (hit < 0) {  // a new stream replaces the least recent one
    hit = 0;
    for (int i = 1; i < kStreams; ++i) {
      if (streams_[i].used < streams_[hit].used) hit = i;
    }
    Stream& s = streams_[hit];
    s.next = offset + len;
    s.used = ++clock_;
    return;  // prefetch only once a read continues the stream
  }
  Stream& s = streams_[hit];
  s.next = offset + len;
  s.used = ++clock_;
  const uint64_t ahead = offset + len;
  if (!may_prefetch || s.inflight ||
      (s.ready && s.off <= ahead && ahead + len <= s.off + s.len) ||
      RecentlyRead(ahead, len)) {
    return;  // already coming, or already there, or the client has it
  }
  s.inflight = true;
  s.ready = false;
  s.pend_off = ahead;
  s.pend_len = len;
  jobs_.push_back(Job{hit, ahead, len});
  if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
}

void DirectReadahead::WaitIdle() {
  absl::MutexLock l(&mu_);
  mu_.Await(absl::Condition(
      +[](DirectReadahead* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
        if (!r->jobs_.empty()) return false;
        for (const Stream& s : r->streams_) {
          if (s.inflight) return false;
        }
        return true;
      },
      this));
}

void DirectReadahead::Loop() {
  for (;;) {
    Job job;
    Buffer buf;
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(
          +[](DirectReadahead* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
            return r->stop_ || !r->jobs_.empty();
          },
          this));
      if (stop_) return;
      job = jobs_.front();
      jobs_.erase(jobs_.begin());
      buf = FreeBuffer(std::move(streams_[job.stream].buf));
    }
    // Read only between writes, and keep the bytes only if no write began
    // or ended meanwhile.
    const uint64_t gen = gen_.load(std::memory_order_acquire);
    bool ok = buf && Quiet() && read_(job.off, job.len, buf->get()).ok() &&
              Quiet() && gen_.load(std::memory_order_acquire) == gen;
    absl::MutexLock l(&mu_);
    Stream& s = streams_[job.stream];
    s.buf = std::move(buf);
    s.inflight = false;
    s.ready = ok;
    s.off = job.off;
    s.len = job.len;
    s.gen = gen;
  }
}

}  // namespace vnas::storage
