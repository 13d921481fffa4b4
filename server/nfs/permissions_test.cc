// permissions_test — Unix permission checks (access_check.h) applied by the
// NFSv3 handlers, through the dispatcher over a real ExtentStore on the
// in-memory Env: a squashed root against another user's 0600 file, owner
// override, ACCESS bits for owner/group/other, sticky directories, SETATTR
// rules, directory search/list/change permissions.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/nfs/dispatch_test_util.h"
#include "server/nfs/nfs3_types.h"

namespace vnas::nfs {
namespace {

constexpr uint32_t kTenNet = 0x0a010203;  // 10.1.2.3: no_root_squash
constexpr uint32_t kLocal = 0x7f000001;   // 127.0.0.1: root_squash

// sattr3 (RFC 1813 §2.5) with the given fields set.
struct Sattr {
  int64_t mode = -1, uid = -1, gid = -1, size = -1;
  time_how mtime = DONT_CHANGE;
  std::string Encode() const {
    std::string s;
    for (int64_t v : {mode, uid, gid}) {
      s += v < 0 ? XU32(0) : XU32(1) + XU32(static_cast<uint32_t>(v));
    }
    s += size < 0 ? XU32(0) : XU32(1) + XU64(static_cast<uint64_t>(size));
    s += XU32(DONT_CHANGE);  // atime
    s += XU32(mtime);
    if (mtime == SET_TO_CLIENT_TIME) s += XU32(1000) + XU32(0);
    return s;
  }
};

fattr3 AttrsOf(const Reply& r) {  // GETATTR OK body
  fattr3 f;
  XdrDecoder d(r.body.data() + 4, r.body.size() - 4);
  Decode(d, &f);
  return f;
}

std::string HandleOf(const Reply& r) {  // CREATE/MKDIR/LOOKUP OK body
  if (r.FirstWord() != NFS3_OK || r.body.size() < 12) return "";
  // CREATE/MKDIR: status, handle_follows, handle; LOOKUP: status, handle.
  uint32_t w1 = LoadBe32(r.body.data() + 4);
  if (w1 == 1) return r.body.substr(12, LoadBe32(r.body.data() + 8));
  return r.body.substr(8, w1);
}

class PermissionsTest : public ::testing::Test {
 protected:
  PermissionsTest()
      : f_("/vnas 127.0.0.1/32(rw,root_squash) 10.0.0.0/8(rw,no_root_squash)\n") {
    root_ = f_.Mount("/vnas");
  }

  // Every call gets a new xid so the duplicate-request cache never answers.
  Reply As(uint32_t uid, uint32_t gid, uint32_t proc, const std::string& args,
           uint32_t client = kLocal, std::vector<uint32_t> gids = {}) {
    return f_.CallAs(proc, args, uid, gid, gids, ++xid_, client);
  }
  std::string Create(uint32_t uid, uint32_t gid, const std::string& dir,
                     const std::string& name, Sattr s) {
    Reply r = As(uid, gid, NFSPROC3_CREATE,
                 XOpaque(dir) + XOpaque(name) + XU32(GUARDED) + s.Encode());
    EXPECT_EQ(r.FirstWord(), NFS3_OK) << "create " << name;
    return HandleOf(r);
  }
  std::string Mkdir(uint32_t uid, uint32_t gid, const std::string& dir,
                    const std::string& name, uint32_t mode) {
    Sattr s;
    s.mode = mode;
    Reply r = As(uid, gid, NFSPROC3_MKDIR,
                 XOpaque(dir) + XOpaque(name) + s.Encode());
    EXPECT_EQ(r.FirstWord(), NFS3_OK) << "mkdir " << name;
    return HandleOf(r);
  }
  // /shared: mode 02777, group 500 (a setgid directory; set by root).
  std::string SharedSetgidDir() {
    std::string shared = Mkdir(1000, 1000, root_, "shared", 0777);
    Sattr sgid;
    sgid.mode = 02777;
    sgid.gid = 500;
    EXPECT_EQ(Setattr(0, 0, shared, sgid, kTenNet), NFS3_OK);
    return shared;
  }
  fattr3 Getattr(const std::string& fh) {
    return AttrsOf(As(0, 0, NFSPROC3_GETATTR, XOpaque(fh), kTenNet));
  }
  uint32_t Write(uint32_t uid, uint32_t gid, const std::string& fh,
                 const std::string& data, uint32_t client = kLocal) {
    return As(uid, gid, NFSPROC3_WRITE,
              XOpaque(fh) + XU64(0) + XU32(static_cast<uint32_t>(data.size())) +
                  XU32(FILE_SYNC) + XOpaque(data),
              client)
        .FirstWord();
  }
  uint32_t Read(uint32_t uid, uint32_t gid, const std::string& fh,
                uint32_t client = kLocal) {
    return As(uid, gid, NFSPROC3_READ, XOpaque(fh) + XU64(0) + XU32(64), client)
        .FirstWord();
  }
  uint32_t Setattr(uint32_t uid, uint32_t gid, const std::string& fh, Sattr s,
                   uint32_t client = kLocal, std::vector<uint32_t> gids = {}) {
    return As(uid, gid, NFSPROC3_SETATTR, XOpaque(fh) + s.Encode() + XU32(0),
              client, gids)
        .FirstWord();
  }
  // ACCESS granted bits (or ~0 on error).
  uint32_t Access(uint32_t uid, uint32_t gid, const std::string& fh,
                  std::vector<uint32_t> gids = {}, uint32_t client = kLocal) {
    Reply r = As(uid, gid, NFSPROC3_ACCESS, XOpaque(fh) + XU32(0x3f), client,
                 gids);
    if (r.FirstWord() != NFS3_OK) return ~0u;
    return LoadBe32(r.body.data() + r.body.size() - 4);
  }

  DispatchFixture f_;
  std::string root_;
  uint32_t xid_ = 1000;
};

TEST_F(PermissionsTest, SquashedRootCannotTouchAnotherUsersPrivateFile) {
  Sattr m;
  m.mode = 0600;
  std::string priv = Create(1000, 1000, root_, "private", m);
  ASSERT_FALSE(priv.empty());
  ASSERT_EQ(Write(1000, 1000, priv, "secret"), NFS3_OK);
  fattr3 a = Getattr(priv);
  EXPECT_EQ(a.uid, 1000u);
  EXPECT_EQ(a.mode, 0600u);

  // uid 0 from 127.0.0.1 is squashed to 65534: "other" on a 0600 file.
  EXPECT_EQ(Read(0, 0, priv), NFS3ERR_ACCES);
  EXPECT_EQ(Write(0, 0, priv, "hacked"), NFS3ERR_ACCES);
  EXPECT_EQ(As(0, 0, NFSPROC3_COMMIT, XOpaque(priv) + XU64(0) + XU32(0))
                .FirstWord(),
            NFS3ERR_ACCES);
  Sattr trunc;
  trunc.size = 0;
  EXPECT_EQ(Setattr(0, 0, priv, trunc), NFS3ERR_ACCES);
  Sattr chown;
  chown.uid = 0;
  chown.gid = 0;
  EXPECT_EQ(Setattr(0, 0, priv, chown), NFS3ERR_PERM);
  Sattr chmod;
  chmod.mode = 0666;
  EXPECT_EQ(Setattr(0, 0, priv, chmod), NFS3ERR_PERM);
  Sattr touch;
  touch.mtime = SET_TO_CLIENT_TIME;
  EXPECT_EQ(Setattr(0, 0, priv, touch), NFS3ERR_PERM);
  // CREATE UNCHECKED with a size would truncate it: a write.
  EXPECT_EQ(As(0, 0, NFSPROC3_CREATE,
               XOpaque(root_) + XOpaque("private") + XU32(UNCHECKED) +
                   trunc.Encode())
                .FirstWord(),
            NFS3ERR_ACCES);
  EXPECT_EQ(Access(0, 0, priv), 0u);
  // A squashed root's supplementary group 0 is squashed too.
  EXPECT_EQ(Access(0, 0, priv, {0}), 0u);
  // Squashed root may not remove it either: the datastore root is sticky.
  EXPECT_EQ(As(0, 0, NFSPROC3_REMOVE, XOpaque(root_) + XOpaque("private"))
                .FirstWord(),
            NFS3ERR_PERM);

  a = Getattr(priv);
  EXPECT_EQ(a.uid, 1000u);
  EXPECT_EQ(a.gid, 1000u);
  EXPECT_EQ(a.mode, 0600u);
  EXPECT_EQ(a.size, 6u);

  // Real root (no_root_squash) bypasses the mode and may give it away.
  EXPECT_EQ(Read(0, 0, priv, kTenNet), NFS3_OK);
  EXPECT_EQ(Access(0, 0, priv, {}, kTenNet),
            ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXTEND)
      << "root executes only files with an x bit";
  EXPECT_EQ(Setattr(0, 0, priv, chown, kTenNet), NFS3_OK);
  EXPECT_EQ(Getattr(priv).uid, 0u);
}

TEST_F(PermissionsTest, OwnerOverrideForReadWriteButNotAccess) {
  Sattr m;
  m.mode = 0644;
  std::string fh = Create(1000, 1000, root_, "mine", m);
  Sattr ro;
  ro.mode = 0000;
  ASSERT_EQ(Setattr(1000, 1000, fh, ro), NFS3_OK) << "the owner may chmod";
  EXPECT_EQ(Write(1000, 1000, fh, "still"), NFS3_OK) << "owner override";
  EXPECT_EQ(Read(1000, 1000, fh), NFS3_OK) << "owner override";
  Sattr trunc;
  trunc.size = 1;
  EXPECT_EQ(Setattr(1000, 1000, fh, trunc), NFS3_OK) << "owner override";
  EXPECT_EQ(Access(1000, 1000, fh), 0u) << "ACCESS reports the mode";
  EXPECT_EQ(Write(2000, 2000, fh, "other"), NFS3ERR_ACCES);
  EXPECT_EQ(Read(2000, 1000, fh), NFS3ERR_ACCES) << "group has no r";
}

TEST_F(PermissionsTest, AccessBitsForOwnerGroupAndOther) {
  Sattr m;
  m.mode = 0640;
  m.gid = 100;  // ignored: only root names the owner at CREATE
  std::string fh = Create(1000, 1000, root_, "shared", m);
  EXPECT_EQ(Getattr(fh).gid, 1000u);
  Sattr chgrp;
  chgrp.gid = 100;
  EXPECT_EQ(Setattr(1000, 1000, fh, chgrp), NFS3ERR_PERM)
      << "owner not in group 100";
  ASSERT_EQ(Setattr(1000, 1000, fh, chgrp, kLocal, {100}), NFS3_OK)
      << "owner in group 100 (supplementary)";
  const uint32_t rme = ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXTEND;
  EXPECT_EQ(Access(1000, 1000, fh), rme) << "owner";
  EXPECT_EQ(Access(2000, 100, fh), ACCESS3_READ) << "group (primary)";
  EXPECT_EQ(Access(2000, 7, fh, {5, 100}), ACCESS3_READ) << "group (gids)";
  EXPECT_EQ(Access(2000, 7, fh), 0u) << "other";

  std::string dir = Mkdir(1000, 1000, root_, "d", 0755);
  const uint32_t all_dir = ACCESS3_READ | ACCESS3_LOOKUP | ACCESS3_MODIFY |
                           ACCESS3_EXTEND | ACCESS3_DELETE;
  EXPECT_EQ(Access(1000, 1000, dir), all_dir) << "owner of 0755 dir";
  EXPECT_EQ(Access(2000, 2000, dir), ACCESS3_READ | ACCESS3_LOOKUP)
      << "other of 0755 dir";
}

TEST_F(PermissionsTest, DirectoryPermissions) {
  std::string d = Mkdir(1000, 1000, root_, "home", 0755);
  Sattr none;
  EXPECT_EQ(As(2000, 2000, NFSPROC3_CREATE,
               XOpaque(d) + XOpaque("x") + XU32(GUARDED) + none.Encode())
                .FirstWord(),
            NFS3ERR_ACCES);
  EXPECT_EQ(As(2000, 2000, NFSPROC3_MKDIR,
               XOpaque(d) + XOpaque("x") + none.Encode())
                .FirstWord(),
            NFS3ERR_ACCES);
  std::string f = Create(1000, 1000, d, "f", none);
  EXPECT_EQ(As(2000, 2000, NFSPROC3_REMOVE, XOpaque(d) + XOpaque("f"))
                .FirstWord(),
            NFS3ERR_ACCES);
  EXPECT_EQ(As(2000, 2000, NFSPROC3_RENAME,
               XOpaque(d) + XOpaque("f") + XOpaque(d) + XOpaque("g"))
                .FirstWord(),
            NFS3ERR_ACCES);
  EXPECT_EQ(As(2000, 2000, NFSPROC3_LINK, XOpaque(f) + XOpaque(d) + XOpaque("h"))
                .FirstWord(),
            NFS3ERR_ACCES);
  // 0711: searchable, not listable.
  Sattr m;
  m.mode = 0711;
  ASSERT_EQ(Setattr(1000, 1000, d, m), NFS3_OK);
  EXPECT_EQ(As(2000, 2000, NFSPROC3_LOOKUP, XOpaque(d) + XOpaque("f"))
                .FirstWord(),
            NFS3_OK);
  std::string readdir = XOpaque(d) + XU64(0) + std::string(8, '\0') + XU32(4096);
  EXPECT_EQ(As(2000, 2000, NFSPROC3_READDIR, readdir).FirstWord(), NFS3ERR_ACCES);
  EXPECT_EQ(As(2000, 2000, NFSPROC3_READDIRPLUS, readdir + XU32(4096))
                .FirstWord(),
            NFS3ERR_ACCES);
  EXPECT_EQ(As(1000, 1000, NFSPROC3_READDIR, readdir).FirstWord(), NFS3_OK);
  // 0700: not even searchable.
  m.mode = 0700;
  ASSERT_EQ(Setattr(1000, 1000, d, m), NFS3_OK);
  EXPECT_EQ(As(2000, 2000, NFSPROC3_LOOKUP, XOpaque(d) + XOpaque("f"))
                .FirstWord(),
            NFS3ERR_ACCES);
  EXPECT_EQ(As(1000, 1000, NFSPROC3_REMOVE, XOpaque(d) + XOpaque("f"))
                .FirstWord(),
            NFS3_OK);
}

TEST_F(PermissionsTest, StickyDirectoryRemovalAndRename) {
  std::string tmp = Mkdir(1000, 1000, root_, "tmp", 01777);
  ASSERT_EQ(Getattr(tmp).mode, 01777u);
  Sattr none;
  Create(2000, 2000, tmp, "a", none);
  Create(2000, 2000, tmp, "b", none);
  Create(2000, 2000, tmp, "c", none);
  Create(3000, 3000, tmp, "mine", none);
  auto remove = [&](uint32_t uid, const char* name, uint32_t client = kLocal) {
    return As(uid, uid, NFSPROC3_REMOVE, XOpaque(tmp) + XOpaque(name), client)
        .FirstWord();
  };
  EXPECT_EQ(remove(3000, "a"), NFS3ERR_PERM) << "not the file's owner";
  EXPECT_EQ(remove(0, "a"), NFS3ERR_PERM) << "squashed root is not root";
  EXPECT_EQ(As(3000, 3000, NFSPROC3_RENAME,
               XOpaque(tmp) + XOpaque("a") + XOpaque(tmp) + XOpaque("x"))
                .FirstWord(),
            NFS3ERR_PERM);
  EXPECT_EQ(As(2000, 2000, NFSPROC3_RENAME,
               XOpaque(tmp) + XOpaque("a") + XOpaque(tmp) + XOpaque("mine"))
                .FirstWord(),
            NFS3ERR_PERM)
      << "replacing another user's entry";
  EXPECT_EQ(remove(2000, "a"), NFS3_OK) << "the file's owner";
  EXPECT_EQ(remove(1000, "b"), NFS3_OK) << "the directory's owner";
  EXPECT_EQ(remove(0, "c", kTenNet), NFS3_OK) << "root";
  EXPECT_EQ(remove(3000, "mine"), NFS3_OK);
}

TEST_F(PermissionsTest, DatastoreRootIsSharedAndSticky) {
  fattr3 r = Getattr(root_);
  EXPECT_EQ(r.mode, 01777u);
  EXPECT_EQ(r.uid, 0u);
  Sattr none;
  std::string sq = Create(0, 0, root_, "by-squashed-root", none);
  EXPECT_EQ(Getattr(sq).uid, kSquashedId);
  Sattr chmod;
  chmod.mode = 0755;
  EXPECT_EQ(Setattr(0, 0, root_, chmod, kTenNet), NFS3ERR_PERM)
      << "the datastore root's mode is fixed";
  // Only root names another owner at CREATE.
  Sattr give;
  give.uid = 0;
  std::string given = Create(1000, 1000, root_, "given", give);
  EXPECT_EQ(Getattr(given).uid, 1000u);
  std::string by_root = Create(0, 0, root_, "by-root", give);
  EXPECT_EQ(Getattr(by_root).uid, kSquashedId);
  Sattr to1000;
  to1000.uid = 1000;
  std::string real = Create(0, 0, root_, "real-root", to1000);
  (void)real;
  Reply r2 = As(0, 0, NFSPROC3_CREATE,
                XOpaque(root_) + XOpaque("real-root2") + XU32(GUARDED) +
                    to1000.Encode(),
                kTenNet);
  ASSERT_EQ(r2.FirstWord(), NFS3_OK);
  EXPECT_EQ(Getattr(HandleOf(r2)).uid, 1000u);
}

// A setgid directory (BSD group semantics, as Linux under knfsd): what is
// created in it gets its group, and new directories are setgid too.
TEST_F(PermissionsTest, SetgidDirectoriesPassOnTheirGroup) {
  std::string shared = SharedSetgidDir();
  ASSERT_EQ(Getattr(shared).mode, 02777u);
  Sattr none;
  std::string f = Create(2000, 2000, shared, "f", none);
  EXPECT_EQ(Getattr(f).gid, 500u);
  EXPECT_EQ(Getattr(f).uid, 2000u);
  std::string d = Mkdir(2000, 2000, shared, "d", 0755);
  EXPECT_EQ(Getattr(d).gid, 500u);
  EXPECT_EQ(Getattr(d).mode, 02755u) << "a new directory is setgid too";
  std::string deeper = Create(2000, 2000, d, "g", none);
  EXPECT_EQ(Getattr(deeper).gid, 500u);
  Reply ln = As(2000, 2000, NFSPROC3_SYMLINK,
                XOpaque(shared) + XOpaque("l") + none.Encode() + XOpaque("t"));
  ASSERT_EQ(ln.FirstWord(), NFS3_OK);
  EXPECT_EQ(Getattr(HandleOf(ln)).gid, 500u);
  // Root naming a group explicitly still wins.
  Sattr g7;
  g7.gid = 7;
  Reply r = As(0, 0, NFSPROC3_CREATE,
               XOpaque(shared) + XOpaque("root") + XU32(GUARDED) + g7.Encode(),
               kTenNet);
  ASSERT_EQ(r.FirstWord(), NFS3_OK);
  EXPECT_EQ(Getattr(HandleOf(r)).gid, 7u);
  // Outside a setgid directory: the creator's group.
  std::string plain = Create(2000, 2000, root_, "plain", none);
  EXPECT_EQ(Getattr(plain).gid, 2000u);
}

// A new file in a setgid directory gets the directory's group, so a
// creator outside that group must not get a setgid-executable file of it:
// Linux (mode_strip_sgid) drops setgid from the requested mode when it
// comes with group x, the directory is setgid, and the creator is neither
// in the directory's group nor root. Before the fix the bit was kept.
TEST_F(PermissionsTest, CreateInSetgidDirectoryStripsSetgidForNonMembers) {
  std::string shared = SharedSetgidDir();
  std::string plain = Mkdir(1000, 1000, root_, "plain", 0777);
  struct Case {
    const char* name;
    std::string dir;
    uint32_t uid, gid;
    std::vector<uint32_t> gids;
    uint32_t client;
    uint32_t mode, want;
  };
  const Case cases[] = {
      {"non-member", shared, 2000, 2000, {}, kLocal, 02755, 0755},
      {"no group x, other x", shared, 2000, 2000, {}, kLocal, 02745, 02745},
      {"non-member, setuid kept", shared, 2000, 2000, {}, kLocal, 06755, 04755},
      {"squashed root", shared, 0, 0, {}, kLocal, 02755, 0755},
      {"no group x: locking mark", shared, 2000, 2000, {}, kLocal, 02644, 02644},
      {"member (primary)", shared, 2000, 500, {}, kLocal, 02755, 02755},
      {"member (gids)", shared, 2000, 2000, {7, 500}, kLocal, 02755, 02755},
      {"root", shared, 0, 0, {}, kTenNet, 02755, 02755},
      {"dir not setgid", plain, 2000, 2000, {}, kLocal, 02755, 02755},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Sattr m;
    m.mode = c.mode;
    for (uint32_t how : {GUARDED, UNCHECKED}) {
      Reply r = As(c.uid, c.gid, NFSPROC3_CREATE,
                   XOpaque(c.dir) + XOpaque("f" + std::to_string(++n)) +
                       XU32(how) + m.Encode(),
                   c.client, c.gids);
      ASSERT_EQ(r.FirstWord(), NFS3_OK);
      fattr3 a = Getattr(HandleOf(r));
      EXPECT_EQ(a.mode, c.want) << "how " << how;
      if (c.dir == shared && c.uid != 0) {
        EXPECT_EQ(a.gid, 500u);
      }
    }
  }
  // Directories always inherit setgid from a setgid parent.
  std::string d = Mkdir(2000, 2000, shared, "d", 02755);
  EXPECT_EQ(Getattr(d).mode, 02755u);
}

// setuid/setgid revocation as on Linux: chown/chgrp of a file, a write by
// anyone but root, and chmod g+s by a non-member.
TEST_F(PermissionsTest, SetuidAndSetgidBitsAreRevokedAsOnLinux) {
  Sattr suid;
  suid.mode = 06755;
  auto fresh = [&](const std::string& name) {
    std::string fh = Create(1000, 1000, root_, name, suid);
    EXPECT_EQ(Getattr(fh).mode, 06755u);
    return fh;
  };
  // chown by root (even to the same owner) revokes both.
  std::string a = fresh("a");
  Sattr own;
  own.uid = 1000;
  ASSERT_EQ(Setattr(0, 0, a, own, kTenNet), NFS3_OK);
  EXPECT_EQ(Getattr(a).mode, 0755u);
  // chgrp by the owner to one of its groups, with a mode in the same call.
  std::string b = fresh("b");
  Sattr grp;
  grp.gid = 1001;
  grp.mode = 06711;
  ASSERT_EQ(Setattr(1000, 1000, b, grp, kLocal, {1001}), NFS3_OK);
  EXPECT_EQ(Getattr(b).mode, 0711u);
  EXPECT_EQ(Getattr(b).gid, 1001u);
  // setgid without group x is a locking mark, not a privilege: kept.
  Sattr lockmark;
  lockmark.mode = 02644;
  std::string c = Create(1000, 1000, root_, "c", lockmark);
  ASSERT_EQ(Setattr(0, 0, c, own, kTenNet), NFS3_OK);
  EXPECT_EQ(Getattr(c).mode, 02644u);
  // A write by the owner revokes; a write by root does not.
  std::string w = fresh("w");
  ASSERT_EQ(Write(0, 0, w, "root", kTenNet), NFS3_OK);
  EXPECT_EQ(Getattr(w).mode, 06755u);
  ASSERT_EQ(Write(1000, 1000, w, "user"), NFS3_OK);
  EXPECT_EQ(Getattr(w).mode, 0755u);
  // chmod g+s by the owner who is not in the file's group: no setgid.
  std::string m = Create(1000, 1000, root_, "m", Sattr());
  Sattr chgrp;
  chgrp.gid = 42;
  ASSERT_EQ(Setattr(0, 0, m, chgrp, kTenNet), NFS3_OK);
  Sattr gs;
  gs.mode = 02755;
  ASSERT_EQ(Setattr(1000, 1000, m, gs), NFS3_OK);
  EXPECT_EQ(Getattr(m).mode, 0755u);
  ASSERT_EQ(Setattr(1000, 1000, m, gs, kLocal, {42}), NFS3_OK);
  EXPECT_EQ(Getattr(m).mode, 02755u) << "a member may";
  // Directories keep theirs on chown.
  std::string dir = Mkdir(1000, 1000, root_, "dir", 02755);
  ASSERT_EQ(Setattr(0, 0, dir, own, kTenNet), NFS3_OK);
  EXPECT_EQ(Getattr(dir).mode, 02755u);
}

TEST(Permissions, AllSquashMakesEveryoneNobody) {
  DispatchFixture f("/vnas 127.0.0.1/32(rw,all_squash)\n");
  std::string root = f.Mount("/vnas");
  Reply c = f.CallAs(NFSPROC3_CREATE,
                     XOpaque(root) + XOpaque("u") + XU32(GUARDED) +
                         std::string(24, '\0'),
                     1000, 1000, {}, 1);
  ASSERT_EQ(c.FirstWord(), NFS3_OK);
  Reply g = f.CallAs(NFSPROC3_GETATTR, XOpaque(HandleOf(c)), 0, 0, {}, 2);
  EXPECT_EQ(AttrsOf(g).uid, kSquashedId);
  EXPECT_EQ(AttrsOf(g).gid, kSquashedId);
}

}  // namespace
}  // namespace vnas::nfs
