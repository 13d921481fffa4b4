// drc.h — duplicate-request cache for non-idempotent calls (RFC 1813 §4.1
// discussion; protocol notes §2 "nConnect").
//
// Keyed on (client address, xid, program, procedure) plus a checksum of the
// argument bytes, not on the connection: a retransmit may arrive on another
// connection. A retransmit of a completed call gets the cached reply bytes;
// one of a call still in progress is dropped (the client retries). Bounded:
// the oldest completed entries are evicted first.
//
// Thread safety: all methods are safe from any thread.
#ifndef VNAS_SERVER_NFS_DRC_H_
#define VNAS_SERVER_NFS_DRC_H_

#include <cstdint>
#include <deque>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/nfs/client_addr.h"

namespace vnas::nfs {

struct DrcKey {
  ClientAddr client;
  uint32_t xid = 0;
  uint32_t prog = 0;
  uint32_t proc = 0;
  uint64_t args_checksum = 0;
  friend bool operator==(const DrcKey& a, const DrcKey& b) {
    return a.client == b.client && a.xid == b.xid && a.prog == b.prog &&
           a.proc == b.proc && a.args_checksum == b.args_checksum;
  }
  template <typename H>
  friend H AbslHashValue(H h, const DrcKey& k) {
    return H::combine(std::move(h), k.client, k.xid, k.prog, k.proc,
                      k.args_checksum);
  }
};

class DuplicateRequestCache {
 public:
  explicit DuplicateRequestCache(size_t capacity) : capacity_(capacity) {}

  enum class Lookup { kNew, kInProgress, kReplay };

  // DuplicateRequestCache::Begin()
  // kNew: the caller must run the call and then Finish() or Abandon().
  // kReplay: *reply holds the cached reply. kInProgress: drop the call.
  Lookup Begin(const DrcKey& key, std::string* reply);
  void Finish(const DrcKey& key, absl::string_view reply);
  void Abandon(const DrcKey& key);

  size_t size() const;

 private:
  struct Entry {
    uint64_t seq = 0;  // matches its order_ record; stale records skip
    bool done = false;
    std::string reply;
  };
  const size_t capacity_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<DrcKey, Entry> map_ ABSL_GUARDED_BY(mu_);
  // Insertion order; a record whose seq no longer matches the entry's (the
  // key was abandoned and begun again) is skipped.
  std::deque<std::pair<DrcKey, uint64_t>> order_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
};

// A 64-bit checksum of argument bytes (absl::Hash over at most the first
// 4 KiB, and the length, so large WRITEs cost little). Stable within one
// process only.
uint64_t ArgsChecksum(absl::string_view args);

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_DRC_H_
