// call_context.h — what a procedure handler knows about the call it serves.
#ifndef VNAS_SERVER_NFS_CALL_CONTEXT_H_
#define VNAS_SERVER_NFS_CALL_CONTEXT_H_

#include <cstdint>
#include <memory>

#include "server/nfs/client_addr.h"
#include "server/nfs/rpc.h"
#include "server/nfs/xdr.h"

namespace vnas::nfs {

struct CallContext {
  ClientAddr client_addr;
  ClientAddr local_addr;  // the server address the client connected to
  const RpcCall* call = nullptr;
  // The reply being built; the accepted header is already in it. Handlers
  // only touch it through ReserveReadData().
  ByteBuffer* reply = nullptr;
  // False on the transport's I/O thread: a handler must then not wait on
  // the device; READ sets would_block instead, and the call is handed to a
  // worker (Dispatcher::TryHandle).
  bool may_block = true;
  mutable bool would_block = false;
  // The call's record, when the handler may take it over (workers only);
  // see ShareRecord().
  ByteBuffer* record = nullptr;

  // CallContext::ShareRecord()
  // The call's record in shared ownership, so views into it (a WRITE's
  // data) may be held past the call (ExtentStore::Write's `keep`); its
  // bytes stay where they are, so views stay valid. Null when the call
  // offers none.
  std::shared_ptr<const void> ShareRecord() const {
    if (!shared_record_ && record != nullptr) {
      shared_record_ = std::make_shared<ByteBuffer>(std::move(*record));
    }
    return shared_record_;
  }
  mutable std::shared_ptr<const void> shared_record_;

  // CallContext::ReserveReadData()
  // Space for `count` bytes of READ data at the place a READ3resok will put
  // it (kRead3DataOffset past the current end), so the store can read
  // straight into the reply; 4 KiB aligned, so that read may be direct
  // (O_DIRECT). Valid until the reply is encoded.
  char* ReserveReadData(size_t count, size_t data_offset) const {
    size_t at = reply->size() + data_offset;
    reply->ReserveAligned(at + count + 8, at, 4096);
    return reply->data() + at;
  }
};

}  // namespace vnas::nfs

#endif  // VNAS_SERVER_NFS_CALL_CONTEXT_H_
