// netns_gtest_main.cc — gtest main that first enters a private network
// namespace (before any thread exists), so vnasd can serve the portmapper
// on 127.0.0.1:111 for qemu's nfs:// driver without touching the machine.
// When that is impossible (not root), tests that need it skip themselves
// (check vnas::harness::InPrivateNetns()).
#include <cstdio>

#include "gtest/gtest.h"
#include "integration/harness.h"

int main(int argc, char** argv) {
  absl::Status s = vnas::harness::EnterPrivateNetns();
  if (!s.ok()) {
    fprintf(stderr, "netns_gtest_main: no private network namespace: %s\n",
            s.ToString().c_str());
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
