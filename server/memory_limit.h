// memory_limit.h — how much memory this process may use: the machine's
// physical memory, or less where a control group caps it (a container, a
// systemd unit with MemoryMax=). vnasd sizes its default data cache from
// it, and commits that memory at start, so sizing it from the machine's
// memory alone inside a smaller cgroup would get it killed at start.
//
// Sources read (each missing or unreadable one is skipped):
//   - cgroup v2: the "0::<path>" line of /proc/self/cgroup; memory.max of
//     <root>/<path> and of each ancestor up to <root> ("max" = no limit);
//   - cgroup v1: the line whose controller list holds "memory";
//     memory.limit_in_bytes of <root>/memory/<path> and of each ancestor
//     (values near 2^63 mean no limit);
// where <root> is /sys/fs/cgroup. The smallest limit found wins.
#ifndef VNAS_SERVER_MEMORY_LIMIT_H_
#define VNAS_SERVER_MEMORY_LIMIT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace vnas::server {

// Reads a whole file; nullopt when it cannot.
using FileReader = std::function<std::optional<std::string>(const std::string& path)>;

// The smallest memory limit of this process's control groups, in bytes;
// nullopt when none is set (or none can be read). `read` reads files
// (tests pass a fake); `root` is where the cgroup file systems are mounted.
std::optional<uint64_t> CgroupMemoryLimit(const FileReader& read,
                                          const std::string& root = "/sys/fs/cgroup");

// Physical memory, capped by CgroupMemoryLimit (with the real files); 0
// when neither is known.
uint64_t UsableMemoryBytes();

}  // namespace vnas::server

#endif  // VNAS_SERVER_MEMORY_LIMIT_H_
