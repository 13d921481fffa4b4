// server.h — the NFS front end as one object: transport + dispatcher +
// portmapper over an ExtentStore.
//
// Example (vnasd):
//   NfsServerOptions o; o.nfs_listen = "127.0.0.1:2049"; ...
//   VNAS_ASSIGN_OR_RETURN(auto server, NfsServer::Start(store.get(), o));
//   ... server->stats().Snapshot() ...
//   server->Stop();
//
// Thread safety: stats() from any thread; Stop() once.
#ifndef VNAS_SERVER_NFS_SERVER_H_
#define VNAS_SERVER_NFS_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/nfs/dispatch.h"
#include "server/nfs/exports.h"
#include "server/nfs/fh.h"
#include "server/nfs/stats.h"
#include "server/nfs/transport.h"
#include "storage/extent_store.h"

namespace vnas::nfs {

struct NfsServerOptions {
  std::string nfs_listen = "127.0.0.1:2049";     // NFS + MOUNT
  std::string portmap_listen = "127.0.0.1:111";  // "" or "none": off
  // When false, a portmapper that cannot bind is reported through
  // portmap_error() and the server runs without it.
  bool portmap_required = false;
  ExportTable exports = ExportTable::Default();
  HandleKey handle_key{};
  int workers = 8;
  // Where big records (WRITEs' data) are received; empty: the transport's
  // own memory. See RecordMemory.
  RecordMemory record_memory;
};

class NfsServer {
 public:
  // NfsServer::Start()
  // Binds the listeners and starts serving `store` (not owned; must outlive
  // the server). Fails when the NFS address cannot be bound.
  static absl::StatusOr<std::unique_ptr<NfsServer>> Start(
      storage::ExtentStore* store, NfsServerOptions options);

  ~NfsServer();
  NfsServer(const NfsServer&) = delete;
  NfsServer& operator=(const NfsServer&) = delete;

  uint16_t nfs_port() const { return nfs_port_; }
  uint16_t portmap_port() const { return portmap_port_; }  // 0: off
  const std::string& portmap_error() const { return portmap_error_; }
  const ExportTable& exports() const { return options_.exports; }
  NfsStats& stats() { return stats_; }

  // Stops accepting and closes all connections. Idempotent.
  void Stop();

 private:
  NfsServer(storage::ExtentStore* store, NfsServerOptions options);

  NfsServerOptions options_;
  NfsStats stats_;
  FileHandleCodec fh_;
  Dispatcher dispatcher_;
  RpcTransport transport_;
  uint16_t nfs_port_ = 0;
  uint16_t portmap_port_ = 0;
  std::string portmap_error_;
};

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_SERVER_H_
