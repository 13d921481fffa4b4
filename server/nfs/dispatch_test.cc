// dispatch_test — NFS/MOUNT/PMAP procedures through the dispatcher over a
// real ExtentStore (in-memory Env): RPC errors, exports enforcement, root
// squash, the duplicate-request cache, counters, and strict RFC 1813 points.
#include "server/nfs/dispatch.h"

#include <map>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/nfs/dispatch_test_util.h"
#include "server/nfs/mount_types.h"
#include "server/nfs/nfs3_types.h"
#include "server/nfs/rpcbind.h"

namespace vnas::nfs {
namespace {

constexpr uint32_t kLocal = 0x7f000001;     // 127.0.0.1
constexpr uint32_t kTenNet = 0x0a010203;    // 10.1.2.3
constexpr uint32_t kStranger = 0xc0a80105;  // 192.168.1.5

std::string NoAttrs() { return std::string(24, '\0'); }  // sattr3: all unset

std::string CreateArgs(const std::string& dir, const std::string& name,
                       uint32_t mode = UNCHECKED) {
  return XOpaque(dir) + XOpaque(name) + XU32(mode) + NoAttrs();
}

// The object handle out of a CREATE/MKDIR OK reply body.
std::string CreatedHandle(const Reply& r) {
  if (r.FirstWord() != NFS3_OK || r.body.size() < 12) return "";
  uint32_t len = LoadBe32(r.body.data() + 8);
  return r.body.substr(12, len);
}

// fattr3 from a GETATTR OK reply body.
fattr3 Attrs(const Reply& r) {
  fattr3 f;
  XdrDecoder d(r.body.data() + 4, r.body.size() - 4);
  Decode(d, &f);
  return f;
}

TEST(Dispatch, NullAnswersOnEveryProgram) {
  DispatchFixture f;
  for (uint32_t prog : {kNfsProgram, kMountProgram, kPmapProgram}) {
    uint32_t vers = prog == kPmapProgram ? 2 : 3;
    Reply r = f.Call(prog, vers, 0, "", 42);
    EXPECT_TRUE(r.accepted);
    EXPECT_EQ(r.stat, SUCCESS);
    EXPECT_EQ(r.xid, 42u);
    EXPECT_TRUE(r.body.empty());
  }
}

TEST(Dispatch, WriteDataOffsetFindsAWritesData) {
  // The offset WriteDataOffset gives is where WRITE3args' data begins: the
  // bytes there are the payload, for AUTH_NONE and AUTH_SYS calls alike.
  for (bool sys : {false, true}) {
    ByteBuffer b;
    XdrEncoder e(&b);
    WriteCallHeader(e, 9, kNfsProgram, 3, NFSPROC3_WRITE, sys, 1000, 1000);
    const std::string args = XOpaque(std::string(28, 'h')) + XU64(4096) + XU32(5) +
                             XU32(FILE_SYNC) + XOpaque("hello");
    const std::string record = std::string(b.view()) + args;
    const size_t at = WriteDataOffset(record);
    ASSERT_GT(at, 0u) << sys;
    EXPECT_EQ(record.substr(at, 5), "hello") << sys;
    // Any prefix that ends before the data's length word: no answer.
    EXPECT_EQ(WriteDataOffset(absl::string_view(record).substr(0, at - 1)), 0u);
    EXPECT_EQ(WriteDataOffset(absl::string_view(record).substr(0, at)), at);
  }
  // Other procedures, programs and garbage: 0.
  ByteBuffer b;
  XdrEncoder e(&b);
  WriteCallHeader(e, 9, kNfsProgram, 3, NFSPROC3_READ, true, 0, 0);
  EXPECT_EQ(WriteDataOffset(std::string(b.view()) + std::string(64, '\0')), 0u);
  EXPECT_EQ(WriteDataOffset(std::string(200, '\xff')), 0u);
  EXPECT_EQ(WriteDataOffset(""), 0u);
}

TEST(Dispatch, QuickCallsAreTheInMemoryOnes) {
  auto call = [](uint32_t prog, uint32_t vers, uint32_t proc) {
    ByteBuffer b;
    XdrEncoder e(&b);
    WriteCallHeader(e, 7, prog, vers, proc, true, 0, 0);
    return std::string(b.view());
  };
  for (uint32_t p : std::vector<uint32_t>{NFSPROC3_NULL, NFSPROC3_GETATTR,
                                          NFSPROC3_LOOKUP, NFSPROC3_ACCESS,
                                          NFSPROC3_FSSTAT, NFSPROC3_FSINFO}) {
    EXPECT_TRUE(IsQuickCall(call(kNfsProgram, 3, p))) << p;
  }
  for (uint32_t p : std::vector<uint32_t>{NFSPROC3_READ, NFSPROC3_WRITE,
                                          NFSPROC3_CREATE, NFSPROC3_COMMIT,
                                          NFSPROC3_READDIRPLUS, 99}) {
    EXPECT_FALSE(IsQuickCall(call(kNfsProgram, 3, p))) << p;
  }
  EXPECT_FALSE(IsQuickCall(call(kNfsProgram, 2, NFSPROC3_GETATTR)));
  EXPECT_FALSE(IsQuickCall(call(kMountProgram, 3, 1)));  // MNT: a worker
  EXPECT_TRUE(IsQuickCall(call(kPmapProgram, 2, 3)));
  EXPECT_FALSE(IsQuickCall(call(kNfsProgram, 3, 1).substr(0, 20)));
  std::string reply = call(kNfsProgram, 3, 1);
  reply[7] = 1;  // msg_type REPLY
  EXPECT_FALSE(IsQuickCall(reply));
}

TEST(Dispatch, PortmapperReportsTheNfsPort) {
  DispatchFixture f;
  Reply nfs = f.Call(kPmapProgram, 2, PMAPPROC_GETPORT,
                     XU32(kNfsProgram) + XU32(3) + XU32(6) + XU32(0));
  EXPECT_EQ(nfs.FirstWord(), 2049u);
  Reply mnt = f.Call(kPmapProgram, 2, PMAPPROC_GETPORT,
                     XU32(kMountProgram) + XU32(3) + XU32(6) + XU32(0));
  EXPECT_EQ(mnt.FirstWord(), 2049u);
  Reply udp = f.Call(kPmapProgram, 2, PMAPPROC_GETPORT,
                     XU32(kNfsProgram) + XU32(3) + XU32(17) + XU32(0));
  EXPECT_EQ(udp.FirstWord(), 0u);
  Reply set = f.Call(kPmapProgram, 2, PMAPPROC_SET,
                     XU32(1) + XU32(1) + XU32(6) + XU32(1));
  EXPECT_EQ(set.FirstWord(), 0u);  // false
  Reply dump = f.Call(kPmapProgram, 2, PMAPPROC_DUMP, "");
  // 100000 v2, v3, v4; NFS; MOUNT.
  EXPECT_EQ(dump.body.size(), 5 * 20u + 4);
}

// rpcbind v3/v4 (RFC 1833 §2), which IPv6 clients ask instead of PMAP2.
TEST(Dispatch, RpcbindAnswersAddressesPerNetidDumpAndTime) {
  DispatchFixture f;
  f.dispatcher().SetHosts("::", "::");  // dual-stack NFS and portmapper
  const ClientAddr loop6 = *ClientAddr::Parse("::1");
  const ClientAddr loop4 = ClientAddr::V4(0x7f000001);
  auto rpcb_args = [](uint32_t prog, uint32_t vers, const std::string& netid) {
    return XU32(prog) + XU32(vers) + XOpaque(netid) + XOpaque("") + XOpaque("");
  };
  auto addr_of = [](const Reply& r) {
    if (r.stat != SUCCESS || r.body.size() < 4) return std::string("?");
    return r.body.substr(4, LoadBe32(r.body.data()));
  };
  struct Lookup {
    ClientAddr from;
    uint32_t prog, vers;
    const char* netid;
    const char* want;
  };
  const Lookup lookups[] = {
      {loop6, kNfsProgram, 3, "tcp6", "::1.8.1"},
      {loop4, kMountProgram, 3, "tcp", "127.0.0.1.8.1"},
      {loop6, kNfsProgram, 3, "udp6", ""},
      {loop6, kPmapProgram, 2, "", "::1.0.111"},  // the caller's netid
  };
  for (uint32_t vers : {3u, 4u}) {
    SCOPED_TRACE(vers);
    for (const Lookup& l : lookups) {
      EXPECT_EQ(addr_of(f.CallFrom(l.from, kPmapProgram, vers, RPCBPROC_GETADDR,
                                   rpcb_args(l.prog, l.vers, l.netid))),
                l.want)
          << l.prog << " " << l.netid;
    }
    // Registrations are fixed.
    Reply set = f.CallFrom(loop6, kPmapProgram, vers, RPCBPROC_SET,
                           rpcb_args(400000, 1, "tcp6"));
    EXPECT_EQ(set.FirstWord(), 0u);
    Reply t = f.CallFrom(loop6, kPmapProgram, vers, RPCBPROC_GETTIME, "");
    ASSERT_EQ(t.stat, SUCCESS);
    EXPECT_NEAR(static_cast<double>(t.FirstWord()),
                static_cast<double>(absl::ToUnixSeconds(absl::Now())), 60);
    Reply dump = f.CallFrom(loop6, kPmapProgram, vers, RPCBPROC_DUMP, "");
    ASSERT_EQ(dump.stat, SUCCESS);
    EXPECT_NE(dump.body.find("::1.8.1"), std::string::npos);
    EXPECT_NE(dump.body.find("tcp6"), std::string::npos);
    // Broadcast/indirect calls and address translations are not offered.
    EXPECT_EQ(f.CallFrom(loop6, kPmapProgram, vers, RPCBPROC_CALLIT, "").stat,
              PROC_UNAVAIL);
    EXPECT_EQ(f.CallFrom(loop6, kPmapProgram, vers, RPCBPROC_TADDR2UADDR, "").stat,
              PROC_UNAVAIL);
    // Garbage arguments are GARBAGE_ARGS, not a crash.
    EXPECT_EQ(f.CallFrom(loop6, kPmapProgram, vers, RPCBPROC_GETADDR,
                         XU32(100003) + XU32(0xffffffff))
                  .stat,
              GARBAGE_ARGS);
  }
  // v4's exact-version lookup, and procedures v3 does not have.
  EXPECT_EQ(addr_of(f.CallFrom(loop6, kPmapProgram, 4, RPCBPROC_GETVERSADDR,
                               rpcb_args(kNfsProgram, 4, "tcp6"))),
            "");
  EXPECT_EQ(addr_of(f.CallFrom(loop6, kPmapProgram, 4, RPCBPROC_GETADDR,
                               rpcb_args(kNfsProgram, 4, "tcp6"))),
            "::1.8.1");
  EXPECT_EQ(f.CallFrom(loop6, kPmapProgram, 3, RPCBPROC_GETVERSADDR,
                       rpcb_args(kNfsProgram, 3, "tcp6"))
                .stat,
            PROC_UNAVAIL);
}

TEST(Dispatch, MountAcceptsSubdirectoriesAndMatchesLookup) {
  DispatchFixture f;
  std::string root = f.Mount("/vnas");
  ASSERT_FALSE(root.empty());
  Reply mk = f.Call(kNfsProgram, 3, NFSPROC3_MKDIR,
                    XOpaque(root) + XOpaque("vm1") + NoAttrs());
  ASSERT_EQ(mk.FirstWord(), NFS3_OK);
  std::string vm1 = CreatedHandle(mk);
  EXPECT_EQ(f.Mount("/vnas/vm1"), vm1);
  EXPECT_EQ(f.Mount("/vnas/vm1/"), vm1);
  Reply lk = f.Call(kNfsProgram, 3, NFSPROC3_LOOKUP,
                    XOpaque(root) + XOpaque("vm1"));
  ASSERT_EQ(lk.FirstWord(), NFS3_OK);
  EXPECT_EQ(lk.body.substr(8, LoadBe32(lk.body.data() + 4)), vm1);
  // A file is not a mount point.
  f.Call(kNfsProgram, 3, NFSPROC3_CREATE, CreateArgs(vm1, "disk"));
  Reply mf = f.Call(kMountProgram, 3, MOUNTPROC3_MNT, XOpaque("/vnas/vm1/disk"));
  EXPECT_EQ(mf.FirstWord(), MNT3ERR_NOTDIR);
  // EXPORT lists the export and its clients; DUMP the mounts.
  Reply ex = f.Call(kMountProgram, 3, MOUNTPROC3_EXPORT, "");
  EXPECT_NE(ex.body.find("/vnas"), std::string::npos);
  EXPECT_NE(ex.body.find("127.0.0.1/32"), std::string::npos);
  Reply du = f.Call(kMountProgram, 3, MOUNTPROC3_DUMP, "");
  EXPECT_NE(du.body.find("/vnas/vm1"), std::string::npos);
}

TEST(Dispatch, ExportsAreEnforcedAtMountAndOnEveryCall) {
  DispatchFixture f(
      "/vnas 127.0.0.1/32(rw,no_root_squash) 10.0.0.0/8(ro,root_squash)\n");
  std::string root = f.Mount("/vnas");
  ASSERT_FALSE(root.empty());
  // Not allowed at all.
  Reply m = f.Call(kMountProgram, 3, MOUNTPROC3_MNT, XOpaque("/vnas"), 1, 0,
                   kStranger);
  EXPECT_EQ(m.FirstWord(), MNT3ERR_ACCES);
  Reply g = f.Call(kNfsProgram, 3, NFSPROC3_GETATTR, XOpaque(root), 2, 0,
                   kStranger);
  EXPECT_EQ(g.FirstWord(), NFS3ERR_ACCES) << "a handle is no pass";
  // Read-only network: reads work, changes fail ROFS.
  EXPECT_FALSE(f.Mount("/vnas", kTenNet).empty());
  Reply gr = f.Call(kNfsProgram, 3, NFSPROC3_GETATTR, XOpaque(root), 3, 0,
                    kTenNet);
  EXPECT_EQ(gr.FirstWord(), NFS3_OK);
  Reply c = f.Call(kNfsProgram, 3, NFSPROC3_CREATE, CreateArgs(root, "x"), 4,
                   1000, kTenNet);
  EXPECT_EQ(c.FirstWord(), NFS3ERR_ROFS);
  Reply acc = f.Call(kNfsProgram, 3, NFSPROC3_ACCESS, XOpaque(root) + XU32(0x3f),
                     5, 1000, kTenNet);
  ASSERT_EQ(acc.FirstWord(), NFS3_OK);
  uint32_t granted = LoadBe32(acc.body.data() + acc.body.size() - 4);
  EXPECT_EQ(granted & (ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE), 0u);
  EXPECT_NE(granted & ACCESS3_READ, 0u);
}

TEST(Dispatch, IpV6ClientsAreCheckedAgainstIpV6Rules) {
  DispatchFixture f("/vnas ::1(rw,no_root_squash) fd00::/8(ro)\n");
  const ClientAddr loop6 = *ClientAddr::Parse("::1");
  const ClientAddr ula = *ClientAddr::Parse("fd00:5::9");
  const ClientAddr other = *ClientAddr::Parse("2001:db8::1");
  Reply m = f.CallFrom(loop6, kMountProgram, 3, MOUNTPROC3_MNT, XOpaque("/vnas"));
  ASSERT_EQ(m.FirstWord(), MNT3_OK);
  const std::string root = m.body.substr(8, LoadBe32(m.body.data() + 4));
  Reply c = f.CallFrom(loop6, kNfsProgram, 3, NFSPROC3_CREATE, CreateArgs(root, "x"), 2);
  EXPECT_EQ(c.FirstWord(), NFS3_OK);
  // The read-only network reads and may not change anything.
  EXPECT_EQ(f.CallFrom(ula, kNfsProgram, 3, NFSPROC3_GETATTR, XOpaque(root), 3)
                .FirstWord(),
            NFS3_OK);
  EXPECT_EQ(f.CallFrom(ula, kNfsProgram, 3, NFSPROC3_CREATE, CreateArgs(root, "y"), 4)
                .FirstWord(),
            NFS3ERR_ROFS);
  // Nobody else, and not IPv4 loopback either.
  EXPECT_EQ(f.CallFrom(other, kMountProgram, 3, MOUNTPROC3_MNT, XOpaque("/vnas"), 5)
                .FirstWord(),
            MNT3ERR_ACCES);
  EXPECT_EQ(f.CallFrom(other, kNfsProgram, 3, NFSPROC3_GETATTR, XOpaque(root), 6)
                .FirstWord(),
            NFS3ERR_ACCES);
  EXPECT_EQ(f.Call(kNfsProgram, 3, NFSPROC3_GETATTR, XOpaque(root), 7).FirstWord(),
            NFS3ERR_ACCES);
  // DUMP lists the IPv6 client in its text form.
  Reply d = f.CallFrom(loop6, kMountProgram, 3, MOUNTPROC3_DUMP, "", 8);
  EXPECT_NE(d.raw.find(std::string("\0\0\0\x03::1", 7)), std::string::npos);
}

TEST(Dispatch, RootSquashMapsUidZeroToNobody) {
  DispatchFixture f("/vnas 127.0.0.1/32(rw,root_squash) 10.0.0.0/8(rw,no_root_squash)\n");
  std::string root = f.Mount("/vnas");
  Reply sq = f.Call(kNfsProgram, 3, NFSPROC3_CREATE, CreateArgs(root, "sq"), 1, 0);
  ASSERT_EQ(sq.FirstWord(), NFS3_OK);
  Reply a = f.Call(kNfsProgram, 3, NFSPROC3_GETATTR, XOpaque(CreatedHandle(sq)));
  EXPECT_EQ(Attrs(a).uid, kSquashedId);
  EXPECT_EQ(Attrs(a).gid, kSquashedId);
  Reply ns = f.Call(kNfsProgram, 3, NFSPROC3_CREATE, CreateArgs(root, "ns"), 2,
                    0, kTenNet);
  ASSERT_EQ(ns.FirstWord(), NFS3_OK);
  Reply b = f.Call(kNfsProgram, 3, NFSPROC3_GETATTR, XOpaque(CreatedHandle(ns)));
  EXPECT_EQ(Attrs(b).uid, 0u);
  Reply u = f.Call(kNfsProgram, 3, NFSPROC3_CREATE, CreateArgs(root, "user"), 3,
                   1000);
  Reply c = f.Call(kNfsProgram, 3, NFSPROC3_GETATTR, XOpaque(CreatedHandle(u)));
  EXPECT_EQ(Attrs(c).uid, 1000u);
}

TEST(Dispatch, SubdirectoryExportCannotClimbOut) {
  DispatchFixture f("/vnas 127.0.0.1/32(rw)\n/vnas/vm1 10.0.0.0/8(rw)\n");
  std::string root = f.Mount("/vnas");
  f.Call(kNfsProgram, 3, NFSPROC3_MKDIR, XOpaque(root) + XOpaque("vm1") + NoAttrs());
  EXPECT_EQ(f.Call(kMountProgram, 3, MOUNTPROC3_MNT, XOpaque("/vnas"), 1, 0,
                   kTenNet).FirstWord(), MNT3ERR_ACCES);
  std::string vm1 = f.Mount("/vnas/vm1", kTenNet);
  ASSERT_FALSE(vm1.empty());
  Reply up = f.Call(kNfsProgram, 3, NFSPROC3_LOOKUP, XOpaque(vm1) + XOpaque(".."),
                    2, 0, kTenNet);
  ASSERT_EQ(up.FirstWord(), NFS3_OK);
  EXPECT_EQ(up.body.substr(8, LoadBe32(up.body.data() + 4)), vm1)
      << "'..' of an export root is the export root";
}

// The export's root directory renamed away (and replaced) while a client
// of that export holds handles below it: ".." must still stop at the
// export's edge instead of climbing into the rest of the datastore.
TEST(Dispatch, DotDotNeverLeavesAnExportWhoseRootWasRenamed) {
  DispatchFixture f("/vnas 127.0.0.1/32(rw)\n/vnas/vm1 10.0.0.0/8(rw)\n");
  std::string root = f.Mount("/vnas");
  Reply mk = f.Call(kNfsProgram, 3, NFSPROC3_MKDIR,
                    XOpaque(root) + XOpaque("vm1") + NoAttrs(), 1);
  ASSERT_EQ(mk.FirstWord(), NFS3_OK);
  std::string vm1 = f.Mount("/vnas/vm1", kTenNet);
  ASSERT_FALSE(vm1.empty());
  Reply sub = f.Call(kNfsProgram, 3, NFSPROC3_MKDIR,
                     XOpaque(vm1) + XOpaque("sub") + NoAttrs(), 2, 0, kTenNet);
  ASSERT_EQ(sub.FirstWord(), NFS3_OK);
  std::string sub_fh = CreatedHandle(sub);
  auto dotdot = [&](const std::string& dir, uint32_t xid) {
    Reply r = f.Call(kNfsProgram, 3, NFSPROC3_LOOKUP,
                     XOpaque(dir) + XOpaque(".."), xid, 0, kTenNet);
    EXPECT_EQ(r.FirstWord(), NFS3_OK);
    return r.body.substr(8, LoadBe32(r.body.data() + 4));
  };
  auto listed_dotdot = [&](const std::string& dir, uint32_t xid) {
    Reply r = f.Call(kNfsProgram, 3, NFSPROC3_READDIRPLUS,
                     XOpaque(dir) + XU64(0) + std::string(8, '\0') +
                         XU32(4096) + XU32(8192), xid, 0, kTenNet);
    EXPECT_EQ(r.FirstWord(), NFS3_OK);
    size_t at = r.body.find(XOpaque(".."));
    EXPECT_NE(at, std::string::npos);
    XdrDecoder d(r.body.data() + at - 8, r.body.size() - at + 8);
    uint64_t fileid;
    d.U64(&fileid);
    return fileid;
  };
  const uint64_t store_root = Attrs(f.Call(kNfsProgram, 3, NFSPROC3_GETATTR,
                                           XOpaque(root), 3)).fileid;
  const uint64_t vm1_id = Attrs(f.Call(kNfsProgram, 3, NFSPROC3_GETATTR,
                                       XOpaque(vm1), 4, 0, kTenNet)).fileid;
  EXPECT_EQ(dotdot(sub_fh, 5), vm1);
  ASSERT_EQ(f.Call(kNfsProgram, 3, NFSPROC3_RENAME,
                   XOpaque(root) + XOpaque("vm1") + XOpaque(root) +
                       XOpaque("old"), 6).FirstWord(),
            NFS3_OK);
  EXPECT_EQ(dotdot(vm1, 7), vm1) << "renamed export root";
  EXPECT_NE(listed_dotdot(vm1, 8), store_root);
  ASSERT_EQ(f.Call(kNfsProgram, 3, NFSPROC3_MKDIR,
                   XOpaque(root) + XOpaque("vm1") + NoAttrs(), 9).FirstWord(),
            NFS3_OK);
  EXPECT_EQ(dotdot(vm1, 10), vm1) << "export root replaced by a new vm1";
  EXPECT_EQ(listed_dotdot(vm1, 11), vm1_id);
  // The old tree is no longer below the export's path: ".." stays put.
  EXPECT_EQ(dotdot(sub_fh, 12), sub_fh);
}

// The object handle out of a LOOKUP reply ("" unless OK).
std::string LookedUp(const Reply& r) {
  if (r.FirstWord() != NFS3_OK || r.body.size() < 8) return "";
  return r.body.substr(8, LoadBe32(r.body.data() + 4));
}

// READDIRPLUS of `dir` in one reply: entry name -> handle.
std::map<std::string, std::string> ListedHandles(DispatchFixture& f,
                                                 const std::string& dir,
                                                 uint32_t xid,
                                                 uint32_t client) {
  std::map<std::string, std::string> out;
  Reply r = f.Call(kNfsProgram, 3, NFSPROC3_READDIRPLUS,
                   XOpaque(dir) + XU64(0) + std::string(8, '\0') + XU32(8192) +
                       XU32(32768),
                   xid, 0, client);
  EXPECT_EQ(r.FirstWord(), NFS3_OK);
  if (r.FirstWord() != NFS3_OK) return out;
  XdrDecoder d(r.body.data() + 4, r.body.size() - 4);
  post_op_attr dir_attrs;
  absl::string_view verf;
  EXPECT_TRUE(Decode(d, &dir_attrs) && d.Fixed(8, &verf));
  bool follows = false;
  while (d.Bool(&follows) && follows) {
    uint64_t fileid, cookie;
    absl::string_view name, fh;
    post_op_attr attrs;
    bool has_fh = false;
    if (!(d.U64(&fileid) && d.Var(255, &name) && d.U64(&cookie) &&
          Decode(d, &attrs) && d.Bool(&has_fh))) {
      ADD_FAILURE() << "bad entryplus3";
      return out;
    }
    if (has_fh && !d.Var(NFS3_FHSIZE, &fh)) {
      ADD_FAILURE() << "bad handle";
      return out;
    }
    out[std::string(name)] = std::string(fh);
  }
  bool eof = false;
  EXPECT_TRUE(d.Bool(&eof) && eof);
  return out;
}

// A nested export (/vnas/vm1, read-only) inside a read-write one (/vnas),
// both for the same client: MNT and LOOKUP (and READDIRPLUS, and the
// MKDIR that makes the nested root) give the same handles for the nested
// export's directories, so its rules apply however the client gets there.
// Before the fix, LOOKUP from /vnas handed out /vnas handles for them (rw).
TEST(Dispatch, NestedExportHandlesAreTheSameFromMntAndLookup) {
  DispatchFixture f("/vnas 127.0.0.1/32(rw,no_root_squash)\n"
                    "/vnas/vm1 127.0.0.1/32(ro,no_root_squash)\n");
  uint32_t xid = 1;
  const std::string root = f.Mount("/vnas");
  ASSERT_FALSE(root.empty());
  Reply mk = f.Call(kNfsProgram, 3, NFSPROC3_MKDIR,
                    XOpaque(root) + XOpaque("vm1") + NoAttrs(), ++xid);
  ASSERT_EQ(mk.FirstWord(), NFS3_OK);
  const std::string vm1 = f.Mount("/vnas/vm1");
  ASSERT_FALSE(vm1.empty());
  EXPECT_EQ(CreatedHandle(mk), vm1) << "MKDIR of the nested export's root";
  // Below the nested root (made in the store: the export is ro).
  const uint64_t vm1_ino = f.codec().Decode(vm1)->ino;
  ASSERT_TRUE(f.store()->Mkdir(vm1_ino, "sub", 0755, 0, 0).ok());
  ASSERT_TRUE(f.store()->Mkdir(storage::kRootInode, "other", 0755, 0, 0).ok());
  const std::string sub = f.Mount("/vnas/vm1/sub");
  ASSERT_FALSE(sub.empty());
  auto lookup = [&](const std::string& dir, const std::string& name) {
    return LookedUp(f.Call(kNfsProgram, 3, NFSPROC3_LOOKUP,
                           XOpaque(dir) + XOpaque(name), ++xid));
  };
  EXPECT_EQ(lookup(root, "vm1"), vm1);
  EXPECT_EQ(lookup(vm1, "sub"), sub);
  EXPECT_EQ(lookup(lookup(root, "vm1"), "sub"), sub);
  EXPECT_EQ(lookup(vm1, "."), vm1);
  EXPECT_EQ(f.Mount("/vnas/vm1/sub/../../vm1"), vm1);
  EXPECT_EQ(ListedHandles(f, root, ++xid, kLocal)["vm1"], vm1);
  EXPECT_EQ(ListedHandles(f, vm1, ++xid, kLocal)["sub"], sub);
  EXPECT_EQ(ListedHandles(f, vm1, ++xid, kLocal)["."], vm1);
  // The nested export is read-only however it was reached; the rest of
  // /vnas stays read-write.
  for (const std::string& dir : {lookup(root, "vm1"), lookup(vm1, "sub"),
                                 ListedHandles(f, root, ++xid, kLocal)["vm1"]}) {
    EXPECT_EQ(f.Call(kNfsProgram, 3, NFSPROC3_CREATE, CreateArgs(dir, "x"),
                     ++xid).FirstWord(),
              NFS3ERR_ROFS);
  }
  const std::string other = lookup(root, "other");
  EXPECT_EQ(other, f.Mount("/vnas/other"));
  EXPECT_EQ(f.Call(kNfsProgram, 3, NFSPROC3_CREATE, CreateArgs(other, "x"),
                   ++xid).FirstWord(),
            NFS3_OK);
}

// ".." out of a nested export's root leads into the export around it when
// the client has that one too (the handle MNT of the parent path gives),
// and stays at the nested root when it does not.
TEST(Dispatch, DotDotOutOfANestedExportRoot) {
  DispatchFixture f("/vnas 127.0.0.1/32(rw,no_root_squash)\n"
                    "/vnas/vm1 127.0.0.1/32(ro,no_root_squash) "
                    "10.0.0.0/8(rw,no_root_squash)\n");
  uint32_t xid = 1;
  const std::string root = f.Mount("/vnas");
  ASSERT_TRUE(f.store()->Mkdir(storage::kRootInode, "vm1", 0755, 0, 0).ok());
  const std::string vm1 = f.Mount("/vnas/vm1");
  ASSERT_FALSE(vm1.empty());
  auto dotdot = [&](const std::string& dir, uint32_t client) {
    return LookedUp(f.Call(kNfsProgram, 3, NFSPROC3_LOOKUP,
                           XOpaque(dir) + XOpaque(".."), ++xid, 0, client));
  };
  EXPECT_EQ(dotdot(vm1, kLocal), root);
  EXPECT_EQ(f.Mount("/vnas/vm1/.."), root);
  EXPECT_EQ(ListedHandles(f, vm1, ++xid, kLocal)[".."], root);
  // What ".." gave is the outer export's, read-write.
  EXPECT_EQ(f.Call(kNfsProgram, 3, NFSPROC3_CREATE,
                   CreateArgs(dotdot(vm1, kLocal), "y"), ++xid).FirstWord(),
            NFS3_OK);
  // A client of the nested export only: ".." of its root is its root.
  const std::string vm1_ten = f.Mount("/vnas/vm1", kTenNet);
  ASSERT_EQ(vm1_ten, vm1) << "handles do not depend on the client";
  EXPECT_EQ(dotdot(vm1, kTenNet), vm1);
  EXPECT_EQ(ListedHandles(f, vm1, ++xid, kTenNet)[".."], vm1);
  EXPECT_EQ(f.Call(kMountProgram, 3, MOUNTPROC3_MNT, XOpaque("/vnas/vm1/.."),
                   ++xid, 0, kTenNet).FirstWord(),
            MNT3ERR_ACCES);
}

// A nested export a client is not listed in is, to that client, a plain
// directory of the export around it: MNT of it gives the outer export's
// handle (before the fix: ACCES, although LOOKUP reached it), the same
// LOOKUP gives; a client the nested export lists gets the nested one.
TEST(Dispatch, NestedExportOfAnotherClientIsAPlainDirectory) {
  DispatchFixture f("/vnas 127.0.0.1/32(rw,no_root_squash)\n"
                    "/vnas/vm1 10.0.0.0/8(ro,no_root_squash)\n");
  uint32_t xid = 1;
  const std::string root = f.Mount("/vnas");
  ASSERT_TRUE(f.store()->Mkdir(storage::kRootInode, "vm1", 0755, 0, 0).ok());
  const std::string looked_up = LookedUp(f.Call(
      kNfsProgram, 3, NFSPROC3_LOOKUP, XOpaque(root) + XOpaque("vm1"), ++xid));
  ASSERT_FALSE(looked_up.empty());
  EXPECT_EQ(f.Mount("/vnas/vm1"), looked_up);
  EXPECT_EQ(f.codec().Decode(looked_up)->export_index, 0u);
  EXPECT_EQ(f.Call(kNfsProgram, 3, NFSPROC3_CREATE,
                   CreateArgs(looked_up, "z"), ++xid).FirstWord(),
            NFS3_OK);
  const std::string ten = f.Mount("/vnas/vm1", kTenNet);
  ASSERT_FALSE(ten.empty());
  EXPECT_EQ(f.codec().Decode(ten)->export_index, 1u);
  EXPECT_EQ(f.Call(kNfsProgram, 3, NFSPROC3_CREATE, CreateArgs(ten, "w"),
                   ++xid, 0, kTenNet).FirstWord(),
            NFS3ERR_ROFS);
}

TEST(Dispatch, DuplicateRequestCacheReplaysNonIdempotentCalls) {
  DispatchFixture f;
  std::string root = f.Mount("/vnas");
  Reply first = f.Call(kNfsProgram, 3, NFSPROC3_CREATE,
                       CreateArgs(root, "dup", GUARDED), 777);
  ASSERT_EQ(first.FirstWord(), NFS3_OK);
  Reply again = f.Call(kNfsProgram, 3, NFSPROC3_CREATE,
                       CreateArgs(root, "dup", GUARDED), 777);
  EXPECT_EQ(again.FirstWord(), NFS3_OK) << "a retransmit must not see EXIST";
  EXPECT_EQ(again.raw, first.raw);
  EXPECT_EQ(f.stats().drc_hits(), 1u);
  Reply other = f.Call(kNfsProgram, 3, NFSPROC3_CREATE,
                       CreateArgs(root, "dup", GUARDED), 778);
  EXPECT_EQ(other.FirstWord(), NFS3ERR_EXIST) << "a new xid is a new call";
  Reply rm1 = f.Call(kNfsProgram, 3, NFSPROC3_REMOVE,
                     XOpaque(root) + XOpaque("dup"), 900);
  Reply rm2 = f.Call(kNfsProgram, 3, NFSPROC3_REMOVE,
                     XOpaque(root) + XOpaque("dup"), 900);
  EXPECT_EQ(rm1.FirstWord(), NFS3_OK);
  EXPECT_EQ(rm2.FirstWord(), NFS3_OK) << "a retransmit must not see NOENT";
}

TEST(Dispatch, CountersPerProcedure) {
  DispatchFixture f;
  std::string root = f.Mount("/vnas");
  for (int i = 0; i < 3; ++i) {
    f.Call(kNfsProgram, 3, NFSPROC3_GETATTR, XOpaque(root), 10 + i);
  }
  f.Call(kNfsProgram, 3, NFSPROC3_LOOKUP, XOpaque(root) + XOpaque("nope"), 20);
  bool seen_getattr = false, seen_lookup = false;
  for (const ProcStats& p : f.stats().Snapshot()) {
    if (p.name == "NFS3.GETATTR") {
      seen_getattr = true;
      EXPECT_EQ(p.calls, 3u);
      EXPECT_EQ(p.errors, 0u);
      EXPECT_GE(p.total_latency_us, p.max_latency_us);
    }
    if (p.name == "NFS3.LOOKUP") {
      seen_lookup = true;
      EXPECT_EQ(p.calls, 1u);
      EXPECT_EQ(p.errors, 1u);
    }
  }
  EXPECT_TRUE(seen_getattr);
  EXPECT_TRUE(seen_lookup);
  EXPECT_EQ(f.stats().Snapshot().size(), 22u + 6 + 5 + 9 + 13);  // + RPCB3, RPCB4
}

TEST(Dispatch, ReadSetsEofWheneverTheReadReachesTheEnd) {
  DispatchFixture f;
  std::string root = f.Mount("/vnas");
  std::string fh = CreatedHandle(
      f.Call(kNfsProgram, 3, NFSPROC3_CREATE, CreateArgs(root, "f"), 1));
  Reply w = f.Call(kNfsProgram, 3, NFSPROC3_WRITE,
                   XOpaque(fh) + XU64(0) + XU32(10) + XU32(FILE_SYNC) +
                       XOpaque("0123456789"),
                   2);
  ASSERT_EQ(w.FirstWord(), NFS3_OK);
  struct Case {
    uint64_t off;
    uint32_t count;
    uint32_t want_count;
    bool want_eof;
    const char* want;
  } cases[] = {{0, 5, 5, false, "01234"},
               {0, 10, 10, true, "0123456789"},
               {5, 100, 5, true, "56789"},
               {10, 4, 0, true, ""},
               {50, 4, 0, true, ""}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.off);
    Reply r = f.Call(kNfsProgram, 3, NFSPROC3_READ,
                     XOpaque(fh) + XU64(c.off) + XU32(c.count), 3);
    ASSERT_EQ(r.FirstWord(), NFS3_OK);
    size_t p = 4 + kPostOpAttrSize;
    EXPECT_EQ(LoadBe32(r.body.data() + p), c.want_count);
    EXPECT_EQ(LoadBe32(r.body.data() + p + 4), c.want_eof ? 1u : 0u);
    EXPECT_EQ(r.body.substr(p + 12, c.want_count), c.want);
  }
}

// The transport's I/O thread offers READs to TryHandle: data in memory is
// answered there exactly as Handle would; data that is not (cold_reads) is
// declined with nothing sent or counted, and a worker's Handle answers it.
TEST(Dispatch, TryHandleAnswersReadsFromMemoryAndDeclinesTheRest) {
  for (bool cold : {false, true}) {
    SCOPED_TRACE(cold ? "cold" : "in memory");
    DispatchFixture f("/vnas 127.0.0.1/32(rw,no_root_squash)\n", 256 << 20,
                      cold);
    std::string root = f.Mount("/vnas");
    std::string fh = CreatedHandle(
        f.Call(kNfsProgram, 3, NFSPROC3_CREATE, CreateArgs(root, "f"), 1));
    const std::string data(100000, 'd');
    ASSERT_EQ(f.Call(kNfsProgram, 3, NFSPROC3_WRITE,
                     XOpaque(fh) + XU64(0) + XU32(data.size()) +
                         XU32(FILE_SYNC) + XOpaque(data),
                     2)
                  .FirstWord(),
              NFS3_OK);
    const std::string args = XOpaque(fh) + XU64(4096) + XU32(65536);
    bool answered = false;
    Reply inline_reply = f.TryCall(NFSPROC3_READ, args, &answered);
    auto read_calls = [&] {
      for (const ProcStats& p : f.stats().Snapshot()) {
        if (p.name == "NFS3.READ") return p.calls;
      }
      return uint64_t{0};
    };
    Reply worker_reply = f.Call(kNfsProgram, 3, NFSPROC3_READ, args, 7);
    ASSERT_EQ(worker_reply.FirstWord(), NFS3_OK);
    if (cold) {
      EXPECT_FALSE(answered);
      EXPECT_TRUE(inline_reply.dropped);
      EXPECT_EQ(read_calls(), 1u) << "only the worker's READ counts";
    } else {
      EXPECT_TRUE(answered);
      EXPECT_EQ(inline_reply.raw, worker_reply.raw);
      EXPECT_EQ(read_calls(), 2u);
    }
    // Calls other than READ are never declined (nothing in them waits on
    // the device), so the transport may offer any of them.
    Reply getattr = f.TryCall(NFSPROC3_GETATTR, XOpaque(fh), &answered);
    EXPECT_TRUE(answered);
    EXPECT_EQ(getattr.FirstWord(), NFS3_OK);
  }
}

TEST(Dispatch, SetattrGuardMismatchIsNotSync) {
  DispatchFixture f;
  std::string root = f.Mount("/vnas");
  std::string fh = CreatedHandle(
      f.Call(kNfsProgram, 3, NFSPROC3_CREATE, CreateArgs(root, "g"), 1));
  fattr3 a = Attrs(f.Call(kNfsProgram, 3, NFSPROC3_GETATTR, XOpaque(fh)));
  std::string set_mode = XU32(1) + XU32(0600) + std::string(20, '\0');
  Reply bad = f.Call(kNfsProgram, 3, NFSPROC3_SETATTR,
                     XOpaque(fh) + set_mode + XU32(1) +
                         XU32(a.ctime.seconds + 1) + XU32(a.ctime.nseconds),
                     2);
  EXPECT_EQ(bad.FirstWord(), NFS3ERR_NOT_SYNC);
  EXPECT_EQ(Attrs(f.Call(kNfsProgram, 3, NFSPROC3_GETATTR, XOpaque(fh))).mode,
            a.mode) << "nothing may change on NOT_SYNC";
  Reply good = f.Call(kNfsProgram, 3, NFSPROC3_SETATTR,
                      XOpaque(fh) + set_mode + XU32(1) +
                          XU32(a.ctime.seconds) + XU32(a.ctime.nseconds),
                      3);
  EXPECT_EQ(good.FirstWord(), NFS3_OK);
  EXPECT_EQ(Attrs(f.Call(kNfsProgram, 3, NFSPROC3_GETATTR, XOpaque(fh))).mode,
            0600u);
}

TEST(Dispatch, ExclusiveCreateRetriesWithTheSameVerifierSucceed) {
  DispatchFixture f;
  std::string root = f.Mount("/vnas");
  auto excl = [&](const std::string& verf, uint32_t xid) {
    return f.Call(kNfsProgram, 3, NFSPROC3_CREATE,
                  XOpaque(root) + XOpaque("x") + XU32(EXCLUSIVE) + verf, xid);
  };
  Reply a = excl("verf0001", 1);
  ASSERT_EQ(a.FirstWord(), NFS3_OK);
  Reply b = excl("verf0001", 2);  // new xid: not the DRC, the verifier
  EXPECT_EQ(b.FirstWord(), NFS3_OK);
  EXPECT_EQ(CreatedHandle(a), CreatedHandle(b));
  Reply c = excl("verf0002", 3);
  EXPECT_EQ(c.FirstWord(), NFS3ERR_EXIST);
}

TEST(Dispatch, WccDataAndStableFileids) {
  DispatchFixture f;
  std::string root = f.Mount("/vnas");
  Reply c = f.Call(kNfsProgram, 3, NFSPROC3_CREATE, CreateArgs(root, "w"), 1);
  std::string fh = CreatedHandle(c);
  Reply w = f.Call(kNfsProgram, 3, NFSPROC3_WRITE,
                   XOpaque(fh) + XU64(100) + XU32(4) + XU32(UNSTABLE) +
                       XOpaque("abcd"),
                   2);
  ASSERT_EQ(w.FirstWord(), NFS3_OK);
  XdrDecoder d(w.body.data() + 4, w.body.size() - 4);
  bool before_follows;
  uint64_t before_size;
  ASSERT_TRUE(d.Bool(&before_follows) && d.U64(&before_size));
  EXPECT_TRUE(before_follows);
  EXPECT_EQ(before_size, 0u);
  uint32_t skip;
  for (int i = 0; i < 4; ++i) d.U32(&skip);
  post_op_attr after;
  ASSERT_TRUE(Decode(d, &after));
  EXPECT_TRUE(after.attributes_follow);
  EXPECT_EQ(after.attributes.size, 104u);
  EXPECT_EQ(after.attributes.fsid, f.store()->store_id());
  uint32_t count, committed;
  ASSERT_TRUE(d.U32(&count) && d.U32(&committed));
  EXPECT_EQ(count, 4u);
  absl::string_view verf;
  ASSERT_TRUE(d.Fixed(8, &verf));
  uint64_t v = 0;
  for (char ch : verf) v = (v << 8) | static_cast<uint8_t>(ch);
  EXPECT_EQ(v, f.store()->write_verifier());
  // Rename keeps the fileid.
  uint64_t id = after.attributes.fileid;
  Reply rn = f.Call(kNfsProgram, 3, NFSPROC3_RENAME,
                    XOpaque(root) + XOpaque("w") + XOpaque(root) + XOpaque("w2"), 3);
  ASSERT_EQ(rn.FirstWord(), NFS3_OK);
  Reply lk = f.Call(kNfsProgram, 3, NFSPROC3_LOOKUP, XOpaque(root) + XOpaque("w2"));
  ASSERT_EQ(lk.FirstWord(), NFS3_OK);
  EXPECT_EQ(lk.body.substr(8, LoadBe32(lk.body.data() + 4)), fh);
  XdrDecoder ld(lk.body.data() + 8 + fh.size(), lk.body.size() - 8 - fh.size());
  post_op_attr obj;
  ASSERT_TRUE(Decode(ld, &obj));
  EXPECT_EQ(obj.attributes.fileid, id);
}

TEST(Dispatch, ReaddirPagesWithStableCookies) {
  DispatchFixture f;
  std::string root = f.Mount("/vnas");
  for (int i = 0; i < 50; ++i) {
    f.Call(kNfsProgram, 3, NFSPROC3_CREATE,
           CreateArgs(root, "entry-" + std::to_string(i)), 100 + i);
  }
  std::set<std::string> names;
  uint64_t cookie = 0;
  std::string verf(8, '\0');
  bool eof = false;
  int rounds = 0;
  while (!eof && rounds++ < 100) {
    Reply r = f.Call(kNfsProgram, 3, NFSPROC3_READDIR,
                     XOpaque(root) + XU64(cookie) + verf + XU32(512), 500 + rounds);
    ASSERT_EQ(r.FirstWord(), NFS3_OK);
    ASSERT_LE(r.body.size(), 512u);
    XdrDecoder d(r.body.data() + 4, r.body.size() - 4);
    post_op_attr dir;
    ASSERT_TRUE(Decode(d, &dir));
    absl::string_view v;
    ASSERT_TRUE(d.Fixed(8, &v));
    verf = std::string(v);
    bool follows;
    while (d.Bool(&follows) && follows) {
      uint64_t fileid;
      absl::string_view name;
      ASSERT_TRUE(d.U64(&fileid) && d.Var(255, &name) && d.U64(&cookie));
      EXPECT_TRUE(names.insert(std::string(name)).second);
    }
    ASSERT_TRUE(d.Bool(&eof));
  }
  EXPECT_EQ(names.size(), 52u);  // 50 files, ".", ".."
  EXPECT_EQ(names.count("."), 1u);
  EXPECT_EQ(names.count(".."), 1u);
  EXPECT_GT(rounds, 2) << "512-byte pages must take several calls";
}

TEST(Dispatch, FullStoreAnswersNoSpace) {
  DispatchFixture f("/vnas 127.0.0.1/32(rw,no_root_squash)\n", 1 << 20);
  std::string root = f.Mount("/vnas");
  std::string fh = CreatedHandle(
      f.Call(kNfsProgram, 3, NFSPROC3_CREATE, CreateArgs(root, "big"), 1));
  ASSERT_FALSE(fh.empty());
  std::string chunk(256 << 10, 'n');
  uint32_t status = NFS3_OK;
  for (int i = 0; i < 16 && status == NFS3_OK; ++i) {
    Reply w = f.Call(kNfsProgram, 3, NFSPROC3_WRITE,
                     XOpaque(fh) + XU64(uint64_t(i) * chunk.size()) +
                         XU32(static_cast<uint32_t>(chunk.size())) +
                         XU32(FILE_SYNC) + XOpaque(chunk),
                     100 + i);
    status = w.FirstWord();
  }
  EXPECT_EQ(status, NFS3ERR_NOSPC);
}

}  // namespace
}  // namespace vnas::nfs
