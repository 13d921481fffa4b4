// transport_test — record marking, pipelining with out-of-order replies,
// size limits and connection handling of RpcTransport over real sockets.
#include "server/nfs/transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/nfs/rpc.h"

namespace vnas::nfs {
namespace {

// Test records: u32 tag, u32 delay_ms, payload. The reply (one fragment)
// carries the tag, the record length and a byte sum of the record.
void EchoHandler(const RpcRequest& req, ByteBuffer* reply) {
  absl::string_view r = req.record.view();
  if (r.size() < 8) return;  // no reply
  uint32_t delay = LoadBe32(r.data() + 4);
  if (delay) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  uint32_t sum = 0;
  for (char c : r) sum += static_cast<uint8_t>(c);
  reply->Resize(16);
  StoreBe32(reply->data(), 0x80000000u | 12);
  StoreBe32(reply->data() + 4, LoadBe32(r.data()));
  StoreBe32(reply->data() + 8, static_cast<uint32_t>(r.size()));
  StoreBe32(reply->data() + 12, sum);
}

std::string Be32(uint32_t v) {
  char b[4];
  StoreBe32(b, v);
  return std::string(b, 4);
}

std::string Body(uint32_t tag, uint32_t delay, const std::string& payload = "") {
  return Be32(tag) + Be32(delay) + payload;
}

std::string Fragment(const std::string& body, bool last) {
  return Be32((last ? 0x80000000u : 0) | static_cast<uint32_t>(body.size())) + body;
}

uint32_t Sum(const std::string& s) {
  uint32_t sum = 0;
  for (char c : s) sum += static_cast<uint8_t>(c);
  return sum;
}

int ConnectLoopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  return fd;
}

// Reads one 16-byte echo reply (record mark, tag, length, sum); false on
// EOF or after 5 s.
bool ReadEcho(int fd, char (&buf)[16]) {
  size_t got = 0;
  while (got < sizeof(buf)) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) return false;
    ssize_t n = read(fd, buf + got, sizeof(buf) - got);
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    transport_ = std::make_unique<RpcTransport>(&EchoHandler, 4, &stats_);
    auto p = transport_->Listen("127.0.0.1:0");
    ASSERT_TRUE(p.ok()) << p.status();
    port_ = *p;
    ASSERT_TRUE(transport_->Start().ok());
  }
  void TearDown() override { transport_->Stop(); }

  int Connect() { return ConnectLoopback(port_); }
  static void SendAll(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  // Reads one 16-byte reply; false on EOF/timeout.
  static bool ReadReply(int fd, uint32_t* tag, uint32_t* len, uint32_t* sum) {
    char buf[16];
    if (!ReadEcho(fd, buf)) return false;
    *tag = LoadBe32(buf + 4);
    *len = LoadBe32(buf + 8);
    *sum = LoadBe32(buf + 12);
    return true;
  }
  // True when the server closed the connection (EOF) within 5 s.
  static bool Closed(int fd) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) return false;
    char c;
    ssize_t n = read(fd, &c, 1);
    // Closing with unread input makes the kernel send a reset.
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

  NfsStats stats_;
  std::unique_ptr<RpcTransport> transport_;
  uint16_t port_ = 0;
};

TEST_F(TransportTest, MultiFragmentRecordIsReassembled) {
  int fd = Connect();
  std::string body = Body(7, 0, "hello, fragmented world");
  SendAll(fd, Fragment(body.substr(0, 5), false) +
                  Fragment(body.substr(5, 10), false) +
                  Fragment(body.substr(15), true));
  uint32_t tag, len, sum;
  ASSERT_TRUE(ReadReply(fd, &tag, &len, &sum));
  EXPECT_EQ(tag, 7u);
  EXPECT_EQ(len, body.size());
  EXPECT_EQ(sum, Sum(body));
  close(fd);
}

TEST_F(TransportTest, PipelinedCallsAreAnsweredOutOfOrder) {
  int fd = Connect();
  SendAll(fd, Fragment(Body(1, 400), true) + Fragment(Body(2, 0), true) +
                  Fragment(Body(3, 0), true));
  std::vector<uint32_t> order;
  for (int i = 0; i < 3; ++i) {
    uint32_t tag, len, sum;
    ASSERT_TRUE(ReadReply(fd, &tag, &len, &sum));
    order.push_back(tag);
  }
  EXPECT_EQ(order.back(), 1u) << "the slow call must not block the others";
  close(fd);
}

TEST_F(TransportTest, OneMebibyteRecordArrivesIntact) {
  int fd = Connect();
  std::string payload(1 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7 + (i >> 9));
  std::string body = Body(9, 0, payload);
  // Split across two fragments and many small writes.
  std::string wire = Fragment(body.substr(0, 300000), false) +
                     Fragment(body.substr(300000), true);
  for (size_t off = 0; off < wire.size(); off += 70000) {
    SendAll(fd, wire.substr(off, 70000));
  }
  uint32_t tag, len, sum;
  ASSERT_TRUE(ReadReply(fd, &tag, &len, &sum));
  EXPECT_EQ(tag, 9u);
  EXPECT_EQ(len, body.size());
  EXPECT_EQ(sum, Sum(body));
  close(fd);
}

TEST_F(TransportTest, OversizedFragmentClosesTheConnection) {
  int fd = Connect();
  SendAll(fd, Be32(0xffffffffu) + "xxxx");
  EXPECT_TRUE(Closed(fd));
  close(fd);
  // The server still serves others.
  int fd2 = Connect();
  SendAll(fd2, Fragment(Body(5, 0), true));
  uint32_t tag, len, sum;
  ASSERT_TRUE(ReadReply(fd2, &tag, &len, &sum));
  EXPECT_EQ(tag, 5u);
  close(fd2);
}

TEST_F(TransportTest, RecordOverTheCapAcrossFragmentsClosesTheConnection) {
  int fd = Connect();
  std::string chunk(512 << 10, 'z');
  SendAll(fd, Fragment(chunk, false) + Fragment(chunk, false) +
                  Fragment(chunk, false));
  EXPECT_TRUE(Closed(fd));
  close(fd);
}

TEST_F(TransportTest, ClientVanishingWithCallsInFlightIsHarmless) {
  for (int i = 0; i < 5; ++i) {
    int fd = Connect();
    SendAll(fd, Fragment(Body(1, 100), true) + Fragment(Body(2, 0), true));
    close(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int fd = Connect();
  SendAll(fd, Fragment(Body(8, 0), true));
  uint32_t tag, len, sum;
  ASSERT_TRUE(ReadReply(fd, &tag, &len, &sum));
  EXPECT_EQ(tag, 8u);
  EXPECT_EQ(stats_.connected_clients(), 1u);
  close(fd);
}

TEST(TransportInline, QuickRecordsAreAnsweredOnTheIoThreadInOrder) {
  // Tag < 100: quick (handled on the I/O thread); the rest on workers.
  std::atomic<int> inline_calls{0};
  std::thread::id io_thread;
  NfsStats stats;
  RpcTransport t(
      [&](const RpcRequest& req, ByteBuffer* reply) {
        if (LoadBe32(req.record.data()) < 100) {
          ++inline_calls;
          io_thread = std::this_thread::get_id();
        }
        EchoHandler(req, reply);
      },
      2, &stats);
  t.SetInlinePredicate([](absl::string_view r) {
    return r.size() >= 4 && LoadBe32(r.data()) < 100;
  });
  auto port = t.Listen("127.0.0.1:0");
  ASSERT_TRUE(port.ok());
  ASSERT_TRUE(t.Start().ok());
  int fd = ConnectLoopback(*port);
  // A slow worker call first, then quick ones: the quick ones overtake it.
  std::string batch = Fragment(Body(500, 200), true);
  for (uint32_t tag = 1; tag <= 20; ++tag) batch += Fragment(Body(tag, 0), true);
  ssize_t sent = send(fd, batch.data(), batch.size(), MSG_NOSIGNAL);
  ASSERT_EQ(sent, static_cast<ssize_t>(batch.size()));
  std::vector<uint32_t> order;
  for (int i = 0; i < 21; ++i) {
    char buf[16];
    ASSERT_TRUE(ReadEcho(fd, buf));
    order.push_back(LoadBe32(buf + 4));
  }
  EXPECT_EQ(order.back(), 500u);  // the slow one came last
  for (int i = 0; i < 20; ++i) EXPECT_EQ(order[i], uint32_t(i + 1));
  EXPECT_EQ(inline_calls.load(), 20);
  EXPECT_NE(io_thread, std::this_thread::get_id());
  close(fd);
  t.Stop();
}

TEST(TransportInline, TriedRecordsAreAnsweredInlineOrHandedToAWorker) {
  // Every record is offered to try_inline on the I/O thread; odd tags are
  // answered there, even ones declined and answered by a worker.
  std::atomic<int> tried{0}, by_worker{0};
  NfsStats stats;
  RpcTransport t(
      [&](const RpcRequest& req, ByteBuffer* reply) {
        ++by_worker;
        EchoHandler(req, reply);
      },
      2, &stats);
  t.SetTryInline([](absl::string_view r) { return r.size() >= 4; },
                 [&](const RpcRequest& req, ByteBuffer* reply) {
                   ++tried;
                   if (LoadBe32(req.record.data()) % 2 == 0) {
                     // A declined attempt's partial reply must not be sent.
                     reply->Append("junk", 4);
                     return false;
                   }
                   EchoHandler(req, reply);
                   return true;
                 });
  auto port = t.Listen("127.0.0.1:0");
  ASSERT_TRUE(port.ok());
  ASSERT_TRUE(t.Start().ok());
  int fd = ConnectLoopback(*port);
  std::string batch;
  for (uint32_t tag = 1; tag <= 10; ++tag) {
    batch += Fragment(Body(tag, 0, "payload"), true);
  }
  ASSERT_EQ(send(fd, batch.data(), batch.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(batch.size()));
  std::set<uint32_t> tags;
  for (int i = 0; i < 10; ++i) {
    char buf[16];
    ASSERT_TRUE(ReadEcho(fd, buf));
    ASSERT_EQ(LoadBe32(buf), 0x80000000u | 12) << "a reply's record mark";
    const uint32_t tag = LoadBe32(buf + 4);
    EXPECT_EQ(LoadBe32(buf + 12), Sum(Body(tag, 0, "payload")));
    tags.insert(tag);
  }
  EXPECT_EQ(tags.size(), 10u);
  EXPECT_EQ(tried.load(), 10);
  EXPECT_EQ(by_worker.load(), 5);
  close(fd);
  t.Stop();
}

// Starts `t` on a loopback port, connects, sends calls tagged 1..calls
// (one batch) and gives the server `wait_ms` to answer into a socket nobody
// reads yet; returns the client's descriptor (-1 on failure).
int StartAndSendBatch(RpcTransport& t, uint32_t calls, int wait_ms) {
  auto port = t.Listen("127.0.0.1:0");
  if (!port.ok() || !t.Start().ok()) return -1;
  int fd = ConnectLoopback(*port);
  std::string batch;
  for (uint32_t tag = 1; tag <= calls; ++tag) batch += Fragment(Body(tag, 0), true);
  if (send(fd, batch.data(), batch.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(batch.size())) {
    close(fd);
    return -1;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
  return fd;
}

// Reads exactly `n` bytes; "" on EOF, error or 5 s without progress.
std::string ReadExactly(int fd, size_t n) {
  std::string r(n, '\0');
  size_t got = 0;
  while (got < n) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) return std::string();
    ssize_t k = read(fd, &r[got], n - got);
    if (k <= 0) return std::string();
    got += static_cast<size_t>(k);
  }
  return r;
}

TEST(TransportReplies, AWorkersReplyLeavesWhileTheIoThreadIsBusy) {
  // Tag 1 is quick and holds the I/O thread until the test has the reply
  // to tag 2, a worker's call on another connection: the worker must send
  // it itself (a reply handed back to the I/O thread would wait for it).
  absl::Notification got_worker_reply, quick_entered, worker_has_call;
  NfsStats stats;
  RpcTransport t(
      [&](const RpcRequest& req, ByteBuffer* reply) {
        if (LoadBe32(req.record.data()) == 1) {
          quick_entered.Notify();
          got_worker_reply.WaitForNotificationWithTimeout(absl::Seconds(10));
        } else {  // the worker answers once the I/O thread is held
          worker_has_call.Notify();
          quick_entered.WaitForNotificationWithTimeout(absl::Seconds(10));
        }
        EchoHandler(req, reply);
      },
      2, &stats);
  t.SetInlinePredicate([](absl::string_view r) {
    return r.size() >= 4 && LoadBe32(r.data()) == 1;
  });
  auto port = t.Listen("127.0.0.1:0");
  ASSERT_TRUE(port.ok());
  ASSERT_TRUE(t.Start().ok());
  int a = ConnectLoopback(*port);
  int b = ConnectLoopback(*port);
  const std::string slow = Fragment(Body(2, 0), true);
  const std::string quick = Fragment(Body(1, 0), true);
  // b's call is with a worker before a's quick call holds the I/O thread;
  // the worker answers only then.
  ASSERT_EQ(send(b, slow.data(), slow.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(slow.size()));
  ASSERT_TRUE(worker_has_call.WaitForNotificationWithTimeout(absl::Seconds(5)));
  ASSERT_EQ(send(a, quick.data(), quick.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(quick.size()));
  ASSERT_TRUE(quick_entered.WaitForNotificationWithTimeout(absl::Seconds(5)));
  char buf[16];
  const bool worker_reply = ReadEcho(b, buf);  // 5 s at most
  got_worker_reply.Notify();
  ASSERT_TRUE(worker_reply) << "the worker's reply waited for the I/O thread";
  EXPECT_EQ(LoadBe32(buf + 4), 2u);
  ASSERT_TRUE(ReadEcho(a, buf));
  EXPECT_EQ(LoadBe32(buf + 4), 1u);
  close(a);
  close(b);
  t.Stop();
}

TEST(TransportReplies, BigRepliesFromManyWorkersLeaveWholeWhenTheClientIsSlow) {
  // Each call's reply is 3 MiB of bytes derived from its tag; eight
  // workers answer sixteen calls at once while the client reads nothing
  // for a while, so the socket fills, sends stop part-way and the I/O
  // thread finishes them. Every reply must then arrive whole, never
  // interleaved with another.
  constexpr size_t kBody = 3 << 20;
  NfsStats stats;
  RpcTransport t(
      [](const RpcRequest& req, ByteBuffer* reply) {
        const uint32_t tag = LoadBe32(req.record.data());
        reply->Resize(8 + kBody);
        StoreBe32(reply->data(), 0x80000000u | static_cast<uint32_t>(4 + kBody));
        StoreBe32(reply->data() + 4, tag);
        for (size_t i = 0; i < kBody; ++i) {
          reply->data()[8 + i] = static_cast<char>(tag * 31 + i / 4096);
        }
      },
      8, &stats);
  const int fd = StartAndSendBatch(t, 16, 300);
  ASSERT_GE(fd, 0);
  std::set<uint32_t> tags;
  for (int n = 0; n < 16; ++n) {
    const std::string r = ReadExactly(fd, 8 + kBody);
    ASSERT_EQ(r.size(), 8 + kBody) << "reply " << n << " stalled";
    ASSERT_EQ(LoadBe32(r.data()), 0x80000000u | static_cast<uint32_t>(4 + kBody));
    const uint32_t tag = LoadBe32(r.data() + 4);
    ASSERT_TRUE(tag >= 1 && tag <= 16) << tag;
    for (size_t i = 0; i < kBody; i += 4096) {
      ASSERT_EQ(r[8 + i], static_cast<char>(tag * 31 + i / 4096))
          << "reply " << tag << " at " << i;
      ASSERT_EQ(r[8 + i + 4095], static_cast<char>(tag * 31 + i / 4096))
          << "reply " << tag << " at " << i + 4095;
    }
    tags.insert(tag);
  }
  EXPECT_EQ(tags.size(), 16u);
  close(fd);
  t.Stop();
}

TEST(TransportReplies, LentTailsGoOutAfterTheirBufferPaddedAndAreLetGo) {
  // Each reply is a record mark and the call's tag in its own bytes, then
  // a tail lent from one shared buffer (1 MiB minus the tag: every length
  // mod 4) in pieces of 40-64 KiB (as the data cache lends its chunks: 12
  // replies hold more pieces than one sendmsg takes), then XDR padding.
  // The client reads nothing for a while, so sends stop part-way, inside
  // tails and paddings too.
  constexpr size_t kShared = 1 << 20;
  auto shared = std::make_shared<std::string>(kShared, '\0');
  for (size_t i = 0; i < kShared; ++i) (*shared)[i] = static_cast<char>(i * 131 + 7);
  std::weak_ptr<std::string> watch = shared;
  NfsStats stats;
  RpcTransport t(
      [watch](const RpcRequest& req, ByteBuffer* reply) {
        std::shared_ptr<std::string> shared = watch.lock();
        const uint32_t tag = LoadBe32(req.record.data());
        const size_t len = kShared - tag;
        const size_t pad = (4 - len % 4) % 4;
        reply->Resize(8);
        StoreBe32(reply->data(), 0x80000000u | static_cast<uint32_t>(4 + len + pad));
        StoreBe32(reply->data() + 4, tag);
        std::vector<absl::string_view> pieces;
        for (size_t at = 0, i = 0; at < len; ++i) {
          const size_t n = std::min(len - at, (40 << 10) + (i * 7919) % (24 << 10));
          pieces.push_back(absl::string_view(*shared).substr(tag + at, n));
          at += n;
        }
        reply->SetTail(std::move(pieces), shared);
        EXPECT_EQ(reply->tail_size(), len);
        EXPECT_EQ(reply->wire_size(), 8 + len + pad);
      },
      4, &stats);
  const int fd = StartAndSendBatch(t, 12, 200);
  ASSERT_GE(fd, 0);
  auto read_exactly = [fd](size_t n) { return ReadExactly(fd, n); };
  std::set<uint32_t> tags;
  for (int n = 0; n < 12; ++n) {
    const std::string mark = read_exactly(4);
    ASSERT_EQ(mark.size(), 4u);
    const uint32_t m = LoadBe32(mark.data());
    ASSERT_TRUE(m & 0x80000000u);
    const std::string body = read_exactly(m & 0x7fffffffu);
    ASSERT_EQ(body.size(), m & 0x7fffffffu);
    const uint32_t tag = LoadBe32(body.data());
    ASSERT_TRUE(tag >= 1 && tag <= 12) << tag;
    const size_t len = kShared - tag;
    ASSERT_EQ(body.size(), 4 + len + (4 - len % 4) % 4) << tag;
    bool same = true;
    for (size_t i = 0; i < len; ++i) {
      same = same && body[4 + i] == static_cast<char>((tag + i) * 131 + 7);
    }
    EXPECT_TRUE(same) << "tail of reply " << tag;
    EXPECT_EQ(body.substr(4 + len), std::string(body.size() - 4 - len, '\0'))
        << "padding of reply " << tag;
    tags.insert(tag);
  }
  EXPECT_EQ(tags.size(), 12u);
  shared.reset();  // every reply was sent: soon nobody else holds it
  for (int i = 0; i < 500 && !watch.expired(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(watch.expired()) << "a sent reply still holds its tail";
  close(fd);
  t.Stop();
}

// A test record whose third word names the byte its bulk data starts at
// (read back by HintAtThirdWord), `size` bytes in all.
std::string HintedRecord(uint32_t tag, uint32_t at, size_t size) {
  std::string r = Body(tag, 0) + Be32(at);
  for (size_t i = r.size(); i < size; ++i) r += static_cast<char>(i * 13 + tag);
  return r;
}
size_t HintAtThirdWord(absl::string_view head) {
  return head.size() >= 12 ? LoadBe32(head.data() + 8) : 0;
}

TEST(TransportLayout, BulkDataOfABigRecordLandsPageAligned) {
  // The hint puts the byte at the record's third word (a test "header"
  // length) on a page boundary; the handler reports where that byte landed
  // and the record's byte sum.
  NfsStats stats;
  RpcTransport t(
      [](const RpcRequest& req, ByteBuffer* reply) {
        absl::string_view r = req.record.view();
        const uint32_t at = LoadBe32(r.data() + 8);
        reply->Resize(16);
        StoreBe32(reply->data(), 0x80000000u | 12);
        StoreBe32(reply->data() + 4, LoadBe32(r.data()));
        StoreBe32(reply->data() + 8,
                  static_cast<uint32_t>(reinterpret_cast<uintptr_t>(r.data() + at) % 4096));
        StoreBe32(reply->data() + 12, Sum(std::string(r)));
      },
      2, &stats);
  t.SetDataOffsetHint(&HintAtThirdWord);
  auto port = t.Listen("127.0.0.1:0");
  ASSERT_TRUE(port.ok());
  ASSERT_TRUE(t.Start().ok());
  int fd = ConnectLoopback(*port);
  const auto record = &HintedRecord;
  auto round_trip = [&](const std::string& wire, uint32_t* misalign, uint32_t* sum) {
    EXPECT_EQ(send(fd, wire.data(), wire.size(), MSG_NOSIGNAL), static_cast<ssize_t>(wire.size()));
    char buf[16];
    if (!ReadEcho(fd, buf)) return false;
    *misalign = LoadBe32(buf + 8);
    *sum = LoadBe32(buf + 12);
    return true;
  };
  uint32_t misalign, sum;
  for (uint32_t at : {12u, 140u, 333u, 4096u}) {
    const std::string r = record(at, at, (1 << 20) + at);
    ASSERT_TRUE(round_trip(Fragment(r, true), &misalign, &sum));
    EXPECT_EQ(misalign, 0u) << at;
    EXPECT_EQ(sum, Sum(r)) << at;
  }
  // A hint past the record's end is ignored; the record still arrives whole.
  const std::string past = record(1, 5 << 20, 100000);
  ASSERT_TRUE(round_trip(Fragment(past, true), &misalign, &sum));
  EXPECT_EQ(sum, Sum(past));
  // The head not yet there (fragment header sent alone): no hint, intact.
  const std::string late = record(2, 500, 200000);
  const std::string wire = Fragment(late, true);
  ASSERT_EQ(send(fd, wire.data(), 4, MSG_NOSIGNAL), 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(round_trip(wire.substr(4), &misalign, &sum));
  EXPECT_EQ(sum, Sum(late));
  close(fd);
  t.Stop();
}

TEST(TransportLayout, BigRecordsAreReceivedIntoTheGivenMemory) {
  // The provider hands out one region (byte `lead` on a 64 KiB boundary)
  // at a time and counts its calls; the handler reports whether the record
  // it got lies in that region, where its hinted byte landed, and its sum.
  constexpr size_t kRegion = (2 << 20) + (64 << 10);
  std::unique_ptr<char[]> pool(new char[kRegion + (64 << 10)]);
  char* const base = reinterpret_cast<char*>(
      (reinterpret_cast<uintptr_t>(pool.get()) + 0xffff) & ~uintptr_t{0xffff});
  std::atomic<int> asked{0}, given{0};
  std::atomic<bool> refuse{false};
  NfsStats stats;
  RpcTransport t(
      [base](const RpcRequest& req, ByteBuffer* reply) {
        absl::string_view r = req.record.view();
        const uint32_t at = LoadBe32(r.data() + 8);
        const bool inside = r.data() >= base && r.data() + r.size() <= base + kRegion;
        reply->Resize(20);
        StoreBe32(reply->data(), 0x80000000u | 16);
        StoreBe32(reply->data() + 4, LoadBe32(r.data()));
        StoreBe32(reply->data() + 8,
                  static_cast<uint32_t>(reinterpret_cast<uintptr_t>(r.data() + at) % 65536));
        StoreBe32(reply->data() + 12, Sum(std::string(r)));
        StoreBe32(reply->data() + 16, inside ? 1 : 0);
      },
      1, &stats);
  t.SetDataOffsetHint(&HintAtThirdWord);
  t.SetRecordMemory([&](size_t lead, size_t len) -> std::shared_ptr<char> {
    ++asked;
    if (refuse || lead >= (64 << 10) || len - lead > kRegion - (64 << 10)) return nullptr;
    ++given;
    // Not owned: the test keeps the pool for the transport's lifetime.
    return std::shared_ptr<char>(std::shared_ptr<char>(), base + (64 << 10) - lead);
  });
  auto port = t.Listen("127.0.0.1:0");
  ASSERT_TRUE(port.ok());
  ASSERT_TRUE(t.Start().ok());
  int fd = ConnectLoopback(*port);
  const auto record = &HintedRecord;
  // Sends `r` and reads the 20-byte answer: misalignment, sum, inside.
  auto round_trip = [&](const std::string& r, uint32_t out[3]) {
    const std::string wire = Fragment(r, true);
    EXPECT_EQ(send(fd, wire.data(), wire.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(wire.size()));
    char buf[20];
    size_t got = 0;
    while (got < sizeof(buf)) {
      ssize_t n = recv(fd, buf + got, sizeof(buf) - got, 0);
      if (n <= 0) return false;
      got += static_cast<size_t>(n);
    }
    out[0] = LoadBe32(buf + 8);
    out[1] = LoadBe32(buf + 12);
    out[2] = LoadBe32(buf + 16);
    return true;
  };
  uint32_t out[3];
  for (uint32_t at : {120u, 4000u}) {
    const std::string r = record(at, at, (1 << 20) + at);
    ASSERT_TRUE(round_trip(r, out));
    EXPECT_EQ(out[0], 0u) << at;  // the bulk data starts the given slot
    EXPECT_EQ(out[1], Sum(r)) << at;
    EXPECT_EQ(out[2], 1u) << at;  // received in the given memory
  }
  EXPECT_EQ(given.load(), 2);
  // Refused (or too big for the provider): the transport's own memory,
  // still page-aligned and whole.
  refuse = true;
  const std::string own = record(9, 333, (1 << 20) + 333);
  ASSERT_TRUE(round_trip(own, out));
  EXPECT_EQ(out[0] % 4096, 0u);
  EXPECT_EQ(out[1], Sum(own));
  EXPECT_EQ(out[2], 0u);
  // Small records never ask.
  const int asked_before = asked.load();
  const std::string small = record(3, 20, 2000);
  ASSERT_TRUE(round_trip(small, out));
  EXPECT_EQ(out[1], Sum(small));
  EXPECT_EQ(asked.load(), asked_before);
  close(fd);
  t.Stop();
}

TEST(ParseHostPort, AcceptsAndRejects) {
  std::string h;
  uint16_t p;
  EXPECT_TRUE(ParseHostPort("127.0.0.1:2049", &h, &p).ok());
  EXPECT_EQ(h, "127.0.0.1");
  EXPECT_EQ(p, 2049);
  EXPECT_TRUE(ParseHostPort("localhost:111", &h, &p).ok());
  EXPECT_EQ(h, "127.0.0.1");
  EXPECT_FALSE(ParseHostPort("127.0.0.1", &h, &p).ok());
  EXPECT_FALSE(ParseHostPort("127.0.0.1:70000", &h, &p).ok());
  EXPECT_FALSE(ParseHostPort("nohost:1", &h, &p).ok());
  EXPECT_TRUE(ParseHostPort("[::1]:2049", &h, &p).ok());
  EXPECT_EQ(h, "::1");
  EXPECT_EQ(p, 2049);
  EXPECT_TRUE(ParseHostPort("[::]:0", &h, &p).ok());
  EXPECT_EQ(h, "::");
  EXPECT_TRUE(ParseHostPort("[fd00:1::5]:111", &h, &p).ok());
  EXPECT_EQ(h, "fd00:1::5");
  EXPECT_FALSE(ParseHostPort("::1:2049", &h, &p).ok()) << "IPv6 needs brackets";
  EXPECT_FALSE(ParseHostPort("[127.0.0.1]:2049", &h, &p).ok());
  EXPECT_FALSE(ParseHostPort("[::1:2049", &h, &p).ok());
  EXPECT_FALSE(ParseHostPort("[fe80::1%lo]:2049", &h, &p).ok());
}

// Connects to [addr]:port over IPv6 (or IPv4 when `addr` has no ':').
int ConnectTo(const char* addr, uint16_t port) {
  if (std::strchr(addr, ':') == nullptr) return ConnectLoopback(port);
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET6, addr, &sa.sin6_addr), 1);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  return fd;
}

TEST(TransportIpv6, ServesIpv6ClientsAndADualStackListenerIpv4OnesAsIpv4) {
  if (!HostHasIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback here";
  // The reply's tag is 1 when the handler saw an IPv4 client, 6 for IPv6.
  NfsStats stats;
  RpcTransport t(
      [](const RpcRequest& req, ByteBuffer* reply) {
        reply->Resize(16);
        StoreBe32(reply->data(), 0x80000000u | 12);
        StoreBe32(reply->data() + 4, req.client_addr.is_v4() ? 1 : 6);
        StoreBe32(reply->data() + 8, req.client_addr.is_v4() ? req.client_addr.v4() : 0);
        StoreBe32(reply->data() + 12, req.client_addr.bytes()[15]);
      },
      2, &stats);
  auto only6 = t.Listen("[::1]:0");
  ASSERT_TRUE(only6.ok()) << only6.status();
  auto dual = t.Listen("[::]:0");
  ASSERT_TRUE(dual.ok()) << dual.status();
  ASSERT_TRUE(t.Start().ok());
  const std::string call = Fragment(Body(1, 0), true);
  struct Case {
    const char* addr;
    uint16_t port;
    uint32_t family, v4, last;
  } cases[] = {
      {"::1", *only6, 6, 0, 1},
      {"::1", *dual, 6, 0, 1},
      {"127.0.0.1", *dual, 1, 0x7f000001, 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.addr);
    int fd = ConnectTo(c.addr, c.port);
    ASSERT_EQ(send(fd, call.data(), call.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(call.size()));
    char buf[16];
    ASSERT_TRUE(ReadEcho(fd, buf));
    EXPECT_EQ(LoadBe32(buf + 4), c.family);
    EXPECT_EQ(LoadBe32(buf + 8), c.v4);
    EXPECT_EQ(LoadBe32(buf + 12), c.last);
    close(fd);
  }
  t.Stop();
}

}  // namespace
}  // namespace vnas::nfs
