// fault_test — vnasd on a real, small file system that fills up.
//
// As root, main() first enters a private mount namespace (unshare
// CLONE_NEWNS, all mounts made private), so each test can mount its own
// 64 MiB tmpfs for vnasd's data directory without the machine seeing it.
// Without root the tests skip.
//
// Checked:
//   - --capacity smaller than the file system: filling the store through NFS
//     gives NFS3ERR_NOSPC (not EIO, no crash); existing files keep their
//     bytes; a file with a Control.ReserveSpace reservation still takes
//     writes; removing a file makes writes succeed again; fsck clean; a
//     kill -9 + restart keeps everything;
//   - --capacity larger than the file system (the real ENOSPC path): the
//     same, with the error coming from the file system;
//   - the metadata (RocksDB) directory's file system fills up under
//     metadata operations: errors are reported, vnasd stays up and works
//     again once space is freed, restarts cleanly, fsck clean.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "integration/harness.h"
#include "integration/libnfs_client.h"
#include "proto/vnas.grpc.pb.h"

extern "C" {
#include <nfsc/libnfs.h>
}

namespace vnas::harness {
namespace {

bool g_private_mounts = false;

constexpr uint32_t kNfsOk = 0, kNfsIo = 5, kNfsNospc = 28;
constexpr size_t kChunk = 256 << 10;

std::string Pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint64_t x = 0x9E3779B97F4A7C15ull * (seed + 1);
  for (size_t i = 0; i < n; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    memcpy(&s[i], &x, std::min<size_t>(8, n - i));
  }
  return s;
}

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!g_private_mounts) GTEST_SKIP() << "needs root (private mount namespace)";
    fs_ = MakeTempDir("fault-fs");
    ASSERT_FALSE(fs_.empty());
    ASSERT_EQ(mount("vnas-fault", fs_.c_str(), "tmpfs", 0, "size=64m"), 0)
        << strerror(errno);
  }
  void TearDown() override {
    if (HasFailure() && vnasd_) {
      // The log lives on the tmpfs that is about to go away.
      std::string out = vnasd_->Output();
      if (out.size() > 6000) out = "..." + out.substr(out.size() - 6000);
      printf("---- vnasd output ----\n%s\n----\n", out.c_str());
    }
    vnasd_.reset();
    if (!fs_.empty() && g_private_mounts) umount2(fs_.c_str(), MNT_DETACH);
  }

  void Start(uint64_t capacity) {
    Vnasd::Options o;
    o.data_dir = fs_ + "/data";
    o.capacity = capacity;
    auto d = Vnasd::Start(o);
    ASSERT_TRUE(d.ok()) << d.status();
    vnasd_ = *std::move(d);
    Connect();
  }

  void Connect() {
    auto c = NfsClient::Mount(vnasd_->nfs_port());
    ASSERT_TRUE(c.ok()) << c.status() << vnasd_->Output();
    nfs_ = *std::move(c);
    // A private subchannel pool: a channel must not reuse the connection to
    // the daemon that was just killed.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto ch = grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", vnasd_->control_port()),
        grpc::InsecureChannelCredentials(), args);
    ASSERT_TRUE(ch->WaitForConnected(std::chrono::system_clock::now() +
                                     std::chrono::seconds(10)));
    stub_ = v1::Control::NewStub(ch);
  }

  std::string Create(const std::string& path) {
    nfsfh* fh = nullptr;
    EXPECT_EQ(nfs_creat(nfs_->ctx(), path.c_str(), 0644, &fh), 0)
        << path << ": " << nfs_->Error();
    if (fh) nfs_close(nfs_->ctx(), fh);
    auto h = nfs_->Handle(path);
    EXPECT_TRUE(h.ok()) << h.status();
    return h.ok() ? *h : "";
  }

  // FILE_SYNC writes of `data` at `offset` in 256 KiB pieces; the nfsstat3
  // of the first piece that failed (0 when all succeeded).
  uint32_t Write(const std::string& fh, uint64_t offset, const std::string& data,
                 uint64_t* written = nullptr) {
    for (size_t off = 0; off < data.size(); off += kChunk) {
      auto w = nfs_->RawWrite(fh, offset + off, data.substr(off, kChunk), 2);
      if (!w.ok()) {
        ADD_FAILURE() << "WRITE transport error: " << w.status() << "\n"
                      << vnasd_->Output();
        return 0xffffffff;
      }
      if (w->status != kNfsOk) return w->status;
      if (written) *written += w->count;
    }
    return kNfsOk;
  }

  // Writes 256 KiB pieces to a new file until the server refuses; returns
  // the refusal's nfsstat3 and the bytes accepted.
  std::pair<uint32_t, uint64_t> Fill(const std::string& path) {
    std::string fh = Create(path);
    uint64_t written = 0;
    std::string piece = Pattern(kChunk, 99);
    for (int i = 0; i < 2000; ++i) {
      uint32_t st = Write(fh, written, piece, &written);
      if (st != kNfsOk) return {st, written};
    }
    return {kNfsOk, written};
  }

  std::string ReadAll(const std::string& path) {
    nfsfh* fh = nullptr;
    if (nfs_open(nfs_->ctx(), path.c_str(), O_RDONLY, &fh) != 0) return "<missing>";
    std::string out, buf(kChunk, '\0');
    for (;;) {
      int n = nfs_pread(nfs_->ctx(), fh, out.size(), buf.size(), &buf[0]);
      if (n <= 0) break;
      out.append(buf, 0, static_cast<size_t>(n));
    }
    nfs_close(nfs_->ctx(), fh);
    return out;
  }

  void ExpectFsckClean(const std::string& when) {
    v1::FsckResponse fsck;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->Fsck(&ctx, v1::FsckRequest(), &fsck);
    ASSERT_TRUE(s.ok()) << when << ": Fsck: " << s.error_message() << " (vnasd "
                        << (Alive() ? "up" : "down") << ")\n"
                        << vnasd_->Output();
    std::string problems;
    for (const auto& p : fsck.problems()) problems += "\n  " + p;
    EXPECT_TRUE(fsck.clean()) << "fsck " << when << ":" << problems;
  }

  bool Alive() { return vnasd_->pid() > 0 && kill(vnasd_->pid(), 0) == 0 &&
                        RpcPing(vnasd_->nfs_port(), 100003, 3, 2000); }

  grpc::Status Reserve(const std::string& path, uint64_t size) {
    v1::ReserveSpaceRequest req;
    req.set_path(path);
    req.set_size(size);
    v1::ReserveSpaceResponse resp;
    grpc::ClientContext ctx;
    return stub_->ReserveSpace(&ctx, req, &resp);
  }

  // The whole scenario for one way of running out of space.
  void FullStoreScenario(uint64_t capacity) {
    Start(capacity);
    const std::string a = Pattern(4 << 20, 1);
    std::string fa = Create("/a");
    ASSERT_EQ(Write(fa, 0, a), kNfsOk);
    std::string fr = Create("/reserved");
    grpc::Status rs = Reserve("reserved", 4 << 20);
    ASSERT_TRUE(rs.ok()) << rs.error_message();

    auto [st, filled] = Fill("/filler");
    printf("filled %llu MiB before status %u\n",
           static_cast<unsigned long long>(filled >> 20), st);
    EXPECT_EQ(st, kNfsNospc) << "a full store must answer NFS3ERR_NOSPC"
                             << (st == kNfsIo ? " (got NFS3ERR_IO)" : "");
    ASSERT_TRUE(Alive()) << "vnasd died when full:\n" << vnasd_->Output();
    // Still full: a second try fails the same way, does not crash.
    std::string fh2 = Create("/filler2");
    EXPECT_EQ(Write(fh2, 0, Pattern(kChunk, 5)), kNfsNospc);

    // The reservation holds: the reserved range takes writes.
    const std::string r = Pattern(4 << 20, 2);
    EXPECT_EQ(Write(fr, 0, r), kNfsOk) << "writes into a reserved range failed "
                                          "on a full store";
    EXPECT_TRUE(ReadAll("/a") == a) << "existing file changed on a full store";
    ExpectFsckClean("when full");

    // Freeing space makes writes succeed again.
    ASSERT_EQ(nfs_unlink(nfs_->ctx(), "/filler"), 0) << nfs_->Error();
    ASSERT_EQ(nfs_unlink(nfs_->ctx(), "/filler2"), 0) << nfs_->Error();
    const std::string b = Pattern(2 << 20, 3);
    std::string fb = Create("/b");
    EXPECT_EQ(Write(fb, 0, b), kNfsOk) << "no recovery after freeing space";
    ExpectFsckClean("after freeing space");

    // A crash and restart keeps it all.
    ASSERT_TRUE(vnasd_->Restart(/*kill9=*/true).ok()) << vnasd_->Output();
    Connect();
    EXPECT_TRUE(ReadAll("/a") == a);
    EXPECT_TRUE(ReadAll("/b") == b);
    std::string got_r = ReadAll("/reserved");
    EXPECT_TRUE(got_r.substr(0, r.size()) == r) << "reserved file lost data";
    ExpectFsckClean("after restart");
  }

  std::string fs_;
  std::unique_ptr<Vnasd> vnasd_;
  std::unique_ptr<NfsClient> nfs_;
  std::unique_ptr<v1::Control::Stub> stub_;
};

TEST_F(FaultTest, CapacityLimitGivesNospcKeepsDataReserveAndRecovers) {
  FullStoreScenario(24ull << 20);
}

TEST_F(FaultTest, RealEnospcFromTheFileSystem) {
  FullStoreScenario(1ull << 30);  // more than the 64 MiB tmpfs
}

TEST_F(FaultTest, MetadataFileSystemFullReportsErrorsAndRecovers) {
  Start(1ull << 30);
  const std::string a = Pattern(1 << 20, 7);
  std::string fa = Create("/a");
  ASSERT_EQ(Write(fa, 0, a), kNfsOk);
  // Fill the file system behind vnasd's back: RocksDB's WAL/SST/MANIFEST
  // writes now hit ENOSPC.
  std::string filler = fs_ + "/filler";
  ASSERT_TRUE(FillFileSystem(filler));
  int ok = 0, failed = 0;
  std::string first_error;
  for (int i = 0; i < 300; ++i) {
    std::string p = absl::StrCat("/m", i);
    nfsfh* fh = nullptr;
    if (nfs_creat(nfs_->ctx(), p.c_str(), 0644, &fh) == 0) {
      nfs_close(nfs_->ctx(), fh);
      ++ok;
    } else {
      if (first_error.empty()) first_error = nfs_->Error();
      ++failed;
    }
    ASSERT_TRUE(Alive()) << "vnasd died with a full metadata fs after " << i
                         << " creates:\n" << vnasd_->Output();
  }
  printf("full metadata fs: %d creates ok, %d failed (first error: %s)\n", ok, failed,
         first_error.c_str());
  EXPECT_TRUE(ReadAll("/a") == a) << "data unreadable with a full metadata fs";
  // Space back: metadata operations work again without a restart.
  ASSERT_EQ(unlink(filler.c_str()), 0);
  nfsfh* fh = nullptr;
  EXPECT_EQ(nfs_creat(nfs_->ctx(), "/after", 0644, &fh), 0)
      << "no recovery after freeing space: " << nfs_->Error();
  if (fh) nfs_close(nfs_->ctx(), fh);
  // And a clean restart (SIGTERM) reopens it.
  ASSERT_TRUE(vnasd_->Restart().ok()) << vnasd_->Output();
  Connect();
  EXPECT_TRUE(ReadAll("/a") == a);
  ExpectFsckClean("after a full metadata fs and restart");
}

TEST_F(FaultTest, StartsOnAFullFileSystemOrSaysWhy) {
  Start(1ull << 30);
  const std::string a = Pattern(1 << 20, 8);
  std::string fa = Create("/a");
  ASSERT_EQ(Write(fa, 0, a), kNfsOk);
  ASSERT_TRUE(vnasd_->Stop().ok());
  std::string filler = fs_ + "/filler";
  ASSERT_TRUE(FillFileSystem(filler));
  absl::Status st = vnasd_->Restart();
  if (st.ok()) {
    Connect();
    EXPECT_TRUE(ReadAll("/a") == a) << "data unreadable after starting on a full fs";
  } else {
    // Refusing to start is acceptable only with a clear reason.
    EXPECT_NE(vnasd_->Output().find("space"), std::string::npos)
        << "vnasd failed to start on a full fs without saying why:\n"
        << vnasd_->Output();
  }
  ASSERT_EQ(unlink(filler.c_str()), 0);
  if (!st.ok()) {
    ASSERT_TRUE(vnasd_->Restart().ok()) << vnasd_->Output();
    Connect();
  }
  EXPECT_TRUE(ReadAll("/a") == a);
  ExpectFsckClean("after starting on a full fs");
}

}  // namespace
}  // namespace vnas::harness

int main(int argc, char** argv) {
  // A private mount namespace must be entered while single-threaded.
  if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
      mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0) {
    vnas::harness::g_private_mounts = true;
  } else {
    fprintf(stderr, "fault_test: no private mount namespace: %s\n", strerror(errno));
  }
  signal(SIGPIPE, SIG_IGN);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
