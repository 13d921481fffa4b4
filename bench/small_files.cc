// small_files — small-file create/write/remove rate, over NFS (libnfs C API)
// or on a local directory (POSIX), so both can be compared in one run.
//
//   small_files --nfs_url="nfs://127.0.0.1/vnas?nfsport=2049&mountport=2049"
//   small_files --local_dir=/tmp/x
// Prints one line: "small_files <mode> files=N size=B create+write/s=X
// remove/s=Y".
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"

extern "C" {
#include <nfsc/libnfs.h>
}

ABSL_FLAG(std::string, nfs_url, "", "nfs:// URL of a directory");
ABSL_FLAG(std::string, local_dir, "", "local directory instead of NFS");
ABSL_FLAG(int, files, 2000, "number of files");
ABSL_FLAG(int, size, 4096, "bytes written to each file");

namespace {

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

int RunNfs(const std::string& url, int n, const std::string& data,
           double* create_s, double* remove_s) {
  nfs_context* nfs = nfs_init_context();
  nfs_url* u = nfs_parse_url_dir(nfs, url.c_str());
  if (!u || nfs_mount(nfs, u->server, u->path) != 0) {
    fprintf(stderr, "mount %s: %s\n", url.c_str(), nfs_get_error(nfs));
    return 1;
  }
  nfs_destroy_url(u);
  nfs_mkdir(nfs, "/small_files");
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    std::string p = "/small_files/f" + std::to_string(i);
    nfsfh* fh = nullptr;
    if (nfs_creat(nfs, p.c_str(), 0644, &fh) != 0 ||
        nfs_write(nfs, fh, data.size(), const_cast<char*>(data.data())) !=
            static_cast<int>(data.size()) ||
        nfs_close(nfs, fh) != 0) {
      fprintf(stderr, "%s: %s\n", p.c_str(), nfs_get_error(nfs));
      return 1;
    }
  }
  *create_s = Seconds(t0);
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    std::string p = "/small_files/f" + std::to_string(i);
    if (nfs_unlink(nfs, p.c_str()) != 0) {
      fprintf(stderr, "unlink %s: %s\n", p.c_str(), nfs_get_error(nfs));
      return 1;
    }
  }
  *remove_s = Seconds(t0);
  nfs_rmdir(nfs, "/small_files");
  nfs_destroy_context(nfs);
  return 0;
}

int RunLocal(const std::string& dir, int n, const std::string& data,
             double* create_s, double* remove_s) {
  std::string base = dir + "/small_files";
  mkdir(base.c_str(), 0755);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    std::string p = base + "/f" + std::to_string(i);
    int fd = open(p.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd < 0 || write(fd, data.data(), data.size()) !=
                      static_cast<ssize_t>(data.size())) {
      perror(p.c_str());
      return 1;
    }
    close(fd);
  }
  *create_s = Seconds(t0);
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    std::string p = base + "/f" + std::to_string(i);
    if (unlink(p.c_str()) != 0) {
      perror(p.c_str());
      return 1;
    }
  }
  *remove_s = Seconds(t0);
  rmdir(base.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int n = absl::GetFlag(FLAGS_files);
  const std::string data(static_cast<size_t>(absl::GetFlag(FLAGS_size)), 'v');
  double create_s = 0, remove_s = 0;
  std::string mode;
  int rc;
  if (!absl::GetFlag(FLAGS_local_dir).empty()) {
    mode = "local";
    rc = RunLocal(absl::GetFlag(FLAGS_local_dir), n, data, &create_s, &remove_s);
  } else {
    mode = "nfs";
    rc = RunNfs(absl::GetFlag(FLAGS_nfs_url), n, data, &create_s, &remove_s);
  }
  if (rc != 0) return rc;
  printf("small_files %s files=%d size=%zu create+write/s=%.0f remove/s=%.0f\n",
         mode.c_str(), n, data.size(), n / create_s, n / remove_s);
  return 0;
}
