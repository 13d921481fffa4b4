// server.cc — NfsServer wiring.
#include "server/nfs/server.h"

namespace vnas::nfs {

NfsServer::NfsServer(storage::ExtentStore* store, NfsServerOptions options)
    : options_(std::move(options)),
      fh_(options_.handle_key),
      dispatcher_(store, &options_.exports, &fh_, &stats_),
      transport_(
          [this](RpcRequest& req, ByteBuffer* reply) {
            dispatcher_.Handle(req, reply);
          },
          options_.workers, &stats_) {}

NfsServer::~NfsServer() { Stop(); }

absl::StatusOr<std::unique_ptr<NfsServer>> NfsServer::Start(
    storage::ExtentStore* store, NfsServerOptions options) {
  std::unique_ptr<NfsServer> s(new NfsServer(store, std::move(options)));
  s->transport_.SetInlinePredicate(&IsQuickCall);
  s->transport_.SetTryInline(&IsReadCall,
                             [d = &s->dispatcher_](const RpcRequest& req,
                                                   ByteBuffer* reply) {
                               return d->TryHandle(req, reply);
                             });
  s->transport_.SetDataOffsetHint(&WriteDataOffset);
  s->transport_.SetRecordMemory(s->options_.record_memory);
  absl::StatusOr<uint16_t> port = s->transport_.Listen(s->options_.nfs_listen);
  if (!port.ok()) return port.status();
  s->nfs_port_ = *port;
  const std::string& pm = s->options_.portmap_listen;
  if (!pm.empty() && pm != "none") {
    absl::StatusOr<uint16_t> pport = s->transport_.Listen(pm);
    if (pport.ok()) {
      s->portmap_port_ = *pport;
    } else if (s->options_.portmap_required) {
      return pport.status();
    } else {
      s->portmap_error_ = std::string(pport.status().message());
    }
  }
  s->dispatcher_.SetPorts(s->nfs_port_, s->portmap_port_);
  std::string nfs_host, pmap_host;
  uint16_t unused;
  if (ParseHostPort(s->options_.nfs_listen, &nfs_host, &unused).ok() &&
      (s->portmap_port_ == 0 || ParseHostPort(pm, &pmap_host, &unused).ok())) {
    s->dispatcher_.SetHosts(nfs_host, pmap_host.empty() ? "0.0.0.0" : pmap_host);
  }
  absl::Status st = s->transport_.Start();
  if (!st.ok()) return st;
  return s;
}

void NfsServer::Stop() { transport_.Stop(); }

}  // namespace vnas::nfs
