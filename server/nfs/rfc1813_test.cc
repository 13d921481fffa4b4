// rfc1813_test — RFC 1813 conformance of the NFSv3 and MOUNT3 handlers as a
// strict client sees them, through the dispatcher over a real ExtentStore
// (in-memory Env): wcc_data and post_op_attr on success and failure, name
// rules, type errors, READDIR(PLUS) size limits, SETATTR time semantics,
// FSINFO/PATHCONF, MKNOD, and MOUNT3 errors and bookkeeping.
#include <array>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "server/nfs/dispatch_test_util.h"
#include "server/nfs/fh.h"
#include "server/nfs/mount_types.h"
#include "server/nfs/nfs3_types.h"

namespace vnas::nfs {
namespace {

std::string NoAttrs() { return std::string(24, '\0'); }  // sattr3: all unset

// Client-side view of wcc_data (§2.6).
struct Wcc {
  bool before = false;
  wcc_attr pre;
  post_op_attr after;
};

bool DecodeWcc(XdrDecoder& d, Wcc* w) {
  if (!d.Bool(&w->before)) return false;
  if (w->before &&
      !(d.U64(&w->pre.size) && d.U32(&w->pre.mtime.seconds) &&
        d.U32(&w->pre.mtime.nseconds) && d.U32(&w->pre.ctime.seconds) &&
        d.U32(&w->pre.ctime.nseconds))) {
    return false;
  }
  return Decode(d, &w->after);
}

bool SameTime(const nfstime3& a, const nfstime3& b) {
  return a.seconds == b.seconds && a.nseconds == b.nseconds;
}

// sattr3 (§2.5) with the chosen fields set; client times are fixed values.
struct Sattr {
  static constexpr uint32_t kClientAtime = 1111111111;
  static constexpr uint32_t kClientMtime = 1222222222;
  int64_t mode = -1, uid = -1, gid = -1, size = -1;
  time_how atime = DONT_CHANGE, mtime = DONT_CHANGE;
  uint32_t nseconds = 0;  // of both client times
  std::string Encode() const {
    std::string s;
    for (int64_t v : {mode, uid, gid}) {
      s += v < 0 ? XU32(0) : XU32(1) + XU32(static_cast<uint32_t>(v));
    }
    s += size < 0 ? XU32(0) : XU32(1) + XU64(static_cast<uint64_t>(size));
    s += XU32(atime);
    if (atime == SET_TO_CLIENT_TIME) s += XU32(kClientAtime) + XU32(nseconds);
    s += XU32(mtime);
    if (mtime == SET_TO_CLIENT_TIME) s += XU32(kClientMtime) + XU32(nseconds);
    return s;
  }
};

class Rfc1813Test : public ::testing::Test {
 protected:
  Rfc1813Test() { root_ = f_.Mount("/vnas"); }

  // A new xid for every call: the duplicate-request cache never answers.
  Reply Nfs(uint32_t proc, const std::string& args) {
    return f_.Call(kNfsProgram, 3, proc, args, ++xid_);
  }
  Reply Mnt(uint32_t proc, const std::string& args) {
    return f_.Call(kMountProgram, 3, proc, args, ++xid_);
  }

  // CREATE/MKDIR/SYMLINK/MKNOD reply: handle (when OK) and dir_wcc.
  struct Created {
    uint32_t status = 0;
    std::string fh;
    post_op_attr attrs;
    Wcc dir;
  };
  static Created ParseCreated(const Reply& r) {
    Created c;
    c.status = r.FirstWord();
    XdrDecoder d(r.body.data() + 4, r.body.size() - 4);
    if (c.status == NFS3_OK) {
      bool follows = false;
      absl::string_view fh;
      EXPECT_TRUE(d.Bool(&follows));
      if (follows) {
        EXPECT_TRUE(d.Var(NFS3_FHSIZE, &fh));
        c.fh = std::string(fh);
      }
      EXPECT_TRUE(Decode(d, &c.attrs));
    }
    EXPECT_TRUE(DecodeWcc(d, &c.dir));
    EXPECT_TRUE(d.done()) << "trailing bytes";
    return c;
  }

  Created Create(const std::string& dir, const std::string& name,
                 uint32_t how = GUARDED, const std::string& attrs = NoAttrs()) {
    return ParseCreated(
        Nfs(NFSPROC3_CREATE, XOpaque(dir) + XOpaque(name) + XU32(how) + attrs));
  }
  Created Mkdir(const std::string& dir, const std::string& name) {
    return ParseCreated(
        Nfs(NFSPROC3_MKDIR, XOpaque(dir) + XOpaque(name) + NoAttrs()));
  }
  // SETATTR without a guard.
  Reply Setattr(const std::string& fh, const Sattr& attrs) {
    return Nfs(NFSPROC3_SETATTR, XOpaque(fh) + attrs.Encode() + XU32(0));
  }
  fattr3 Getattr(const std::string& fh) {
    Reply r = Nfs(NFSPROC3_GETATTR, XOpaque(fh));
    EXPECT_EQ(r.FirstWord(), NFS3_OK);
    fattr3 a;
    XdrDecoder d(r.body.data() + 4, r.body.size() - 4);
    EXPECT_TRUE(Decode(d, &a));
    return a;
  }
  // REMOVE/RMDIR reply: status and dir_wcc.
  std::pair<uint32_t, Wcc> RemoveLike(uint32_t proc, const std::string& dir,
                                      const std::string& name) {
    Reply r = Nfs(proc, XOpaque(dir) + XOpaque(name));
    Wcc w;
    XdrDecoder d(r.body.data() + 4, r.body.size() - 4);
    EXPECT_TRUE(DecodeWcc(d, &w));
    EXPECT_TRUE(d.done());
    return {r.FirstWord(), w};
  }
  uint32_t Rename(const std::string& from_dir, const std::string& from,
                  const std::string& to_dir, const std::string& to,
                  Wcc* from_wcc = nullptr, Wcc* to_wcc = nullptr) {
    Reply r = Nfs(NFSPROC3_RENAME, XOpaque(from_dir) + XOpaque(from) +
                                       XOpaque(to_dir) + XOpaque(to));
    Wcc a, b;
    XdrDecoder d(r.body.data() + 4, r.body.size() - 4);
    EXPECT_TRUE(DecodeWcc(d, &a) && DecodeWcc(d, &b));
    EXPECT_TRUE(d.done());
    if (from_wcc) *from_wcc = a;
    if (to_wcc) *to_wcc = b;
    return r.FirstWord();
  }

  DispatchFixture f_;
  std::string root_;
  uint32_t xid_ = 1000;
};

TEST_F(Rfc1813Test, LookupFailureCarriesDirectoryAttributes) {
  Reply r = Nfs(NFSPROC3_LOOKUP, XOpaque(root_) + XOpaque("missing"));
  EXPECT_EQ(r.FirstWord(), NFS3ERR_NOENT);
  XdrDecoder d(r.body.data() + 4, r.body.size() - 4);
  post_op_attr dir;
  ASSERT_TRUE(Decode(d, &dir));
  EXPECT_TRUE(dir.attributes_follow);
  EXPECT_EQ(dir.attributes.type, NF3DIR);
  EXPECT_TRUE(d.done());
}

TEST_F(Rfc1813Test, FailedChangesStillReturnDirectoryWcc) {
  ASSERT_EQ(Create(root_, "f").status, NFS3_OK);
  Created again = Create(root_, "f", GUARDED);
  EXPECT_EQ(again.status, NFS3ERR_EXIST);
  EXPECT_TRUE(again.dir.after.attributes_follow);
  auto rm = RemoveLike(NFSPROC3_REMOVE, root_, "nope");
  EXPECT_EQ(rm.first, NFS3ERR_NOENT);
  EXPECT_TRUE(rm.second.after.attributes_follow);
  auto rd = RemoveLike(NFSPROC3_RMDIR, root_, "f");
  EXPECT_EQ(rd.first, NFS3ERR_NOTDIR);
  EXPECT_TRUE(rd.second.after.attributes_follow);
}

TEST_F(Rfc1813Test, SuccessfulChangesReturnBeforeAndAfter) {
  fattr3 dir0 = Getattr(root_);
  Created c = Create(root_, "a");
  ASSERT_EQ(c.status, NFS3_OK);
  ASSERT_TRUE(c.dir.before);
  EXPECT_TRUE(SameTime(c.dir.pre.mtime, dir0.mtime));
  EXPECT_TRUE(SameTime(c.dir.pre.ctime, dir0.ctime));
  EXPECT_EQ(c.dir.pre.size, dir0.size);
  ASSERT_TRUE(c.dir.after.attributes_follow);
  fattr3 dir1 = Getattr(root_);
  EXPECT_TRUE(SameTime(c.dir.after.attributes.mtime, dir1.mtime));
  EXPECT_EQ(c.attrs.attributes.fileid, Getattr(c.fh).fileid);
}


TEST_F(Rfc1813Test, FailuresCarryTheAttributesTheRfcLists) {
  Created f = Create(root_, "f");
  Created d = Mkdir(root_, "d");
  ASSERT_EQ(Mkdir(d.fh, "x").status, NFS3_OK);
  // RENAME: both wcc_data on failure.
  Wcc from, to;
  EXPECT_EQ(Rename(root_, "f", root_, "d", &from, &to), NFS3ERR_ISDIR);
  EXPECT_TRUE(from.after.attributes_follow);
  EXPECT_TRUE(to.after.attributes_follow);
  // LINK: file attributes and the directory's wcc_data.
  Reply ln = Nfs(NFSPROC3_LINK, XOpaque(f.fh) + XOpaque(root_) + XOpaque("d"));
  EXPECT_EQ(ln.FirstWord(), NFS3ERR_EXIST);
  XdrDecoder ld(ln.body.data() + 4, ln.body.size() - 4);
  post_op_attr file;
  Wcc dir;
  ASSERT_TRUE(Decode(ld, &file) && DecodeWcc(ld, &dir));
  EXPECT_TRUE(file.attributes_follow);
  EXPECT_EQ(file.attributes.fileid, Getattr(f.fh).fileid);
  EXPECT_TRUE(dir.after.attributes_follow);
  // WRITE to a directory: ISDIR with the object's attributes.
  Reply w = Nfs(NFSPROC3_WRITE, XOpaque(d.fh) + XU64(0) + XU32(1) +
                                    XU32(FILE_SYNC) + XOpaque("x"));
  EXPECT_EQ(w.FirstWord(), NFS3ERR_ISDIR);
  XdrDecoder wd(w.body.data() + 4, w.body.size() - 4);
  Wcc ww;
  ASSERT_TRUE(DecodeWcc(wd, &ww));
  EXPECT_TRUE(ww.after.attributes_follow);
  EXPECT_TRUE(wd.done());
  // READ of a directory: ISDIR with post_op_attr.
  Reply r = Nfs(NFSPROC3_READ, XOpaque(d.fh) + XU64(0) + XU32(1));
  EXPECT_EQ(r.FirstWord(), NFS3ERR_ISDIR);
  XdrDecoder rd(r.body.data() + 4, r.body.size() - 4);
  post_op_attr ra;
  ASSERT_TRUE(Decode(rd, &ra));
  EXPECT_TRUE(ra.attributes_follow);
  EXPECT_TRUE(rd.done());
  // RMDIR of a non-empty directory.
  auto rm = RemoveLike(NFSPROC3_RMDIR, root_, "d");
  EXPECT_EQ(rm.first, NFS3ERR_NOTEMPTY);
  EXPECT_TRUE(rm.second.after.attributes_follow);
}

TEST_F(Rfc1813Test, UncheckedCreateOfAnExistingFileOnlyAppliesTheSize) {
  Sattr mode644;
  mode644.mode = 0644;
  Created f = Create(root_, "f", GUARDED, mode644.Encode());
  ASSERT_EQ(f.status, NFS3_OK);
  Reply w = Nfs(NFSPROC3_WRITE, XOpaque(f.fh) + XU64(0) + XU32(5) +
                                    XU32(FILE_SYNC) + XOpaque("hello"));
  ASSERT_EQ(w.FirstWord(), NFS3_OK);
  const fattr3 before = Getattr(f.fh);
  // What a client's open(O_CREAT) racing another creator sends: UNCHECKED
  // with its own mode (and here times and an owner as well).
  Sattr other;
  other.mode = 0600;
  other.uid = 4242;
  other.atime = other.mtime = SET_TO_CLIENT_TIME;
  Created again = Create(root_, "f", UNCHECKED, other.Encode());
  ASSERT_EQ(again.status, NFS3_OK);
  EXPECT_EQ(again.fh, f.fh);
  fattr3 now = Getattr(f.fh);
  EXPECT_EQ(now.mode, 0644u) << "open(O_CREAT) must not chmod an existing file";
  EXPECT_EQ(now.uid, before.uid);
  EXPECT_TRUE(SameTime(now.mtime, before.mtime));
  EXPECT_TRUE(SameTime(now.atime, before.atime));
  EXPECT_EQ(now.size, 5u);
  EXPECT_EQ(again.attrs.attributes.mode, 0644u);
  // The size (O_TRUNC) is applied.
  Sattr trunc;
  trunc.size = 0;
  ASSERT_EQ(Create(root_, "f", UNCHECKED, trunc.Encode()).status, NFS3_OK);
  EXPECT_EQ(Getattr(f.fh).size, 0u);
  EXPECT_EQ(Getattr(f.fh).mode, 0644u);
  // A new file gets every attribute asked for.
  Created n = Create(root_, "new", UNCHECKED, other.Encode());
  ASSERT_EQ(n.status, NFS3_OK);
  fattr3 na = Getattr(n.fh);
  EXPECT_EQ(na.mode, 0600u);
  EXPECT_EQ(na.uid, 4242u);
  EXPECT_EQ(na.mtime.seconds, Sattr::kClientMtime);
  EXPECT_EQ(na.atime.seconds, Sattr::kClientAtime);
}

TEST_F(Rfc1813Test, CreateUncheckedWithTheSameSizeStillUpdatesMtime) {
  // open(O_CREAT|O_TRUNC) of an empty file that exists: a CREATE UNCHECKED
  // with size 0; mtime and ctime move though the size does not.
  Created f = Create(root_, "f");
  ASSERT_EQ(f.status, NFS3_OK);
  Sattr old;
  old.mtime = SET_TO_CLIENT_TIME;  // long ago
  ASSERT_EQ(Setattr(f.fh, old).FirstWord(), NFS3_OK);
  const fattr3 before = Getattr(f.fh);
  ASSERT_EQ(before.mtime.seconds, Sattr::kClientMtime);
  ASSERT_EQ(before.size, 0u);
  Sattr trunc;
  trunc.size = 0;
  Created again = Create(root_, "f", UNCHECKED, trunc.Encode());
  ASSERT_EQ(again.status, NFS3_OK);
  EXPECT_EQ(again.fh, f.fh);
  const fattr3 now = Getattr(f.fh);
  EXPECT_EQ(now.size, 0u);
  EXPECT_GT(now.mtime.seconds, Sattr::kClientMtime);
  EXPECT_FALSE(SameTime(now.ctime, before.ctime));
  // Without a size, nothing moves.
  const fattr3 settled = Getattr(f.fh);
  ASSERT_EQ(Create(root_, "f", UNCHECKED, Sattr().Encode()).status, NFS3_OK);
  EXPECT_TRUE(SameTime(Getattr(f.fh).mtime, settled.mtime));
  EXPECT_TRUE(SameTime(Getattr(f.fh).ctime, settled.ctime));
}

TEST_F(Rfc1813Test, ClientTimesWithNanosecondsOfASecondOrMoreAreInval) {
  Created f = Create(root_, "f");
  const fattr3 before = Getattr(f.fh);
  Sattr bad;
  bad.mtime = SET_TO_CLIENT_TIME;
  bad.nseconds = 1000000000;
  Reply r = Setattr(f.fh, bad);
  EXPECT_EQ(r.FirstWord(), NFS3ERR_INVAL);
  XdrDecoder d(r.body.data() + 4, r.body.size() - 4);
  Wcc w;
  ASSERT_TRUE(DecodeWcc(d, &w));
  EXPECT_TRUE(w.after.attributes_follow);
  EXPECT_TRUE(SameTime(Getattr(f.fh).mtime, before.mtime));
  EXPECT_EQ(Create(root_, "g", GUARDED, bad.Encode()).status, NFS3ERR_INVAL);
  EXPECT_EQ(Nfs(NFSPROC3_LOOKUP, XOpaque(root_) + XOpaque("g")).FirstWord(),
            NFS3ERR_NOENT);
  Sattr good = bad;
  good.nseconds = 999999999;
  EXPECT_EQ(Setattr(f.fh, good)
                .FirstWord(),
            NFS3_OK);
  EXPECT_EQ(Getattr(f.fh).mtime.nseconds, 999999999u);
}

TEST_F(Rfc1813Test, SetattrTimesSizeAndCtime) {
  Created f = Create(root_, "f");
  // SET_TO_CLIENT_TIME: exactly the client's values.
  Sattr client;
  client.atime = client.mtime = SET_TO_CLIENT_TIME;
  ASSERT_EQ(Setattr(f.fh, client)
                .FirstWord(),
            NFS3_OK);
  fattr3 a = Getattr(f.fh);
  EXPECT_EQ(a.atime.seconds, Sattr::kClientAtime);
  EXPECT_EQ(a.mtime.seconds, Sattr::kClientMtime);
  EXPECT_GT(a.ctime.seconds, Sattr::kClientMtime) << "ctime is the server's";
  // SET_TO_SERVER_TIME: the server's clock, not the (old) client values.
  Sattr server;
  server.atime = server.mtime = SET_TO_SERVER_TIME;
  ASSERT_EQ(Setattr(f.fh, server)
                .FirstWord(),
            NFS3_OK);
  fattr3 b = Getattr(f.fh);
  EXPECT_GE(b.mtime.seconds, a.ctime.seconds);
  EXPECT_GE(b.atime.seconds, a.ctime.seconds);
  // A mode change moves ctime, not mtime; a size change moves both.
  Sattr mode;
  mode.mode = 0640;
  Reply m = Setattr(f.fh, mode);
  ASSERT_EQ(m.FirstWord(), NFS3_OK);
  fattr3 c = Getattr(f.fh);
  EXPECT_EQ(c.mode, 0640u);
  EXPECT_TRUE(SameTime(c.mtime, b.mtime));
  Sattr size;
  size.size = 12345;
  Reply s = Setattr(f.fh, size);
  ASSERT_EQ(s.FirstWord(), NFS3_OK);
  XdrDecoder d(s.body.data() + 4, s.body.size() - 4);
  Wcc w;
  ASSERT_TRUE(DecodeWcc(d, &w));
  ASSERT_TRUE(w.before);
  EXPECT_EQ(w.pre.size, 0u);
  EXPECT_TRUE(SameTime(w.pre.ctime, c.ctime));
  EXPECT_EQ(w.after.attributes.size, 12345u);
  EXPECT_FALSE(SameTime(w.after.attributes.mtime, c.mtime));
  EXPECT_FALSE(SameTime(w.after.attributes.ctime, c.ctime));
}

// A SETATTR size equal to the current size still sets mtime and ctime to
// the server's time, as knfsd does (it always truncates with ATTR_MTIME |
// ATTR_CTIME): a client's open(O_TRUNC) of an empty file must move mtime.
// Before the fix only ctime moved. A client mtime in the same call wins.
TEST_F(Rfc1813Test, SetattrToTheSameSizeStillUpdatesMtimeAndCtime) {
  Created f = Create(root_, "f");
  ASSERT_EQ(f.status, NFS3_OK);
  Sattr grow;
  grow.size = 4096;
  ASSERT_EQ(Setattr(f.fh, grow).FirstWord(), NFS3_OK);
  for (int64_t size : {4096, 0, 0}) {
    SCOPED_TRACE(size);
    Sattr old;
    old.mtime = SET_TO_CLIENT_TIME;  // long ago: any server time is later
    ASSERT_EQ(Setattr(f.fh, old).FirstWord(), NFS3_OK);
    const fattr3 before = Getattr(f.fh);
    ASSERT_EQ(before.mtime.seconds, Sattr::kClientMtime);
    Sattr same;
    same.size = size;
    Reply s = Setattr(f.fh, same);
    ASSERT_EQ(s.FirstWord(), NFS3_OK);
    XdrDecoder d(s.body.data() + 4, s.body.size() - 4);
    Wcc w;
    ASSERT_TRUE(DecodeWcc(d, &w));
    ASSERT_TRUE(w.before && w.after.attributes_follow);
    EXPECT_TRUE(SameTime(w.pre.mtime, before.mtime));
    EXPECT_EQ(w.after.attributes.size, static_cast<uint64_t>(size));
    EXPECT_GT(w.after.attributes.mtime.seconds, Sattr::kClientMtime);
    EXPECT_FALSE(SameTime(w.after.attributes.ctime, before.ctime));
    const fattr3 after = Getattr(f.fh);
    EXPECT_TRUE(SameTime(after.mtime, w.after.attributes.mtime));
    EXPECT_TRUE(SameTime(after.mtime, after.ctime));
  }
  // The client's mtime, sent with the size, is what stays.
  Sattr with_time;
  with_time.size = 0;
  with_time.mtime = SET_TO_CLIENT_TIME;
  ASSERT_EQ(Setattr(f.fh, with_time).FirstWord(), NFS3_OK);
  EXPECT_EQ(Getattr(f.fh).mtime.seconds, Sattr::kClientMtime);
}

TEST_F(Rfc1813Test, ExclusiveCreateLeavesNoVerifierInTheTimes) {
  Reply ex = Nfs(NFSPROC3_CREATE, XOpaque(root_) + XOpaque("x") +
                                      XU32(EXCLUSIVE) + "ABCDEFGH");
  Created c = ParseCreated(ex);
  ASSERT_EQ(c.status, NFS3_OK);
  // The client's follow-up SETATTR (Linux sends mode and both times).
  Sattr s;
  s.mode = 0600;
  s.atime = s.mtime = SET_TO_CLIENT_TIME;
  ASSERT_EQ(Setattr(c.fh, s)
                .FirstWord(),
            NFS3_OK);
  fattr3 a = Getattr(c.fh);
  EXPECT_EQ(a.mode, 0600u);
  EXPECT_EQ(a.atime.seconds, Sattr::kClientAtime);
  EXPECT_EQ(a.mtime.seconds, Sattr::kClientMtime);
  EXPECT_EQ(a.size, 0u);
  // A different verifier still finds the name taken.
  Reply other = Nfs(NFSPROC3_CREATE, XOpaque(root_) + XOpaque("x") +
                                         XU32(EXCLUSIVE) + "IJKLMNOP");
  EXPECT_EQ(other.FirstWord(), NFS3ERR_EXIST);
}

// §3.3.8: a retried EXCLUSIVE CREATE with the same verifier succeeds only
// while the file is still the one that CREATE made; the client's SETATTR
// ends that (knfsd: the SETATTR overwrites the verifier kept in the times).
TEST_F(Rfc1813Test, ExclusiveCreateVerifierEndsWithTheFollowUpSetattr) {
  auto excl = [&](const std::string& name, const std::string& verf) {
    return ParseCreated(Nfs(NFSPROC3_CREATE, XOpaque(root_) + XOpaque(name) +
                                                 XU32(EXCLUSIVE) + verf));
  };
  // What Linux sends after its CREATE: mode and both times (server time).
  Sattr linux_setattr;
  linux_setattr.mode = 0644;
  linux_setattr.atime = linux_setattr.mtime = SET_TO_SERVER_TIME;
  // Client times, and neither time (mode only, or owner only).
  Sattr client_times;
  client_times.mode = 0600;
  client_times.atime = client_times.mtime = SET_TO_CLIENT_TIME;
  Sattr mode_only;
  mode_only.mode = 0640;
  Sattr mtime_only;
  mtime_only.mtime = SET_TO_SERVER_TIME;
  Sattr uid_only;
  uid_only.uid = 0;
  const std::pair<const char*, Sattr> cases[] = {
      {"linux", linux_setattr},
      {"client-times", client_times},
      {"mode-only", mode_only},
      {"mtime-only", mtime_only},
      {"uid-only", uid_only}};
  for (const auto& [name, setattr] : cases) {
    SCOPED_TRACE(name);
    Created c = excl(name, "VERIFIER");
    ASSERT_EQ(c.status, NFS3_OK);
    // A retry before the SETATTR (new xid: the verifier answers, not the
    // duplicate-request cache) gets the same file.
    Created retry = excl(name, "VERIFIER");
    ASSERT_EQ(retry.status, NFS3_OK);
    EXPECT_EQ(retry.fh, c.fh);
    EXPECT_EQ(excl(name, "OTHERVER").status, NFS3ERR_EXIST);
    ASSERT_EQ(Setattr(c.fh, setattr).FirstWord(), NFS3_OK);
    // The same verifier now finds a file that CREATE did not leave so.
    Created late = excl(name, "VERIFIER");
    EXPECT_EQ(late.status, NFS3ERR_EXIST);
    EXPECT_TRUE(late.dir.after.attributes_follow);
    EXPECT_EQ(Getattr(c.fh).size, 0u);
  }
  // A file that got data is not the empty file CREATE made either.
  Created w = excl("written", "VERIFIER");
  ASSERT_EQ(w.status, NFS3_OK);
  ASSERT_EQ(Nfs(NFSPROC3_WRITE, XOpaque(w.fh) + XU64(0) + XU32(1) +
                                    XU32(FILE_SYNC) + XOpaque("x"))
                .FirstWord(),
            NFS3_OK);
  EXPECT_EQ(excl("written", "VERIFIER").status, NFS3ERR_EXIST);
  // An exclusive create leaves real times.
  Created t = excl("times", "VERIFIER");
  ASSERT_EQ(t.status, NFS3_OK);
  fattr3 ta = Getattr(t.fh);
  EXPECT_EQ(ta.atime.seconds, ta.mtime.seconds);
  EXPECT_LT(ta.atime.nseconds, 1000000000u);
}

TEST_F(Rfc1813Test, DirectoriesHaveANonZeroSizeEverywhere) {
  Created d = Mkdir(root_, "d");
  ASSERT_EQ(d.status, NFS3_OK);
  const fattr3 dir = Getattr(d.fh);
  EXPECT_EQ(dir.type, NF3DIR);
  EXPECT_GT(dir.size, 0u);
  EXPECT_GT(dir.used, 0u);
  EXPECT_EQ(d.attrs.attributes.size, dir.size) << "MKDIR's obj_attributes";
  EXPECT_EQ(Getattr(root_).size, dir.size);
  // LOOKUP: the object's and the directory's attributes.
  Reply lk = Nfs(NFSPROC3_LOOKUP, XOpaque(root_) + XOpaque("d"));
  ASSERT_EQ(lk.FirstWord(), NFS3_OK);
  XdrDecoder ld(lk.body.data() + 4, lk.body.size() - 4);
  absl::string_view fh;
  post_op_attr obj, parent;
  ASSERT_TRUE(ld.Var(NFS3_FHSIZE, &fh) && Decode(ld, &obj) &&
              Decode(ld, &parent) && ld.done());
  EXPECT_EQ(obj.attributes.size, dir.size);
  EXPECT_EQ(parent.attributes.size, dir.size);
  // The wcc_data of changes in the directory: before and after alike.
  const std::string names[] = {"f", "g"};
  for (const std::string& n : names) {
    Created f = Create(d.fh, n);
    ASSERT_EQ(f.status, NFS3_OK);
    ASSERT_TRUE(f.dir.before);
    EXPECT_EQ(f.dir.pre.size, dir.size);
    EXPECT_EQ(f.dir.after.attributes.size, dir.size);
  }
  Wcc from, to;
  ASSERT_EQ(Rename(d.fh, "f", root_, "f", &from, &to), NFS3_OK);
  EXPECT_EQ(from.pre.size, dir.size);
  EXPECT_EQ(from.after.attributes.size, dir.size);
  EXPECT_EQ(to.pre.size, dir.size);
  auto rm = RemoveLike(NFSPROC3_REMOVE, d.fh, "g");
  ASSERT_EQ(rm.first, NFS3_OK);
  EXPECT_EQ(rm.second.pre.size, dir.size);
  EXPECT_EQ(Getattr(d.fh).size, dir.size);
  // READDIRPLUS: ".", ".." and "d" carry the same size.
  Reply p = Nfs(NFSPROC3_READDIRPLUS, XOpaque(root_) + XU64(0) +
                                          std::string(8, '\0') + XU32(4096) +
                                          XU32(65536));
  ASSERT_EQ(p.FirstWord(), NFS3_OK);
  XdrDecoder pd(p.body.data() + 4, p.body.size() - 4);
  post_op_attr dir_attrs;
  std::array<char, 8> verf;
  ASSERT_TRUE(Decode(pd, &dir_attrs) && pd.FixedCopy(8, verf.data()));
  EXPECT_EQ(dir_attrs.attributes.size, dir.size);
  int dirs_seen = 0;
  for (bool more = true; pd.Bool(&more) && more;) {
    uint64_t fileid, cookie;
    absl::string_view name;
    post_op_attr attrs;
    bool handle_follows;
    absl::string_view handle;
    ASSERT_TRUE(pd.U64(&fileid) && pd.Var(255, &name) && pd.U64(&cookie) &&
                Decode(pd, &attrs) && pd.Bool(&handle_follows));
    if (handle_follows) {
      ASSERT_TRUE(pd.Var(NFS3_FHSIZE, &handle));
    }
    if (name == "." || name == ".." || name == "d") {
      ++dirs_seen;
      ASSERT_TRUE(attrs.attributes_follow) << name;
      EXPECT_EQ(attrs.attributes.size, dir.size) << name;
    }
  }
  EXPECT_EQ(dirs_seen, 3);
}

// A symlink's mode is 0777 whatever the client asks (as knfsd on Linux).
TEST_F(Rfc1813Test, SymlinkModeIsAlways0777) {
  Sattr mode600;
  mode600.mode = 0600;
  Created l = ParseCreated(Nfs(NFSPROC3_SYMLINK, XOpaque(root_) + XOpaque("l") +
                                                     mode600.Encode() + XOpaque("target")));
  ASSERT_EQ(l.status, NFS3_OK);
  EXPECT_EQ(Getattr(l.fh).mode, 0777u);
  EXPECT_EQ(Getattr(l.fh).type, NF3LNK);
}

// COMMIT (§3.3.21) of an object that holds no file data is an error, as
// for WRITE (knfsd: ISDIR for a directory), with the object's attributes.
TEST_F(Rfc1813Test, CommitOnANonRegularFileIsAnError) {
  Created d = Mkdir(root_, "d");
  Created l = ParseCreated(Nfs(NFSPROC3_SYMLINK, XOpaque(root_) +
                                                     XOpaque("l") + NoAttrs() +
                                                     XOpaque("target")));
  Created f = Create(root_, "f");
  ASSERT_EQ(d.status, NFS3_OK);
  ASSERT_EQ(l.status, NFS3_OK);
  const std::pair<std::string, uint32_t> cases[] = {
      {d.fh, NFS3ERR_ISDIR}, {root_, NFS3ERR_ISDIR}, {l.fh, NFS3ERR_INVAL},
      {f.fh, NFS3_OK}};
  for (const auto& [fh, want] : cases) {
    SCOPED_TRACE(want);
    Reply r = Nfs(NFSPROC3_COMMIT, XOpaque(fh) + XU64(0) + XU32(0));
    EXPECT_EQ(r.FirstWord(), want);
    XdrDecoder cd(r.body.data() + 4, r.body.size() - 4);
    Wcc w;
    ASSERT_TRUE(DecodeWcc(cd, &w));
    EXPECT_TRUE(w.after.attributes_follow);
    EXPECT_EQ(w.after.attributes.fileid, Getattr(fh).fileid);
    if (want == NFS3_OK) {
      std::array<char, 8> verf;
      EXPECT_TRUE(cd.FixedCopy(8, verf.data()));
    }
    EXPECT_TRUE(cd.done());
  }
}

// MOUNT3 MNT (Appendix I) of a path written differently: the same handle
// as LOOKUP gives; ".." never leaves the datastore (NOENT: nothing outside
// it is exported) or the export.
TEST_F(Rfc1813Test, MountNormalisesThePath) {
  Created d = Mkdir(root_, "dir");
  Created sub = Mkdir(d.fh, "sub");
  Created f = Create(root_, "file");
  ASSERT_EQ(sub.status, NFS3_OK);
  Reply lk = Nfs(NFSPROC3_LOOKUP, XOpaque(root_) + XOpaque("dir"));
  ASSERT_EQ(lk.FirstWord(), NFS3_OK);
  const std::string looked_up = lk.body.substr(8, kHandleSize);
  ASSERT_EQ(looked_up, d.fh);
  for (const char* path :
       {"/vnas/dir", "/vnas/./dir", "/vnas//dir", "/vnas/dir/", "vnas/dir",
        "//vnas/./dir/.//", "/vnas/dir/.", "/vnas/dir/sub/..",
        "/vnas/./dir/sub/../../dir"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(f_.Mount(path), looked_up);
  }
  for (const char* path : {"/vnas/.", "/vnas/", "/vnas/dir/..", "/./vnas"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(f_.Mount(path), root_);
  }
  const std::pair<const char*, uint32_t> refused[] = {
      {"/vnas/../etc", MNT3ERR_NOENT},
      {"/vnas/..", MNT3ERR_NOENT},
      {"/..", MNT3ERR_NOENT},
      {"/vnas/dir/../../vnas/dir", MNT3ERR_NOENT},
      {"/vnas/dir/../..", MNT3ERR_NOENT},
      {"/vnas/missing/../dir", MNT3ERR_NOENT},
      {"/vnas/file/../dir", MNT3ERR_NOTDIR},
      {"/vnas/./missing", MNT3ERR_NOENT}};
  for (const auto& [path, want] : refused) {
    SCOPED_TRACE(path);
    EXPECT_EQ(Mnt(MOUNTPROC3_MNT, XOpaque(path)).FirstWord(), want);
  }
  // DUMP lists the canonical path; UMNT of any spelling removes it.
  ASSERT_EQ(f_.Mount("/vnas/./dir/sub/.."), d.fh);
  Reply du = Mnt(MOUNTPROC3_DUMP, "");
  EXPECT_NE(du.body.find("/vnas/dir"), std::string::npos);
  EXPECT_EQ(du.body.find("/vnas/./"), std::string::npos);
  Mnt(MOUNTPROC3_UMNT, XOpaque("/vnas/dir/sub/../"));
  EXPECT_EQ(Mnt(MOUNTPROC3_DUMP, "").body.find("/vnas/dir"),
            std::string::npos);
  EXPECT_EQ(f.status, NFS3_OK);
}

// ".." may not climb out of the export the path ends in, even to come back
// in (a client of /vnas/vm1 alone must not probe the rest of the store).
TEST(Rfc1813MountTest, DotDotStaysInsideTheExport) {
  DispatchFixture f("/vnas/vm1 127.0.0.1/32(rw,no_root_squash)\n"
                    "/vnas/vm2 10.0.0.0/8(rw,no_root_squash)\n");
  ASSERT_EQ(f.store()->Mkdir(storage::kRootInode, "vm1", 0755, 0, 0).status(),
            absl::OkStatus());
  ASSERT_EQ(f.store()->Mkdir(storage::kRootInode, "vm2", 0755, 0, 0).status(),
            absl::OkStatus());
  const std::string vm1 = f.Mount("/vnas/vm1");
  ASSERT_FALSE(vm1.empty());
  EXPECT_EQ(f.Mount("/vnas/vm1/."), vm1);
  uint32_t xid = 1;
  auto mnt = [&](const std::string& path) {
    return f.Call(kMountProgram, 3, MOUNTPROC3_MNT, XOpaque(path), ++xid)
        .FirstWord();
  };
  EXPECT_EQ(mnt("/vnas/vm1/../vm1"), MNT3ERR_ACCES);
  EXPECT_EQ(mnt("/vnas/vm2/../vm1"), MNT3ERR_ACCES);
  EXPECT_EQ(mnt("/vnas/vm1/../vm2"), MNT3ERR_ACCES) << "not this client's";
  EXPECT_EQ(mnt("/vnas/vm1/.."), MNT3ERR_NOENT) << "/vnas is not exported";
}

// SYMLINK targets up to PATH_MAX (4096, what the Linux client sends and
// knfsd takes), not only up to MNTPATHLEN.
TEST_F(Rfc1813Test, SymlinkTargetsUpToPathMax) {
  for (size_t len : {1024u, 1025u, 4096u}) {
    SCOPED_TRACE(len);
    const std::string target(len, 't');
    const std::string name = "ln" + std::to_string(len);
    Created c = ParseCreated(Nfs(NFSPROC3_SYMLINK, XOpaque(root_) +
                                                       XOpaque(name) +
                                                       NoAttrs() +
                                                       XOpaque(target)));
    ASSERT_EQ(c.status, NFS3_OK);
    EXPECT_EQ(c.attrs.attributes.size, len);
    Reply rl = Nfs(NFSPROC3_READLINK, XOpaque(c.fh));
    ASSERT_EQ(rl.FirstWord(), NFS3_OK);
    XdrDecoder d(rl.body.data() + 4, rl.body.size() - 4);
    post_op_attr a;
    absl::string_view got;
    ASSERT_TRUE(Decode(d, &a) && d.Var(kMaxSymlinkLen, &got) && d.done());
    EXPECT_EQ(got, target);
  }
  // Beyond PATH_MAX: malformed, as for knfsd.
  Reply r = Nfs(NFSPROC3_SYMLINK, XOpaque(root_) + XOpaque("long") +
                                      NoAttrs() +
                                      XOpaque(std::string(4097, 't')));
  EXPECT_EQ(r.stat, GARBAGE_ARGS);
}

// READDIR/READDIRPLUS cookies (§3.3.16-17) stay valid while the directory
// changes: the verifier never goes stale, a listing resumed after removals
// and additions neither repeats nor skips a surviving entry.
TEST_F(Rfc1813Test, DirectoryCookiesSurviveChanges) {
  struct Page {
    uint32_t status = 0;
    std::string verf;
    std::vector<std::pair<std::string, uint64_t>> entries;  // name, cookie
    bool eof = false;
  };
  auto readdir = [&](const std::string& dir, bool plus, uint64_t cookie,
                     const std::string& verf, uint32_t count) {
    std::string args = XOpaque(dir) + XU64(cookie) + verf;
    args += plus ? XU32(count) + XU32(count) : XU32(count);
    Reply r = Nfs(plus ? NFSPROC3_READDIRPLUS : NFSPROC3_READDIR, args);
    Page p;
    p.status = r.FirstWord();
    if (p.status != NFS3_OK) return p;
    XdrDecoder x(r.body.data() + 4, r.body.size() - 4);
    post_op_attr dir_attrs;
    std::array<char, 8> v;
    EXPECT_TRUE(Decode(x, &dir_attrs) && x.FixedCopy(8, v.data()));
    p.verf.assign(v.data(), 8);
    for (bool more = true; x.Bool(&more) && more;) {
      uint64_t fileid, c;
      absl::string_view name;
      EXPECT_TRUE(x.U64(&fileid) && x.Var(255, &name) && x.U64(&c));
      if (plus) {
        post_op_attr a;
        bool follows = false;
        absl::string_view fh;
        EXPECT_TRUE(Decode(x, &a) && x.Bool(&follows));
        if (follows) {
          EXPECT_TRUE(x.Var(NFS3_FHSIZE, &fh));
        }
      }
      p.entries.emplace_back(std::string(name), c);
    }
    EXPECT_TRUE(x.Bool(&p.eof) && x.done());
    return p;
  };
  for (bool plus : {false, true}) {
    SCOPED_TRACE(plus ? "READDIRPLUS" : "READDIR");
    Created d = Mkdir(root_, plus ? "plus" : "plain");
    ASSERT_EQ(d.status, NFS3_OK);
    for (int i = 0; i < 30; ++i) {
      ASSERT_EQ(Create(d.fh, "e" + std::to_string(i)).status, NFS3_OK);
    }
    const uint32_t count = plus ? 1200 : 300;
    Page first = readdir(d.fh, plus, 0, std::string(8, '\0'), count);
    ASSERT_EQ(first.status, NFS3_OK);
    ASSERT_FALSE(first.eof);
    ASSERT_GE(first.entries.size(), 4u);
    std::set<std::string> seen;
    for (const auto& e : first.entries) seen.insert(e.first);
    // Remove an entry already listed and one not yet listed; add one.
    const std::string listed = first.entries.back().first;
    std::string unlisted;
    for (int i = 29; i >= 0 && unlisted.empty(); --i) {
      if (!seen.count("e" + std::to_string(i))) {
        unlisted = "e" + std::to_string(i);
      }
    }
    ASSERT_FALSE(unlisted.empty());
    ASSERT_EQ(RemoveLike(NFSPROC3_REMOVE, d.fh, listed).first, NFS3_OK);
    ASSERT_EQ(RemoveLike(NFSPROC3_REMOVE, d.fh, unlisted).first, NFS3_OK);
    const std::string added = "added";
    ASSERT_EQ(Create(d.fh, added).status, NFS3_OK);
    uint64_t cookie = first.entries.back().second;
    std::string verf = first.verf;
    std::vector<std::string> rest;
    for (int pages = 0; pages < 100; ++pages) {
      Page p = readdir(d.fh, plus, cookie, verf, count);
      ASSERT_EQ(p.status, NFS3_OK) << "cookie " << cookie;
      for (const auto& e : p.entries) rest.push_back(e.first);
      if (p.eof) break;
      ASSERT_FALSE(p.entries.empty());
      cookie = p.entries.back().second;
      verf = p.verf;
    }
    std::set<std::string> later(rest.begin(), rest.end());
    EXPECT_EQ(later.size(), rest.size()) << "an entry came twice";
    for (const std::string& n : seen) {
      EXPECT_FALSE(later.count(n)) << n << " listed again";
    }
    EXPECT_FALSE(later.count(unlisted));
    EXPECT_TRUE(later.count(added));
    // Every entry not yet listed that survived, and the new one: 30 files,
    // "." and "..", less the first page, less `unlisted`, plus `added`.
    EXPECT_EQ(later.size(), 32u - seen.size());
    // A verifier this server never handed out is refused.
    EXPECT_EQ(readdir(d.fh, plus, cookie, "garbage!", count).status,
              NFS3ERR_BAD_COOKIE);
  }
}

TEST_F(Rfc1813Test, MknodAnswersNameErrorsBeforeNotSupp) {
  ASSERT_EQ(Create(root_, "taken").status, NFS3_OK);
  auto mknod = [&](const std::string& name, ftype3 type) {
    std::string what = XU32(type);
    if (type == NF3FIFO || type == NF3SOCK) what += NoAttrs();
    return ParseCreated(
        Nfs(NFSPROC3_MKNOD, XOpaque(root_) + XOpaque(name) + what));
  };
  Created taken = mknod("taken", NF3FIFO);
  EXPECT_EQ(taken.status, NFS3ERR_EXIST) << "mkfifo on a taken name";
  EXPECT_TRUE(taken.dir.after.attributes_follow);
  EXPECT_EQ(mknod(std::string(256, 'n'), NF3SOCK).status, NFS3ERR_NAMETOOLONG);
  EXPECT_EQ(mknod("a/b", NF3FIFO).status, NFS3ERR_INVAL);
  EXPECT_EQ(mknod("fifo", NF3FIFO).status, NFS3ERR_NOTSUPP);
  EXPECT_EQ(mknod("sock", NF3SOCK).status, NFS3ERR_NOTSUPP);
  EXPECT_EQ(mknod("reg", NF3REG).status, NFS3ERR_BADTYPE);
  EXPECT_EQ(mknod("dir", NF3DIR).status, NFS3ERR_BADTYPE);
}

TEST_F(Rfc1813Test, NameRules) {
  ASSERT_EQ(Create(root_, "file").status, NFS3_OK);
  std::string file = Nfs(NFSPROC3_LOOKUP, XOpaque(root_) + XOpaque("file"))
                         .body.substr(8, kHandleSize);
  struct Case {
    std::string name;
    uint32_t want;
  } cases[] = {{std::string(256, 'n'), NFS3ERR_NAMETOOLONG},
               {std::string(1000, 'n'), NFS3ERR_NAMETOOLONG},
               {"a/b", NFS3ERR_INVAL},
               {std::string("a\0b", 3), NFS3ERR_INVAL},
               {"", NFS3ERR_INVAL}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name.size());
    EXPECT_EQ(Create(root_, c.name).status, c.want);
    EXPECT_EQ(Mkdir(root_, c.name).status, c.want);
    EXPECT_EQ(Nfs(NFSPROC3_LOOKUP, XOpaque(root_) + XOpaque(c.name)).FirstWord(),
              c.want);
    EXPECT_EQ(Nfs(NFSPROC3_SYMLINK, XOpaque(root_) + XOpaque(c.name) +
                                        NoAttrs() + XOpaque("target"))
                  .FirstWord(),
              c.want);
    EXPECT_EQ(Nfs(NFSPROC3_LINK, XOpaque(file) + XOpaque(root_) + XOpaque(c.name))
                  .FirstWord(),
              c.want);
    EXPECT_EQ(Rename(root_, "file", root_, c.name), c.want);
    EXPECT_EQ(Rename(root_, c.name, root_, "x"), c.want);
    EXPECT_EQ(RemoveLike(NFSPROC3_REMOVE, root_, c.name).first, c.want);
    EXPECT_EQ(RemoveLike(NFSPROC3_RMDIR, root_, c.name).first, c.want);
  }
  EXPECT_EQ(Create(root_, std::string(255, 'n')).status, NFS3_OK);
  // "." and "..": never created, removed or renamed.
  EXPECT_EQ(Create(root_, ".").status, NFS3ERR_EXIST);
  EXPECT_EQ(Mkdir(root_, "..").status, NFS3ERR_EXIST);
  EXPECT_EQ(RemoveLike(NFSPROC3_REMOVE, root_, ".").first, NFS3ERR_INVAL);
  EXPECT_EQ(RemoveLike(NFSPROC3_RMDIR, root_, ".").first, NFS3ERR_INVAL);
  EXPECT_EQ(RemoveLike(NFSPROC3_RMDIR, root_, "..").first, NFS3ERR_NOTEMPTY);
  EXPECT_EQ(Rename(root_, "file", root_, ".."), NFS3ERR_INVAL);
}

TEST_F(Rfc1813Test, TypeErrors) {
  Created d = Mkdir(root_, "d");
  Created f = Create(root_, "f");
  Created sub = Mkdir(d.fh, "sub");
  Created deep = Mkdir(sub.fh, "deep");
  Created e = Mkdir(root_, "e");
  ASSERT_EQ(deep.status, NFS3_OK);
  ASSERT_EQ(e.status, NFS3_OK);
  // RENAME (§3.3.14).
  EXPECT_EQ(Rename(root_, "d", d.fh, "x"), NFS3ERR_INVAL) << "into itself";
  EXPECT_EQ(Rename(root_, "d", deep.fh, "x"), NFS3ERR_INVAL) << "below itself";
  EXPECT_EQ(Rename(root_, "e", root_, "d"), NFS3ERR_NOTEMPTY);
  EXPECT_EQ(Rename(root_, "f", root_, "e"), NFS3ERR_ISDIR);
  EXPECT_EQ(Rename(root_, "e", root_, "f"), NFS3ERR_NOTDIR);
  EXPECT_EQ(Rename(root_, "nope", root_, "x"), NFS3ERR_NOENT);
  EXPECT_EQ(Rename(f.fh, "x", root_, "y"), NFS3ERR_NOTDIR);
  // REMOVE/RMDIR on the wrong type.
  EXPECT_EQ(RemoveLike(NFSPROC3_REMOVE, root_, "e").first, NFS3ERR_ISDIR);
  EXPECT_EQ(RemoveLike(NFSPROC3_RMDIR, root_, "f").first, NFS3ERR_NOTDIR);
  // Data calls on a directory, directory calls on a file.
  EXPECT_EQ(Nfs(NFSPROC3_LINK, XOpaque(d.fh) + XOpaque(root_) + XOpaque("l"))
                .FirstWord(),
            NFS3ERR_ISDIR);
  EXPECT_EQ(Nfs(NFSPROC3_READLINK, XOpaque(f.fh)).FirstWord(), NFS3ERR_INVAL);
  EXPECT_EQ(Nfs(NFSPROC3_LOOKUP, XOpaque(f.fh) + XOpaque("x")).FirstWord(),
            NFS3ERR_NOTDIR);
  EXPECT_EQ(Nfs(NFSPROC3_READDIR, XOpaque(f.fh) + XU64(0) +
                                      std::string(8, '\0') + XU32(4096))
                .FirstWord(),
            NFS3ERR_NOTDIR);
  EXPECT_EQ(Create(f.fh, "x").status, NFS3ERR_NOTDIR);
  EXPECT_EQ(Mkdir(f.fh, "x").status, NFS3ERR_NOTDIR);
  // Renames that succeed: over an empty directory and over a file.
  EXPECT_EQ(Rename(sub.fh, "deep", root_, "e"), NFS3_OK);
  ASSERT_EQ(Create(root_, "g").status, NFS3_OK);
  EXPECT_EQ(Rename(root_, "g", root_, "f"), NFS3_OK);
  EXPECT_EQ(Nfs(NFSPROC3_GETATTR, XOpaque(f.fh)).FirstWord(), NFS3ERR_STALE)
      << "the replaced file is gone";
}

TEST_F(Rfc1813Test, SymlinkAndReadlinkRoundTrip) {
  Reply r = Nfs(NFSPROC3_SYMLINK, XOpaque(root_) + XOpaque("ln") + NoAttrs() +
                                      XOpaque("../some/target"));
  Created c = ParseCreated(r);
  ASSERT_EQ(c.status, NFS3_OK);
  EXPECT_EQ(c.attrs.attributes.type, NF3LNK);
  EXPECT_EQ(c.attrs.attributes.size, 14u);
  Reply rl = Nfs(NFSPROC3_READLINK, XOpaque(c.fh));
  ASSERT_EQ(rl.FirstWord(), NFS3_OK);
  XdrDecoder d(rl.body.data() + 4, rl.body.size() - 4);
  post_op_attr a;
  absl::string_view target;
  ASSERT_TRUE(Decode(d, &a) && d.Var(kMaxPathLen, &target));
  EXPECT_TRUE(a.attributes_follow);
  EXPECT_EQ(target, "../some/target");
  EXPECT_TRUE(d.done());
}

TEST_F(Rfc1813Test, DirectoryRepliesNeverExceedTheirCount) {
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(Create(root_, "entry-number-" + std::to_string(i)).status,
              NFS3_OK);
  }
  for (uint32_t count = 0; count < 1200; count += 7) {
    SCOPED_TRACE(count);
    Reply r = Nfs(NFSPROC3_READDIR, XOpaque(root_) + XU64(0) +
                                        std::string(8, '\0') + XU32(count));
    if (r.FirstWord() == NFS3_OK) {
      EXPECT_LE(r.body.size(), count);
    } else {
      EXPECT_EQ(r.FirstWord(), NFS3ERR_TOOSMALL);
    }
    for (uint32_t dircount : {0u, 16u, 64u, 200u}) {
      Reply p = Nfs(NFSPROC3_READDIRPLUS,
                    XOpaque(root_) + XU64(0) + std::string(8, '\0') +
                        XU32(dircount) + XU32(count));
      if (p.FirstWord() == NFS3_OK) {
        EXPECT_LE(p.body.size(), count) << dircount;
      } else {
        EXPECT_EQ(p.FirstWord(), NFS3ERR_TOOSMALL) << dircount;
      }
    }
  }
}

TEST_F(Rfc1813Test, FsinfoAndPathconf) {
  Reply fi = Nfs(NFSPROC3_FSINFO, XOpaque(root_));
  ASSERT_EQ(fi.FirstWord(), NFS3_OK);
  XdrDecoder d(fi.body.data() + 4, fi.body.size() - 4);
  post_op_attr a;
  uint32_t rtmax, rtpref, rtmult, wtmax, wtpref, wtmult, dtpref, props;
  uint64_t maxfilesize;
  nfstime3 delta;
  ASSERT_TRUE(Decode(d, &a) && d.U32(&rtmax) && d.U32(&rtpref) &&
              d.U32(&rtmult) && d.U32(&wtmax) && d.U32(&wtpref) &&
              d.U32(&wtmult) && d.U32(&dtpref) && d.U64(&maxfilesize) &&
              d.U32(&delta.seconds) && d.U32(&delta.nseconds) &&
              d.U32(&props) && d.done());
  EXPECT_TRUE(a.attributes_follow);
  EXPECT_EQ(rtmax, 1u << 20);
  EXPECT_EQ(wtmax, 1u << 20);
  EXPECT_LE(rtpref, rtmax);
  EXPECT_LE(wtpref, wtmax);
  EXPECT_GT(maxfilesize, uint64_t{2} << 40) << "ESXi disks beyond 2 TiB";
  EXPECT_EQ(delta.seconds, 0u);
  EXPECT_GT(delta.nseconds, 0u);
  EXPECT_EQ(props & (FSF3_HOMOGENEOUS | FSF3_CANSETTIME | FSF3_LINK |
                     FSF3_SYMLINK),
            FSF3_HOMOGENEOUS | FSF3_CANSETTIME | FSF3_LINK | FSF3_SYMLINK);
  Reply pc = Nfs(NFSPROC3_PATHCONF, XOpaque(root_));
  ASSERT_EQ(pc.FirstWord(), NFS3_OK);
  XdrDecoder p(pc.body.data() + 4, pc.body.size() - 4);
  uint32_t linkmax, name_max;
  bool no_trunc, chown_restricted, case_insensitive, case_preserving;
  ASSERT_TRUE(Decode(p, &a) && p.U32(&linkmax) && p.U32(&name_max) &&
              p.Bool(&no_trunc) && p.Bool(&chown_restricted) &&
              p.Bool(&case_insensitive) && p.Bool(&case_preserving) &&
              p.done());
  EXPECT_EQ(name_max, 255u);
  EXPECT_TRUE(no_trunc);
  EXPECT_TRUE(chown_restricted);
  EXPECT_FALSE(case_insensitive);
  EXPECT_TRUE(case_preserving);
  EXPECT_GE(linkmax, 1u);
}

TEST_F(Rfc1813Test, MountErrorsAndBookkeeping) {
  Created f = Create(root_, "file");
  Created d = Mkdir(root_, "dir");
  ASSERT_EQ(d.status, NFS3_OK);
  EXPECT_EQ(Mnt(MOUNTPROC3_MNT, XOpaque("/vnas/file")).FirstWord(),
            MNT3ERR_NOTDIR);
  EXPECT_EQ(Mnt(MOUNTPROC3_MNT, XOpaque("/vnas/file/below")).FirstWord(),
            MNT3ERR_NOTDIR);
  EXPECT_EQ(Mnt(MOUNTPROC3_MNT, XOpaque("/vnas/missing")).FirstWord(),
            MNT3ERR_NOENT);
  EXPECT_EQ(Mnt(MOUNTPROC3_MNT, XOpaque("/elsewhere")).FirstWord(),
            MNT3ERR_NOENT);
  EXPECT_EQ(f_.Mount("/vnas/dir"), d.fh);
  EXPECT_EQ(f_.Mount("/vnas//dir/"), d.fh);
  Reply du = Mnt(MOUNTPROC3_DUMP, "");
  EXPECT_NE(du.body.find("/vnas/dir"), std::string::npos);
  Mnt(MOUNTPROC3_UMNT, XOpaque("/vnas/dir"));
  Mnt(MOUNTPROC3_UMNT, XOpaque("/vnas//dir/"));
  EXPECT_EQ(Mnt(MOUNTPROC3_DUMP, "").body.find("dir"), std::string::npos);
  EXPECT_NE(Mnt(MOUNTPROC3_DUMP, "").body.find("/vnas"), std::string::npos);
  EXPECT_TRUE(Mnt(MOUNTPROC3_UMNTALL, "").body.empty());
  EXPECT_EQ(Mnt(MOUNTPROC3_DUMP, "").body, XU32(0)) << "an empty mountlist";
}

TEST_F(Rfc1813Test, GarbageAndStaleHandlesOnEveryProcedure) {
  Created f = Create(root_, "f");
  ASSERT_EQ(RemoveLike(NFSPROC3_REMOVE, root_, "f").first, NFS3_OK);
  // Arguments that decode for every procedure: a handle first, then
  // enough valid fields (diropargs/name, a FIFO for MKNOD, data for
  // SYMLINK); the zero padding reads as zero numbers and unset sattr3s.
  auto args = [](uint32_t proc, const std::string& fh) {
    switch (proc) {
      case NFSPROC3_SYMLINK:
        return XOpaque(fh) + XOpaque("n") + NoAttrs() + XOpaque("t");
      case NFSPROC3_MKNOD:
        return XOpaque(fh) + XOpaque("n") + XU32(NF3FIFO) + NoAttrs();
      case NFSPROC3_RENAME:
      case NFSPROC3_LINK:
        return XOpaque(fh) + XOpaque("n") + XOpaque(fh) + XOpaque("m");
      default:
        return XOpaque(fh) + XOpaque("n") + std::string(64, '\0');
    }
  };
  std::string forged = f.fh;
  forged[5] ^= 1;
  const std::vector<std::string> garbage = {
      "", std::string(64, 'x'), f.fh + "x", f.fh.substr(0, 27),
      std::string(kHandleSize, '\0'), forged};
  for (uint32_t proc = NFSPROC3_GETATTR; proc <= NFSPROC3_COMMIT; ++proc) {
    SCOPED_TRACE(proc);
    for (const std::string& h : garbage) {
      Reply r = Nfs(proc, args(proc, h));
      EXPECT_EQ(r.stat, SUCCESS);
      EXPECT_EQ(r.FirstWord(), NFS3ERR_BADHANDLE) << h.size();
    }
    Reply r = Nfs(proc, args(proc, f.fh));
    EXPECT_EQ(r.FirstWord(), NFS3ERR_STALE);
  }
}
}  // namespace
}  // namespace vnas::nfs
