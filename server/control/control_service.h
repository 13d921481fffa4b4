// control_service.h — the vnas.v1.Control gRPC service (callback API).
//
// Thin by design: each rpc validates its request (paths stay inside the
// export, sizes bounded), calls the extent store or a small module of this
// package (chain_policy, vm_clone, receipt_log, operations), and converts the
// absl::Status once (ToGrpcStatus). Clone and snapshot rpcs write a receipt
// for every request, offloaded or refused, and put "vnas-reason-code" and
// "vnas-receipt-seq" in the trailing metadata of a failed reply.
//
// Thread safety: the service is called from gRPC's threads concurrently; all
// state is in thread-safe members. It must outlive the grpc::Server it is
// registered with.
#ifndef VNAS_SERVER_CONTROL_CONTROL_SERVICE_H_
#define VNAS_SERVER_CONTROL_CONTROL_SERVICE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "proto/vnas.grpc.pb.h"
#include "server/control/blocking_pool.h"
#include "server/control/operations.h"
#include "server/control/receipt_log.h"
#include "storage/env/env.h"
#include "storage/extent_store.h"

namespace vnas::control {

// The NFS front end's figures for GetStatus (filled by vnasd from
// server/nfs's stats API).
struct NfsProcedureCounter {
  std::string program;    // "NFS3", "MOUNT3", ...
  std::string procedure;  // "READ", ...
  uint64_t calls = 0, errors = 0, total_latency_us = 0, bytes = 0;
  uint64_t max_latency_us = 0;
};
struct NfsClientInfo {
  std::string address;
  int64_t connected_unix_ns = 0;
  uint64_t requests = 0;
};
struct NfsStatus {
  std::vector<NfsProcedureCounter> counters;
  std::vector<NfsClientInfo> clients;  // may be empty (not tracked)
  uint64_t connected_clients = 0, total_connections = 0;
  uint64_t bytes_read = 0, bytes_written = 0, drc_hits = 0;
};

struct ControlServiceOptions {
  std::string export_path = "/vnas";  // the export's absolute path
  std::string version = "vnasd";      // reported by GetStatus/Capabilities
  std::string listen;                 // reported by GetStatus
  int64_t started_unix_ns = 0;        // 0 = when the service was made
  // Empty: GetStatus reports nfs_stats_available = false.
  std::function<NfsStatus()> nfs_status;
  // Empty, or returning nullopt: GetStatus leaves data_cache unset.
  std::function<std::optional<storage::Env::DataCacheStatus>()> data_cache;
  // Test hook: called on the worker before each file of a CloneVm.
  std::function<void(const std::string&)> TEST_before_vm_clone_file;
};

// The largest ReserveSpace size accepted (bytes): 64 TiB.
inline constexpr uint64_t kMaxReserveBytes = uint64_t{1} << 46;
// The longest client_id accepted (bytes).
inline constexpr size_t kMaxClientIdBytes = 256;

// ToGrpcStatus(): absl code -> the same gRPC code, message kept.
grpc::Status ToGrpcStatus(const absl::Status& status);

class ControlService final : public v1::Control::CallbackService {
 public:
  // `store` must outlive the service.
  ControlService(storage::ExtentStore* store, ControlServiceOptions options);
  ~ControlService() override;
  ControlService(const ControlService&) = delete;
  ControlService& operator=(const ControlService&) = delete;

  // Requests cancellation of every running operation (server shutdown:
  // CloneVm callers with wait = true are answered once theirs has stopped).
  void CancelAll();

  grpc::ServerUnaryReactor* GetCapabilities(
      grpc::CallbackServerContext* ctx, const v1::GetCapabilitiesRequest* req,
      v1::Capabilities* resp) override;
  grpc::ServerUnaryReactor* CloneFile(grpc::CallbackServerContext* ctx,
                                      const v1::CloneFileRequest* req,
                                      v1::CloneFileResponse* resp) override;
  grpc::ServerUnaryReactor* CloneVm(grpc::CallbackServerContext* ctx,
                                    const v1::CloneVmRequest* req,
                                    v1::CloneVmResponse* resp) override;
  grpc::ServerUnaryReactor* GetOperation(grpc::CallbackServerContext* ctx,
                                         const v1::GetOperationRequest* req,
                                         v1::Operation* resp) override;
  grpc::ServerUnaryReactor* ListOperations(
      grpc::CallbackServerContext* ctx, const v1::ListOperationsRequest* req,
      v1::ListOperationsResponse* resp) override;
  grpc::ServerUnaryReactor* CancelOperation(
      grpc::CallbackServerContext* ctx, const v1::CancelOperationRequest* req,
      v1::Operation* resp) override;
  grpc::ServerWriteReactor<v1::Operation>* WatchOperation(
      grpc::CallbackServerContext* ctx,
      const v1::WatchOperationRequest* req) override;
  grpc::ServerUnaryReactor* CreateSnapshot(
      grpc::CallbackServerContext* ctx, const v1::CreateSnapshotRequest* req,
      v1::CreateSnapshotResponse* resp) override;
  grpc::ServerUnaryReactor* ListSnapshots(
      grpc::CallbackServerContext* ctx, const v1::ListSnapshotsRequest* req,
      v1::ListSnapshotsResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteSnapshot(
      grpc::CallbackServerContext* ctx, const v1::DeleteSnapshotRequest* req,
      v1::DeleteSnapshotResponse* resp) override;
  grpc::ServerUnaryReactor* RestoreSnapshot(
      grpc::CallbackServerContext* ctx, const v1::RestoreSnapshotRequest* req,
      v1::RestoreSnapshotResponse* resp) override;
  grpc::ServerUnaryReactor* CloneSnapshot(
      grpc::CallbackServerContext* ctx, const v1::CloneSnapshotRequest* req,
      v1::CloneSnapshotResponse* resp) override;
  grpc::ServerUnaryReactor* ReserveSpace(
      grpc::CallbackServerContext* ctx, const v1::ReserveSpaceRequest* req,
      v1::ReserveSpaceResponse* resp) override;
  grpc::ServerUnaryReactor* ExtendedStats(
      grpc::CallbackServerContext* ctx, const v1::ExtendedStatsRequest* req,
      v1::ExtendedStatsResponse* resp) override;
  grpc::ServerUnaryReactor* ListVms(grpc::CallbackServerContext* ctx,
                                    const v1::ListVmsRequest* req,
                                    v1::ListVmsResponse* resp) override;
  grpc::ServerUnaryReactor* GetChain(grpc::CallbackServerContext* ctx,
                                     const v1::GetChainRequest* req,
                                     v1::GetChainResponse* resp) override;
  grpc::ServerUnaryReactor* ListReceipts(
      grpc::CallbackServerContext* ctx, const v1::ListReceiptsRequest* req,
      v1::ListReceiptsResponse* resp) override;
  grpc::ServerWriteReactor<v1::Receipt>* WatchReceipts(
      grpc::CallbackServerContext* ctx,
      const v1::WatchReceiptsRequest* req) override;
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* ctx,
                                      const v1::GetStatusRequest* req,
                                      v1::GetStatusResponse* resp) override;
  grpc::ServerUnaryReactor* Fsck(grpc::CallbackServerContext* ctx,
                                 const v1::FsckRequest* req,
                                 v1::FsckResponse* resp) override;
  grpc::ServerUnaryReactor* GetAlignment(
      grpc::CallbackServerContext* ctx, const v1::GetAlignmentRequest* req,
      v1::GetAlignmentResponse* resp) override;
  grpc::ServerUnaryReactor* ListMembers(
      grpc::CallbackServerContext* ctx, const v1::ListMembersRequest* req,
      v1::ListMembersResponse* resp) override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  // Calls that may block (durable store changes, reading VM files) run here,
  // never on gRPC's callback threads. Declared last: destroyed first, after
  // running what is queued, while impl_ still exists.
  BlockingPool blocking_{16};
};

}  // namespace vnas::control

#endif  // VNAS_SERVER_CONTROL_CONTROL_SERVICE_H_
