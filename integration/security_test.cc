// security_test — access control of a real vnasd, probed from outside the
// allowed addresses with hand-built ONC RPC calls, forged and replayed file
// handles, and control-plane clients without credentials.
//
// Runs in a private network namespace (//integration:netns_gtest_main, as
// root): clients bind 127.0.0.2 on its loopback, and the control plane
// listens on 10.99.0.1, an address the test adds to that namespace's lo.
// Nothing leaves the namespace. Without root the tests skip.
//
// Covered elsewhere: root_squash owner mapping and ro via real clients
// (exports_test); malformed RPC records (server/nfs malformed corpus + fuzzer).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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

// RFC 1813 / 1833 numbers used below.
constexpr uint32_t kNfsProg = 100003, kMountProg = 100005;
constexpr uint32_t kGetattr = 1, kLookup = 3, kWrite = 7, kRemove = 12;
constexpr uint32_t kMnt = 1;
constexpr uint32_t kNfsOk = 0, kNfsAcces = 13, kNfsRofs = 30, kNfsStale = 70,
                   kNfsBadHandle = 10001;
constexpr uint32_t kMntAcces = 13;

// ---- a minimal ONC RPC (RFC 5531) client over TCP --------------------------

class Xdr {
 public:
  Xdr& U32(uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b_.push_back(static_cast<char>(v >> s));
    return *this;
  }
  Xdr& U64(uint64_t v) { return U32(static_cast<uint32_t>(v >> 32)).U32(static_cast<uint32_t>(v)); }
  Xdr& Opaque(const std::string& s) {
    U32(static_cast<uint32_t>(s.size()));
    b_ += s;
    b_.append((4 - s.size() % 4) % 4, '\0');
    return *this;
  }
  const std::string& str() const { return b_; }

 private:
  std::string b_;
};

class Reader {
 public:
  explicit Reader(std::string s) : s_(std::move(s)) {}
  bool U32(uint32_t* v) {
    if (p_ + 4 > s_.size()) return false;
    const auto* u = reinterpret_cast<const unsigned char*>(s_.data() + p_);
    *v = (uint32_t{u[0]} << 24) | (u[1] << 16) | (u[2] << 8) | u[3];
    p_ += 4;
    return true;
  }
  bool Opaque(std::string* out) {
    uint32_t n;
    if (!U32(&n) || p_ + n > s_.size()) return false;
    *out = s_.substr(p_, n);
    p_ += (n + 3) / 4 * 4;
    return true;
  }

 private:
  std::string s_;
  size_t p_ = 0;
};

struct Reply {
  bool accepted = false;     // MSG_ACCEPTED with SUCCESS
  uint32_t status = 0xffff;  // first word of the result (nfsstat3 / mountstat3)
  std::string fh;            // MNT / LOOKUP: the handle when status == 0
};

// One TCP connection from `source` (e.g. "127.0.0.2") to 127.0.0.1:port,
// AUTH_SYS uid/gid 0.
class RawRpc {
 public:
  static std::unique_ptr<RawRpc> Connect(const std::string& source, int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    inet_pton(AF_INET, source.c_str(), &src.sin_addr);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0 ||
        connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) != 0) {
      close(fd);
      return nullptr;
    }
    return std::unique_ptr<RawRpc>(new RawRpc(fd));
  }
  ~RawRpc() { close(fd_); }

  // Sends a call and returns the reply; nullopt when the server closed the
  // connection, did not answer in 5 s, or sent something unparsable.
  std::optional<Reply> Call(uint32_t prog, uint32_t proc, const std::string& args,
                            bool want_fh = false) {
    Xdr cred;
    cred.U32(0).Opaque("security-test").U32(0).U32(0).U32(0);  // stamp..gids
    Xdr call;
    call.U32(++xid_).U32(0).U32(2).U32(prog).U32(3).U32(proc);
    call.U32(1).Opaque(cred.str());  // AUTH_SYS
    call.U32(0).U32(0);              // verifier AUTH_NONE
    std::string rec = call.str() + args;
    Xdr mark;
    mark.U32(0x80000000u | static_cast<uint32_t>(rec.size()));
    std::string out = mark.str() + rec;
    if (write(fd_, out.data(), out.size()) != static_cast<ssize_t>(out.size())) {
      return std::nullopt;
    }
    std::string body;
    for (bool last = false; !last;) {
      std::string hdr;
      if (!ReadN(4, &hdr)) return std::nullopt;
      uint32_t m;
      Reader(hdr).U32(&m);
      last = m & 0x80000000u;
      std::string frag;
      if (!ReadN(m & 0x7fffffffu, &frag)) return std::nullopt;
      body += frag;
    }
    Reader r(body);
    uint32_t xid, mtype, reply_stat, flavor, accept_stat;
    std::string verf;
    if (!r.U32(&xid) || !r.U32(&mtype) || xid != xid_ || mtype != 1 ||
        !r.U32(&reply_stat)) {
      return std::nullopt;
    }
    Reply rep;
    if (reply_stat != 0) return rep;  // MSG_DENIED
    if (!r.U32(&flavor) || !r.Opaque(&verf) || !r.U32(&accept_stat)) return std::nullopt;
    if (accept_stat != 0) return rep;
    rep.accepted = true;
    if (!r.U32(&rep.status)) return std::nullopt;
    if (want_fh && rep.status == 0) {
      if (proc == kLookup) {
        // LOOKUP3resok: object handle first.
        if (!r.Opaque(&rep.fh)) return std::nullopt;
      } else if (!r.Opaque(&rep.fh)) {
        return std::nullopt;
      }
    }
    return rep;
  }

  std::optional<Reply> Mnt(const std::string& path) {
    return Call(kMountProg, kMnt, Xdr().Opaque(path).str(), true);
  }
  std::optional<Reply> Getattr(const std::string& fh) {
    return Call(kNfsProg, kGetattr, Xdr().Opaque(fh).str());
  }
  std::optional<Reply> Lookup(const std::string& dir, const std::string& name) {
    return Call(kNfsProg, kLookup, Xdr().Opaque(dir).Opaque(name).str(), true);
  }
  std::optional<Reply> Write(const std::string& fh, const std::string& data) {
    return Call(kNfsProg, kWrite,
                Xdr().Opaque(fh).U64(0).U32(static_cast<uint32_t>(data.size()))
                    .U32(2).Opaque(data).str());
  }
  std::optional<Reply> Remove(const std::string& dir, const std::string& name) {
    return Call(kNfsProg, kRemove, Xdr().Opaque(dir).Opaque(name).str());
  }

 private:
  explicit RawRpc(int fd) : fd_(fd) {}
  bool ReadN(size_t n, std::string* out) {
    out->clear();
    while (out->size() < n) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 5000) != 1) return false;
      char buf[65536];
      ssize_t k = read(fd_, buf, std::min(sizeof(buf), n - out->size()));
      if (k <= 0) return false;
      out->append(buf, static_cast<size_t>(k));
    }
    return true;
  }
  int fd_;
  uint32_t xid_ = 0x5ec0000;
};

// "status N" for assertion messages; "no reply" / "denied".
std::string Show(const std::optional<Reply>& r) {
  if (!r) return "no reply";
  if (!r->accepted) return "rpc denied / not accepted";
  return absl::StrCat("status ", r->status);
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!InPrivateNetns()) GTEST_SKIP() << "needs root for a private netns";
  }

  // A vnasd whose datastore holds /vm1/disk (and /vm1/other) made through a
  // default (rw) export, restarted with `exports`.
  void StartWith(const std::string& exports) {
    std::string tmp = MakeTempDir("security");
    Vnasd::Options o;
    o.data_dir = tmp + "/data";
    auto d = Vnasd::Start(o);
    ASSERT_TRUE(d.ok()) << d.status();
    {
      auto c = NfsClient::Mount((*d)->nfs_port());
      ASSERT_TRUE(c.ok()) << c.status();
      ASSERT_EQ(nfs_mkdir((*c)->ctx(), "/vm1"), 0);
      for (const char* f : {"/vm1/disk", "/vm1/other"}) {
        ASSERT_EQ((*c)->CreateFile(f, "original"), absl::OkStatus());
      }
    }
    ASSERT_TRUE((*d)->Stop().ok());
    o.nfs_port = (*d)->nfs_port();
    o.exports = exports;
    d = Vnasd::Start(o);
    ASSERT_TRUE(d.ok()) << d.status();
    vnasd_ = *std::move(d);
  }

  // MNT `path` from `source` and LOOKUP vm1/disk (or disk when the export is
  // /vnas/vm1): the file's handle.
  std::string DiskHandle(const std::string& source, const std::string& path) {
    auto rpc = RawRpc::Connect(source, vnasd_->nfs_port());
    EXPECT_TRUE(rpc);
    if (!rpc) return "";
    auto m = rpc->Mnt(path);
    EXPECT_TRUE(m && m->accepted && m->status == 0) << Show(m);
    if (!m || m->status != 0) return "";
    std::string dir = m->fh;
    if (path == "/vnas") {
      auto l = rpc->Lookup(dir, "vm1");
      EXPECT_TRUE(l && l->status == 0) << Show(l);
      if (!l || l->status != 0) return "";
      dir = l->fh;
    }
    auto l = rpc->Lookup(dir, "disk");
    EXPECT_TRUE(l && l->status == 0) << Show(l);
    return l && l->status == 0 ? l->fh : "";
  }

  // /vm1/disk's first bytes through the root export (as 127.0.0.1, not
  // entering nested exports).
  std::string ReadDisk() {
    auto c = NfsClient::Mount(vnasd_->nfs_port(), "/vnas", "&auto-traverse-mounts=0");
    if (!c.ok()) return "<mount: " + c.status().ToString() + ">";
    nfsfh* fh = nullptr;
    if (nfs_open((*c)->ctx(), "/vm1/disk", O_RDONLY, &fh) != 0) {
      return "<open: " + (*c)->Error() + ">";
    }
    char buf[64];
    int n = nfs_pread((*c)->ctx(), fh, 0, sizeof(buf), buf);
    nfs_close((*c)->ctx(), fh);
    return n < 0 ? "<read error>" : std::string(buf, static_cast<size_t>(n));
  }

  std::unique_ptr<Vnasd> vnasd_;
};

TEST_F(SecurityTest, DisallowedSourceAddressIsRefusedAtMountAndNfs) {
  StartWith("/vnas 127.0.0.1/32(rw,no_root_squash)\n");
  std::string fh = DiskHandle("127.0.0.1", "/vnas");
  ASSERT_EQ(fh.size(), 28u);
  auto ok = RawRpc::Connect("127.0.0.1", vnasd_->nfs_port());
  ASSERT_TRUE(ok);
  EXPECT_EQ(Show(ok->Getattr(fh)), Show(Reply{true, kNfsOk, ""})) << "allowed client";

  auto bad = RawRpc::Connect("127.0.0.2", vnasd_->nfs_port());
  ASSERT_TRUE(bad) << "bind 127.0.0.2";
  EXPECT_EQ(Show(bad->Mnt("/vnas")), Show(Reply{true, kMntAcces, ""}))
      << "MNT from 127.0.0.2 must be MNT3ERR_ACCES";
  EXPECT_EQ(Show(bad->Mnt("/vnas/vm1")), Show(Reply{true, kMntAcces, ""}));
  // A valid handle learnt elsewhere does not help.
  EXPECT_EQ(Show(bad->Getattr(fh)), Show(Reply{true, kNfsAcces, ""}));
  EXPECT_EQ(Show(bad->Write(fh, "intruder")), Show(Reply{true, kNfsAcces, ""}));
  auto root = ok->Mnt("/vnas");
  ASSERT_TRUE(root && root->status == 0);
  EXPECT_EQ(Show(bad->Lookup(root->fh, "vm1")), Show(Reply{true, kNfsAcces, ""}));
  EXPECT_EQ(Show(bad->Remove(root->fh, "vm1")), Show(Reply{true, kNfsAcces, ""}));
  EXPECT_EQ(ReadDisk(), "original");
}

TEST_F(SecurityTest, NoEscapeFromASubdirectoryExport) {
  // 127.0.0.2 may only use /vnas/vm1; /secret lies outside it.
  StartWith(
      "/vnas 127.0.0.1/32(rw,no_root_squash)\n"
      "/vnas/vm1 127.0.0.2/32(rw,no_root_squash)\n");
  {
    auto c = NfsClient::Mount(vnasd_->nfs_port(), "/vnas", "&auto-traverse-mounts=0");
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_EQ((*c)->CreateFile("/secret"), absl::OkStatus());
  }
  auto two = RawRpc::Connect("127.0.0.2", vnasd_->nfs_port());
  ASSERT_TRUE(two);
  for (const char* path : {"/vnas", "/", "/etc", "/vnas/../vnas", "/vnas/vm1/..",
                           "/vnas/vm1/../secret", "/vnas/secret"}) {
    auto m = two->Mnt(path);
    ASSERT_TRUE(m && m->accepted) << path << ": " << Show(m);
    EXPECT_NE(m->status, 0u) << "MNT " << path << " from 127.0.0.2 succeeded";
  }
  auto m = two->Mnt("/vnas/vm1");
  ASSERT_TRUE(m && m->status == 0) << Show(m);
  // ".." at the export root must not lead out of the export.
  auto up = two->Lookup(m->fh, "..");
  ASSERT_TRUE(up && up->accepted) << Show(up);
  if (up->status == 0) {
    auto secret = two->Lookup(up->fh, "secret");
    ASSERT_TRUE(secret && secret->accepted) << Show(secret);
    EXPECT_NE(secret->status, 0u) << "LOOKUP .. then secret escaped the export";
    if (secret->status == 0) {
      EXPECT_NE(Show(two->Write(secret->fh, "escaped!")), Show(Reply{true, 0, ""}))
          << "wrote a file outside the export";
    }
  }
}

TEST_F(SecurityTest, ReadOnlyExportRefusesRawWritesWithRofs) {
  StartWith("/vnas 127.0.0.1/32(ro)\n");
  std::string fh = DiskHandle("127.0.0.1", "/vnas");
  ASSERT_FALSE(fh.empty());
  auto c = RawRpc::Connect("127.0.0.1", vnasd_->nfs_port());
  ASSERT_TRUE(c);
  EXPECT_EQ(Show(c->Write(fh, "changed!")), Show(Reply{true, kNfsRofs, ""}));
  auto root = c->Mnt("/vnas");
  ASSERT_TRUE(root && root->status == 0);
  auto vm1 = c->Lookup(root->fh, "vm1");
  ASSERT_TRUE(vm1 && vm1->status == 0);
  EXPECT_EQ(Show(c->Remove(vm1->fh, "disk")), Show(Reply{true, kNfsRofs, ""}));
  EXPECT_EQ(Show(c->Getattr(fh)), Show(Reply{true, kNfsOk, ""}));
  EXPECT_EQ(ReadDisk(), "original");
}

TEST_F(SecurityTest, RootSquashMakesRootNobody) {
  StartWith("/vnas 127.0.0.1/32(rw,root_squash)\n");
  // uid 0 creates: owned by 65534.
  auto root = NfsClient::Mount(vnasd_->nfs_port(), "/vnas", "&uid=0&gid=0");
  ASSERT_TRUE(root.ok()) << root.status();
  ASSERT_EQ((*root)->CreateFile("/by-root"), absl::OkStatus());
  nfs_stat_64 st;
  ASSERT_EQ(nfs_stat64((*root)->ctx(), "/by-root", &st), 0);
  EXPECT_EQ(st.nfs_uid, 65534u);
  EXPECT_EQ(st.nfs_gid, 65534u);
  // A user's private file (0600) is out of reach for squashed root.
  auto user = NfsClient::Mount(vnasd_->nfs_port(), "/vnas", "&uid=1000&gid=1000");
  ASSERT_TRUE(user.ok()) << user.status();
  ASSERT_EQ((*user)->CreateFile("/private", "secret", 0600), absl::OkStatus());
  ASSERT_EQ(nfs_stat64((*user)->ctx(), "/private", &st), 0);
  EXPECT_EQ(st.nfs_uid, 1000u) << "a non-root uid is not squashed";
  // (libnfs's open does not ask the server; the WRITE and READ must fail.)
  nfsfh* fh = nullptr;
  if (nfs_open((*root)->ctx(), "/private", O_RDWR, &fh) == 0) {
    EXPECT_LT(nfs_pwrite((*root)->ctx(), fh, 0, 6, const_cast<char*>("hacked")), 0)
        << "squashed root wrote a 0600 file of uid 1000";
    char buf[6];
    EXPECT_LT(nfs_pread((*root)->ctx(), fh, 0, 6, buf), 0)
        << "squashed root read a 0600 file of uid 1000";
    nfs_close((*root)->ctx(), fh);
  }
  // Only root may give a file away; squashed root is not root.
  nfs_chown((*root)->ctx(), "/private", 0, 0);
  ASSERT_EQ(nfs_stat64((*user)->ctx(), "/private", &st), 0);
  EXPECT_EQ(st.nfs_uid, 1000u) << "squashed root changed the owner of uid 1000's file";
}

TEST_F(SecurityTest, ForgedHandlesAreBadHandles) {
  StartWith("/vnas 127.0.0.1/32(rw,no_root_squash)\n");
  std::string fh = DiskHandle("127.0.0.1", "/vnas");
  ASSERT_EQ(fh.size(), 28u);
  auto c = RawRpc::Connect("127.0.0.1", vnasd_->nfs_port());
  ASSERT_TRUE(c);
  // One flipped bit anywhere (version, export index, inode, generation, MAC).
  for (size_t i = 0; i < fh.size(); ++i) {
    for (int bit : {0, 7}) {
      std::string f = fh;
      f[i] = static_cast<char>(f[i] ^ (1 << bit));
      EXPECT_EQ(Show(c->Getattr(f)), Show(Reply{true, kNfsBadHandle, ""}))
          << "byte " << i << " bit " << bit;
      if (i >= 20 && bit == 0) {
        EXPECT_EQ(Show(c->Write(f, "forged!!")), Show(Reply{true, kNfsBadHandle, ""}))
            << "MAC byte " << i;
      }
    }
  }
  // Wrong lengths and an all-zero handle.
  for (const std::string& f : {fh.substr(0, 27), fh + std::string(4, '\0'),
                               std::string(28, '\0'), std::string()}) {
    EXPECT_EQ(Show(c->Getattr(f)), Show(Reply{true, kNfsBadHandle, ""}))
        << "length " << f.size();
  }
  // A valid handle of another datastore (another key) is not ours.
  auto other = Vnasd::Start({});
  ASSERT_TRUE(other.ok()) << other.status();
  {
    auto oc = NfsClient::Mount((*other)->nfs_port());
    ASSERT_TRUE(oc.ok());
    ASSERT_EQ(nfs_mkdir((*oc)->ctx(), "/vm1"), 0);
    ASSERT_EQ((*oc)->CreateFile("/vm1/disk"), absl::OkStatus());
  }
  auto orc = RawRpc::Connect("127.0.0.1", (*other)->nfs_port());
  ASSERT_TRUE(orc);
  auto om = orc->Mnt("/vnas");
  ASSERT_TRUE(om && om->status == 0);
  auto ovm = orc->Lookup(om->fh, "vm1");
  ASSERT_TRUE(ovm && ovm->status == 0);
  auto odisk = orc->Lookup(ovm->fh, "disk");
  ASSERT_TRUE(odisk && odisk->status == 0);
  EXPECT_EQ(Show(c->Getattr(odisk->fh)), Show(Reply{true, kNfsBadHandle, ""}))
      << "a handle of another datastore";
  EXPECT_EQ(Show(c->Write(odisk->fh, "crossing")), Show(Reply{true, kNfsBadHandle, ""}));
  EXPECT_EQ(ReadDisk(), "original");
}

TEST_F(SecurityTest, HandleReplayedToAnotherExportIsRefused) {
  // 127.0.0.1 may only read the datastore; 127.0.0.2 may write /vnas/vm1.
  StartWith(
      "/vnas 127.0.0.1/32(ro)\n"
      "/vnas/vm1 127.0.0.2/32(rw,no_root_squash)\n");
  std::string rw_fh = DiskHandle("127.0.0.2", "/vnas/vm1");
  ASSERT_FALSE(rw_fh.empty());
  auto two = RawRpc::Connect("127.0.0.2", vnasd_->nfs_port());
  ASSERT_TRUE(two);
  EXPECT_EQ(Show(two->Getattr(rw_fh)), Show(Reply{true, kNfsOk, ""}));
  // 127.0.0.1 replays the rw export's handle: no write access through it.
  auto one = RawRpc::Connect("127.0.0.1", vnasd_->nfs_port());
  ASSERT_TRUE(one);
  auto w = one->Write(rw_fh, "replayed");
  ASSERT_TRUE(w && w->accepted) << Show(w);
  EXPECT_TRUE(w->status == kNfsAcces || w->status == kNfsStale) << Show(w);
  auto g = one->Getattr(rw_fh);
  ASSERT_TRUE(g && g->accepted) << Show(g);
  EXPECT_TRUE(g->status == kNfsAcces || g->status == kNfsStale) << Show(g);
  // 127.0.0.2 replays the ro export's handle of the same file: the root
  // export is not open to it.
  std::string ro_fh = DiskHandle("127.0.0.1", "/vnas");
  ASSERT_FALSE(ro_fh.empty());
  EXPECT_NE(ro_fh, rw_fh) << "handles name their export";
  auto w2 = two->Write(ro_fh, "replayed");
  ASSERT_TRUE(w2 && w2->accepted) << Show(w2);
  EXPECT_TRUE(w2->status == kNfsAcces || w2->status == kNfsStale) << Show(w2);
  EXPECT_EQ(ReadDisk(), "original");
}

TEST_F(SecurityTest, DeletedFileHandleStaysStale) {
  StartWith("/vnas 127.0.0.1/32(rw,no_root_squash)\n");
  std::string fh = DiskHandle("127.0.0.1", "/vnas");
  ASSERT_FALSE(fh.empty());
  auto c = NfsClient::Mount(vnasd_->nfs_port());
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(nfs_unlink((*c)->ctx(), "/vm1/disk"), 0);
  // Many new files: inode numbers may be reused, generations must differ.
  for (int i = 0; i < 300; ++i) {
    nfsfh* h = nullptr;
    std::string p = absl::StrCat("/vm1/n", i);
    ASSERT_EQ(nfs_creat((*c)->ctx(), p.c_str(), 0644, &h), 0) << (*c)->Error();
    nfs_close((*c)->ctx(), h);
    if (i % 3 == 0) {
      ASSERT_EQ(nfs_unlink((*c)->ctx(), p.c_str()), 0);
    }
  }
  auto raw = RawRpc::Connect("127.0.0.1", vnasd_->nfs_port());
  ASSERT_TRUE(raw);
  EXPECT_EQ(Show(raw->Getattr(fh)), Show(Reply{true, kNfsStale, ""}));
  EXPECT_EQ(Show(raw->Write(fh, "zombie!!")), Show(Reply{true, kNfsStale, ""}));
  ASSERT_TRUE(vnasd_->Restart().ok());
  auto raw2 = RawRpc::Connect("127.0.0.1", vnasd_->nfs_port());
  ASSERT_TRUE(raw2);
  EXPECT_EQ(Show(raw2->Getattr(fh)), Show(Reply{true, kNfsStale, ""}))
      << "after a restart";
}

// ---- control plane ------------------------------------------------------------

constexpr char kControlAddr[] = "10.99.0.1";

class ControlSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!InPrivateNetns()) GTEST_SKIP() << "needs root for a private netns";
    // An address of this private namespace only.
    RunCommand(absl::StrCat("ip addr add ", kControlAddr, "/32 dev lo"), 10);
    tmp_ = MakeTempDir("ctlsec");
    auto r = RunCommand(absl::StrCat(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=vnas-test ",
        "-addext subjectAltName=IP:", kControlAddr, " -keyout ", tmp_,
        "/key.pem -out ", tmp_, "/cert.pem"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::ofstream(tmp_ + "/token") << kToken << "\n";
  }

  static constexpr char kToken[] = "s3cret-token-0123456789abcdef";
  std::string tmp_;
};

TEST_F(ControlSecurityTest, NonLoopbackWithoutTlsAndTokenRefusesToStart) {
  int port = PickFreePort();
  for (const std::string& listen :
       {absl::StrCat(kControlAddr, ":", port), absl::StrCat("0.0.0.0:", port)}) {
    for (const std::vector<std::string>& extra : std::vector<std::vector<std::string>>{
             {},
             {"--control_tls_cert=" + tmp_ + "/cert.pem",
              "--control_tls_key=" + tmp_ + "/key.pem"},
             {"--control_token_file=" + tmp_ + "/token"}}) {
      Vnasd::Options o;
      o.extra_flags = extra;
      o.extra_flags.push_back("--control_listen=" + listen);
      auto d = Vnasd::Start(o);
      EXPECT_FALSE(d.ok()) << "vnasd started with control on " << listen
                           << " and only " << extra.size() << " security flags";
      if (!d.ok()) {
        EXPECT_NE(d.status().message().find("control"), std::string::npos)
            << d.status();
      }
    }
  }
}

TEST_F(ControlSecurityTest, TlsEndpointNeedsTheToken) {
  int port = PickFreePort();
  Vnasd::Options o;
  o.extra_flags = {absl::StrCat("--control_listen=", kControlAddr, ":", port),
                   "--control_tls_cert=" + tmp_ + "/cert.pem",
                   "--control_tls_key=" + tmp_ + "/key.pem",
                   "--control_token_file=" + tmp_ + "/token"};
  auto d = Vnasd::Start(o);
  ASSERT_TRUE(d.ok()) << d.status();
  std::string target = absl::StrCat(kControlAddr, ":", port);
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(tmp_ + "/cert.pem");
  auto tls = grpc::CreateChannel(target, grpc::SslCredentials(ssl));
  auto stub = v1::Control::NewStub(tls);
  auto call = [&](const std::string& auth) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!auth.empty()) ctx.AddMetadata("authorization", auth);
    v1::GetStatusResponse resp;
    return stub->GetStatus(&ctx, v1::GetStatusRequest(), &resp).error_code();
  };
  EXPECT_EQ(call(""), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call("Bearer wrong-token-0123456789abcdef"), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call(kToken), grpc::StatusCode::UNAUTHENTICATED) << "no Bearer scheme";
  EXPECT_EQ(call(absl::StrCat("Bearer ", kToken, "x")), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call(absl::StrCat("Bearer ", kToken)), grpc::StatusCode::OK);
  // A mutating call without the token changes nothing.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::CreateSnapshotRequest req;
    req.set_path("");
    req.set_name("nope");
    v1::CreateSnapshotResponse resp;
    EXPECT_EQ(stub->CreateSnapshot(&ctx, req, &resp).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  // Plaintext to the TLS port fails.
  auto plain = v1::Control::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
  v1::GetStatusResponse resp;
  EXPECT_NE(plain->GetStatus(&ctx, v1::GetStatusRequest(), &resp).error_code(),
            grpc::StatusCode::OK);
}

// ---- hostile control-plane requests against the real daemon -----------------
//
// server/control's in-process tests cover CloneFile paths table-wise; this
// sends hostile paths, names, ids and sizes to every path-taking rpc of a
// running vnasd over its real endpoint, then checks that nothing was created
// inside or outside the datastore, the daemon is up, and fsck is clean.
TEST(ControlHostileRequestsTest, EveryPathTakingRpcRefusesHostileInput) {
  std::string tmp = MakeTempDir("hostile");
  Vnasd::Options o;
  o.data_dir = tmp + "/data";
  auto d = Vnasd::Start(o);
  ASSERT_TRUE(d.ok()) << d.status();
  {
    auto c = NfsClient::Mount((*d)->nfs_port());
    ASSERT_TRUE(c.ok());
    ASSERT_EQ(nfs_mkdir((*c)->ctx(), "/vm1"), 0);
    ASSERT_EQ((*c)->CreateFile("/vm1/a.img", "data"), absl::OkStatus());
    ASSERT_EQ(nfs_symlink((*c)->ctx(), "/etc", "/vm1/link"), 0);
  }
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  auto stub = v1::Control::NewStub(grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", (*d)->control_port()),
      grpc::InsecureChannelCredentials(), args));

  const std::string nul("vm1/a\0.img", 10);
  const std::vector<std::string> bad_paths = {
      "../x", "vm1/../../x", "/etc/passwd", "/vnas/../x", "vm1/./a.img",
      "vm1//a.img", nul, std::string(256, 'n'), std::string(5000, 'p'),
      "vm1/link/passwd", "vm1/link/x", tmp + "/outside",
      std::string(8 << 20, 'q')};  // 8 MiB: past gRPC's 4 MiB default
  auto bad = [](const grpc::Status& s) {
    // Refused for what it is, not a server failure.
    return s.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
           s.error_code() == grpc::StatusCode::NOT_FOUND ||
           s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
           s.error_code() == grpc::StatusCode::FAILED_PRECONDITION;
  };
  int calls = 0;
  for (const std::string& p : bad_paths) {
    SCOPED_TRACE(absl::StrCat("path of ", p.size(), " bytes: ", p.substr(0, 40)));
    auto check = [&](const char* rpc, const grpc::Status& s) {
      ++calls;
      EXPECT_TRUE(bad(s)) << rpc << ": code " << s.error_code() << " "
                          << s.error_message().substr(0, 200);
    };
    {
      grpc::ClientContext ctx;
      v1::CloneFileRequest req;
      req.set_source("vm1/a.img");
      req.set_destination(p);
      v1::CloneFileResponse resp;
      check("CloneFile(dst)", stub->CloneFile(&ctx, req, &resp));
    }
    {
      grpc::ClientContext ctx;
      v1::CloneVmRequest req;
      req.set_source(p);
      req.set_destination("vm2");
      req.set_wait(true);
      v1::CloneVmResponse resp;
      check("CloneVm(src)", stub->CloneVm(&ctx, req, &resp));
    }
    {
      grpc::ClientContext ctx;
      v1::CloneVmRequest req;
      req.set_source("vm1");
      req.set_destination(p);
      req.set_wait(true);
      v1::CloneVmResponse resp;
      check("CloneVm(dst)", stub->CloneVm(&ctx, req, &resp));
    }
    {
      grpc::ClientContext ctx;
      v1::CreateSnapshotRequest req;
      req.set_path(p);
      req.set_name("s");
      v1::CreateSnapshotResponse resp;
      check("CreateSnapshot", stub->CreateSnapshot(&ctx, req, &resp));
    }
    {
      grpc::ClientContext ctx;
      v1::ReserveSpaceRequest req;
      req.set_path(p);
      req.set_size(1 << 20);
      v1::ReserveSpaceResponse resp;
      check("ReserveSpace", stub->ReserveSpace(&ctx, req, &resp));
    }
    // The rpcs whose request is a path and nothing else.
    auto path_only = [&](const char* name, auto rpc, auto req, auto resp) {
      grpc::ClientContext ctx;
      req.set_path(p);
      check(name, (stub.get()->*rpc)(&ctx, req, &resp));
    };
    path_only("ExtendedStats", &v1::Control::Stub::ExtendedStats,
              v1::ExtendedStatsRequest(), v1::ExtendedStatsResponse());
    path_only("GetChain", &v1::Control::Stub::GetChain,
              v1::GetChainRequest(), v1::GetChainResponse());
    path_only("GetAlignment", &v1::Control::Stub::GetAlignment,
              v1::GetAlignmentRequest(), v1::GetAlignmentResponse());
    path_only("ListSnapshots", &v1::Control::Stub::ListSnapshots,
              v1::ListSnapshotsRequest(), v1::ListSnapshotsResponse());
  }
  // Snapshot names, ids and sizes.
  uint64_t snap_id = 0;
  {
    grpc::ClientContext ctx;
    v1::CreateSnapshotRequest req;
    req.set_path("vm1/a.img");
    req.set_name("good");
    v1::CreateSnapshotResponse resp;
    ASSERT_TRUE(stub->CreateSnapshot(&ctx, req, &resp).ok());
    snap_id = resp.snapshot().id();
  }
  for (const std::string& name : {std::string(), std::string(256, 'n'),
                                  std::string("a\0b", 3)}) {
    grpc::ClientContext ctx;
    v1::CreateSnapshotRequest req;
    req.set_path("vm1/a.img");
    req.set_name(name);
    v1::CreateSnapshotResponse resp;
    grpc::Status s = stub->CreateSnapshot(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << "snapshot name of " << name.size() << " bytes";
  }
  for (uint64_t id : {uint64_t{0}, snap_id + 1000, ~uint64_t{0}}) {
    grpc::ClientContext c1, c2, c3;
    v1::DeleteSnapshotRequest dreq;
    dreq.set_id(id);
    v1::DeleteSnapshotResponse dresp;
    EXPECT_TRUE(bad(stub->DeleteSnapshot(&c1, dreq, &dresp))) << id;
    v1::RestoreSnapshotRequest rreq;
    rreq.set_id(id);
    v1::RestoreSnapshotResponse rresp;
    EXPECT_TRUE(bad(stub->RestoreSnapshot(&c2, rreq, &rresp))) << id;
    v1::CloneSnapshotRequest creq;
    creq.set_id(id);
    creq.set_destination("vm1/from-snap");
    v1::CloneSnapshotResponse cresp;
    EXPECT_TRUE(bad(stub->CloneSnapshot(&c3, creq, &cresp))) << id;
  }
  for (const std::string& p : {std::string("../x"), std::string("/etc/x"), nul,
                               std::string("vm1/link/x")}) {
    grpc::ClientContext ctx;
    v1::CloneSnapshotRequest req;
    req.set_id(snap_id);
    req.set_destination(p);
    v1::CloneSnapshotResponse resp;
    EXPECT_TRUE(bad(stub->CloneSnapshot(&ctx, req, &resp))) << p;
  }
  for (uint64_t size : {~uint64_t{0}, uint64_t{1} << 62}) {
    grpc::ClientContext ctx;
    v1::ReserveSpaceRequest req;
    req.set_path("vm1/a.img");
    req.set_size(size);
    v1::ReserveSpaceResponse resp;
    EXPECT_TRUE(bad(stub->ReserveSpace(&ctx, req, &resp))) << size;
  }
  {
    grpc::ClientContext ctx;
    v1::GetOperationRequest req;
    req.set_id(std::string(1 << 20, 'o'));
    v1::Operation resp;
    EXPECT_TRUE(bad(stub->GetOperation(&ctx, req, &resp)));
  }
  printf("hostile control requests: %d path cases refused\n", calls);

  // Nothing escaped: no new entries next to the data dir, only vm1/ (a.img,
  // link) in the datastore; the daemon is up and the store is consistent.
  auto ls = RunCommand("ls -A " + tmp);
  EXPECT_EQ(ls.output, "data\ndata.log\n");
  auto c = NfsClient::Mount((*d)->nfs_port());
  ASSERT_TRUE(c.ok()) << "vnasd down after hostile requests:\n" << (*d)->Output();
  nfsdir* dir = nullptr;
  ASSERT_EQ(nfs_opendir((*c)->ctx(), "/", &dir), 0);
  std::string names;
  while (nfsdirent* e = nfs_readdir((*c)->ctx(), dir)) names += std::string(e->name) + " ";
  nfs_closedir((*c)->ctx(), dir);
  EXPECT_EQ(names.find("vm2"), std::string::npos) << names;
  grpc::ClientContext ctx;
  v1::FsckResponse fsck;
  ASSERT_TRUE(stub->Fsck(&ctx, v1::FsckRequest(), &fsck).ok());
  EXPECT_TRUE(fsck.clean());
}

}  // namespace
}  // namespace vnas::harness
