#include "server/nfs/fh.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace vnas::nfs {
namespace {

HandleKey Key(uint8_t seed) {
  HandleKey k;
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(seed + i);
  return k;
}

TEST(SipHash, MatchesReferenceVector) {
  // Reference vector from the SipHash paper: key 00..0f, message 00..0e.
  HandleKey k;
  for (int i = 0; i < 16; ++i) k[i] = static_cast<uint8_t>(i);
  std::string m;
  for (int i = 0; i < 15; ++i) m.push_back(static_cast<char>(i));
  EXPECT_EQ(SipHash24(k, m), 0xa129ca6149be45e5ULL);
}

TEST(FileHandle, RoundTripsWithin56Bytes) {
  FileHandleCodec c(Key(1));
  FhBytes fh = c.Encode(3, 0x123456789aULL, 7);
  EXPECT_LE(fh.len, 56u);
  auto d = c.Decode(fh.view());
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->export_index, 3u);
  EXPECT_EQ(d->ino, 0x123456789aULL);
  EXPECT_EQ(d->generation, 7u);
}

TEST(FileHandle, RejectsForgeryGarbageAndOtherKeys) {
  FileHandleCodec c(Key(1));
  FhBytes fh = c.Encode(0, 42, 1);
  for (size_t i = 0; i < fh.len; ++i) {
    FhBytes bad = fh;
    bad.bytes[i] ^= 1;
    EXPECT_FALSE(c.Decode(bad.view()).has_value()) << "byte " << i;
  }
  EXPECT_FALSE(c.Decode("").has_value());
  EXPECT_FALSE(c.Decode(std::string(100, 'x')).has_value());
  FileHandleCodec other(Key(2));
  EXPECT_FALSE(other.Decode(fh.view()).has_value());
}

TEST(FileHandle, KeyPersists) {
  std::string dir = testing::TempDir() + "/fhkey" + std::to_string(getpid());
  std::string cmd = "mkdir -p " + dir;
  ASSERT_EQ(system(cmd.c_str()), 0);
  auto k1 = LoadOrCreateHandleKey(dir + "/k");
  ASSERT_TRUE(k1.ok()) << k1.status();
  auto k2 = LoadOrCreateHandleKey(dir + "/k");
  ASSERT_TRUE(k2.ok());
  EXPECT_EQ(*k1, *k2);
  auto k3 = LoadOrCreateHandleKey(dir + "/other");
  ASSERT_TRUE(k3.ok());
  EXPECT_NE(*k1, *k3);
}

}  // namespace
}  // namespace vnas::nfs
