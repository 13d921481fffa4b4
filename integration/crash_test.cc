// crash_test — vnasd is killed with SIGKILL at random moments while real
// clients work on it, restarted, and checked against a model of everything
// the server acknowledged.
//
// Workload (one libnfs context and one gRPC stub per worker thread, each
// worker owning the directory /w<k>): raw NFSv3 WRITEs with FILE_SYNC,
// DATA_SYNC and UNSTABLE (+ COMMIT), some of whole 64 KiB of zeros (zero
// reclaim), SETATTR size (truncate / extend),
// CREATE, RENAME, REMOVE, Control.CloneFile,
// Control.CreateSnapshot / DeleteSnapshot.
//
// After every kill and restart the test checks that
//   - every 4 KiB block acknowledged FILE_SYNC / DATA_SYNC (or truncated
//     away by an acknowledged SETATTR), or covered by a COMMIT that
//     returned (same verifier as the WRITE), reads back exactly; a block with
//     unacknowledged or uncommitted writes reads as one of the values written
//     (never garbage);
//   - every acknowledged CREATE / RENAME / clone is in the namespace, every
//     acknowledged REMOVE / rename source is not, and an interrupted RENAME is
//     atomic (exactly one of the two names);
//   - clones and snapshots are independent: each keeps its own contents while
//     the source is rewritten or removed (snapshots are read back through
//     Control.CloneSnapshot);
//   - file handles survive (LOOKUP gives the same handle);
//   - Control.Fsck is clean (refcounts exact, no leaked space).
//
// Determinism: the seed (printed; VNAS_CRASH_SEED overrides) drives the kill
// delays and each worker's operations; every kill is logged ("kill #i after
// N ms") so a failure can be replayed with the same seed.
//
// Default: 30 kills (about a minute on 2 cores). Long soak by hand:
//   bazel test //integration:crash_test --test_timeout=7200
//       --test_env=VNAS_CRASH_KILLS=500 [--test_env=VNAS_CRASH_SEED=1234]
//   (one command line).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "integration/harness.h"
#include "integration/libnfs_client.h"
#include "proto/vnas.grpc.pb.h"

extern "C" {
#include <nfsc/libnfs.h>
}

namespace vnas::harness {
namespace {

constexpr size_t kBlock = 4096;
constexpr int kBlocks = 64;  // files are at most 256 KiB
constexpr int kWorkers = 4;
constexpr int kMaxFiles = 10;
constexpr int kMaxSnapshots = 5;

uint64_t EnvU64(const char* name, uint64_t def) {
  const char* v = getenv(name);
  return v && *v ? strtoull(v, nullptr, 10) : def;
}

// Contents of a block written with `key`: the key, then xorshift bytes.
// Key 0 is the zero block (a hole or never written).
std::string BlockData(uint64_t key) {
  std::string s(kBlock, '\0');
  if (key == 0) return s;
  memcpy(&s[0], &key, 8);
  uint64_t x = key * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 8; i < kBlock; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    memcpy(&s[i], &x, 8);
  }
  return s;
}

// One block: the last durable value and values written after it that may or
// may not have survived.
struct Block {
  uint64_t durable = 0;
  std::vector<uint64_t> maybe;
};

struct FileModel {
  std::string fh;  // "" = not known yet
  std::vector<Block> blocks = std::vector<Block>(kBlocks);
};

struct SnapModel {
  uint64_t id = 0;
  std::string name;
  std::vector<uint64_t> blocks;  // durable keys at snapshot time
};

// What a worker was doing when the server died.
struct Inflight {
  enum Kind { kNone, kCreate, kRename, kRemove, kClone, kSnap, kDelSnap };
  Inflight() = default;
  Inflight(Kind k, std::string x, std::string y = "")
      : kind(k), a(std::move(x)), b(std::move(y)) {}
  Kind kind = kNone;
  std::string a, b;
  uint64_t id = 0;
  std::vector<uint64_t> blocks;  // kSnap: the source's durable keys
};

struct WorkerModel {
  std::map<std::string, FileModel> files;  // name -> model
  std::vector<SnapModel> snaps;
  std::set<std::string> gone_snaps;  // acknowledged deletions
  Inflight inflight;
  int next_name = 0;
};

std::atomic<uint64_t> g_next_key{1};

// Where each key was written (file path, block, stability), for failure
// messages: a key found in the wrong place names its origin.
absl::Mutex g_origin_mu;
std::map<uint64_t, std::string>& KeyOrigins() {
  static auto* m = new std::map<uint64_t, std::string>();
  return *m;
}
std::string OriginOf(uint64_t key) {
  absl::MutexLock l(&g_origin_mu);
  auto it = KeyOrigins().find(key);
  return it == KeyOrigins().end() ? "unknown origin" : it->second;
}

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Writes to a connection the dead server left behind must fail, not kill
    // the test.
    signal(SIGPIPE, SIG_IGN);
    seed_ = EnvU64("VNAS_CRASH_SEED",
                   static_cast<uint64_t>(time(nullptr)) ^ (getpid() << 16));
    kills_ = static_cast<int>(EnvU64("VNAS_CRASH_KILLS", 30));
    printf("crash_test: seed %llu (VNAS_CRASH_SEED=%llu to replay), %d kills\n",
           static_cast<unsigned long long>(seed_),
           static_cast<unsigned long long>(seed_), kills_);
    fflush(stdout);
    Vnasd::Options o;
    o.capacity = 2ull << 30;
    auto d = Vnasd::Start(o);
    ASSERT_TRUE(d.ok()) << d.status();
    vnasd_ = *std::move(d);
  }

  std::unique_ptr<v1::Control::Stub> Stub() {
    // A private subchannel pool: a channel must not reuse the connection to
    // the daemon that was just killed.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto ch = grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", vnasd_->control_port()),
        grpc::InsecureChannelCredentials(), args);
    ch->WaitForConnected(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    return v1::Control::NewStub(ch);
  }

  // A failure seen by a worker while the server was (still) up.
  void Fail(const std::string& what) {
    absl::MutexLock l(&mu_);
    failures_.push_back(what);
  }

  void RunWorker(int k, uint64_t round);
  void Verify(bool all_snapshots);
  void VerifyWorker(int k, NfsClient& c, v1::Control::Stub& stub,
                    const std::map<std::string, uint64_t>& snaps_by_name,
                    std::set<std::string>* unresolved_snaps, bool all);
  std::optional<std::vector<std::string>> ReadBlocks(NfsClient& c,
                                                     const std::string& path);

  uint64_t seed_ = 0;
  int kills_ = 0;
  std::unique_ptr<Vnasd> vnasd_;
  WorkerModel models_[kWorkers];
  std::atomic<bool> killed_{false};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> acked_ops_{0};
  std::atomic<uint64_t> acked_bytes_{0};
  uint64_t verified_bytes_ = 0;
  uint64_t verified_durable_blocks_ = 0;
  uint64_t snapshots_verified_ = 0;
  uint64_t clones_ = 0;
  absl::Mutex mu_;
  std::vector<std::string> failures_ ABSL_GUARDED_BY(mu_);
};

void CrashTest::RunWorker(int k, uint64_t round) {
  WorkerModel& m = models_[k];
  std::mt19937_64 rng(seed_ * 1000003 + round * 131 + k);
  const std::string dir = absl::StrCat("/w", k);
  auto rel = [&](const std::string& name) {
    return absl::StrCat("w", k, "/", name);
  };
  // An error: a bug when the server had not been killed yet.
  auto error = [&](const std::string& what) {
    if (!killed_.load()) Fail(absl::StrCat("worker ", k, ": ", what));
  };
  auto mount = NfsClient::Mount(vnasd_->nfs_port(), "/vnas", "&autoreconnect=0");
  if (!mount.ok()) return error("mount: " + mount.status().ToString());
  NfsClient& c = **mount;
  // libnfs 4.0.0's synchronous calls return on a disconnect while their
  // call is still queued; rpc_destroy_context would later call back into
  // the dead stack frame. So a context cut off by the kill is never
  // destroyed: close its socket and leak it.
  struct LeakOnKill {
    std::unique_ptr<NfsClient>* client;
    std::atomic<bool>* killed;
    ~LeakOnKill() {
      if (!killed->load()) return;
      close(nfs_get_fd((*client)->ctx()));
      client->release();
    }
  } leak_on_kill{&*mount, &killed_};
  auto stub = Stub();
  std::string session_verf;
  auto rpc_deadline = [](grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(20));
  };
  auto grpc_error = [&](const char* op, const grpc::Status& s) {
    error(absl::StrCat(op, ": gRPC ", s.error_code(), " ", s.error_message()));
  };

  // COMMITs a file; on success its acknowledged unstable writes are durable.
  auto commit = [&](const std::string& name) -> bool {
    FileModel& f = m.files[name];
    auto r = c.RawCommit(f.fh);
    if (!r.ok()) return error("COMMIT " + name + ": " + r.status().ToString()), false;
    if (r->first != 0) return error(absl::StrCat("COMMIT ", name, " nfsstat ", r->first)), false;
    if (!session_verf.empty() && r->second != session_verf) {
      return error("COMMIT verifier differs from the WRITE verifier within one "
                   "server lifetime"),
             false;
    }
    for (Block& b : f.blocks) {
      if (!b.maybe.empty()) b.durable = b.maybe.back();
      b.maybe.clear();
    }
    return true;
  };

  while (!stop_.load()) {
    m.inflight = Inflight{};
    // Pick a file with a known handle.
    std::vector<std::string> names;
    for (auto& [n, f] : m.files) {
      if (!f.fh.empty()) names.push_back(n);
    }
    int dice = static_cast<int>(rng() % 100);
    if (names.empty() || (dice < 8 && m.files.size() < kMaxFiles)) {
      // CREATE.
      std::string name = absl::StrCat("f", m.next_name++);
      m.inflight = Inflight(Inflight::kCreate, name);
      nfsfh* fh = nullptr;
      std::string path = dir + "/" + name;
      if (nfs_creat(c.ctx(), path.c_str(), 0644, &fh) != 0) {
        return error("CREATE " + path + ": " + c.Error());
      }
      nfs_close(c.ctx(), fh);
      m.files[name];  // acknowledged: exists, all zero
      m.inflight = Inflight{};
      ++acked_ops_;
      auto h = c.Handle(path);
      if (!h.ok()) return error("LOOKUP " + path + ": " + h.status().ToString());
      m.files[name].fh = *h;
      continue;
    }
    const std::string name = names[rng() % names.size()];
    FileModel& f = m.files[name];
    if (dice < 60) {
      // WRITE of 1..8 or 16 blocks: FILE_SYNC, DATA_SYNC (both durable when
      // acknowledged) or UNSTABLE.
      int stable = dice < 28 ? 2 : dice < 33 ? 1 : 0;
      // One write in four is a whole aligned 64 KiB: the server's bulk
      // path (direct I/O; write-behind when UNSTABLE).
      const bool bulk = rng() % 4 == 0;
      // One bulk write in four is zeros: the server unmaps the segment
      // (zero reclaim) instead of writing it.
      const bool zeros = bulk && rng() % 4 == 0;
      int n = bulk ? 16 : 1 + static_cast<int>(rng() % 8);
      int first = bulk ? 16 * static_cast<int>(rng() % (kBlocks / 16))
                       : static_cast<int>(rng() % (kBlocks - n + 1));
      std::string data;
      std::vector<uint64_t> keys;
      for (int i = 0; i < n; ++i) {
        uint64_t key = zeros ? 0 : g_next_key++;
        keys.push_back(key);
        data += BlockData(key);
        if (!zeros) {
          absl::MutexLock l(&g_origin_mu);
          KeyOrigins()[key] = absl::StrCat("written to ", dir, "/", name,
                                           " block ", first + i, " stable ",
                                           stable);
        }
        f.blocks[first + i].maybe.push_back(key);  // may land from now on
      }
      auto w = c.RawWrite(f.fh, first * kBlock, data, stable);
      if (!w.ok()) return error("WRITE: " + w.status().ToString());
      if (w->status != 0) return error(absl::StrCat("WRITE nfsstat ", w->status));
      if (w->count != data.size()) {
        return error(absl::StrCat("WRITE count ", w->count, " of ", data.size()));
      }
      if (static_cast<int>(w->committed) < stable) {
        return error(absl::StrCat("WRITE committed ", w->committed, " < stable ",
                                  stable));
      }
      if (session_verf.empty()) session_verf = w->verf;
      if (w->verf != session_verf) return error("write verifier changed");
      if (w->committed >= 1) {
        for (int i = 0; i < n; ++i) {
          Block& b = f.blocks[first + i];
          b.durable = keys[i];
          b.maybe.clear();
        }
      }
      ++acked_ops_;
      acked_bytes_ += data.size();
    } else if (dice < 65) {
      if (!commit(name)) return;
      ++acked_ops_;
    } else if (dice < 70) {
      // SETATTR size (truncate or extend) to a block boundary: synchronous,
      // so the blocks past the new size read as zeros from now on.
      int keep = static_cast<int>(rng() % (kBlocks + 1));
      for (int i = keep; i < kBlocks; ++i) f.blocks[i].maybe.push_back(0);
      std::string path = dir + "/" + name;
      if (nfs_truncate(c.ctx(), path.c_str(), keep * kBlock) != 0) {
        return error("SETATTR size " + path + ": " + c.Error());
      }
      for (int i = keep; i < kBlocks; ++i) {
        f.blocks[i].durable = 0;
        f.blocks[i].maybe.clear();
      }
      ++acked_ops_;
    } else if (dice < 76) {
      // RENAME to a fresh name.
      std::string to = absl::StrCat("f", m.next_name++);
      m.inflight = Inflight(Inflight::kRename, name, to);
      std::string a = dir + "/" + name, b = dir + "/" + to;
      if (nfs_rename(c.ctx(), a.c_str(), b.c_str()) != 0) {
        return error("RENAME " + a + ": " + c.Error());
      }
      m.files[to] = m.files[name];
      m.files.erase(name);
      m.inflight = Inflight{};
      ++acked_ops_;
    } else if (dice < 81) {
      if (m.files.size() <= 2) continue;
      m.inflight = Inflight(Inflight::kRemove, name);
      std::string a = dir + "/" + name;
      if (nfs_unlink(c.ctx(), a.c_str()) != 0) {
        return error("REMOVE " + a + ": " + c.Error());
      }
      m.files.erase(name);
      m.inflight = Inflight{};
      ++acked_ops_;
    } else if (dice < 90) {
      // Control.CloneFile of a committed file.
      if (m.files.size() >= kMaxFiles) continue;
      if (!commit(name)) return;
      std::string to = absl::StrCat("f", m.next_name++);
      m.inflight = Inflight(Inflight::kClone, name, to);
      v1::CloneFileRequest req;
      req.set_source(rel(name));
      req.set_destination(rel(to));
      req.set_flags(v1::CLONE_FLAG_GUARDED);
      v1::CloneFileResponse resp;
      grpc::ClientContext ctx;
      rpc_deadline(&ctx);
      grpc::Status s = stub->CloneFile(&ctx, req, &resp);
      if (!s.ok()) return grpc_error("CloneFile", s);
      FileModel clone;
      for (int i = 0; i < kBlocks; ++i) {
        clone.blocks[i].durable = m.files[name].blocks[i].durable;
      }
      m.files[to] = clone;
      m.inflight = Inflight{};
      ++acked_ops_;
      auto h = c.Handle(dir + "/" + to);
      if (!h.ok()) return error("LOOKUP clone: " + h.status().ToString());
      m.files[to].fh = *h;
    } else if (dice < 96) {
      // Control.CreateSnapshot of a committed file.
      if (m.snaps.size() >= kMaxSnapshots) continue;
      if (!commit(name)) return;
      SnapModel snap;
      snap.name = absl::StrCat("s", k, "_", m.next_name++);
      for (const Block& b : m.files[name].blocks) snap.blocks.push_back(b.durable);
      m.inflight = Inflight(Inflight::kSnap, name, snap.name);
      m.inflight.blocks = snap.blocks;
      v1::CreateSnapshotRequest req;
      req.set_path(rel(name));
      req.set_name(snap.name);
      v1::CreateSnapshotResponse resp;
      grpc::ClientContext ctx;
      rpc_deadline(&ctx);
      grpc::Status s = stub->CreateSnapshot(&ctx, req, &resp);
      if (!s.ok()) return grpc_error("CreateSnapshot", s);
      snap.id = resp.snapshot().id();
      m.snaps.push_back(snap);
      m.inflight = Inflight{};
      ++acked_ops_;
    } else {
      // Control.DeleteSnapshot of the oldest snapshot.
      if (m.snaps.empty()) continue;
      SnapModel snap = m.snaps.front();
      m.inflight = Inflight(Inflight::kDelSnap, snap.name);
      m.inflight.id = snap.id;
      v1::DeleteSnapshotRequest req;
      req.set_id(snap.id);
      v1::DeleteSnapshotResponse resp;
      grpc::ClientContext ctx;
      rpc_deadline(&ctx);
      grpc::Status s = stub->DeleteSnapshot(&ctx, req, &resp);
      if (!s.ok()) return grpc_error("DeleteSnapshot", s);
      m.snaps.erase(m.snaps.begin());
      m.gone_snaps.insert(snap.name);
      m.inflight = Inflight{};
      ++acked_ops_;
    }
  }
}

// Reads a whole file as kBlocks blocks (short reads are zero-padded);
// nullopt when it cannot be opened.
std::optional<std::vector<std::string>> CrashTest::ReadBlocks(
    NfsClient& c, const std::string& path) {
  nfsfh* fh = nullptr;
  if (nfs_open(c.ctx(), path.c_str(), O_RDONLY, &fh) != 0) return std::nullopt;
  std::string all;
  std::string buf(64 << 10, '\0');
  while (all.size() < kBlocks * kBlock) {
    int n = nfs_pread(c.ctx(), fh, all.size(), buf.size(), &buf[0]);
    if (n < 0) {
      nfs_close(c.ctx(), fh);
      return std::nullopt;
    }
    if (n == 0) break;
    all.append(buf, 0, static_cast<size_t>(n));
  }
  nfs_close(c.ctx(), fh);
  all.resize(kBlocks * kBlock, '\0');
  std::vector<std::string> out;
  for (int i = 0; i < kBlocks; ++i) out.push_back(all.substr(i * kBlock, kBlock));
  return out;
}

std::set<std::string> ListDir(NfsClient& c, const std::string& dir) {
  std::set<std::string> names;
  nfsdir* d = nullptr;
  if (nfs_opendir(c.ctx(), dir.c_str(), &d) != 0) return names;
  while (nfsdirent* e = nfs_readdir(c.ctx(), d)) {
    std::string n = e->name;
    if (n != "." && n != "..") names.insert(n);
  }
  nfs_closedir(c.ctx(), d);
  return names;
}

void CrashTest::VerifyWorker(int k, NfsClient& c, v1::Control::Stub& stub,
                             const std::map<std::string, uint64_t>& snaps_by_name,
                             std::set<std::string>* unresolved, bool all) {
  WorkerModel& m = models_[k];
  const std::string dir = absl::StrCat("/w", k);
  std::set<std::string> present = ListDir(c, dir);
  const Inflight& in = m.inflight;
  // Resolve the interrupted operation from what the server shows.
  switch (in.kind) {
    case Inflight::kCreate:
      if (present.count(in.a)) m.files[in.a];
      break;
    case Inflight::kClone:
      if (present.count(in.b)) {
        FileModel clone;
        for (int i = 0; i < kBlocks; ++i) {
          clone.blocks[i].durable = m.files[in.a].blocks[i].durable;
        }
        m.files[in.b] = clone;
      }
      break;
    case Inflight::kRename: {
      bool a = present.count(in.a), b = present.count(in.b);
      EXPECT_NE(a, b) << "interrupted RENAME " << in.a << " -> " << in.b
                      << " is not atomic: source " << a << ", target " << b;
      if (b) {
        m.files[in.b] = m.files[in.a];
        m.files.erase(in.a);
      }
      break;
    }
    case Inflight::kRemove:
      if (!present.count(in.a)) m.files.erase(in.a);
      break;
    case Inflight::kSnap:
      if (snaps_by_name.count(in.b)) {
        m.snaps.push_back({snaps_by_name.at(in.b), in.b, in.blocks});
      }
      break;
    case Inflight::kDelSnap:
      if (!snaps_by_name.count(in.a)) {
        m.snaps.erase(std::remove_if(m.snaps.begin(), m.snaps.end(),
                                     [&](const SnapModel& s) { return s.id == in.id; }),
                      m.snaps.end());
        m.gone_snaps.insert(in.a);
      }
      break;
    case Inflight::kNone:
      break;
  }
  m.inflight = Inflight{};

  // Namespace: exactly the acknowledged names.
  for (const auto& [name, f] : m.files) {
    EXPECT_TRUE(present.count(name))
        << "acknowledged file " << dir << "/" << name << " is missing";
  }
  for (const std::string& name : present) {
    EXPECT_TRUE(m.files.count(name))
        << dir << "/" << name << " exists but was removed/renamed (acknowledged) "
        << "or never created";
  }
  // Contents.
  for (auto it = m.files.begin(); it != m.files.end(); ++it) {
    const std::string path = dir + "/" + it->first;
    FileModel& f = it->second;
    if (!present.count(it->first)) continue;
    auto blocks = ReadBlocks(c, path);
    if (!blocks) {
      ADD_FAILURE() << "cannot read " << path << ": " << c.Error();
      continue;
    }
    for (int i = 0; i < kBlocks; ++i) {
      Block& b = f.blocks[i];
      const std::string& got = (*blocks)[i];
      uint64_t key = 0;
      memcpy(&key, got.data(), 8);
      bool candidate = key == b.durable ||
                       std::find(b.maybe.begin(), b.maybe.end(), key) != b.maybe.end();
      if (!candidate || got != BlockData(key)) {
        ADD_FAILURE() << path << " block " << i << " (offset " << i * kBlock
                      << "): expected key " << b.durable << " (durable) or one of "
                      << b.maybe.size() << " later writes, got "
                      << (got == BlockData(key)
                              ? absl::StrCat("key ", key, " (", OriginOf(key), ")")
                              : std::string("garbage"));
        continue;
      }
      if (b.maybe.empty() && b.durable != 0) {
        ++verified_durable_blocks_;
        verified_bytes_ += kBlock;
      }
      b.durable = key;  // what survived is now the state
      b.maybe.clear();
    }
    auto h = c.Handle(path);
    if (!h.ok()) {
      ADD_FAILURE() << "LOOKUP " << path << ": " << h.status();
    } else {
      if (!f.fh.empty()) {
        EXPECT_EQ(*h, f.fh) << "handle of " << path << " changed across restart";
      }
      f.fh = *h;
    }
  }
  // Snapshots: acknowledged ones exist, deleted ones do not; contents match
  // the source at snapshot time (a sample each round, all at the end).
  for (const SnapModel& s : m.snaps) {
    unresolved->erase(s.name);
    auto it = snaps_by_name.find(s.name);
    if (it == snaps_by_name.end()) {
      ADD_FAILURE() << "acknowledged snapshot " << s.name << " is missing";
      continue;
    }
    EXPECT_EQ(it->second, s.id) << s.name;
    if (!all && (s.id % 3) != (verified_bytes_ % 3)) continue;
    std::string dest = absl::StrCat("verify/", s.name, "_", snapshots_verified_);
    v1::CloneSnapshotRequest req;
    req.set_id(s.id);
    req.set_destination(dest);
    v1::CloneSnapshotResponse resp;
    grpc::ClientContext ctx;
    grpc::Status st = stub.CloneSnapshot(&ctx, req, &resp);
    if (!st.ok()) {
      ADD_FAILURE() << "CloneSnapshot " << s.name << ": " << st.error_message();
      continue;
    }
    auto blocks = ReadBlocks(c, "/" + dest);
    ASSERT_TRUE(blocks.has_value()) << dest;
    for (int i = 0; i < kBlocks; ++i) {
      if ((*blocks)[i] != BlockData(s.blocks[i])) {
        ADD_FAILURE() << "snapshot " << s.name << " block " << i
                      << " differs from the source at snapshot time";
        break;
      }
      if (s.blocks[i] != 0) verified_bytes_ += kBlock;
    }
    EXPECT_EQ(nfs_unlink(c.ctx(), ("/" + dest).c_str()), 0) << c.Error();
    ++snapshots_verified_;
  }
  for (const std::string& gone : m.gone_snaps) {
    EXPECT_FALSE(snaps_by_name.count(gone))
        << "snapshot " << gone << " was deleted (acknowledged) but is listed";
    unresolved->erase(gone);
  }
}

void CrashTest::Verify(bool all_snapshots) {
  auto c = NfsClient::Mount(vnasd_->nfs_port());
  ASSERT_TRUE(c.ok()) << c.status() << vnasd_->Output();
  auto stub = Stub();
  v1::ListSnapshotsRequest lreq;
  v1::ListSnapshotsResponse lresp;
  grpc::ClientContext lctx;
  grpc::Status ls = stub->ListSnapshots(&lctx, lreq, &lresp);
  ASSERT_TRUE(ls.ok()) << ls.error_message();
  std::map<std::string, uint64_t> by_name;
  std::set<std::string> unresolved;
  for (const auto& s : lresp.snapshots()) {
    by_name[s.name()] = s.id();
    unresolved.insert(s.name());
  }
  for (int k = 0; k < kWorkers; ++k) {
    VerifyWorker(k, **c, *stub, by_name, &unresolved, all_snapshots);
  }
  EXPECT_TRUE(unresolved.empty())
      << unresolved.size() << " snapshots exist that were never acknowledged "
      << "or were deleted, e.g. " << *unresolved.begin();
  // No leftovers of the snapshot read-backs.
  EXPECT_TRUE(ListDir(**c, "/verify").empty());

  v1::FsckResponse fsck;
  grpc::ClientContext fctx;
  grpc::Status fs = stub->Fsck(&fctx, v1::FsckRequest(), &fsck);
  ASSERT_TRUE(fs.ok()) << fs.error_message();
  std::string problems;
  for (const auto& p : fsck.problems()) problems += "\n  " + p;
  EXPECT_TRUE(fsck.clean()) << "fsck after restart:" << problems;
}

TEST_F(CrashTest, KillNineUnderLoadLosesNothingAcknowledged) {
  {
    auto c = NfsClient::Mount(vnasd_->nfs_port());
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_EQ(nfs_mkdir((*c)->ctx(), "/verify"), 0) << (*c)->Error();
    for (int k = 0; k < kWorkers; ++k) {
      ASSERT_EQ(nfs_mkdir((*c)->ctx(), absl::StrCat("/w", k).c_str()), 0);
    }
  }
  std::mt19937_64 rng(seed_);
  auto t0 = std::chrono::steady_clock::now();
  for (int kill = 1; kill <= kills_; ++kill) {
    killed_ = false;
    stop_ = false;
    uint64_t ops_before = acked_ops_;
    std::vector<std::thread> workers;
    for (int k = 0; k < kWorkers; ++k) {
      workers.emplace_back([this, k, kill] { RunWorker(k, kill); });
    }
    int delay_ms = 100 + static_cast<int>(rng() % 900);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    killed_ = true;
    vnasd_->Kill9();
    printf("kill #%d after %d ms (seed %llu): %llu ops acknowledged this round\n",
           kill, delay_ms, static_cast<unsigned long long>(seed_),
           static_cast<unsigned long long>(acked_ops_ - ops_before));
    fflush(stdout);
    stop_ = true;
    auto tk = std::chrono::steady_clock::now();
    for (auto& t : workers) t.join();
    auto tj = std::chrono::steady_clock::now();
    {
      absl::MutexLock l(&mu_);
      for (const std::string& f : failures_) ADD_FAILURE() << "round " << kill << ": " << f;
      failures_.clear();
    }
    ASSERT_TRUE(vnasd_->Restart().ok()) << vnasd_->Output();
    auto tr = std::chrono::steady_clock::now();
    Verify(/*all_snapshots=*/false);
    auto ms = [](auto a, auto b) {
      return static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count());
    };
    printf("  round %d: workers stopped in %lld ms, restart %lld ms, verify %lld ms\n",
           kill, ms(tk, tj), ms(tj, tr), ms(tr, std::chrono::steady_clock::now()));
    if (HasFailure()) {
      printf("FAILED after kill #%d; replay with VNAS_CRASH_SEED=%llu\n", kill,
             static_cast<unsigned long long>(seed_));
      return;
    }
  }
  // A final clean restart and a complete check.
  ASSERT_TRUE(vnasd_->Restart().ok()) << vnasd_->Output();
  Verify(/*all_snapshots=*/true);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  printf("crash_test: %d kills survived in %.1f s; %llu ops acknowledged "
         "(%llu bytes written); %llu bytes verified (%llu durable 4 KiB blocks "
         "checked across rounds, %llu snapshot read-backs); seed %llu\n",
         kills_, secs, static_cast<unsigned long long>(acked_ops_.load()),
         static_cast<unsigned long long>(acked_bytes_.load()),
         static_cast<unsigned long long>(verified_bytes_),
         static_cast<unsigned long long>(verified_durable_blocks_),
         static_cast<unsigned long long>(snapshots_verified_),
         static_cast<unsigned long long>(seed_));
  EXPECT_GT(acked_ops_.load(), static_cast<uint64_t>(kills_))
      << "the workload hardly ran";
}

}  // namespace
}  // namespace vnas::harness
