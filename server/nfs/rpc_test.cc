#include "server/nfs/rpc.h"

#include "gtest/gtest.h"

namespace vnas::nfs {
namespace {

TEST(Rpc, ParsesAuthSysCall) {
  ByteBuffer b;
  XdrEncoder e(&b);
  WriteCallHeader(e, 77, 100003, 3, 1, true, 1000, 100);
  e.U32(0xdeadbeef);  // args
  RpcCall c;
  auth_stat a;
  ASSERT_EQ(ParseCall(b.view(), &c, &a), CallParse::kOk);
  EXPECT_EQ(c.xid, 77u);
  EXPECT_EQ(c.prog, 100003u);
  EXPECT_EQ(c.vers, 3u);
  EXPECT_EQ(c.proc, 1u);
  EXPECT_EQ(c.cred.flavor, kAuthSys);
  EXPECT_EQ(c.cred.uid, 1000u);
  EXPECT_EQ(c.cred.gid, 100u);
  EXPECT_EQ(c.cred.machinename, "vnas");
  EXPECT_EQ(c.args.size(), 4u);
}

TEST(Rpc, AuthNoneIsNobody) {
  ByteBuffer b;
  XdrEncoder e(&b);
  WriteCallHeader(e, 1, 100003, 3, 0, false);
  RpcCall c;
  auth_stat a;
  ASSERT_EQ(ParseCall(b.view(), &c, &a), CallParse::kOk);
  EXPECT_EQ(c.cred.uid, 65534u);
}

TEST(Rpc, RejectsBadVersionAndFlavor) {
  ByteBuffer b;
  XdrEncoder e(&b);
  e.U32(5);
  e.U32(0);
  e.U32(3);  // rpcvers 3
  RpcCall c;
  auth_stat a;
  EXPECT_EQ(ParseCall(b.view(), &c, &a), CallParse::kRpcMismatch);
  EXPECT_EQ(c.xid, 5u);

  ByteBuffer k;
  XdrEncoder ek(&k);
  ek.U32(6);
  ek.U32(0);
  ek.U32(2);
  ek.U32(100003);
  ek.U32(3);
  ek.U32(0);
  ek.U32(6);  // RPCSEC_GSS
  ek.U32(0);
  ek.U32(0);
  ek.U32(0);
  EXPECT_EQ(ParseCall(k.view(), &c, &a), CallParse::kAuthError);
  EXPECT_EQ(a, AUTH_REJECTEDCRED);
}

TEST(Rpc, TooManyGidsIsBadCred) {
  ByteBuffer body;
  XdrEncoder eb(&body);
  eb.U32(0);
  eb.Var("m");
  eb.U32(0);
  eb.U32(0);
  eb.U32(17);
  for (int i = 0; i < 17; ++i) eb.U32(i);
  ByteBuffer b;
  XdrEncoder e(&b);
  e.U32(9);
  e.U32(0);
  e.U32(2);
  e.U32(100003);
  e.U32(3);
  e.U32(0);
  e.U32(kAuthSys);
  e.Var(body.view());
  e.U32(0);
  e.U32(0);
  RpcCall c;
  auth_stat a;
  EXPECT_EQ(ParseCall(b.view(), &c, &a), CallParse::kAuthError);
  EXPECT_EQ(a, AUTH_BADCRED);
}

TEST(Rpc, ReplyIsNotACall) {
  ByteBuffer b;
  XdrEncoder e(&b);
  WriteAcceptedHeader(e, 1, SUCCESS);
  RpcCall c;
  auth_stat a;
  EXPECT_EQ(ParseCall(b.view(), &c, &a), CallParse::kDrop);
  EXPECT_EQ(b.size(), kAcceptedHeaderSize);
}

}  // namespace
}  // namespace vnas::nfs
