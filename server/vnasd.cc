// vnasd — the vnas datastore server: opens the extent store and serves it
// over NFSv3 + MOUNT v3 (+ a PMAP2 portmapper), and the gRPC control plane.
//
// Flags may also come from a config file (--config=FILE) of `flag=value`
// lines ('#' comments); flags on the command line win.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/control/control_server.h"
#include "server/control/nfs_status.h"
#include "server/memory_limit.h"
#include "server/nfs/exports.h"
#include "server/nfs/fh.h"
#include "server/nfs/block_pool.h"
#include "server/nfs/server.h"
#include "server/nfs/transport.h"
#include "storage/env/env.h"
#include "storage/extent_store.h"

ABSL_FLAG(std::string, config, "",
          "Optional config file of flag=value lines (command line wins)");
ABSL_FLAG(std::string, data_dir, "./data",
          "Directory holding the datastore (metadata, member files, keys)");
ABSL_FLAG(std::string, nfs_listen, "127.0.0.1:2049",
          "host:port for NFSv3 and MOUNT v3 (one port); IPv6 in brackets "
          "('[::1]:2049'; '[::]:2049' takes IPv4 clients too)");
ABSL_FLAG(std::string, portmap_listen, "127.0.0.1:111",
          "host:port for the portmapper (PMAP2, rpcbind v3/v4; IPv6 in "
          "brackets), or 'none'");
ABSL_FLAG(std::string, control_listen, "127.0.0.1:50051",
          "host:port for the gRPC control plane");
ABSL_FLAG(std::string, control_tls_cert, "",
          "PEM certificate for the control plane (required off loopback)");
ABSL_FLAG(std::string, control_tls_key, "",
          "PEM private key for the control plane (required off loopback)");
ABSL_FLAG(std::string, control_token_file, "",
          "File holding the control plane's bearer token (required off "
          "loopback)");
ABSL_FLAG(std::string, exports_file, "",
          "exports(5)-style file; default: /vnas 127.0.0.1/32(rw,no_root_squash)");
ABSL_FLAG(uint32_t, segment_size, 64 << 10,
          "Extent segment size in bytes at creation (4 KiB .. 1 MiB, power of 2)");
ABSL_FLAG(uint32_t, inline_max, 4096,
          "Files of at most this many bytes keep their data in the metadata "
          "(one sync per stable write); 0 = never; at most the segment size");
ABSL_FLAG(uint32_t, unstable_linger_us, 20000,
          "UNSTABLE writes of new data share member syncs: the committer waits "
          "up to this long for more of them (nothing a client waits for is "
          "delayed); 0 = a sync per commit group");
ABSL_FLAG(uint32_t, members, 4, "Number of member data files at creation");
ABSL_FLAG(uint64_t, capacity, 0,
          "Bytes the store may use; 0 = the size of the file system");
ABSL_FLAG(bool, direct_bulk_io, true,
          "Transfers of 64 KiB or more bypass the page cache (O_DIRECT): "
          "unstable writes, and reads of uncached ranges. No page allocation "
          "or write-back for bulk streams, but bulk re-reads come from the "
          "disk, without readahead (false: everything but stable writes is "
          "cached)");
ABSL_FLAG(uint32_t, write_behind_mb, 32,
          "With --direct_bulk_io: MiB of buffers in which unstable bulk "
          "writes are acknowledged before the device has them (COMMIT "
          "waits for them); 0 = such writes wait for the device");
ABSL_FLAG(int64_t, data_cache_mb, -1,
          "With --direct_bulk_io: MiB of memory for a read cache of 64 KiB "
          "chunks: what bulk writes wrote (--data_cache_bulk), and the whole "
          "chunk of a small read that missed the page cache, so random reads "
          "of a disk image (clones booting from one base disk) warm up chunk "
          "by chunk. -1 = an eighth of the memory vnasd may use (the "
          "machine's, or less where its cgroup caps it), at most 4096; "
          "0 = none");
ABSL_FLAG(bool, data_cache_bulk, true,
          "With --data_cache_mb: bulk writes and direct bulk reads fill the "
          "cache too, so re-reads of just-written data come from memory (a "
          "copy of every byte, made by the write-behind threads off the "
          "WRITE's path), and the cache's memory is committed (faulted in) "
          "at start, before serving (measured on a 2-core VM whose disk reads "
          "~1 GB/s: nfs-cat of a just-written GiB 0.8-0.95 -> 1.7-2.0 GB/s, "
          "qemu-img read of it 0.74-0.90 -> 0.87-0.95 GB/s, writes within "
          "the noise; start-up 0.2-0.7 s per GiB of cache, on every core). false: bulk data "
          "is not cached and the cache fills only from small reads, its "
          "pages touched as it fills");
ABSL_FLAG(uint32_t, io_buffer_cache_mb, 64,
          "MiB of idle 64 KiB+ RPC buffers kept mapped for reuse, so bulk "
          "READs and WRITEs do not fault in fresh pages for every call");
ABSL_FLAG(int32_t, nfs_workers, 16,
          "NFS worker threads (each can hold one stable write in a disk "
          "flush; the kernel merges concurrent flushes)");

namespace {

// --data_cache_mb in bytes: -1 picks an eighth of `usable`, the memory this
// process may use (physical, or its cgroup's limit: the cache is committed
// at start), capped.
size_t DataCacheBytes(int64_t mb, uint64_t usable) {
  if (mb >= 0) return static_cast<size_t>(mb) << 20;
  return static_cast<size_t>(std::min<uint64_t>(usable / 8, uint64_t{4096} << 20));
}

// Turns `--config=FILE` (or `--config FILE`) plus the file's flag=value lines
// into argv entries placed before the command line's own flags.
std::vector<std::string> ExpandConfig(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  std::string path;
  for (size_t i = 1; i < args.size(); ++i) {
    if (absl::StartsWith(args[i], "--config=")) {
      path = args[i].substr(9);
    } else if (args[i] == "--config" && i + 1 < args.size()) {
      path = args[i + 1];
    }
  }
  if (path.empty()) return args;
  std::ifstream in(path);
  if (!in) {
    fprintf(stderr, "vnasd: cannot read config file %s\n", path.c_str());
    exit(2);
  }
  std::vector<std::string> out = {args[0]};
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view l = absl::StripAsciiWhitespace(line);
    if (l.empty() || l[0] == '#') continue;
    absl::ConsumePrefix(&l, "--");
    out.push_back(absl::StrCat("--", l));
  }
  out.insert(out.end(), args.begin() + 1, args.end());
  return out;
}

absl::StatusOr<vnas::nfs::ExportTable> LoadExports(const std::string& path) {
  if (path.empty()) return vnas::nfs::ExportTable::Default();
  std::ifstream in(path);
  if (!in) return absl::NotFoundError("cannot read exports file " + path);
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  return vnas::nfs::ExportTable::Parse(text);
}

[[noreturn]] void Die(const std::string& what, const absl::Status& s) {
  fprintf(stderr, "vnasd: %s: %s\n", what.c_str(), s.ToString().c_str());
  exit(1);
}

// The address a local client should dial for a listen address.
std::string DialHost(const std::string& listen) {
  std::string host;
  uint16_t port;
  if (!vnas::nfs::ParseHostPort(listen, &host, &port).ok()) return "127.0.0.1";
  if (host == "0.0.0.0") return "127.0.0.1";
  if (host == "::") return "::1";
  return host;
}

// host:port as a socket address is written ("[::1]:2049" for IPv6).
std::string HostPort(const std::string& host, unsigned port) {
  return host.find(':') == std::string::npos
             ? absl::StrCat(host, ":", port)
             : absl::StrCat("[", host, "]:", port);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "vnas datastore server: NFSv3 + MOUNT v3 + portmapper over the extent "
      "store, and the gRPC control plane.\nUsage: vnasd [--flag=value ...]");
  std::vector<std::string> expanded = ExpandConfig(argc, argv);
  std::vector<char*> eargv;
  for (std::string& a : expanded) eargv.push_back(a.data());
  absl::ParseCommandLine(static_cast<int>(eargv.size()), eargv.data());
  // Lock-order cycle detection records every Mutex acquisition in a global
  // graph: a debugging aid (the tests run with it on), not for serving.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Signals are taken synchronously by main (sigwait below); every thread
  // started from here on inherits the block.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  if (mkdir(data_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    Die("create " + data_dir, absl::ErrnoToStatus(errno, "mkdir"));
  }

  // ---- Extent store ------------------------------------------------------
  vnas::storage::PosixEnvOptions env_options;
  env_options.direct_bulk_io = absl::GetFlag(FLAGS_direct_bulk_io);
  env_options.write_behind_bytes = size_t{absl::GetFlag(FLAGS_write_behind_mb)} << 20;
  const int64_t cache_mb = absl::GetFlag(FLAGS_data_cache_mb);
  if (cache_mb < -1) {
    fprintf(stderr, "vnasd: --data_cache_mb=%lld: give MiB, 0 (none) or -1 (auto)\n",
            static_cast<long long>(cache_mb));
    return 2;
  }
  const uint64_t usable = vnas::server::UsableMemoryBytes();
  env_options.cache_bytes = DataCacheBytes(cache_mb, usable);
  env_options.cache_bulk = absl::GetFlag(FLAGS_data_cache_bulk);
  // A bulk cache is committed at start: one larger than the memory vnasd
  // may use would have it killed (OOM) instead of starting.
  if (env_options.direct_bulk_io && env_options.cache_bulk && usable > 0 &&
      env_options.cache_bytes > usable / 4 * 3) {
    fprintf(stderr,
            "vnasd: --data_cache_mb=%lld: more than 3/4 of the %llu MiB vnasd may use "
            "(the cache is committed at start); give at most %llu, or "
            "--data_cache_bulk=false\n",
            static_cast<long long>(cache_mb), static_cast<unsigned long long>(usable >> 20),
            static_cast<unsigned long long>((usable / 4 * 3) >> 20));
    return 2;
  }
  const absl::Time env_start = absl::Now();
  std::unique_ptr<vnas::storage::Env> env =
      vnas::storage::Env::NewPosix(env_options);
  if (env_options.cache_bulk) {
    if (std::optional<vnas::storage::Env::DataCacheStatus> dc = env->data_cache_status()) {
      fprintf(stderr, "vnasd: data cache: %llu of %llu MiB committed in %lld ms\n",
              static_cast<unsigned long long>(dc->resident_bytes >> 20),
              static_cast<unsigned long long>(dc->capacity_bytes >> 20),
              static_cast<long long>(absl::ToInt64Milliseconds(absl::Now() - env_start)));
    }
  }
  if (env_options.direct_bulk_io && env_options.cache_bytes > 0 &&
      !env->data_cache_status()) {
    fprintf(stderr, "vnasd: could not map %zu MiB for the data cache; running "
                    "without it\n", env_options.cache_bytes >> 20);
  }
  vnas::storage::StoreOptions store_options;
  store_options.env = env.get();
  store_options.dir = data_dir;
  store_options.num_members = absl::GetFlag(FLAGS_members);
  store_options.segment_size = absl::GetFlag(FLAGS_segment_size);
  store_options.capacity = absl::GetFlag(FLAGS_capacity);
  store_options.inline_max = absl::GetFlag(FLAGS_inline_max);
  store_options.unstable_linger_us = absl::GetFlag(FLAGS_unstable_linger_us);
  auto store = vnas::storage::ExtentStore::Open(store_options);
  if (!store.ok()) Die("open store in " + data_dir, store.status());

  // The control plane's security settings are checked before anything
  // serves: a refused configuration must never leave NFS answering.
  vnas::control::ControlServerOptions control_options;
  control_options.listen = absl::GetFlag(FLAGS_control_listen);
  control_options.tls_cert_file = absl::GetFlag(FLAGS_control_tls_cert);
  control_options.tls_key_file = absl::GetFlag(FLAGS_control_tls_key);
  control_options.token_file = absl::GetFlag(FLAGS_control_token_file);
  if (absl::Status ok = vnas::control::ControlServer::CheckOptions(control_options);
      !ok.ok()) {
    Die("control listen " + control_options.listen, ok);
  }

  // ---- NFS front end -----------------------------------------------------
  vnas::nfs::NfsServerOptions nfs_options;
  nfs_options.nfs_listen = absl::GetFlag(FLAGS_nfs_listen);
  nfs_options.portmap_listen = absl::GetFlag(FLAGS_portmap_listen);
  nfs_options.workers = absl::GetFlag(FLAGS_nfs_workers);
  vnas::nfs::BlockPool::Global().SetCapacity(
      size_t{absl::GetFlag(FLAGS_io_buffer_cache_mb)} << 20);
  auto exports = LoadExports(absl::GetFlag(FLAGS_exports_file));
  if (!exports.ok()) Die("exports", exports.status());
  nfs_options.exports = *std::move(exports);
  auto key = vnas::nfs::LoadOrCreateHandleKey(data_dir + "/nfs-handle.key");
  if (!key.ok()) Die("file handle key", key.status());
  nfs_options.handle_key = *key;
  // WRITE data is received straight into the data cache's memory, which
  // then keeps it without a copy.
  nfs_options.record_memory = [e = env.get()](size_t lead, size_t len) {
    return e->WriteMemory(lead, len);
  };
  auto nfs = vnas::nfs::NfsServer::Start(store->get(), nfs_options);
  if (!nfs.ok()) Die("NFS listen " + nfs_options.nfs_listen, nfs.status());

  // ---- Control plane (server/control) ------------------------------------
  control_options.service.export_path = (*nfs)->exports().exports()[0].name;
  control_options.service.version = "vnasd 0.1";
  control_options.service.data_cache = [e = env.get()] {
    return e->data_cache_status();
  };
  control_options.service.nfs_status =
      vnas::control::NfsStatusFrom(&(*nfs)->stats());
  auto control =
      vnas::control::ControlServer::Start(store->get(), control_options);
  if (!control.ok()) Die("control listen " + control_options.listen, control.status());
  const std::string control_listen = (*control)->address();

  // ---- Where to find us --------------------------------------------------
  const std::string host = DialHost(nfs_options.nfs_listen);
  const uint16_t port = (*nfs)->nfs_port();
  const std::string export_name = (*nfs)->exports().exports()[0].name;
  printf("vnasd: datastore %s (store id %016llx)\n", data_dir.c_str(),
         static_cast<unsigned long long>((*store)->store_id()));
  for (const auto& e : (*nfs)->exports().exports()) {
    printf("vnasd: NFSv3 export %s on %s (NFS and MOUNT v3, TCP)\n",
           e.name.c_str(), HostPort(host, port).c_str());
  }
  if ((*nfs)->portmap_port() != 0) {
    printf("vnasd: portmapper on %s\n",
           HostPort(DialHost(nfs_options.portmap_listen), (*nfs)->portmap_port())
               .c_str());
  } else if (!(*nfs)->portmap_error().empty()) {
    printf("vnasd: portmapper off (%s): clients must name the ports "
           "(?nfsport=%u&mountport=%u); qemu-img nfs:// URLs need it\n",
           (*nfs)->portmap_error().c_str(), port, port);
  } else {
    printf("vnasd: portmapper off\n");
  }
  printf("vnasd: control endpoint %s (gRPC)\n", control_listen.c_str());
  printf("vnasd: try: nfs-ls \"nfs://%s%s?nfsport=%u&mountport=%u\"\n",
         host.c_str(), export_name.c_str(), port, port);
  fflush(stdout);

  int sig = 0;
  sigwait(&sigs, &sig);
  printf("vnasd: signal %d, shutting down\n", sig);
  fflush(stdout);
  (*control)->Shutdown();
  (*nfs)->Stop();
  // Per-procedure NFS counters of this run, for the operator's log.
  for (const vnas::nfs::ProcStats& p : (*nfs)->stats().Snapshot()) {
    if (p.calls == 0) continue;
    printf("vnasd: %-18s calls=%llu errors=%llu avg=%lluus max=%lluus\n",
           p.name.c_str(), static_cast<unsigned long long>(p.calls),
           static_cast<unsigned long long>(p.errors),
           static_cast<unsigned long long>(p.total_latency_us / p.calls),
           static_cast<unsigned long long>(p.max_latency_us));
  }
  printf("vnasd: io buffers mapped=%zu cached=%zuKiB\n", vnas::nfs::BlockPool::Global().maps(),
         vnas::nfs::BlockPool::Global().cached_bytes() >> 10);
  control->reset();
  nfs->reset();
  store->reset();
  printf("vnasd: stopped\n");
  return 0;
}
