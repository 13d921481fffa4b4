// receipt_log.h — offload receipts, kept durably in the extent store.
//
// Record format (version 1): each record of the store's log "receipts" is
// one vnas.v1.Receipt message in protobuf binary encoding, with `seq` left 0
// (the log's sequence number is the receipt's seq and is filled in on read).
// New fields are only ever added to Receipt, so old records stay readable.
// The newest kMaxReceipts records are kept.
//
// Thread safety: thread-safe.
#ifndef VNAS_SERVER_CONTROL_RECEIPT_LOG_H_
#define VNAS_SERVER_CONTROL_RECEIPT_LOG_H_

#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/vnas.pb.h"
#include "server/control/broadcaster.h"
#include "storage/extent_store.h"

namespace vnas::control {

inline constexpr uint64_t kMaxReceipts = 10000;
inline constexpr char kReceiptLogName[] = "receipts";

class ReceiptLog {
 public:
  // `store` must outlive the log.
  explicit ReceiptLog(storage::ExtentStore* store);
  ReceiptLog(const ReceiptLog&) = delete;
  ReceiptLog& operator=(const ReceiptLog&) = delete;

  // ReceiptLog::Append()
  //
  // Writes `receipt` durably and returns its seq; then notifies subscribers.
  absl::StatusOr<uint64_t> Append(const v1::Receipt& receipt);

  // ReceiptLog::Last(): the newest `n` receipts with seq > after_seq,
  // oldest first.
  absl::StatusOr<std::vector<v1::Receipt>> Last(uint64_t n,
                                                uint64_t after_seq = 0);

  // ReceiptLog::After(): up to `limit` receipts with seq > after_seq,
  // oldest first.
  absl::StatusOr<std::vector<v1::Receipt>> After(uint64_t after_seq,
                                                 uint64_t limit);

  // Receipts appended since this log was constructed.
  uint64_t appended() const;

  // Notified after every Append.
  Broadcaster& changes() { return changes_; }

 private:
  storage::ExtentStore* const store_;
  Broadcaster changes_;
  mutable absl::Mutex mu_;
  uint64_t appended_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vnas::control

#endif  // VNAS_SERVER_CONTROL_RECEIPT_LOG_H_
