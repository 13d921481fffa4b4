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
#include <optional>

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

// A connection's sending side, shared by the I/O thread and the workers:
// whoever has a reply (a worker when its call completes, the I/O thread for
// a call it answered itself) queues it and, unless another thread is
// already sending on the connection, sends it at once. A worker's reply
// thus goes out from the worker, without a hand-off to the I/O thread; the
// I/O thread takes over only what the socket would not take (EPOLLOUT).
// Replies leave whole and in the order they were queued.
//
// The socket is closed when the last holder lets go; Close() before that
// only shuts it down, so a worker still sending fails instead of writing to
// a reused descriptor. epoll registration is changed under `mu` by whoever
// changes what the connection wants (any thread: epoll_ctl is thread-safe).
struct Outbox {
  ~Outbox() {
    if (fd >= 0) close(fd);
  }

  int fd = -1;
  int epfd = -1;
  uint64_t id = 0;          // epoll tag
  absl::Mutex mu;
  bool closed ABSL_GUARDED_BY(mu) = false;
  bool sending ABSL_GUARDED_BY(mu) = false;  // a thread is in sendmsg
  std::deque<ByteBuffer> out ABSL_GUARDED_BY(mu);
  size_t out_off ABSL_GUARDED_BY(mu) = 0;  // bytes of out.front() sent
  uint32_t events ABSL_GUARDED_BY(mu) = 0;  // registered epoll events
  // Written under mu; read without it by the I/O thread (WantRead).
  std::atomic<size_t> out_bytes{0};  // total unsent
  std::atomic<int> in_flight{0};     // calls with the workers
};

struct Connection {
  uint64_t id = 0;
  ClientAddr addr;
  uint16_t port = 0;
  ClientAddr local;  // our end
  std::shared_ptr<Outbox> box;  // owns the socket (box->fd)
  // Record assembly.
  ByteBuffer staging;       // bytes received, not yet parsed
  ByteBuffer record;        // fragments of the current record
  bool in_body = false;     // reading a fragment body
  uint32_t frag_left = 0;   // bytes of the current fragment still to come
  bool frag_last = false;
};

constexpr int kMaxIov = 64;

// The port of an AF_INET or AF_INET6 socket address, in host order.
uint16_t PortOf(const sockaddr_storage& ss) {
  return ntohs(ss.ss_family == AF_INET6
                   ? reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port
                   : reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
}

// The wire bytes of `b` (own bytes, tail pieces, tail padding; see
// ByteBuffer) from byte `skip` on, as up to `room` iovecs in `iov`; returns
// how many, and sets *whole when they reach the end of `b`.
int WirePieces(const ByteBuffer& b, size_t skip, iovec* iov, int room,
               bool* whole) {
  static const char kZeros[4] = {0, 0, 0, 0};
  int n = 0;
  auto add = [&](absl::string_view p) {
    if (skip >= p.size()) {
      skip -= p.size();
      return true;
    }
    if (n == room) return false;
    iov[n].iov_base = const_cast<char*>(p.data() + skip);
    iov[n].iov_len = p.size() - skip;
    skip = 0;
    ++n;
    return true;
  };
  *whole = false;
  if (!add(b.view())) return n;
  for (absl::string_view p : b.tail()) {
    if (!add(p)) return n;
  }
  if (!add(absl::string_view(kZeros, b.tail_pad()))) return n;
  *whole = true;
  return n;
}

bool WantRead(const Outbox& b) {
  return b.in_flight.load(std::memory_order_relaxed) <
             RpcTransport::kMaxInFlight &&
         b.out_bytes.load(std::memory_order_relaxed) < kMaxPendingOut;
}

// Registers what the connection now wants: input while it is not throttled,
// EPOLLOUT while bytes wait and nobody is sending them.
void UpdateEventsLocked(Outbox* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mu) {
  if (b->closed) return;
  uint32_t want = 0;
  if (WantRead(*b)) want |= EPOLLIN;
  if (!b->out.empty() && !b->sending) want |= EPOLLOUT;
  if (want == b->events) return;
  b->events = want;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = b->id;
  epoll_ctl(b->epfd, EPOLL_CTL_MOD, b->fd, &ev);
}

// Queues `reply` (may be empty) on `b`, counting a call as done when
// `completes_call`, and, with `send`, sends what is queued unless another
// thread is already doing so (without: the caller sends later, e.g. the I/O
// thread once per batch of replies it made itself). Never blocks on the
// socket: what it will not take now waits for EPOLLOUT. A send error shuts
// the socket down, so the I/O thread sees the connection end and closes it.
void SendOrQueue(Outbox* b, ByteBuffer reply, bool completes_call,
                 bool send = true) {
  absl::MutexLock l(&b->mu);
  if (completes_call) b->in_flight.fetch_sub(1, std::memory_order_relaxed);
  if (b->closed) return;
  if (reply.wire_size() > 0) {
    b->out_bytes.fetch_add(reply.wire_size(), std::memory_order_relaxed);
    b->out.push_back(std::move(reply));
  }
  if (!send) return;
  if (b->sending) {
    // The sending thread takes it along; meanwhile EPOLLOUT would only
    // wake the I/O thread for nothing (it re-arms it if the socket fills).
    UpdateEventsLocked(b);
    return;
  }
  b->sending = true;
  while (!b->out.empty() && !b->closed) {
    iovec iov[kMaxIov];
    int cnt = 0;
    for (auto it = b->out.begin(); it != b->out.end() && cnt < kMaxIov; ++it) {
      bool whole = false;
      cnt += WirePieces(*it, it == b->out.begin() ? b->out_off : 0, iov + cnt,
                        kMaxIov - cnt, &whole);
      if (!whole) break;  // the rest of it goes in the next sendmsg
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = cnt;
    // Others may queue meanwhile (push_back leaves these buffers in place);
    // only the sending thread removes them.
    b->mu.Unlock();
    const ssize_t w = sendmsg(b->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    const int err = errno;
    b->mu.Lock();
    if (b->closed) {
      b->out.clear();  // Close() left them to this thread
      break;
    }
    if (w < 0) {
      if (err == EINTR) continue;
      if (err != EAGAIN && err != EWOULDBLOCK) shutdown(b->fd, SHUT_RDWR);
      break;
    }
    size_t left = static_cast<size_t>(w);
    b->out_bytes.fetch_sub(left, std::memory_order_relaxed);
    while (left > 0) {
      const size_t avail = b->out.front().wire_size() - b->out_off;
      if (left >= avail) {
        left -= avail;
        b->out.pop_front();
        b->out_off = 0;
      } else {
        b->out_off += left;
        left = 0;
      }
    }
  }
  b->sending = false;
  UpdateEventsLocked(b);
}

}  // namespace

absl::Status ParseHostPort(absl::string_view s, std::string* host,
                           uint16_t* port) {
  size_t colon = s.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected host:port, got '", s, "'"));
  }
  absl::string_view h = s.substr(0, colon);
  const bool bracketed = h.size() >= 2 && h.front() == '[' && h.back() == ']';
  if (bracketed) h = h.substr(1, h.size() - 2);
  *host = std::string(h);
  if (*host == "localhost") *host = "127.0.0.1";
  if (host->empty()) *host = "0.0.0.0";
  int p;
  if (!absl::SimpleAtoi(s.substr(colon + 1), &p) || p < 0 || p > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in '", s, "'"));
  }
  *port = static_cast<uint16_t>(p);
  in_addr a;
  in6_addr a6;
  const bool v4 = !bracketed && inet_pton(AF_INET, host->c_str(), &a) == 1;
  const bool v6 = bracketed && inet_pton(AF_INET6, host->c_str(), &a6) == 1;
  if (!v4 && !v6) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad address in '", s, "' (an IPv4 address, or an IPv6 one in "
        "brackets: [::1]:2049)"));
  }
  return absl::OkStatus();
}

struct RpcTransport::Impl {
  RpcHandler handler;
  InlinePredicate quick;  // set before Start()
  InlinePredicate try_candidate;  // set before Start()
  TryInlineHandler try_inline;
  DataOffsetHint data_offset;  // set before Start()
  RecordMemory record_memory;  // set before Start(), or empty
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

  // Work queue (I/O thread → workers); replies go out through `box`.
  struct Work {
    std::shared_ptr<Outbox> box;
    RpcRequest req;
  };
  absl::Mutex work_mu;
  std::deque<Work> work ABSL_GUARDED_BY(work_mu);
  bool work_closed ABSL_GUARDED_BY(work_mu) = false;

  void IoLoop();
  void WorkerLoop();
  void Accept(int lfd);
  void OnReadable(Connection* c);
  void Close(Connection* c);
  bool ParseStaging(Connection* c);
  bool FinishFragment(Connection* c);
  // `head`: the bytes that follow the fragment header, as far as received.
  bool StartFragment(Connection* c, uint32_t header, absl::string_view head);
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
  sockaddr_storage ss{};
  socklen_t sslen;
  const bool v6 = host.find(':') != std::string::npos;
  if (v6) {
    auto* sa6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sa6->sin6_family = AF_INET6;
    sa6->sin6_port = htons(port);
    inet_pton(AF_INET6, host.c_str(), &sa6->sin6_addr);
    sslen = sizeof(*sa6);
  } else {
    auto* sa4 = reinterpret_cast<sockaddr_in*>(&ss);
    sa4->sin_family = AF_INET;
    sa4->sin_port = htons(port);
    inet_pton(AF_INET, host.c_str(), &sa4->sin_addr);
    sslen = sizeof(*sa4);
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return FsError(errno, "socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (v6) {
    // "[::]" serves IPv4 clients too (as IPv4-mapped addresses, which
    // ClientAddr turns back into theirs); any other IPv6 address only IPv6.
    in6_addr any = IN6ADDR_ANY_INIT;
    const int v6only =
        memcmp(&reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, &any, sizeof(any)) != 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), sslen) != 0 ||
      listen(fd, 128) != 0) {
    int err = errno;
    close(fd);
    return FsError(err, absl::StrCat("bind/listen ", host_port, ": ",
                                     strerror(err)));
  }
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenTagBase + impl_->listeners.size();
  epoll_ctl(impl_->epfd, EPOLL_CTL_ADD, fd, &ev);
  impl_->listeners.push_back(fd);
  return PortOf(ss);
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

void RpcTransport::SetRecordMemory(RecordMemory memory) {
  impl_->record_memory = std::move(memory);
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
    ByteBuffer reply;
    handler(w.req, &reply);
    SendOrQueue(w.box.get(), std::move(reply), /*completes_call=*/true);
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
        (void)!read(evfd, &v, sizeof(v));  // Stop()'s wake-up
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
        SendOrQueue(c->box.get(), ByteBuffer(), /*completes_call=*/false);
      }
      if (evs[i].events & (EPOLLIN | EPOLLHUP)) OnReadable(c);
    }
  }
}

void RpcTransport::Impl::Accept(int lfd) {
  for (;;) {
    sockaddr_storage sa{};
    socklen_t len = sizeof(sa);
    int fd = accept4(lfd, reinterpret_cast<sockaddr*>(&sa), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN or a transient error
    std::optional<ClientAddr> peer =
        ClientAddr::FromSockaddr(reinterpret_cast<sockaddr*>(&sa));
    if (!peer) {  // not an IP peer: nothing to check exports against
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Connection>();
    c->box = std::make_shared<Outbox>();
    c->box->fd = fd;
    c->id = c->box->id = next_id++;
    c->box->epfd = epfd;
    c->addr = *peer;
    sockaddr_storage mine{};
    socklen_t mine_len = sizeof(mine);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&mine), &mine_len) == 0) {
      c->local = ClientAddr::FromSockaddr(reinterpret_cast<sockaddr*>(&mine))
                     .value_or(ClientAddr());
    }
    c->port = PortOf(sa);
    c->staging.Reserve(kStagingSize);
    {
      absl::MutexLock l(&c->box->mu);
      c->box->events = EPOLLIN;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c->id;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) continue;  // ~Outbox closes

    if (stats) stats->OnConnect();
    conns.emplace(c->id, std::move(c));
  }
}

void RpcTransport::Impl::Close(Connection* c) {
  {
    Outbox* b = c->box.get();
    absl::MutexLock l(&b->mu);
    b->closed = true;
    epoll_ctl(epfd, EPOLL_CTL_DEL, b->fd, nullptr);
    // A worker may still hold the box (a call in flight): the descriptor
    // stays open, shut down, until it lets go.
    shutdown(b->fd, SHUT_RDWR);
    if (!b->sending) b->out.clear();  // else a sendmsg may be reading them
    b->out_bytes.store(0, std::memory_order_relaxed);
  }
  if (stats) stats->OnDisconnect();
  conns.erase(c->id);  // destroys c
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
    std::shared_ptr<char> memory =
        record_memory ? record_memory(at, c->frag_left) : nullptr;
    if (memory != nullptr &&
        (reinterpret_cast<uintptr_t>(memory.get() + at) & 4095) == 0) {
      c->record.Adopt(std::move(memory), c->frag_left);
    } else {
      c->record.ReserveAligned(c->frag_left, at, 4096);
    }
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
  w.box = c->box;
  w.req.client_addr = c->addr;
  w.req.client_port = c->port;
  w.req.local_addr = c->local;
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
      // Sent with the rest of this read's replies (OnReadable).
      SendOrQueue(c->box.get(), std::move(reply), /*completes_call=*/false,
                  /*send=*/false);
      return true;
    }
  }
  c->box->in_flight.fetch_add(1, std::memory_order_relaxed);
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
  for (int rounds = 0; rounds < 64 && WantRead(*c->box); ++rounds) {
    ssize_t r;
    if (c->in_body && c->staging.empty() && c->frag_left >= kDirectRecvMin) {
      // Receive the fragment body straight into the record.
      size_t pos = c->record.size();
      r = recv(c->box->fd, c->record.data() + pos, c->frag_left, 0);
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
      r = recv(c->box->fd, c->staging.data() + pos, c->staging.capacity() - pos, 0);
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
  // Replies made on this thread go out now (also updates the events, so a
  // throttled connection stops being read).
  if (conns.find(id) == conns.end()) return;
  SendOrQueue(c->box.get(), ByteBuffer(), /*completes_call=*/false);
}

}  // namespace vnas::nfs
