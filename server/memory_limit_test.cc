// memory_limit_test.cc — cgroup v1 and v2 limits, ancestors, and "no limit".
#include "server/memory_limit.h"

#include <map>
#include <string>

#include <unistd.h>

#include "gtest/gtest.h"

namespace vnas::server {
namespace {

// A file system of the given files.
FileReader Files(std::map<std::string, std::string> files) {
  return [files](const std::string& path) -> std::optional<std::string> {
    auto it = files.find(path);
    if (it == files.end()) return std::nullopt;
    return it->second;
  };
}

TEST(CgroupMemoryLimit, V2TakesTheSmallestOfTheGroupAndItsAncestors) {
  auto read = Files({
      {"/proc/self/cgroup", "0::/system.slice/vnasd.service\n"},
      {"/sys/fs/cgroup/system.slice/vnasd.service/memory.max", "max\n"},
      {"/sys/fs/cgroup/system.slice/memory.max", "2147483648\n"},
      {"/sys/fs/cgroup/memory.max", "max\n"},
  });
  EXPECT_EQ(CgroupMemoryLimit(read), std::optional<uint64_t>(2147483648u));
}

TEST(CgroupMemoryLimit, V2InAContainerSeesItsOwnRoot) {
  auto read = Files({{"/proc/self/cgroup", "0::/\n"}, {"/sys/fs/cgroup/memory.max", "1073741824"}});
  EXPECT_EQ(CgroupMemoryLimit(read), std::optional<uint64_t>(1073741824u));
}

TEST(CgroupMemoryLimit, V1ReadsTheMemoryHierarchyOnly) {
  auto read = Files({
      {"/proc/self/cgroup",
       "9:name=systemd:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/x\n0::/\n"},
      {"/sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes", "3221225472\n"},
      {"/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes", "9223372036854771712\n"},
      {"/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n"},
      {"/sys/fs/cgroup/x/memory.limit_in_bytes", "1"},  // not the memory controller
      {"/sys/fs/cgroup/memory.max", "max"},
  });
  EXPECT_EQ(CgroupMemoryLimit(read), std::optional<uint64_t>(3221225472u));
}

TEST(CgroupMemoryLimit, ControllersListedTogetherCount) {
  auto read = Files({
      {"/proc/self/cgroup", "5:cpuset,memory:/g\n"},
      {"/sys/fs/cgroup/memory/g/memory.limit_in_bytes", "4096000"},
  });
  EXPECT_EQ(CgroupMemoryLimit(read), std::optional<uint64_t>(4096000u));
}

TEST(CgroupMemoryLimit, NoLimitUnreadableOrGarbageIsNone) {
  EXPECT_FALSE(CgroupMemoryLimit(Files({})).has_value());
  EXPECT_FALSE(CgroupMemoryLimit(Files({{"/proc/self/cgroup", "0::/a\n"},
                                        {"/sys/fs/cgroup/a/memory.max", "max"}}))
                   .has_value());
  EXPECT_FALSE(CgroupMemoryLimit(Files({{"/proc/self/cgroup", "garbage\n0::/\n"},
                                        {"/sys/fs/cgroup/memory.max", "lots"}}))
                   .has_value());
}

TEST(UsableMemoryBytes, IsTheMachinesMemoryOrLess) {
  const uint64_t phys = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) *
                        static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t usable = UsableMemoryBytes();
  EXPECT_GT(usable, 0u);
  EXPECT_LE(usable, phys);
}

}  // namespace
}  // namespace vnas::server
