#include "plugins/host/nfs_copy.h"

#include <fcntl.h>
#include <poll.h>
#include <nfsc/libnfs.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "plugins/host/buffer_pool.h"

namespace vnas::plugin {

absl::Status NfsErrnoStatus(int neg_errno, absl::string_view what,
                            absl::string_view detail) {
  const int err = neg_errno < 0 ? -neg_errno : neg_errno;
  std::string msg = absl::StrCat(what, ": ", detail.empty() ? strerror(err) : detail);
  switch (err) {
    case ENOENT: return absl::NotFoundError(msg);
    case EEXIST: return absl::AlreadyExistsError(msg);
    case ENOSPC: case EDQUOT: case EFBIG: return absl::ResourceExhaustedError(msg);
    case EACCES: case EPERM: case EROFS: return absl::PermissionDeniedError(msg);
    case ETIMEDOUT: return absl::DeadlineExceededError(msg);
    case EINTR: case ECONNREFUSED: case ECONNRESET: case ENOTCONN: case EPIPE:
    case EHOSTUNREACH: case ENETUNREACH: case EAGAIN:
      return absl::UnavailableError(msg);
    case EINVAL: case EISDIR: case ENOTDIR: case ENAMETOOLONG:
      return absl::InvalidArgumentError(msg);
    default: return absl::InternalError(msg);
  }
}

namespace {

// One libnfs context mounted on a datastore. Owns the context (and the file
// handle, closed with it).
class Conn {
 public:
  Conn() = default;
  ~Conn() {
    if (nfs_ != nullptr) {
      if (fh_ != nullptr) nfs_close(nfs_, fh_);
      nfs_destroy_context(nfs_);
    }
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  absl::Status Mount(const Datastore& ds, absl::Duration timeout, absl::string_view side) {
    side_ = std::string(side);
    nfs_ = nfs_init_context();
    if (nfs_ == nullptr) return absl::InternalError("nfs_init_context failed");
    nfs_set_timeout(nfs_, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    nfs_set_autoreconnect(nfs_, 0);
    // libnfs 4.0.0 takes the ports only from a URL (no setters).
    struct nfs_url* url = nfs_parse_url_dir(nfs_, ds.Url().c_str());
    if (url == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(side_, ": bad URL ", ds.Url(), ": ", nfs_get_error(nfs_)));
    }
    nfs_destroy_url(url);
    const int rc = nfs_mount(nfs_, ds.server.c_str(), ds.export_path.c_str());
    if (rc != 0) {
      absl::Status st = NfsErrnoStatus(
          rc, absl::StrCat(side_, ": cannot mount ", ds.Url()), nfs_get_error(nfs_));
      // A refused connection or an unknown host is "unavailable".
      if (st.code() == absl::StatusCode::kInternal ||
          st.code() == absl::StatusCode::kUnavailable) {
        st = absl::UnavailableError(
            absl::StrCat(st.message(), " (is the NFS server running and exporting ",
                         ds.export_path, "?)"));
      }
      return st;
    }
    return absl::OkStatus();
  }

  absl::Status Fail(int rc, absl::string_view what) const {
    return NfsErrnoStatus(rc, absl::StrCat(side_, ": ", what), nfs_get_error(nfs_));
  }

  struct nfs_context* nfs() const { return nfs_; }
  struct nfsfh* fh() const { return fh_; }
  void set_fh(struct nfsfh* fh) { fh_ = fh; }
  const std::string& side() const { return side_; }

 private:
  struct nfs_context* nfs_ = nullptr;
  struct nfsfh* fh_ = nullptr;
  std::string side_;
};

std::string Abs(absl::string_view rel) { return absl::StrCat("/", rel); }

absl::Status MkdirParents(const Conn& c, absl::string_view path) {
  std::string dir;
  std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    absl::StrAppend(&dir, "/", parts[i]);
    struct nfs_stat_64 ds {};
    if (nfs_stat64(c.nfs(), dir.c_str(), &ds) == 0) continue;
    const int rc = nfs_mkdir(c.nfs(), dir.c_str());
    if (rc != 0 && rc != -EEXIST) return c.Fail(rc, absl::StrCat("cannot create directory ", dir));
  }
  return absl::OkStatus();
}

bool AllZero(const char* p, size_t n) {
  if (n == 0) return true;
  // Check the first bytes word-wise, then compare the buffer with itself
  // shifted: memcmp is vectorized.
  size_t head = n < 16 ? n : 16;
  for (size_t i = 0; i < head; ++i) {
    if (p[i] != 0) return false;
  }
  return n <= 16 || memcmp(p, p + 16, n - 16) == 0;
}

class Copier;

struct Slot {
  Copier* copier = nullptr;
  int index = 0;
  Conn* src = nullptr;
  Conn* dst = nullptr;
  char* buf = nullptr;  // from the copy's pool while a chunk is in progress
  uint64_t offset = 0;  // of the chunk
  uint32_t length = 0;  // of the chunk
  uint32_t filled = 0;  // bytes read so far / written so far
  enum State { kIdle, kReading, kWriting } state = kIdle;
};

class Copier {
 public:
  Copier(const CopyOptions& o, const CopyProgress& p) : options_(o), progress_(p) {}
  // Contexts go first: destroying one may still run callbacks that touch
  // the slots and the counters.
  ~Copier() {
    srcs_.clear();
    dsts_.clear();
  }

  absl::StatusOr<CopyResult> Run(const NfsLocation& src, const NfsLocation& dst);

 private:
  static void ReadCb(int status, struct nfs_context* nfs, void* data, void* priv);
  static void WriteCb(int status, struct nfs_context* nfs, void* data, void* priv);
  static void CommitCb(int status, struct nfs_context* nfs, void* data, void* priv);
  void MaybeCommit();

  absl::Status Setup(const NfsLocation& src, const NfsLocation& dst);
  absl::Status Pump();
  void Issue(Slot* s);
  void IssueRead(Slot* s);
  void IssueWrite(Slot* s);
  void ChunkDone(Slot* s);
  void SetError(absl::Status st) {
    if (error_.ok()) error_ = std::move(st);
    stop_ = true;
  }
  void RemoveDestination();

  const CopyOptions& options_;
  const CopyProgress& progress_;
  // Declared before the contexts: destroyed after them, so no callback can
  // run on a buffer already unmapped.
  std::unique_ptr<BufferPool> pool_;
  std::vector<std::unique_ptr<Conn>> srcs_, dsts_;
  std::vector<Slot> slots_;
  std::string src_path_, dst_path_;
  uint64_t size_ = 0;
  uint32_t chunk_ = 0;
  uint64_t next_offset_ = 0;
  uint64_t done_ = 0;  // bytes of finished chunks
  int inflight_ = 0;
  bool stop_ = false;
  bool cancelled_ = false;
  bool created_ = false;
  bool commit_inflight_ = false;
  uint64_t committed_mark_ = 0;  // bytes_written when the last COMMIT went out
  absl::Status error_;
  absl::Time last_progress_;
  CopyResult result_;
};

absl::Status Copier::Setup(const NfsLocation& src, const NfsLocation& dst) {
  src_path_ = Abs(src.path);
  dst_path_ = Abs(dst.path);
  if (src.datastore.SameAs(dst.datastore) && src.path == dst.path) {
    return absl::InvalidArgumentError("source and destination are the same file");
  }
  const int n = options_.connections < 1 ? 1 : options_.connections;
  for (int i = 0; i < n; ++i) {
    auto c = std::make_unique<Conn>();
    absl::Status st = c->Mount(src.datastore, options_.timeout, "source");
    if (!st.ok()) return st;
    srcs_.push_back(std::move(c));
    c = std::make_unique<Conn>();
    st = c->Mount(dst.datastore, options_.timeout, "destination");
    if (!st.ok()) return st;
    dsts_.push_back(std::move(c));
  }

  // Source: open on every connection, size from the first.
  for (auto& c : srcs_) {
    struct nfsfh* fh = nullptr;
    int rc = nfs_open(c->nfs(), src_path_.c_str(), O_RDONLY, &fh);
    if (rc != 0) return c->Fail(rc, absl::StrCat("cannot open ", src.path));
    c->set_fh(fh);
  }
  struct nfs_stat_64 st {};
  int rc = nfs_fstat64(srcs_[0]->nfs(), srcs_[0]->fh(), &st);
  if (rc != 0) return srcs_[0]->Fail(rc, absl::StrCat("cannot stat ", src.path));
  if ((st.nfs_mode & S_IFMT) != S_IFREG) {
    return absl::InvalidArgumentError(absl::StrCat("source ", src.path, " is not a regular file"));
  }
  size_ = st.nfs_size;
  result_.size = size_;

  // Destination: parents, create (guarded or truncating), extend.
  Conn& d0 = *dsts_[0];
  if (options_.create_parents) {
    absl::Status made = MkdirParents(d0, dst.path);
    if (!made.ok()) return made;
  }
  int flags = O_WRONLY | O_CREAT;
  if (options_.guarded) flags |= O_EXCL;
  struct nfsfh* fh = nullptr;
  rc = nfs_create(d0.nfs(), dst_path_.c_str(), flags, 0644, &fh);
  if (rc == -EEXIST || (rc != 0 && options_.guarded &&
                        nfs_stat64(d0.nfs(), dst_path_.c_str(), &st) == 0)) {
    return absl::AlreadyExistsError(absl::StrCat("destination ", dst.path, " exists"));
  }
  if (rc != 0) return d0.Fail(rc, absl::StrCat("cannot create ", dst.path));
  d0.set_fh(fh);
  created_ = true;
  // Drop old contents (skipped zero chunks must read as zeros), then extend.
  rc = nfs_ftruncate(d0.nfs(), fh, 0);
  if (rc == 0) rc = nfs_ftruncate(d0.nfs(), fh, size_);
  if (rc != 0) return d0.Fail(rc, absl::StrCat("cannot size ", dst.path));
  for (size_t i = 1; i < dsts_.size(); ++i) {
    struct nfsfh* f = nullptr;
    rc = nfs_open(dsts_[i]->nfs(), dst_path_.c_str(), O_WRONLY, &f);
    if (rc != 0) return dsts_[i]->Fail(rc, absl::StrCat("cannot open ", dst.path));
    dsts_[i]->set_fh(f);
  }

  uint64_t chunk = options_.chunk_size == 0 ? (1u << 20) : options_.chunk_size;
  for (auto& c : srcs_) chunk = std::min<uint64_t>(chunk, nfs_get_readmax(c->nfs()));
  for (auto& c : dsts_) chunk = std::min<uint64_t>(chunk, nfs_get_writemax(c->nfs()));
  if (chunk < 4096) chunk = 4096;
  chunk_ = static_cast<uint32_t>(chunk);

  const int depth = options_.depth < 1 ? 1 : options_.depth;
  absl::StatusOr<std::unique_ptr<BufferPool>> pool =
      BufferPool::Create(static_cast<size_t>(depth), chunk_);
  if (!pool.ok()) return pool.status();
  pool_ = std::move(*pool);
  slots_.resize(depth);
  for (int i = 0; i < depth; ++i) {
    Slot& s = slots_[i];
    s.copier = this;
    s.index = i;
    s.src = srcs_[i % srcs_.size()].get();
    s.dst = dsts_[i % dsts_.size()].get();
  }
  return absl::OkStatus();
}

void Copier::Issue(Slot* s) {
  if (stop_ || next_offset_ >= size_) {
    s->state = Slot::kIdle;
    return;
  }
  if (s->buf == nullptr) s->buf = pool_->Acquire();
  if (s->buf == nullptr) {  // cannot happen: one buffer per slot
    SetError(absl::InternalError("copy: no free chunk buffer"));
    return;
  }
  s->offset = next_offset_;
  s->length = static_cast<uint32_t>(std::min<uint64_t>(chunk_, size_ - next_offset_));
  s->filled = 0;
  next_offset_ += s->length;
  IssueRead(s);
}

void Copier::IssueRead(Slot* s) {
  s->state = Slot::kReading;
  const int rc = nfs_pread_async(s->src->nfs(), s->src->fh(), s->offset + s->filled,
                                 s->length - s->filled, &Copier::ReadCb, s);
  if (rc != 0) {
    s->state = Slot::kIdle;
    SetError(s->src->Fail(rc, "cannot queue READ"));
    return;
  }
  ++inflight_;
}

void Copier::IssueWrite(Slot* s) {
  s->state = Slot::kWriting;
  const int rc = nfs_pwrite_async(s->dst->nfs(), s->dst->fh(), s->offset + s->filled,
                                  s->length - s->filled, s->buf + s->filled,
                                  &Copier::WriteCb, s);
  if (rc != 0) {
    s->state = Slot::kIdle;
    SetError(s->dst->Fail(rc, "cannot queue WRITE"));
    return;
  }
  ++inflight_;
}

void Copier::ReadCb(int status, struct nfs_context* nfs, void* data, void* priv) {
  Slot* s = static_cast<Slot*>(priv);
  Copier* c = s->copier;
  --c->inflight_;
  s->state = Slot::kIdle;
  if (status < 0) {
    c->SetError(NfsErrnoStatus(status, absl::StrCat("source: READ at ", s->offset + s->filled),
                               data != nullptr ? static_cast<const char*>(data) : nfs_get_error(nfs)));
    return;
  }
  if (c->stop_) return;
  if (status == 0) {
    c->SetError(absl::DataLossError(absl::StrCat(
        "source: file shrank during the copy (EOF at ", s->offset + s->filled, ")")));
    return;
  }
  const uint32_t n = std::min<uint32_t>(status, s->length - s->filled);
  memcpy(s->buf + s->filled, data, n);
  s->filled += n;
  c->result_.bytes_read += n;
  if (s->filled < s->length) {  // short read: ask for the rest
    c->IssueRead(s);
    return;
  }
  if (c->options_.skip_zeros && AllZero(s->buf, s->length)) {
    c->result_.bytes_skipped += s->length;
    c->ChunkDone(s);
    return;
  }
  s->filled = 0;
  c->IssueWrite(s);
}

void Copier::WriteCb(int status, struct nfs_context* nfs, void* data, void* priv) {
  Slot* s = static_cast<Slot*>(priv);
  Copier* c = s->copier;
  --c->inflight_;
  s->state = Slot::kIdle;
  if (status < 0) {
    c->SetError(NfsErrnoStatus(status, absl::StrCat("destination: WRITE at ", s->offset + s->filled),
                               data != nullptr ? static_cast<const char*>(data) : nfs_get_error(nfs)));
    return;
  }
  if (c->stop_) return;
  if (status == 0) {
    c->SetError(absl::InternalError("destination: WRITE wrote nothing"));
    return;
  }
  const uint32_t n = std::min<uint32_t>(status, s->length - s->filled);
  s->filled += n;
  c->result_.bytes_written += n;
  if (s->filled < s->length) {
    c->IssueWrite(s);
    return;
  }
  c->ChunkDone(s);
}

void Copier::CommitCb(int status, struct nfs_context* nfs, void* data, void* priv) {
  Copier* c = static_cast<Copier*>(priv);
  --c->inflight_;
  c->commit_inflight_ = false;
  if (status < 0) {
    c->SetError(NfsErrnoStatus(status, "destination: COMMIT",
                               data != nullptr ? static_cast<const char*>(data) : nfs_get_error(nfs)));
  }
}

void Copier::MaybeCommit() {
  // Early COMMITs let the server flush while data still flows, so the final
  // one has little left to do.
  if (commit_inflight_ || options_.commit_every == 0 ||
      result_.bytes_written - committed_mark_ < options_.commit_every) {
    return;
  }
  Conn& d = *dsts_[0];
  if (nfs_fsync_async(d.nfs(), d.fh(), &Copier::CommitCb, this) != 0) {
    SetError(d.Fail(-EIO, "cannot queue COMMIT"));
    return;
  }
  committed_mark_ = result_.bytes_written;
  commit_inflight_ = true;
  ++inflight_;
}

void Copier::ChunkDone(Slot* s) {
  done_ += s->length;
  pool_->Release(s->buf);  // recycled by the next chunk issued
  s->buf = nullptr;
  MaybeCommit();
  last_progress_ = absl::Now();
  if (progress_ && !progress_(done_, size_)) {
    cancelled_ = true;
    stop_ = true;
    return;
  }
  Issue(s);
}

absl::Status Copier::Pump() {
  last_progress_ = absl::Now();
  for (Slot& s : slots_) Issue(&s);
  std::vector<Conn*> conns;
  for (auto& c : srcs_) conns.push_back(c.get());
  for (auto& c : dsts_) conns.push_back(c.get());
  std::vector<struct pollfd> pfds(conns.size());
  absl::Time last_tick = absl::Now();
  while (inflight_ > 0) {
    for (size_t i = 0; i < conns.size(); ++i) {
      pfds[i].fd = nfs_get_fd(conns[i]->nfs());
      pfds[i].events = static_cast<short>(nfs_which_events(conns[i]->nfs()));
      pfds[i].revents = 0;
    }
    const int pr = poll(pfds.data(), pfds.size(), 100);
    if (pr < 0 && errno != EINTR) {
      SetError(absl::InternalError(absl::StrCat("poll: ", strerror(errno))));
      break;
    }
    // Service only the connections with events; every 100 ms all of them
    // (revents 0 lets libnfs run its timeouts). Fewer calls per byte: the
    // copy is CPU-bound on small machines.
    const absl::Time now = absl::Now();
    const bool tick = now - last_tick >= absl::Milliseconds(100);
    if (tick) last_tick = now;
    for (size_t i = 0; i < conns.size(); ++i) {
      const int revents = pr > 0 ? pfds[i].revents : 0;
      if (revents == 0 && !tick) continue;
      if (nfs_service(conns[i]->nfs(), revents) < 0) {
        SetError(absl::UnavailableError(absl::StrCat(
            conns[i]->side(), ": connection lost: ", nfs_get_error(conns[i]->nfs()))));
        return error_;  // contexts are unusable; in-flight callbacks are dropped
      }
    }
    if (now - last_progress_ > options_.timeout) {
      SetError(absl::DeadlineExceededError(absl::StrCat(
          "no progress for ", absl::FormatDuration(options_.timeout))));
      return error_;
    }
  }
  return error_;
}

void Copier::RemoveDestination() {
  if (!created_ || dsts_.empty()) return;
  Conn& d0 = *dsts_[0];
  // Best effort: a fresh context, the current ones may be broken.
  nfs_unlink(d0.nfs(), dst_path_.c_str());
}

absl::StatusOr<CopyResult> Copier::Run(const NfsLocation& src, const NfsLocation& dst) {
  const absl::Time start = absl::Now();
  absl::Status st = Setup(src, dst);
  if (st.ok()) st = Pump();
  if (st.ok() && cancelled_) st = absl::CancelledError("copy cancelled by the progress callback");
  if (st.ok()) {
    for (auto& c : dsts_) {
      const int rc = nfs_fsync(c->nfs(), c->fh());  // COMMIT
      if (rc != 0) {
        st = c->Fail(rc, "COMMIT failed");
        break;
      }
    }
  }
  if (!st.ok()) {
    if (cancelled_ && st.code() == absl::StatusCode::kCancelled) RemoveDestination();
    return st;
  }
  result_.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result_;
}

}  // namespace

absl::Status MakeParentDirs(const NfsLocation& loc, absl::Duration timeout) {
  Conn c;
  absl::Status st = c.Mount(loc.datastore, timeout, "destination");
  if (!st.ok()) return st;
  return MkdirParents(c, loc.path);
}

absl::StatusOr<CopyResult> CopyFile(const NfsLocation& src, const NfsLocation& dst,
                                    const CopyOptions& options,
                                    const CopyProgress& progress) {
  Copier copier(options, progress);
  return copier.Run(src, dst);
}

}  // namespace vnas::plugin
