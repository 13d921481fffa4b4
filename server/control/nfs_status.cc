#include "server/control/nfs_status.h"

namespace vnas::control {

std::function<NfsStatus()> NfsStatusFrom(const nfs::NfsStats* stats) {
  return [stats] {
    NfsStatus out;
    for (const nfs::ProcStats& p : stats->Snapshot()) {
      NfsProcedureCounter c;
      size_t dot = p.name.find('.');
      if (dot == std::string::npos) {
        c.procedure = p.name;
      } else {
        c.program = p.name.substr(0, dot);
        c.procedure = p.name.substr(dot + 1);
      }
      c.calls = p.calls;
      c.errors = p.errors;
      c.total_latency_us = p.total_latency_us;
      c.max_latency_us = p.max_latency_us;
      // Payload bytes are counted per direction; they belong to NFS READ
      // and WRITE.
      if (c.program == "NFS3" && c.procedure == "READ") {
        c.bytes = stats->bytes_read();
      } else if (c.program == "NFS3" && c.procedure == "WRITE") {
        c.bytes = stats->bytes_written();
      }
      out.counters.push_back(std::move(c));
    }
    out.connected_clients = stats->connected_clients();
    out.total_connections = stats->total_connections();
    out.bytes_read = stats->bytes_read();
    out.bytes_written = stats->bytes_written();
    out.drc_hits = stats->drc_hits();
    return out;
  };
}

}  // namespace vnas::control
