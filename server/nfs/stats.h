// stats.h — per-procedure counters of the NFS front end, for the admin side.
//
// Thread safety: every method is safe from any thread; counters are relaxed
// atomics, so a Snapshot() is per-counter consistent, not a global instant.
//
// Example (control plane):
//   for (const vnas::nfs::ProcStats& p : server->stats().Snapshot())
//     out->add_proc(p.name, p.calls, p.errors, p.total_latency_us, ...);
//   uint64_t clients = server->stats().connected_clients();
#ifndef VNAS_SERVER_NFS_STATS_H_
#define VNAS_SERVER_NFS_STATS_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace vnas::nfs {

// One procedure's figures since the server started.
struct ProcStats {
  std::string name;               // "NFS3.WRITE", "MOUNT3.MNT", "PMAP2.GETPORT"
  uint64_t calls = 0;
  uint64_t errors = 0;            // replies whose status was not OK
  uint64_t total_latency_us = 0;  // sum over calls, decode to encoded reply
  uint64_t max_latency_us = 0;
};

class NfsStats {
 public:
  // A counter slot. Owned by NfsStats; stable address for its lifetime.
  class Slot {
   public:
    void Record(uint64_t latency_us, bool error);

   private:
    friend class NfsStats;
    std::string name_;
    std::atomic<uint64_t> calls_{0}, errors_{0}, total_us_{0}, max_us_{0};
  };

  NfsStats() = default;
  NfsStats(const NfsStats&) = delete;
  NfsStats& operator=(const NfsStats&) = delete;

  // NfsStats::AddSlot()
  // Registers a procedure (at startup); the returned slot lives as long as
  // this object.
  Slot* AddSlot(std::string name);

  // NfsStats::Snapshot()
  // Every registered procedure, in registration order (NFS3 by procedure
  // number, then MOUNT3, then PMAP2).
  std::vector<ProcStats> Snapshot() const;

  // Connected TCP clients (all listeners), and totals since start.
  uint64_t connected_clients() const { return connected_.load(); }
  uint64_t total_connections() const { return total_connections_.load(); }
  uint64_t bytes_read() const { return bytes_read_.load(); }
  uint64_t bytes_written() const { return bytes_written_.load(); }
  uint64_t drc_hits() const { return drc_hits_.load(); }

  // Updated by the transport and handlers.
  void OnConnect() { connected_++; total_connections_++; }
  void OnDisconnect() { connected_--; }
  void AddBytesRead(uint64_t n) { bytes_read_ += n; }
  void AddBytesWritten(uint64_t n) { bytes_written_ += n; }
  void OnDrcHit() { drc_hits_++; }

 private:
  mutable absl::Mutex mu_;
  std::deque<Slot> slots_ ABSL_GUARDED_BY(mu_);  // deque: stable addresses
  std::atomic<uint64_t> connected_{0}, total_connections_{0};
  std::atomic<uint64_t> bytes_read_{0}, bytes_written_{0}, drc_hits_{0};
};

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_STATS_H_
