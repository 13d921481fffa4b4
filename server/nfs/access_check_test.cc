// access_check_test — the permission rules of access_check.h, table-driven.
#include "server/nfs/access_check.h"

#include "gtest/gtest.h"

namespace vnas::nfs {
namespace {

using storage::Attr;
using storage::FileType;

Attr File(uint32_t mode, uint32_t uid, uint32_t gid,
          FileType type = FileType::kRegular) {
  Attr a;
  a.ino = 42;
  a.type = type;
  a.mode = mode;
  a.uid = uid;
  a.gid = gid;
  return a;
}
Attr Dir(uint32_t mode, uint32_t uid, uint32_t gid) {
  return File(mode, uid, gid, FileType::kDirectory);
}
Credential Cred(uint32_t uid, uint32_t gid, std::vector<uint32_t> gids = {}) {
  Credential c;
  c.uid = uid;
  c.gid = gid;
  c.gids = std::move(gids);
  return c;
}

TEST(AccessCheck, EffectiveCredentialSquashesRoot) {
  RpcCall call;
  call.cred.flavor = kAuthSys;
  call.cred.uid = 0;
  call.cred.gid = 0;
  call.cred.gids = {0, 5};
  Credential sq = EffectiveCredential(&call, ExportAccess{true, true});
  EXPECT_EQ(sq.uid, kSquashedId);
  EXPECT_EQ(sq.gid, kSquashedId);
  EXPECT_EQ(sq.gids, (std::vector<uint32_t>{kSquashedId, 5}));
  EXPECT_FALSE(sq.IsRoot());
  Credential ns = EffectiveCredential(&call, ExportAccess{true, false});
  EXPECT_TRUE(ns.IsRoot());
  EXPECT_EQ(ns.gids, (std::vector<uint32_t>{0, 5}));
  call.cred.uid = 1000;
  call.cred.gid = 0;  // root group is squashed too
  Credential u = EffectiveCredential(&call, ExportAccess{true, true});
  EXPECT_EQ(u.uid, 1000u);
  EXPECT_EQ(u.gid, kSquashedId);
  EXPECT_EQ(EffectiveCredential(nullptr, ExportAccess{}).uid, kSquashedId);
  call.cred.uid = 1000;
  call.cred.gid = 1000;
  Credential all = EffectiveCredential(&call, ExportAccess{true, false, true});
  EXPECT_EQ(all.uid, kSquashedId);
  EXPECT_EQ(all.gid, kSquashedId);
  EXPECT_TRUE(all.gids.empty());
}

TEST(AccessCheck, PermittedPicksOneClass) {
  struct Case {
    const char* what;
    Credential cred;
    Attr attr;
    uint32_t want;
  } cases[] = {
      {"owner rw-", Cred(1000, 1000), File(0640, 1000, 100), 6},
      {"group r--", Cred(2000, 100), File(0640, 1000, 100), 4},
      {"group via gids", Cred(2000, 7, {3, 100}), File(0640, 1000, 100), 4},
      {"other ---", Cred(2000, 7), File(0640, 1000, 100), 0},
      {"owner without r, other r: no fallthrough", Cred(1000, 1),
       File(0044, 1000, 100), 0},
      {"squashed root on 0600", Cred(kSquashedId, kSquashedId),
       File(0600, 1000, 1000), 0},
      {"root on 0600", Cred(0, 0), File(0600, 1000, 1000), 6},
      {"root exec needs an x bit", Cred(0, 0), File(0644, 1000, 1), 6},
      {"root exec with other x", Cred(0, 0), File(0601, 1000, 1), 7},
      {"root searches any dir", Cred(0, 0), Dir(0000, 1000, 1), 7},
      {"other on 0755 dir", Cred(5, 5), Dir(0755, 1000, 1), 5},
      {"owner of 0700 dir", Cred(1000, 5), Dir(0700, 1000, 1), 7},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Permitted(c.cred, c.attr), c.want) << c.what;
  }
}

TEST(AccessCheck, DatastoreRootIsServedSticky) {
  Attr root = Dir(0755, 0, 0);
  root.ino = storage::kRootInode;
  EXPECT_EQ(ServedMode(root), kServedRootMode);
  EXPECT_EQ(CheckDirChange(Cred(kSquashedId, kSquashedId), root), NFS3_OK);
  Attr mine = File(0644, 1000, 1000);
  EXPECT_EQ(CheckSticky(Cred(2000, 2000), root, mine), NFS3ERR_PERM);
  EXPECT_EQ(CheckSticky(Cred(1000, 1), root, mine), NFS3_OK);
  sattr3 chmod;
  chmod.set_mode = true;
  chmod.mode = 0700;
  EXPECT_EQ(CheckSetattr(Cred(0, 0), root, chmod), NFS3ERR_PERM);
}

TEST(AccessCheck, OwnerOverrideAndReadIfExec) {
  Attr ro = File(0400, 1000, 1000);
  EXPECT_FALSE(May(Cred(1000, 1000), ro, kMayWrite));
  EXPECT_TRUE(May(Cred(1000, 1000), ro, kMayWrite, true));
  EXPECT_FALSE(May(Cred(1001, 1000), ro, kMayWrite, true));
  Attr none = File(0000, 1000, 1000);
  EXPECT_TRUE(MayReadData(Cred(1000, 1000), none));
  EXPECT_FALSE(MayReadData(Cred(1001, 1001), none));
  EXPECT_TRUE(MayReadData(Cred(1001, 1001), File(0711, 1000, 1000)));
  EXPECT_FALSE(MayReadData(Cred(kSquashedId, kSquashedId), File(0600, 1000, 1000)));
}

TEST(AccessCheck, DirectoryChangesAndSticky) {
  struct Case {
    const char* what;
    Credential cred;
    Attr dir;
    Attr victim;
    nfsstat3 change, sticky;
  } cases[] = {
      {"other in 0755", Cred(5, 5), Dir(0755, 1000, 1), File(0644, 5, 5),
       NFS3ERR_ACCES, NFS3_OK},
      {"write without search", Cred(5, 5), Dir(0776, 1000, 1),
       File(0644, 5, 5), NFS3ERR_ACCES, NFS3_OK},
      {"other in 0777", Cred(5, 5), Dir(0777, 1000, 1), File(0644, 6, 6),
       NFS3_OK, NFS3_OK},
      {"sticky: not mine", Cred(5, 5), Dir(01777, 1000, 1), File(0644, 6, 6),
       NFS3_OK, NFS3ERR_PERM},
      {"sticky: my file", Cred(6, 5), Dir(01777, 1000, 1), File(0644, 6, 6),
       NFS3_OK, NFS3_OK},
      {"sticky: my dir", Cred(1000, 5), Dir(01777, 1000, 1), File(0644, 6, 6),
       NFS3_OK, NFS3_OK},
      {"sticky: root", Cred(0, 0), Dir(01777, 1000, 1), File(0644, 6, 6),
       NFS3_OK, NFS3_OK},
      {"sticky: squashed root", Cred(kSquashedId, kSquashedId),
       Dir(01777, 1000, 1), File(0644, 6, 6), NFS3_OK, NFS3ERR_PERM},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(CheckDirChange(c.cred, c.dir), c.change) << c.what;
    EXPECT_EQ(CheckSticky(c.cred, c.dir, c.victim), c.sticky) << c.what;
  }
}

TEST(AccessCheck, Setattr) {
  auto S = [](auto fill) {
    sattr3 s;
    fill(s);
    return s;
  };
  const sattr3 size0 = S([](sattr3& s) { s.set_size = true; s.size = 0; });
  const sattr3 chown0 = S([](sattr3& s) { s.set_uid = true; s.uid = 0; s.set_gid = true; s.gid = 0; });
  const sattr3 chown_same = S([](sattr3& s) { s.set_uid = true; s.uid = 1000; });
  const sattr3 chgrp7 = S([](sattr3& s) { s.set_gid = true; s.gid = 7; });
  const sattr3 chmod = S([](sattr3& s) { s.set_mode = true; s.mode = 0777; });
  const sattr3 now = S([](sattr3& s) { s.set_mtime = SET_TO_SERVER_TIME; });
  const sattr3 when = S([](sattr3& s) { s.set_mtime = SET_TO_CLIENT_TIME; });
  const Attr priv = File(0600, 1000, 1000);
  const Attr shared = File(0666, 1000, 1000);
  const Credential owner = Cred(1000, 1000, {7});
  const Credential other = Cred(2000, 2000);
  const Credential squashed = Cred(kSquashedId, kSquashedId);
  const Credential root = Cred(0, 0);
  struct Case {
    const char* what;
    Credential cred;
    Attr attr;
    sattr3 s;
    nfsstat3 want;
  } cases[] = {
      {"squashed truncates 0600", squashed, priv, size0, NFS3ERR_ACCES},
      {"other truncates 0666", other, shared, size0, NFS3_OK},
      {"owner truncates 0400", owner, File(0400, 1000, 1000), size0, NFS3_OK},
      {"squashed chowns", squashed, priv, chown0, NFS3ERR_PERM},
      {"owner chowns away", owner, priv, chown0, NFS3ERR_PERM},
      {"owner chown to self", owner, priv, chown_same, NFS3_OK},
      {"root chowns", root, priv, chown0, NFS3_OK},
      {"owner chgrp to own group", owner, priv, chgrp7, NFS3_OK},
      {"owner chgrp elsewhere", Cred(1000, 1000), priv, chgrp7, NFS3ERR_PERM},
      {"other chgrp", Cred(2000, 7), priv, chgrp7, NFS3ERR_PERM},
      {"owner chmod", owner, priv, chmod, NFS3_OK},
      {"other chmod 0666", other, shared, chmod, NFS3ERR_PERM},
      {"root chmod", root, priv, chmod, NFS3_OK},
      {"other touch 0666", other, shared, now, NFS3_OK},
      {"other touch 0600", other, priv, now, NFS3ERR_ACCES},
      {"other sets mtime on 0666", other, shared, when, NFS3ERR_PERM},
      {"owner sets mtime", owner, File(0400, 1000, 1000), when, NFS3_OK},
      {"root sets mtime", root, priv, when, NFS3_OK},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(CheckSetattr(c.cred, c.attr, c.s), c.want) << c.what;
  }
}

TEST(AccessCheck, Access3Bits) {
  constexpr uint32_t kAll = 0x3f;
  constexpr uint32_t R = ACCESS3_READ, L = ACCESS3_LOOKUP, M = ACCESS3_MODIFY,
                     E = ACCESS3_EXTEND, D = ACCESS3_DELETE,
                     X = ACCESS3_EXECUTE;
  struct Case {
    const char* what;
    Credential cred;
    Attr attr;
    bool writable;
    uint32_t requested, want;
  } cases[] = {
      {"owner of 0640 file", Cred(1000, 1), File(0640, 1000, 100), true, kAll,
       R | M | E},
      {"group of 0640 file", Cred(2, 100), File(0640, 1000, 100), true, kAll, R},
      {"other of 0640 file", Cred(2, 2), File(0640, 1000, 100), true, kAll, 0},
      {"squashed root, 0600 file", Cred(kSquashedId, kSquashedId),
       File(0600, 1000, 1000), true, kAll, 0},
      {"root, 0600 file", Cred(0, 0), File(0600, 1000, 1000), true, kAll,
       R | M | E},
      {"root, 0755 file", Cred(0, 0), File(0755, 1000, 1000), true, kAll,
       R | M | E | X},
      {"root, ro export", Cred(0, 0), File(0755, 1000, 1000), false, kAll,
       R | X},
      {"owner of 0755 dir", Cred(1000, 1), Dir(0755, 1000, 1), true, kAll,
       R | L | M | E | D},
      {"other of 0755 dir", Cred(5, 5), Dir(0755, 1000, 1), true, kAll, R | L},
      {"other of 0733 dir", Cred(5, 5), Dir(0733, 1000, 1), true, kAll,
       L | M | E | D},
      {"owner, ro export dir", Cred(1000, 1), Dir(0755, 1000, 1), false, kAll,
       R | L},
      {"only what was asked", Cred(1000, 1), Dir(0755, 1000, 1), true, R | D,
       R | D},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Access3(c.cred, c.attr, c.writable, c.requested), c.want)
        << c.what;
  }
}

}  // namespace
}  // namespace vnas::nfs
