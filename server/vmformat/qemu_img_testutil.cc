// qemu_img_testutil.cc — see qemu_img_testutil.h.
#include "server/vmformat/qemu_img_testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vnas::vmformat::testing {

std::string FreshDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
  std::string cmd = absl::StrCat("rm -rf '", dir, "'");
  if (std::system(cmd.c_str()) != 0) return dir;
  mkdir(dir.c_str(), 0755);
  return dir;
}

absl::Status RunQemuImg(const std::string& dir,
                        const std::vector<std::string>& args) {
  if (access(kQemuImg, X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(kQemuImg, " is missing: apt-get install qemu-utils "
                               "(deploy/install-deps.sh installs it)"));
  }
  const std::string log = dir + "/.qemu-img.log";
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0) _exit(126);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(kQemuImg));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(kQemuImg, argv.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::ifstream in(log);
  std::stringstream out;
  out << in.rdbuf();
  unlink(log.c_str());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("qemu-img ", absl::StrJoin(args, " "),
                                            " failed: ", out.str()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadRange(const std::string& path, uint64_t offset,
                                      uint64_t len) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("open ", path));
  std::string buf(len, '\0');
  uint64_t got = 0;
  while (got < len) {
    ssize_t n = pread(fd, &buf[got], len - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<uint64_t>(n);
  }
  close(fd);
  buf.resize(got);
  return buf;
}

absl::Status WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return out.good() ? absl::OkStatus()
                    : absl::InternalError(absl::StrCat("write ", path));
}

absl::StatusOr<FileSample> SampleFile(const std::string& dir,
                                      const std::string& name) {
  const std::string path = dir + "/" + name;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("stat ", path));
  }
  FileSample f;
  f.name = name;
  f.size = static_cast<uint64_t>(st.st_size);
  f.mtime_sec = st.st_mtime;
  absl::StatusOr<std::string> head = ReadRange(path, 0, kSampleBytes);
  if (!head.ok()) return head.status();
  f.head = std::move(*head);
  return f;
}

absl::StatusOr<std::vector<FileSample>> SampleDir(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return absl::NotFoundError(absl::StrCat("opendir ", dir));
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == ".." || n == ".qemu-img.log") continue;
    names.push_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  std::vector<FileSample> out;
  for (const std::string& n : names) {
    absl::StatusOr<FileSample> f = SampleFile(dir, n);
    if (!f.ok()) return f.status();
    out.push_back(std::move(*f));
  }
  return out;
}

namespace {
uint64_t GetLE(const std::string& s, size_t off, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[off + i]);
  return v;
}
void PutLE(std::string* s, size_t off, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) (*s)[off + i] = static_cast<char>(v >> (8 * i));
}
std::string Utf16(const std::string& a) {
  std::string out;
  for (char c : a) {
    out.push_back(c);
    out.push_back('\0');
  }
  return out;
}
}  // namespace

absl::StatusOr<std::string> VhdxDataWriteGuid(const std::string& file) {
  constexpr size_t kHeader = 64 * 1024, kGuidAt = 32;
  if (file.size() < kHeader + kGuidAt + 16) {
    return absl::InvalidArgumentError("VHDX shorter than its first header");
  }
  auto hex = [&](int i) {
    return absl::StrCat(absl::Hex(static_cast<unsigned char>(
                                      file[kHeader + kGuidAt + i]),
                                  absl::kZeroPad2));
  };
  // GUIDs are stored little-endian in their first three fields.
  return absl::StrCat("{", hex(3), hex(2), hex(1), hex(0), "-", hex(5), hex(4),
                      "-", hex(7), hex(6), "-", hex(8), hex(9), "-", hex(10),
                      hex(11), hex(12), hex(13), hex(14), hex(15), "}");
}

absl::StatusOr<std::string> MakeDifferencingVhdx(
    const std::string& base, const std::string& relative_path,
    const std::string& parent_linkage) {
  std::string f = base;
  const size_t rt = 192 * 1024;
  if (f.size() < rt + 65536 || f.compare(rt, 4, "regi") != 0) {
    return absl::InvalidArgumentError("not a whole qemu VHDX");
  }
  // Metadata region: GUID 8B7CA206-4790-4B9A-B8FE-575F050F886E.
  const std::string kMeta("\x06\xa2\x7c\x8b\x90\x47\x9a\x4b\xb8\xfe\x57\x5f\x05\x0f\x88\x6e", 16);
  uint64_t meta = 0;
  for (uint64_t i = 0; i < GetLE(f, rt + 8, 4); ++i) {
    if (f.compare(rt + 16 + 32 * i, 16, kMeta) == 0) meta = GetLE(f, rt + 16 + 32 * i + 16, 8);
  }
  if (meta == 0 || f.size() < meta + 256 * 1024) {
    return absl::InvalidArgumentError("no metadata region");
  }
  const std::string kParams("\x37\x67\xa1\xca\x36\xfa\x43\x4d\xb3\xb6\x33\xf0\xaa\x44\xe7\x6b", 16);
  const uint64_t n = GetLE(f, meta + 10, 2);
  for (uint64_t i = 0; i < n; ++i) {
    const size_t e = meta + 32 + 32 * i;
    if (f.compare(e, 16, kParams) == 0) {
      const size_t item = meta + GetLE(f, e + 16, 4);
      PutLE(&f, item + 4, GetLE(f, item + 4, 4) | 2, 4);
    }
  }
  // Parent locator item.
  const std::vector<std::pair<std::string, std::string>> kv = {
      {"parent_linkage", parent_linkage},
      {"relative_path", relative_path},
      {"absolute_win32_path", "C:\\vms\\" + relative_path}};
  std::string loc(20 + 12 * kv.size(), '\0');
  const std::string kType("\xb7\xef\x4a\xb0\x9e\xd1\x81\x4a\xb7\x89\x25\xb8\xe9\x44\x59\x13", 16);
  loc.replace(0, 16, kType);
  PutLE(&loc, 18, kv.size(), 2);
  for (size_t i = 0; i < kv.size(); ++i) {
    std::string k = Utf16(kv[i].first), v = Utf16(kv[i].second);
    PutLE(&loc, 20 + 12 * i, loc.size(), 4);
    loc += k;
    PutLE(&loc, 20 + 12 * i + 4, loc.size(), 4);
    loc += v;
    PutLE(&loc, 20 + 12 * i + 8, k.size(), 2);
    PutLE(&loc, 20 + 12 * i + 10, v.size(), 2);
  }
  const uint64_t loc_off = 128 * 1024;
  f.replace(meta + loc_off, loc.size(), loc);
  const size_t e = meta + 32 + 32 * n;
  const std::string kLoc("\x2d\x5f\xd3\xa8\x0b\xb3\x4d\x45\xab\xf7\xd3\xd8\x48\x34\xab\x0c", 16);
  f.replace(e, 16, kLoc);
  PutLE(&f, e + 16, loc_off, 4);
  PutLE(&f, e + 20, loc.size(), 4);
  PutLE(&f, e + 24, 4 | 2, 4);  // IsRequired | IsVirtualDisk
  PutLE(&f, meta + 10, n + 1, 2);
  return f;
}

absl::StatusOr<int> FetchWantedRanges(const std::string& dir, FileSample* file) {
  for (int round = 0; round < 8; ++round) {
    std::vector<WantedRange> want = WantedRanges(*file);
    if (want.empty()) return round;
    for (const WantedRange& w : want) {
      absl::StatusOr<std::string> b = ReadRange(dir + "/" + file->name, w.offset, w.length);
      if (!b.ok()) return b.status();
      file->extra.push_back({w.offset, std::move(*b)});
    }
  }
  return absl::InternalError("WantedRanges did not converge");
}

}  // namespace vnas::vmformat::testing
