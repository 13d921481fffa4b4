#include "server/control/nfs_status.h"

#include "gtest/gtest.h"
#include "server/nfs/stats.h"

namespace vnas::control {
namespace {

TEST(NfsStatusTest, SplitsNamesAndGivesReadWriteTheirBytes) {
  nfs::NfsStats stats;
  stats.AddSlot("NFS3.READ")->Record(10, false);
  nfs::NfsStats::Slot* write = stats.AddSlot("NFS3.WRITE");
  write->Record(30, false);
  write->Record(50, true);
  stats.AddSlot("MOUNT3.MNT")->Record(5, false);
  stats.AddBytesRead(4096);
  stats.AddBytesWritten(3 << 20);
  stats.OnConnect();

  NfsStatus s = NfsStatusFrom(&stats)();
  ASSERT_EQ(s.counters.size(), 3u);
  EXPECT_EQ(s.counters[0].program, "NFS3");
  EXPECT_EQ(s.counters[0].procedure, "READ");
  EXPECT_EQ(s.counters[0].bytes, 4096u);
  EXPECT_EQ(s.counters[1].procedure, "WRITE");
  EXPECT_EQ(s.counters[1].calls, 2u);
  EXPECT_EQ(s.counters[1].errors, 1u);
  EXPECT_EQ(s.counters[1].total_latency_us, 80u);
  EXPECT_EQ(s.counters[1].max_latency_us, 50u);
  EXPECT_EQ(s.counters[1].bytes, 3u << 20);
  EXPECT_EQ(s.counters[2].program, "MOUNT3");
  EXPECT_EQ(s.counters[2].bytes, 0u);
  EXPECT_EQ(s.bytes_read, 4096u);
  EXPECT_EQ(s.bytes_written, 3u << 20);
  EXPECT_EQ(s.connected_clients, 1u);
}

}  // namespace
}  // namespace vnas::control
