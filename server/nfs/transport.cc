// transport.cc — epoll RPC transport (see transport.h).
#include "server/nfs/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/nfs/rpc.h"
#include "storage/base/status_util.h"

namespace vnas::nfs {
namespace {

constexpr size_t kStagingSize = 64 << 10;
// Fragment bodies at least this large are received in place.
constexpr size_t kDirectRecvMin = 16 << 10;
// Stop reading a connection whose unsent replies exceed this.
constexpr size_t kMaxPendingOut = 32 << 20;

// epoll data: listeners and the eventfd use small tags; connections their id.
constexpr uint64_t kEventFdTag = 1;
constexpr uint64_t kListenTagBase = 16;
constexpr uint64_t kFirstConnId = 1 << 20;

struct Connection {
  int fd = -1;
  uint64_t id = 0;
  uint32_t addr = 0;
  uint16_t port = 0;
  // Record assembly.
  ByteBuffer staging;       // bytes received, not yet parsed
  ByteBuffer record;        // fragments of the current record
  bool in_body = false;     // reading a fragment body
  uint32_t frag_left = 0;   // bytes of the current fragment still to come
  bool frag_last = false;
  // Output.
  std::deque<ByteBuffer> out;
  size_t out_off = 0;       // bytes of out.front() already sent
  size_t out_bytes = 0;     // total unsent
  int in_flight = 0;
  uint32_t events = 0;      // registered epoll events
};

}  // namespace

absl::Status ParseHostPort(absl::string_view s, std::string* host,
                           uint16_t* port) {
  size_t colon = s.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected host:port, got '", s, "'"));
  }
  *host = std::string(s.substr(0, colon));
  if (*host == "localhost") *host = "127.0.0.1";
  if (host->empty()) *host = "0.0.0.0";
  int p;
  if (!absl::SimpleAtoi(s.substr(colon + 1), &p) || p < 0 || p > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in '", s, "'"));
  }
  *port = static_cast<uint16_t>(p);
  in_addr a;
  if (inet_pton(AF_INET, host->c_str(), &a) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad IPv4 address in '", s, "'"));
  }
  return absl::OkStatus();
}

struct RpcTransport::Impl {
  RpcHandler handler;
  InlinePredicate quick;  // set before Start()
  InlinePredicate try_candidate;  // set before Start()
  TryInlineHandler try_inline;
  DataOffsetHint data_offset;  // set before Start()
  int num_workers;
  NfsStats* stats;

  int epfd = -1;
  int evfd = -1;
  std::vector<int> listeners;
  std::thread io_thread;
  std::vector<std::thread> workers;
  std::atomic<bool> stopping{false};
  bool started = false;

  // Owned by the I/O thread.
  absl::flat_hash_map<uint64_t, std::unique_ptr<Connection>> conns;
  uint64_t next_id = kFirstConnId;

  // Work queue (I/O thread → workers).
  struct Work {
    uint64_t conn;
    RpcRequest req;
  };
  absl::Mutex work_mu;
  std::deque<Work> work ABSL_GUARDED_BY(work_mu);
  bool work_closed ABSL_GUARDED_BY(work_mu) = false;

  // Completion queue (workers → I/O thread).
  struct Done {
    uint64_t conn;
    ByteBuffer reply;
  };
  absl::Mutex done_mu;
  std::vector<Done> done ABSL_GUARDED_BY(done_mu);

  void IoLoop();
  void WorkerLoop();
  void Accept(int lfd);
  void OnReadable(Connection* c);
  void OnWritable(Connection* c);
  void DrainCompletions();
  void Close(Connection* c);
  void UpdateEvents(Connection* c);
  bool ParseStaging(Connection* c);
  bool FinishFragment(Connection* c);
  // `head`: the bytes that follow the fragment header, as far as received.
  bool StartFragment(Connection* c, uint32_t header, absl::string_view head);
  bool WantRead(const Connection* c) const {
    return c->in_flight < kMaxInFlight && c->out_bytes < kMaxPendingOut;
  }
};

RpcTransport::RpcTransport(RpcHandler handler, int num_workers,
                           NfsStats* stats)
    : impl_(new Impl) {
  impl_->handler = std::move(handler);
  impl_->num_workers = num_workers < 1 ? 1 : num_workers;
  impl_->stats = stats;
  impl_->epfd = epoll_create1(EPOLL_CLOEXEC);
  impl_->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kEventFdTag;
  epoll_ctl(impl_->epfd, EPOLL_CTL_ADD, impl_->evfd, &ev);
}

RpcTransport::~RpcTransport() {
  Stop();
  for (int fd : impl_->listeners) close(fd);
  if (impl_->evfd >= 0) close(impl_->evfd);
  if (impl_->epfd >= 0) close(impl_->epfd);
}

absl::StatusOr<uint16_t> RpcTransport::Listen(absl::string_view host_port) {
  std::string host;
  uint16_t port;
  VNAS_RETURN_IF_ERROR(ParseHostPort(host_port, &host, &port));
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return FsError(errno, "socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
      listen(fd, 128) != 0) {
    int err = errno;
    close(fd);
    return FsError(err, absl::StrCat("bind/listen ", host_port, ": ",
                                     strerror(err)));
  }
  socklen_t len = sizeof(sa);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenTagBase + impl_->listeners.size();
  epoll_ctl(impl_->epfd, EPOLL_CTL_ADD, fd, &ev);
  impl_->listeners.push_back(fd);
  return ntohs(sa.sin_port);
}

absl::Status RpcTransport::Start() {
  if (impl_->epfd < 0 || impl_->evfd < 0) {
    return absl::InternalError("epoll/eventfd setup failed");
  }
  impl_->started = true;
  for (int i = 0; i < impl_->num_workers; ++i) {
    impl_->workers.emplace_back([this] { impl_->WorkerLoop(); });
  }
  impl_->io_thread = std::thread([this] { impl_->IoLoop(); });
  return absl::OkStatus();
}

void RpcTransport::SetInlinePredicate(InlinePredicate quick) {
  impl_->quick = std::move(quick);
}

void RpcTransport::SetTryInline(InlinePredicate candidate,
                                TryInlineHandler try_inline) {
  impl_->try_candidate = std::move(candidate);
  impl_->try_inline = std::move(try_inline);
}

void RpcTransport::SetDataOffsetHint(DataOffsetHint hint) {
  impl_->data_offset = std::move(hint);
}

void RpcTransport::Stop() {
  if (!impl_->started) return;
  impl_->started = false;
  impl_->stopping = true;
  uint64_t one = 1;
  (void)!write(impl_->evfd, &one, sizeof(one));
  if (impl_->io_thread.joinable()) impl_->io_thread.join();
  {
    absl::MutexLock l(&impl_->work_mu);
    impl_->work_closed = true;
  }
  for (std::thread& t : impl_->workers) t.join();
  impl_->workers.clear();
  while (!impl_->conns.empty()) impl_->Close(impl_->conns.begin()->second.get());
}

void RpcTransport::Impl::WorkerLoop() {
  for (;;) {
    Work w;
    {
      absl::MutexLock l(&work_mu);
      work_mu.Await(absl::Condition(
          +[](Impl* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->work_mu) {
            return s->work_closed || !s->work.empty();
          },
          this));
      if (work.empty()) return;  // closed
      w = std::move(work.front());
      work.pop_front();
    }
    Done d;
    d.conn = w.conn;
    handler(w.req, &d.reply);
    bool wake;
    {
      absl::MutexLock l(&done_mu);
      wake = done.empty();
      done.push_back(std::move(d));
    }
    if (wake) {
      uint64_t one = 1;
      (void)!write(evfd, &one, sizeof(one));
    }
  }
}

void RpcTransport::Impl::IoLoop() {
  epoll_event evs[64];
  while (!stopping.load()) {
    int n = epoll_wait(epfd, evs, 64, 1000);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t tag = evs[i].data.u64;
      if (tag == kEventFdTag) {
        uint64_t v;
        (void)!read(evfd, &v, sizeof(v));
        DrainCompletions();
        continue;
      }
      if (tag >= kListenTagBase && tag < kFirstConnId) {
        Accept(listeners[tag - kListenTagBase]);
        continue;
      }
      auto it = conns.find(tag);
      if (it == conns.end()) continue;
      Connection* c = it->second.get();
      if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
        // Still try to read what is left (a half-closed client may wait for
        // replies), but a hard error closes.
        if (evs[i].events & EPOLLERR) {
          Close(c);
          continue;
        }
      }
      if (evs[i].events & EPOLLOUT) {
        OnWritable(c);
        if (conns.find(tag) == conns.end()) continue;
      }
      if (evs[i].events & (EPOLLIN | EPOLLHUP)) OnReadable(c);
    }
  }
}

void RpcTransport::Impl::Accept(int lfd) {
  for (;;) {
    sockaddr_in sa{};
    socklen_t len = sizeof(sa);
    int fd = accept4(lfd, reinterpret_cast<sockaddr*>(&sa), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN or a transient error
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Connection>();
    c->fd = fd;
    c->id = next_id++;
    c->addr = ntohl(sa.sin_addr.s_addr);
    c->port = ntohs(sa.sin_port);
    c->staging.Reserve(kStagingSize);
    c->events = EPOLLIN;
    epoll_event ev{};
    ev.events = c->events;
    ev.data.u64 = c->id;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      close(fd);
      continue;
    }
    if (stats) stats->OnConnect();
    conns.emplace(c->id, std::move(c));
  }
}

void RpcTransport::Impl::Close(Connection* c) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, nullptr);
  close(c->fd);
  if (stats) stats->OnDisconnect();
  conns.erase(c->id);  // destroys c
}

void RpcTransport::Impl::UpdateEvents(Connection* c) {
  uint32_t want = 0;
  if (WantRead(c)) want |= EPOLLIN;
  if (c->out_bytes > 0) want |= EPOLLOUT;
  if (want == c->events) return;
  c->events = want;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = c->id;
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

bool RpcTransport::Impl::StartFragment(Connection* c, uint32_t header,
                                       absl::string_view head) {
  c->frag_last = (header & 0x80000000u) != 0;
  c->frag_left = header & 0x7fffffffu;
  if (c->record.size() + c->frag_left > kMaxRecordSize) return false;
  // A big record's bulk data (a WRITE's) lands page-aligned, so a direct
  // write can take it as is. Only a record's first fragment is laid out.
  const size_t at = c->record.empty() && c->frag_left >= kDirectRecvMin && data_offset
                        ? data_offset(head.substr(0, c->frag_left))
                        : 0;
  if (at > 0 && at < c->frag_left) {
    c->record.ReserveAligned(c->frag_left, at, 4096);
  } else {
    c->record.Reserve(c->record.size() + c->frag_left);
  }
  c->in_body = true;
  return c->frag_left > 0 || FinishFragment(c);
}

// Called when a fragment body is complete. Dispatches the record when it was
// the last fragment.
bool RpcTransport::Impl::FinishFragment(Connection* c) {
  c->in_body = false;
  if (!c->frag_last) return true;
  if (c->record.empty()) return true;  // an empty record: nothing to do
  Work w;
  w.conn = c->id;
  w.req.client_addr = c->addr;
  w.req.client_port = c->port;
  w.req.record = std::move(c->record);
  c->record = ByteBuffer();
  const bool is_quick = quick && quick(w.req.record.view());
  if (is_quick ||
      (try_candidate && try_candidate(w.req.record.view()))) {
    // Answered here; OnReadable sends what is queued once it has read.
    ByteBuffer reply;
    bool answered = true;
    if (is_quick) {
      handler(w.req, &reply);
    } else {
      answered = try_inline(w.req, &reply);
    }
    if (answered) {
      if (!reply.empty()) {
        c->out_bytes += reply.size();
        c->out.push_back(std::move(reply));
      }
      return true;
    }
  }
  c->in_flight++;
  {
    absl::MutexLock l(&work_mu);
    work.push_back(std::move(w));
  }
  return true;
}

// Consumes staged bytes into records. Returns false on a protocol violation.
bool RpcTransport::Impl::ParseStaging(Connection* c) {
  size_t off = 0;
  const size_t n = c->staging.size();
  while (off < n) {
    if (!c->in_body) {
      if (n - off < 4) break;
      if (!StartFragment(c, LoadBe32(c->staging.data() + off),
                         absl::string_view(c->staging.data() + off + 4, n - off - 4))) {
        return false;
      }
      off += 4;
      continue;
    }
    size_t take = std::min<size_t>(c->frag_left, n - off);
    c->record.Append(c->staging.data() + off, take);
    off += take;
    c->frag_left -= static_cast<uint32_t>(take);
    if (c->frag_left == 0 && !FinishFragment(c)) return false;
  }
  c->staging.Consume(off);
  return true;
}

void RpcTransport::Impl::OnReadable(Connection* c) {
  const uint64_t id = c->id;
  for (int rounds = 0; rounds < 64 && WantRead(c); ++rounds) {
    ssize_t r;
    if (c->in_body && c->staging.empty() && c->frag_left >= kDirectRecvMin) {
      // Receive the fragment body straight into the record.
      size_t pos = c->record.size();
      r = recv(c->fd, c->record.data() + pos, c->frag_left, 0);
      if (r > 0) {
        c->record.Resize(pos + static_cast<size_t>(r));
        c->frag_left -= static_cast<uint32_t>(r);
        if (c->frag_left == 0 && !FinishFragment(c)) {
          Close(c);
          return;
        }
        continue;
      }
    } else {
      size_t pos = c->staging.size();
      c->staging.Reserve(pos + kStagingSize);
      r = recv(c->fd, c->staging.data() + pos, c->staging.capacity() - pos, 0);
      if (r > 0) {
        c->staging.Resize(pos + static_cast<size_t>(r));
        if (!ParseStaging(c)) {
          Close(c);
          return;
        }
        continue;
      }
    }
    if (r == 0) {
      Close(c);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    Close(c);
    return;
  }
  // Complete records were queued under work_mu; the workers' Await wakes.
  // Replies made on this thread go out now.
  if (conns.find(id) == conns.end()) return;
  if (c->out_bytes > 0) {
    OnWritable(c);  // updates the events (or closes)
  } else {
    UpdateEvents(c);
  }
}

void RpcTransport::Impl::OnWritable(Connection* c) {
  while (!c->out.empty()) {
    iovec iov[16];
    int cnt = 0;
    size_t first_off = c->out_off;
    for (auto it = c->out.begin(); it != c->out.end() && cnt < 16; ++it) {
      iov[cnt].iov_base = it->data() + (cnt == 0 ? first_off : 0);
      iov[cnt].iov_len = it->size() - (cnt == 0 ? first_off : 0);
      ++cnt;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = cnt;
    ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      Close(c);
      return;
    }
    size_t left = static_cast<size_t>(w);
    c->out_bytes -= left;
    while (left > 0) {
      size_t avail = c->out.front().size() - c->out_off;
      if (left >= avail) {
        left -= avail;
        c->out.pop_front();
        c->out_off = 0;
      } else {
        c->out_off += left;
        left = 0;
      }
    }
  }
  UpdateEvents(c);
}

void RpcTransport::Impl::DrainCompletions() {
  std::vector<Done> batch;
  {
    absl::MutexLock l(&done_mu);
    batch.swap(done);
  }
  std::vector<uint64_t> touched;
  for (Done& d : batch) {
    auto it = conns.find(d.conn);
    if (it == conns.end()) continue;  // the connection went away
    Connection* c = it->second.get();
    c->in_flight--;
    if (!d.reply.empty()) {
      c->out_bytes += d.reply.size();
      c->out.push_back(std::move(d.reply));
    }
    touched.push_back(d.conn);
  }
  for (uint64_t id : touched) {
    auto it = conns.find(id);
    if (it == conns.end()) continue;
    Connection* c = it->second.get();
    bool could_read = (c->events & EPOLLIN) != 0;
    if (c->out_bytes > 0) OnWritable(c);
    it = conns.find(id);
    if (it == conns.end()) continue;
    UpdateEvents(c);
    // Reading resumed: parse anything already staged.
    if (!could_read && WantRead(c) && !c->staging.empty() &&
        !ParseStaging(c)) {
      Close(c);
    }
  }
}

}  // namespace vnas::nfs
