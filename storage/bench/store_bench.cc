// store_bench.cc — figures for the extent store (a plain main, not a test).
//
//   bazel run //storage/bench:store_bench -- --dir=/work/tmp/bench [--quick]
//
// Prints: sequential 1 MiB write/read of 1 GiB through the store vs the same
// I/O on a plain file in the same directory; 4 KiB random writes (in place
// and copy-on-write into a clone); clone time of fully written 1 GiB and
// 16 GiB files and of a file with 100,000 scattered 4 KiB extents; snapshot
// time; Space() of a 100 GiB VM built from clones. Everything it creates
// under --dir is deleted at the end. --quick: 256 MiB sequential, no 16 GiB
// file; --only=seq|rand|scatter|clone runs one part.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "storage/env/env.h"
#include "storage/extent_store.h"

namespace vnas::storage {
namespace {

using Clock = std::chrono::steady_clock;
double Secs(Clock::time_point a) {
  return std::chrono::duration<double>(Clock::now() - a).count();
}

#define CHECK_OK(expr)                                                     \
  do {                                                                     \
    const auto& s_ = (expr);                                               \
    if (!s_.ok()) {                                                        \
      std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__,              \
                   std::string(StatusOf(s_).ToString()).c_str());          \
      std::exit(1);                                                        \
    }                                                                      \
  } while (0)

[[maybe_unused]] const absl::Status& StatusOf(const absl::Status& s) {
  return s;
}
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

std::unique_ptr<ExtentStore> OpenStore(const std::string& dir, uint32_t seg,
                                       uint64_t capacity) {
  StoreOptions o;
  o.dir = dir;
  o.segment_size = seg;
  o.capacity = capacity;
  auto s = ExtentStore::Open(o);
  CHECK_OK(s);
  return std::move(s).value();
}

std::string Pattern(size_t n, int salt) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 31 + salt + 1);
  return s;
}

InodeId WriteFile(ExtentStore* st, InodeId dir, const std::string& name,
                  uint64_t bytes, const std::string& buf) {
  auto c = st->Create(dir, name, CreateRequest{});
  CHECK_OK(c);
  for (uint64_t off = 0; off < bytes; off += buf.size()) {
    CHECK_OK(st->Write(c->attr.ino, off, buf, Stability::kUnstable));
  }
  CHECK_OK(st->Commit(c->attr.ino));
  return c->attr.ino;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One round on a plain file: write `bytes` in 1 MiB pwrites + fdatasync,
// then read it back; with `sync_each`, fdatasync after every write.
void PlainRound(const std::string& path, uint64_t bytes, bool sync_each,
                double* w, double* r) {
  const std::string buf = Pattern(1 << 20, 7);
  std::string rbuf(1 << 20, '\0');
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) std::exit(2);
  auto t0 = Clock::now();
  for (uint64_t off = 0; off < bytes; off += buf.size()) {
    if (::pwrite(fd, buf.data(), buf.size(), off) != (ssize_t)buf.size()) {
      std::exit(3);
    }
    if (sync_each) ::fdatasync(fd);
  }
  ::fdatasync(fd);
  *w = Secs(t0);
  t0 = Clock::now();
  for (uint64_t off = 0; off < bytes; off += rbuf.size()) {
    if (::pread(fd, rbuf.data(), rbuf.size(), off) != (ssize_t)rbuf.size()) {
      std::exit(4);
    }
  }
  *r = Secs(t0);
  ::close(fd);
  ::unlink(path.c_str());
}

// The same through a fresh store in `sdir`: unstable writes + COMMIT (or
// FILE_SYNC writes), read back, and (optionally) an in-place overwrite pass.
void StoreRound(const std::string& sdir, uint64_t bytes, bool sync_each,
                double* w, double* r, double* ow) {
  const std::string buf = Pattern(1 << 20, 7);
  std::string rbuf(1 << 20, '\0');
  {
    auto st = OpenStore(sdir, 64 << 10, 0);
    auto c = st->Create(kRootInode, "seq", CreateRequest{});
    CHECK_OK(c);
    InodeId ino = c->attr.ino;
    const Stability how =
        sync_each ? Stability::kFileSync : Stability::kUnstable;
    auto t0 = Clock::now();
    for (uint64_t off = 0; off < bytes; off += buf.size()) {
      CHECK_OK(st->Write(ino, off, buf, how));
    }
    CHECK_OK(st->Commit(ino));
    *w = Secs(t0);
    t0 = Clock::now();
    for (uint64_t off = 0; off < bytes; off += rbuf.size()) {
      CHECK_OK(st->Read(ino, off, rbuf.size(), rbuf.data()));
    }
    *r = Secs(t0);
    if (rbuf != buf) std::fprintf(stderr, "read back mismatch!\n");
    if (ow) {
      t0 = Clock::now();
      for (uint64_t off = 0; off < bytes; off += buf.size()) {
        CHECK_OK(st->Write(ino, off, buf, how));
      }
      CHECK_OK(st->Commit(ino));
      *ow = Secs(t0);
    }
  }
  std::filesystem::remove_all(sdir);
}

void Sequential(const std::string& dir, uint64_t bytes) {
  constexpr int kRounds = 5;
  std::vector<double> pw, pr, sw, sr, sow;
  for (int i = 0; i < kRounds; ++i) {  // alternate to share the noise
    double w, r, ow;
    PlainRound(dir + "/plain.dat", bytes, false, &w, &r);
    pw.push_back(w);
    pr.push_back(r);
    StoreRound(dir + "/seq", bytes, false, &w, &r, &ow);
    sw.push_back(w);
    sr.push_back(r);
    sow.push_back(ow);
  }
  auto best = [](const std::vector<double>& v) {
    return *std::min_element(v.begin(), v.end());
  };
  const double mib = bytes / 1048576.0;
  std::printf("sequential 1 MiB writes of %.0f MiB (unstable + COMMIT), %d "
              "alternating rounds, best / median:\n",
              mib, kRounds);
  std::printf("  plain file  write %6.0f / %6.0f MiB/s   read %6.0f / %6.0f "
              "MiB/s\n",
              mib / best(pw), mib / Median(pw), mib / best(pr),
              mib / Median(pr));
  std::printf("  store       write %6.0f / %6.0f MiB/s   read %6.0f / %6.0f "
              "MiB/s   overwrite in place %6.0f / %6.0f MiB/s\n",
              mib / best(sw), mib / Median(sw), mib / best(sr),
              mib / Median(sr), mib / best(sow), mib / Median(sow));
  std::printf("  ratio store/plain (best): write %.2f  read %.2f  overwrite "
              "%.2f;  (median): write %.2f  read %.2f  overwrite %.2f\n",
              best(pw) / best(sw), best(pr) / best(sr), best(pw) / best(sow),
              Median(pw) / Median(sw), Median(pr) / Median(sr),
              Median(pw) / Median(sow));
  const uint64_t sync_bytes = std::min<uint64_t>(bytes, 256 << 20);
  std::vector<double> psync, ssync;
  for (int i = 0; i < 2; ++i) {
    double w, r;
    PlainRound(dir + "/plain.dat", sync_bytes, true, &w, &r);
    psync.push_back(w);
    StoreRound(dir + "/seqsync", sync_bytes, true, &w, &r, nullptr);
    ssync.push_back(w);
  }
  const double smib = sync_bytes / 1048576.0;
  std::printf("sequential 1 MiB FILE_SYNC writes of %.0f MiB (new data), "
              "best of 2:\n",
              smib);
  double bp = *std::min_element(psync.begin(), psync.end());
  double bs = *std::min_element(ssync.begin(), ssync.end());
  std::printf("  plain %7.1f MiB/s  store %7.1f MiB/s  ratio %.2f\n",
              smib / bp, smib / bs, bp / bs);
}

void RandomSmall(const std::string& dir, uint64_t bytes) {
  auto st = OpenStore(dir + "/rand", 64 << 10, 0);
  const std::string buf = Pattern(1 << 20, 7);
  InodeId ino = WriteFile(st.get(), kRootInode, "f", bytes, buf);
  // 4 KiB random writes into the written file, then into a clone (COW).
  std::mt19937_64 rng(1);
  const std::string b4 = Pattern(4096, 3);
  const int n = 20000;
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    uint64_t off = (rng() % (bytes / 4096)) * 4096;
    CHECK_OK(st->Write(ino, off, b4, Stability::kUnstable));
  }
  CHECK_OK(st->Commit(ino));
  double inplace = Secs(t0);
  auto cl = st->CloneFile(ino, kRootInode, "clone", false);
  CHECK_OK(cl);
  t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    uint64_t off = (rng() % (bytes / 4096)) * 4096;
    CHECK_OK(st->Write(cl->attr.ino, off, b4, Stability::kUnstable));
  }
  CHECK_OK(st->Commit(cl->attr.ino));
  double cow = Secs(t0);
  t0 = Clock::now();
  const int ns = 2000;
  for (int i = 0; i < ns; ++i) {
    uint64_t off = (rng() % (bytes / 4096)) * 4096;
    CHECK_OK(st->Write(ino, off, b4, Stability::kFileSync));
  }
  double stable4k = Secs(t0);
  std::printf("4 KiB random writes over %.0f MiB: unstable in place %.0f "
              "IOPS, unstable COW into a clone %.0f IOPS, FILE_SYNC in place "
              "%.0f IOPS\n",
              bytes / 1048576.0, n / inplace, n / cow, ns / stable4k);
  auto al = st->Alignment(cl->attr.ino);
  CHECK_OK(al);
  std::printf("  clone's alignment stats: writes %lu, 4K-aligned %lu, cow "
              "segments %lu, partial segment writes %lu\n",
              (unsigned long)al->writes, (unsigned long)al->offset_aligned_4k,
              (unsigned long)al->cow_segments,
              (unsigned long)al->partial_segment_writes);
}

void Clones(const std::string& dir, bool big) {
  auto st = OpenStore(dir + "/clone", 64 << 10, 0);
  const std::string buf = Pattern(1 << 20, 9);
  auto vm = st->Mkdir(kRootInode, "vm", 0755, 0, 0);
  CHECK_OK(vm);
  auto t0 = Clock::now();
  InodeId one = WriteFile(st.get(), vm->attr.ino, "1g", uint64_t{1} << 30, buf);
  std::printf("wrote 1 GiB file in %.1f s\n", Secs(t0));
  // Clone timings interleaved (1 GiB, 16 GiB, 1 GiB, ...) so both see the
  // same fsync jitter; each clone is a durable (synced) metadata write.
  std::vector<double> t1, t16;
  InodeId sixteen = 0;
  if (big) {
    t0 = Clock::now();
    sixteen = WriteFile(st.get(), kRootInode, "16g", uint64_t{16} << 30, buf);
    std::printf("wrote 16 GiB file in %.1f s\n", Secs(t0));
  }
  for (int i = 0; i < 20; ++i) {
    auto t = Clock::now();
    CHECK_OK(st->CloneFile(one, kRootInode, "c1", false));
    t1.push_back(Secs(t));
    if (big) {
      t = Clock::now();
      CHECK_OK(st->CloneFile(sixteen, kRootInode, "c16", false));
      t16.push_back(Secs(t));
    }
  }
  auto best_of = [](const std::vector<double>& v) {
    return *std::min_element(v.begin(), v.end());
  };
  if (big) {
    std::printf("clone (durable), best / median of 20 interleaved: 1 GiB "
                "%.3f / %.3f ms, 16 GiB %.3f / %.3f ms, ratio %.2f / %.2f\n",
                best_of(t1) * 1e3, Median(t1) * 1e3, best_of(t16) * 1e3,
                Median(t16) * 1e3, best_of(t16) / best_of(t1),
                Median(t16) / Median(t1));
  } else {
    std::printf("clone (durable) of 1 GiB: best %.3f ms, median %.3f ms\n",
                best_of(t1) * 1e3, Median(t1) * 1e3);
  }
  // Snapshot of the VM directory.
  t0 = Clock::now();
  auto snap = st->CreateSnapshot(vm->attr.ino, "snap1");
  CHECK_OK(snap);
  std::printf("snapshot of a VM directory (1 GiB disk): %.3f ms\n",
              Secs(t0) * 1e3);

  // A 100 GiB VM: 100 clones of the 1 GiB disk, each then written in every
  // leaf page so its pages are its own (Space() must walk every extent).
  auto vm100 = st->Mkdir(kRootInode, "vm100", 0755, 0, 0);
  CHECK_OK(vm100);
  const std::string b4 = Pattern(4096, 5);
  t0 = Clock::now();
  for (int i = 0; i < 100; ++i) {
    auto c = st->CloneFile(one, vm100->attr.ino, "disk" + std::to_string(i),
                           false);
    CHECK_OK(c);
    for (uint64_t off = 0; off < (uint64_t{1} << 30); off += 16 << 20) {
      CHECK_OK(st->Write(c->attr.ino, off + (i % 16) * 65536, b4,
                         Stability::kUnstable));
    }
  }
  CHECK_OK(st->Commit(kRootInode));
  std::printf("built 100 GiB VM (100 x 1 GiB clones, 64 COW segments each) "
              "in %.1f s\n",
              Secs(t0));
  double best = 1e9;
  SpaceStats sp;
  for (int i = 0; i < 3; ++i) {
    auto t = Clock::now();
    auto s = st->Space(vm100->attr.ino);
    CHECK_OK(s);
    best = std::min(best, Secs(t));
    sp = *s;
  }
  std::printf("Space(100 GiB VM): %.1f ms  (logical %.1f GiB, allocated "
              "%.1f GiB, unique %.1f MiB, shared %.1f GiB)\n",
              best * 1e3, sp.logical / 1073741824.0,
              sp.allocated / 1073741824.0, sp.unique / 1048576.0,
              sp.shared / 1073741824.0);
  auto t = Clock::now();
  auto fsck = st->Fsck();
  CHECK_OK(fsck);
  std::printf("Fsck: %s, %lu inodes, %lu extents, %lu pages, %.1f s\n",
              fsck->clean ? "clean" : "PROBLEMS",
              (unsigned long)fsck->inodes, (unsigned long)fsck->extents,
              (unsigned long)fsck->pages, Secs(t));
}

void Scattered(const std::string& dir) {
  // 4 KiB segments so each extent is 4 KiB.
  auto st = OpenStore(dir + "/scatter", 4096, 0);
  auto c = st->Create(kRootInode, "scattered", CreateRequest{});
  CHECK_OK(c);
  const std::string b4 = Pattern(4096, 11);
  std::mt19937_64 rng(5);
  const uint64_t range = uint64_t{4} << 30;  // 4 GiB of address space
  std::vector<uint64_t> blocks(range / 4096);
  for (uint64_t i = 0; i < blocks.size(); ++i) blocks[i] = i;
  std::shuffle(blocks.begin(), blocks.end(), rng);
  blocks.resize(100000);  // distinct, scattered
  auto t0 = Clock::now();
  for (uint64_t b : blocks) {
    CHECK_OK(st->Write(c->attr.ino, b * 4096, b4, Stability::kUnstable));
  }
  CHECK_OK(st->Commit(c->attr.ino));
  auto a = st->GetAttr(c->attr.ino);
  CHECK_OK(a);
  std::printf("wrote %lu scattered 4 KiB extents in %.1f s\n",
              (unsigned long)(a->allocated / 4096), Secs(t0));
  auto seq = st->Create(kRootInode, "sequential", CreateRequest{});
  CHECK_OK(seq);
  std::string mib = Pattern(1 << 20, 2);
  for (uint64_t off = 0; off < (uint64_t{400} << 20); off += mib.size()) {
    CHECK_OK(st->Write(seq->attr.ino, off, mib, Stability::kUnstable));
  }
  CHECK_OK(st->Commit(seq->attr.ino));
  double bs = 1e9, bq = 1e9;
  for (int i = 0; i < 5; ++i) {
    auto t = Clock::now();
    CHECK_OK(st->CloneFile(c->attr.ino, kRootInode, "sc", false));
    bs = std::min(bs, Secs(t));
    t = Clock::now();
    CHECK_OK(st->CloneFile(seq->attr.ino, kRootInode, "qc", false));
    bq = std::min(bq, Secs(t));
  }
  std::printf("clone of 100,000 scattered 4 KiB extents: %.3f ms; of a "
              "sequential 100,000-extent file: %.3f ms\n",
              bs * 1e3, bq * 1e3);
}

}  // namespace
}  // namespace vnas::storage

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as they come
  std::string dir = "/work/tmp/store_bench";
  bool quick = false;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--dir=", 0) == 0) dir = a.substr(6);
    if (a == "--quick") quick = true;
    if (a.rfind("--only=", 0) == 0) only = a.substr(7);
  }
  dir += "/run-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::printf("store_bench in %s\n", dir.c_str());
  const uint64_t seq_bytes = quick ? (256 << 20) : (uint64_t{1} << 30);
  if (only.empty() || only == "seq") vnas::storage::Sequential(dir, seq_bytes);
  if (only.empty() || only == "rand") {
    vnas::storage::RandomSmall(dir, seq_bytes);
  }
  if (only.empty() || only == "scatter") vnas::storage::Scattered(dir);
  if (only.empty() || only == "clone") vnas::storage::Clones(dir, !quick);
  std::filesystem::remove_all(dir);
  return 0;
}
