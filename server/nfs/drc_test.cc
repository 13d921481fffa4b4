#include "server/nfs/drc.h"

#include "gtest/gtest.h"

namespace vnas::nfs {
namespace {

TEST(Drc, ReplaysFinishedAndDropsInProgress) {
  DuplicateRequestCache c(16);
  DrcKey k{ClientAddr::V4(1), 2, 100003, 7, ArgsChecksum("args")};
  std::string r;
  EXPECT_EQ(c.Begin(k, &r), DuplicateRequestCache::Lookup::kNew);
  EXPECT_EQ(c.Begin(k, &r), DuplicateRequestCache::Lookup::kInProgress);
  c.Finish(k, "reply");
  EXPECT_EQ(c.Begin(k, &r), DuplicateRequestCache::Lookup::kReplay);
  EXPECT_EQ(r, "reply");
  // Same xid, different arguments: a new call.
  DrcKey k2 = k;
  k2.args_checksum = ArgsChecksum("other");
  EXPECT_EQ(c.Begin(k2, &r), DuplicateRequestCache::Lookup::kNew);
  // Different client: a new call.
  DrcKey k3 = k;
  k3.client = ClientAddr::V4(9);
  EXPECT_EQ(c.Begin(k3, &r), DuplicateRequestCache::Lookup::kNew);
  // The same number as an IPv6 client's address: another client.
  DrcKey k4 = k;
  const uint8_t v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  k4.client = ClientAddr::V6(v6);
  EXPECT_EQ(c.Begin(k4, &r), DuplicateRequestCache::Lookup::kNew);
}

TEST(Drc, ChecksumCoversTheHeadAndTheLength) {
  std::string a(8192, 'x');
  std::string b = a;
  b[100] = 'y';  // in the first 4 KiB: a different call
  EXPECT_NE(ArgsChecksum(a), ArgsChecksum(b));
  std::string c = a;
  c[5000] = 'y';  // past it: not looked at (cheap for big WRITEs)
  EXPECT_EQ(ArgsChecksum(a), ArgsChecksum(c));
  EXPECT_NE(ArgsChecksum(a), ArgsChecksum(a + "z"));  // the length counts
  EXPECT_EQ(ArgsChecksum(a), ArgsChecksum(std::string(a)));
}

TEST(Drc, IsBounded) {
  DuplicateRequestCache c(8);
  std::string r;
  for (uint32_t x = 0; x < 100; ++x) {
    DrcKey k{ClientAddr::V4(1), x, 1, 1, 0};
    ASSERT_EQ(c.Begin(k, &r), DuplicateRequestCache::Lookup::kNew);
    c.Finish(k, "r");
  }
  EXPECT_LE(c.size(), 9u);
  DrcKey first{ClientAddr::V4(1), 0, 1, 1, 0};
  EXPECT_EQ(c.Begin(first, &r), DuplicateRequestCache::Lookup::kNew);
}

TEST(Drc, AbandonForgets) {
  DuplicateRequestCache c(8);
  DrcKey k{ClientAddr::V4(1), 1, 1, 1, 0};
  std::string r;
  EXPECT_EQ(c.Begin(k, &r), DuplicateRequestCache::Lookup::kNew);
  c.Abandon(k);
  EXPECT_EQ(c.Begin(k, &r), DuplicateRequestCache::Lookup::kNew);
}

TEST(Drc, AbandonedAndRebegunKeyIsNotEvictedEarly) {
  DuplicateRequestCache c(2);
  std::string r;
  const ClientAddr one = ClientAddr::V4(1);
  DrcKey a{one, 1, 1, 1, 0}, b{one, 2, 1, 1, 0}, k{one, 3, 1, 1, 0};
  c.Begin(a, &r);
  c.Abandon(a);  // a's first order record is now stale
  c.Begin(b, &r);
  c.Finish(b, "B");
  ASSERT_EQ(c.Begin(a, &r), DuplicateRequestCache::Lookup::kNew);
  c.Finish(a, "A");  // a is now newer than b
  c.Begin(k, &r);    // over capacity: the oldest live entry (b) goes
  c.Finish(k, "K");
  EXPECT_EQ(c.Begin(a, &r), DuplicateRequestCache::Lookup::kReplay);
  EXPECT_EQ(r, "A");
  EXPECT_EQ(c.Begin(b, &r), DuplicateRequestCache::Lookup::kNew);
}

}  // namespace
}  // namespace vnas::nfs
