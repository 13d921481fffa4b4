// rand_io — random I/O with several requests in flight over one NFSv3
// connection (libnfs async API), against an existing file, for a fixed time.
// Prints IOPS, so vnasd and other servers can be compared in one run.
//
//   rand_io --url="nfs://127.0.0.1/vnas/big?nfsport=2049&mountport=2049"
//           --mode=randwrite --bs=4096 --depth=16 --seconds=10
//
// Modes:
//   randread        READ of random bs-aligned blocks;
//   randwrite       WRITE UNSTABLE, then one COMMIT, timed with the writes
//                   (the figure counts only data the server made durable);
//   randwrite_sync  WRITE FILE_SYNC (libnfs does this for files opened
//                   O_SYNC): every reply means the block is on disk;
//   commit          no I/O: one COMMIT of the whole file, as a client sends
//                   on close (nfs-cp sends none; the bench times it with
//                   the copy, so the copy's figure is durable).
// --sequential issues the offsets in order instead (a stream).
// The file must already exist; its size bounds the offsets. Written blocks
// hold a fixed pattern (the file's old contents are overwritten).
// Prints one line: "rand_io <mode> bs=B depth=D: X IOPS (N ops in S s)".
#include <fcntl.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

extern "C" {
#include <nfsc/libnfs.h>
}

ABSL_FLAG(std::string, url, "", "nfs:// URL of an existing file");
ABSL_FLAG(std::string, mode, "randread",
          "randread | randwrite | randwrite_sync | commit");
ABSL_FLAG(int, bs, 4096, "bytes per request (offsets are bs-aligned)");
ABSL_FLAG(int, depth, 16, "requests in flight");
ABSL_FLAG(double, seconds, 10, "how long to issue requests");
ABSL_FLAG(bool, sequential, false,
          "offsets in order (wrapping at the end) instead of random: a "
          "stream of bs-sized requests, depth of them in flight");

namespace {

using Clock = std::chrono::steady_clock;

// One run's state, shared with libnfs callbacks (all on this thread).
struct Run {
  nfs_context* nfs = nullptr;
  nfsfh* fh = nullptr;
  bool write = false;
  uint64_t blocks = 0;  // file size / bs
  uint64_t bs = 0;
  std::string buf;  // what writes send
  std::mt19937_64 rng{7};
  bool sequential = false;
  uint64_t next = 0;  // the next block, when sequential
  Clock::time_point deadline;
  int in_flight = 0;
  uint64_t done = 0;
  absl::Status error;
};

void OnDone(int err, nfs_context* nfs, void* data, void* private_data);

// Queues one request at a random block; records an error on failure.
void Issue(Run* r) {
  const uint64_t block = r->sequential ? r->next++ % r->blocks : r->rng() % r->blocks;
  const uint64_t off = block * r->bs;
  const int rc =
      r->write ? nfs_pwrite_async(r->nfs, r->fh, off, r->bs, r->buf.data(),
                                  OnDone, r)
               : nfs_pread_async(r->nfs, r->fh, off, r->bs, OnDone, r);
  if (rc != 0) {
    r->error = absl::InternalError(
        absl::StrCat("queue at ", off, ": ", nfs_get_error(r->nfs)));
    return;
  }
  ++r->in_flight;
}

void OnDone(int err, nfs_context* /*nfs*/, void* data, void* private_data) {
  Run* r = static_cast<Run*>(private_data);
  --r->in_flight;
  if (err < 0) {
    if (r->error.ok()) {
      r->error = absl::InternalError(absl::StrCat(
          r->write ? "WRITE: " : "READ: ", static_cast<const char*>(data)));
    }
    return;
  }
  if (static_cast<uint64_t>(err) != r->bs && r->error.ok()) {
    r->error = absl::DataLossError(absl::StrCat("short I/O: ", err, " bytes"));
    return;
  }
  ++r->done;
  if (r->error.ok() && Clock::now() < r->deadline) Issue(r);
}

// Services the connection until nothing is in flight.
absl::Status Drain(Run* r) {
  while (r->in_flight > 0) {
    pollfd p{nfs_get_fd(r->nfs), static_cast<short>(nfs_which_events(r->nfs)),
             0};
    if (poll(&p, 1, 100) < 0) return absl::ErrnoToStatus(errno, "poll");
    if (nfs_service(r->nfs, p.revents) < 0) {
      return absl::UnavailableError(
          absl::StrCat("nfs_service: ", nfs_get_error(r->nfs)));
    }
  }
  return absl::OkStatus();
}

// Mounts the URL's export and opens its file into r->nfs / r->fh.
absl::Status Open(const std::string& url, bool sync, Run* r) {
  r->nfs = nfs_init_context();
  if (r->nfs == nullptr) return absl::InternalError("nfs_init_context");
  nfs_url* u = nfs_parse_url_full(r->nfs, url.c_str());
  if (u == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(url, ": ", nfs_get_error(r->nfs)));
  }
  absl::Status s;
  if (nfs_mount(r->nfs, u->server, u->path) != 0 ||
      nfs_open(r->nfs, u->file, O_RDWR | (sync ? O_SYNC : 0), &r->fh) != 0) {
    s = absl::UnavailableError(absl::StrCat(url, ": ", nfs_get_error(r->nfs)));
  }
  nfs_destroy_url(u);
  return s;
}

absl::Status RunBench(Run* r, bool commit, double seconds, int depth,
                      double* elapsed) {
  nfs_stat_64 st{};
  if (nfs_fstat64(r->nfs, r->fh, &st) != 0) {
    return absl::UnavailableError(
        absl::StrCat("fstat: ", nfs_get_error(r->nfs)));
  }
  r->blocks = st.nfs_size / r->bs;
  if (r->blocks == 0) return absl::FailedPreconditionError("file too small");
  const Clock::time_point t0 = Clock::now();
  r->deadline =
      t0 + std::chrono::duration_cast<Clock::duration>(
               std::chrono::duration<double>(seconds));
  for (int i = 0; i < depth && r->error.ok(); ++i) Issue(r);
  absl::Status s = Drain(r);
  if (!s.ok()) return s;
  if (!r->error.ok()) return r->error;
  if (commit && nfs_fsync(r->nfs, r->fh) != 0) {
    return absl::DataLossError(
        absl::StrCat("COMMIT: ", nfs_get_error(r->nfs)));
  }
  *elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "randread" && mode != "randwrite" && mode != "randwrite_sync" &&
      mode != "commit") {
    fprintf(stderr, "rand_io: unknown --mode=%s\n", mode.c_str());
    return 2;
  }
  Run r;
  r.write = mode != "randread";
  r.bs = static_cast<uint64_t>(absl::GetFlag(FLAGS_bs));
  r.buf.assign(r.bs, 'r');
  r.sequential = absl::GetFlag(FLAGS_sequential);
  absl::Status s = Open(absl::GetFlag(FLAGS_url), mode == "randwrite_sync", &r);
  double elapsed = 0;
  if (s.ok() && mode == "commit") {
    if (nfs_fsync(r.nfs, r.fh) != 0) {
      s = absl::DataLossError(absl::StrCat("COMMIT: ", nfs_get_error(r.nfs)));
    }
  } else if (s.ok()) {
    s = RunBench(&r, mode == "randwrite", absl::GetFlag(FLAGS_seconds),
                 absl::GetFlag(FLAGS_depth), &elapsed);
  }
  if (r.fh != nullptr) nfs_close(r.nfs, r.fh);
  if (r.nfs != nullptr) nfs_destroy_context(r.nfs);
  if (!s.ok()) {
    fprintf(stderr, "rand_io %s: %s\n", mode.c_str(), s.ToString().c_str());
    return 1;
  }
  if (mode == "commit") {
    printf("rand_io commit: ok\n");
    return 0;
  }
  printf("rand_io %s bs=%llu depth=%d: %.0f IOPS (%llu ops in %.2f s)\n",
         mode.c_str(), static_cast<unsigned long long>(r.bs),
         absl::GetFlag(FLAGS_depth), static_cast<double>(r.done) / elapsed,
         static_cast<unsigned long long>(r.done), elapsed);
  return 0;
}
