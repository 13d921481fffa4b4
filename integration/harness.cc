// harness.cc — see harness.h.
#include "integration/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"

namespace vnas::harness {
namespace {

bool g_in_netns = false;

void StoreBe32(unsigned char* p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

CommandResult RunCommand(const std::string& command, int timeout_s) {
  CommandResult r;
  std::string full = absl::StrCat("timeout -s KILL ", timeout_s, " /bin/sh -c ",
                                  ShellQuote(command), " 2>&1");
  FILE* p = popen(full.c_str(), "r");
  if (!p) {
    r.output = "popen failed";
    return r;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  if (r.exit_code == 137) r.exit_code = 124;  // killed by timeout
  return r;
}

absl::Status EnterPrivateNetns() {
  if (geteuid() != 0) return absl::PermissionDeniedError("not root");
  if (unshare(CLONE_NEWNET) != 0) {
    return absl::ErrnoToStatus(errno, "unshare(CLONE_NEWNET)");
  }
  CommandResult r = RunCommand("ip link set lo up", 10);
  if (r.exit_code != 0) {
    return absl::InternalError("ip link set lo up: " + r.output);
  }
  g_in_netns = true;
  return absl::OkStatus();
}

bool InPrivateNetns() { return g_in_netns; }

std::string MakeTempDir(const std::string& prefix) {
  const char* base = getenv("TEST_TMPDIR");
  std::string tmpl = absl::StrCat(base ? base : "/tmp", "/", prefix, "XXXXXX");
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) return "";
  return std::string(buf.data());
}

int PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  socklen_t len = sizeof(sa);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);
  return ntohs(sa.sin_port);
}

std::string VnasdPath() {
  // Override for running a test binary by hand against another build.
  if (const char* p = getenv("VNAS_VNASD"); p && *p) return p;
  for (const char* env : {"TEST_SRCDIR", "RUNFILES_DIR"}) {
    const char* dir = getenv(env);
    if (!dir) continue;
    std::string p = absl::StrCat(dir, "/vnas/server/vnasd");
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return "server/vnasd";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WriteRandomFile(const std::string& path, size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string data(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    memcpy(&data[i], &v, std::min<size_t>(8, n - i));
  }
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  return static_cast<bool>(out);
}

bool FillFileSystem(const std::string& path) {
  FILE* f = fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  std::string mb(1 << 20, 'x');
  while (fwrite(mb.data(), 1, mb.size(), f) == mb.size()) {
  }
  fclose(f);
  return true;
}

bool RpcPing(int port, uint32_t prog, uint32_t vers, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) {
    // Record mark + xid, CALL, rpcvers 2, prog, vers, proc 0, AUTH_NONE x2.
    unsigned char m[4 + 40];
    uint32_t words[10] = {0x1234, 0, 2, prog, vers, 0, 0, 0, 0, 0};
    StoreBe32(m, 0x80000000u | 40);
    for (int i = 0; i < 10; ++i) StoreBe32(m + 4 + 4 * i, words[i]);
    if (write(fd, m, sizeof(m)) == static_cast<ssize_t>(sizeof(m))) {
      pollfd p{fd, POLLIN, 0};
      unsigned char reply[64];
      if (poll(&p, 1, timeout_ms) == 1 && read(fd, reply, sizeof(reply)) >= 28) {
        ok = true;
      }
    }
  }
  close(fd);
  return ok;
}

// ---- Vnasd ---------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Vnasd>> Vnasd::Start(Options options) {
  if (options.data_dir.empty()) {
    std::string tmp = MakeTempDir("vnasd");
    if (tmp.empty()) return absl::InternalError("mkdtemp failed");
    options.data_dir = tmp + "/data";
  }
  if (options.portmap && !InPrivateNetns()) {
    return absl::FailedPreconditionError(
        "portmap on port 111 needs the private network namespace "
        "(link //integration:netns_gtest_main)");
  }
  std::unique_ptr<Vnasd> d(new Vnasd(std::move(options)));
  d->port_ = d->opts_.nfs_port ? d->opts_.nfs_port : PickFreePort();
  d->control_port_ = PickFreePort();
  d->log_path_ = d->opts_.data_dir + ".log";
  absl::Status s = d->Spawn();
  if (!s.ok()) return s;
  return d;
}

Vnasd::~Vnasd() { Kill9(); }

absl::Status Vnasd::Spawn() {
  std::vector<std::string> args = {
      VnasdPath(),
      "--data_dir=" + opts_.data_dir,
      absl::StrCat("--nfs_listen=", opts_.dual_stack ? "[::]:" : "127.0.0.1:",
                   port_),
      !opts_.portmap      ? "--portmap_listen=none"
      : opts_.dual_stack ? "--portmap_listen=[::]:111"
                         : "--portmap_listen=127.0.0.1:111",
      absl::StrCat("--control_listen=127.0.0.1:", control_port_),
      absl::StrCat("--capacity=", opts_.capacity),
      // A small data cache: it is committed at start, and tests start
      // hundreds of servers (extra_flags may ask for another size).
      "--data_cache_mb=64",
  };
  if (!opts_.exports.empty()) {
    std::string path = opts_.data_dir + ".exports";
    std::ofstream(path) << opts_.exports;
    args.push_back("--exports_file=" + path);
  }
  for (const std::string& f : opts_.extra_flags) args.push_back(f);
  pid_t pid = fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
  if (pid == 0) {
    int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  return WaitReady();
}

absl::Status Vnasd::WaitReady() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    int st;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError("vnasd exited early:\n" + Output());
    }
    // Up once NFS answers and the banner is out: vnasd prints it after
    // every front end (the control plane too) has started.
    if (RpcPing(port_, 100003, 3, 500) &&
        Output().find("vnasd: try: ") != std::string::npos) {
      return absl::OkStatus();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError("vnasd did not answer:\n" + Output());
}

absl::StatusOr<int> Vnasd::Stop() {
  if (pid_ < 0) return absl::FailedPreconditionError("not running");
  kill(pid_, SIGTERM);
  int st = 0;
  for (int i = 0; i < 200; ++i) {
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Kill9();
  return absl::DeadlineExceededError("vnasd ignored SIGTERM for 10 s");
}

void Vnasd::Kill9() {
  if (pid_ < 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

absl::Status Vnasd::Restart(bool kill9) {
  if (kill9) {
    Kill9();
  } else if (pid_ >= 0) {
    absl::StatusOr<int> st = Stop();
    if (!st.ok()) return st.status();
    if (*st != 0) {
      return absl::InternalError(
          absl::StrCat("vnasd exited ", *st, " on SIGTERM:\n", Output()));
    }
  }
  return Spawn();
}

std::string Vnasd::Output() const { return ReadFile(log_path_); }

std::string Vnasd::Url(const std::string& path) const {
  return absl::StrCat("nfs://127.0.0.1/vnas", path.empty() ? "" : "/", path,
                      "?nfsport=", port_, "&mountport=", port_);
}

std::string Vnasd::Url6(const std::string& path) const {
  return absl::StrCat("nfs://::1/vnas", path.empty() ? "" : "/", path,
                      "?nfsport=", port_, "&mountport=", port_);
}

std::string Vnasd::PortmapUrl(const std::string& path) const {
  return absl::StrCat("nfs://127.0.0.1/vnas", path.empty() ? "" : "/", path);
}

}  // namespace vnas::harness
