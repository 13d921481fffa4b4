// dispatch_test_util.h — testonly: a Dispatcher over a real ExtentStore on
// the in-memory Env, and a tiny RPC client that calls it directly.
#ifndef VNAS_SERVER_NFS_DISPATCH_TEST_UTIL_H_
#define VNAS_SERVER_NFS_DISPATCH_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "server/nfs/dispatch.h"
#include "server/nfs/exports.h"
#include "server/nfs/fh.h"
#include "server/nfs/rpc.h"
#include "server/nfs/stats.h"
#include "storage/env/env.h"
#include "storage/extent_store.h"

namespace vnas::nfs {

struct Reply {
  bool dropped = false;    // no reply bytes at all
  uint32_t xid = 0;
  bool accepted = false;   // MSG_ACCEPTED
  uint32_t stat = 0;       // accept_stat, or reject_stat when denied
  std::string body;        // bytes after the header (results)
  std::string raw;         // the whole record-marked reply
  uint32_t FirstWord() const;  // body's first u32 (the result status)
};

class DispatchFixture {
 public:
  // cold_reads: the data files answer no read from memory (PReadVCached
  // fails EAGAIN), as a page cache without the data would.
  explicit DispatchFixture(const std::string& exports_text =
                               "/vnas 127.0.0.1/32(rw,no_root_squash)\n",
                           uint64_t capacity = 256 << 20,
                           bool cold_reads = false);
  ~DispatchFixture();

  // Sends one raw record from `client` (IPv4 host order).
  Reply Send(const std::string& record, uint32_t client = 0x7f000001);
  // Send() from any client (an IPv6 one), reaching the server at `local`
  // (default: `client`, as over loopback).
  Reply SendFrom(const std::string& record, const ClientAddr& client,
                 std::optional<ClientAddr> local = std::nullopt);
  // Offers one NFSv3 call (AUTH_SYS root) to Dispatcher::TryHandle, as the
  // transport's I/O thread does; *answered is its verdict.
  Reply TryCall(uint32_t proc, const std::string& args, bool* answered);
  // Builds and sends a call with AUTH_SYS uid/gid.
  Reply Call(uint32_t prog, uint32_t vers, uint32_t proc,
             const std::string& args, uint32_t xid = 1, uint32_t uid = 0,
             uint32_t client = 0x7f000001);
  // An NFSv3 call with AUTH_SYS uid, gid and supplementary gids.
  Reply CallAs(uint32_t proc, const std::string& args, uint32_t uid,
               uint32_t gid, const std::vector<uint32_t>& gids = {},
               uint32_t xid = 1, uint32_t client = 0x7f000001);
  // Call() (AUTH_SYS uid 0) from any client (an IPv6 one), which reached
  // the server at `local` (default: the same loopback as the client's).
  Reply CallFrom(const ClientAddr& client, uint32_t prog, uint32_t vers,
                 uint32_t proc, const std::string& args, uint32_t xid = 1,
                 std::optional<ClientAddr> local = std::nullopt);
  // MNT `path` and return the handle ("" on failure).
  std::string Mount(const std::string& path, uint32_t client = 0x7f000001);

  storage::ExtentStore* store() { return store_.get(); }
  Dispatcher& dispatcher() { return *dispatcher_; }
  NfsStats& stats() { return stats_; }
  const FileHandleCodec& codec() { return *codec_; }

 private:
  Reply Parse(const ByteBuffer& out);

  std::unique_ptr<storage::Env> mem_;
  std::unique_ptr<storage::Env> env_;
  std::unique_ptr<storage::ExtentStore> store_;
  ExportTable exports_;
  std::unique_ptr<FileHandleCodec> codec_;
  NfsStats stats_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

// XDR helpers for building arguments in tests.
std::string XU32(uint32_t v);
std::string XU64(uint64_t v);
std::string XOpaque(const std::string& s);

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_DISPATCH_TEST_UTIL_H_
