// nfs_status.h — adapts the NFS front end's counters (server/nfs/stats.h)
// to the control service's GetStatus figures.
//
// Thread safety: the returned function may be called from any thread while
// `stats` lives.
#ifndef VNAS_SERVER_CONTROL_NFS_STATUS_H_
#define VNAS_SERVER_CONTROL_NFS_STATUS_H_

#include <functional>

#include "server/control/control_service.h"
#include "server/nfs/stats.h"

namespace vnas::control {

// NfsStatusFrom(): a ControlServiceOptions::nfs_status hook reading `stats`
// (not owned; must outlive the control server). Procedure names
// "NFS3.WRITE" become program "NFS3", procedure "WRITE".
std::function<NfsStatus()> NfsStatusFrom(const nfs::NfsStats* stats);

}  // namespace vnas::control

#endif  // VNAS_SERVER_CONTROL_NFS_STATUS_H_
