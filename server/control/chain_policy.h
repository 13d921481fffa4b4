// chain_policy.h — which chain findings block which operation.
//
// Pure decisions over a vmformat::ChainReport (server/vmformat/chain.h). The
// policy is the one documented at the top of proto/vnas.proto:
//
//   VSS_SIBLING_REDO_LOGS  blocks CloneVm and CloneFile of any file of the
//                          affected disk tree.
//   RUNNING_VM             blocks CloneVm and RestoreSnapshot, and CloneFile
//                          of a leaf disk (or its extent files); read-only
//                          parent layers still offload. CreateSnapshot is
//                          allowed (crash-consistent; noted).
//   BROKEN_CHAIN, MISSING_PARENT, PARENT_OUTSIDE_DATASTORE, MALFORMED,
//   UNSUPPORTED_FORMAT, LEAF_MISMATCH (when blocks_offload)
//                          block CloneVm, and CloneFile of files of the
//                          affected tree (a finding naming no file affects
//                          every disk of the VM).
//   A linear chain is noted (what the offload does with it), never blocking.
//   A non-disk file, or a disk with no findings in its tree, offloads.
//
// Thread safety: pure functions.
#ifndef VNAS_SERVER_CONTROL_CHAIN_POLICY_H_
#define VNAS_SERVER_CONTROL_CHAIN_POLICY_H_

#include <set>
#include <string>

#include "proto/vnas.pb.h"
#include "server/vmformat/chain.h"

namespace vnas::control {

// The proto mirror of a vmformat::Reason (same number).
v1::ReasonCode ToProtoReason(vmformat::Reason reason);

// The file names of the disk tree `file` belongs to: the disk whose
// descriptor / image is `file` or whose extent files include it, with its
// ancestors and descendants, their descriptors and extent files. Empty when
// `file` belongs to no disk.
std::set<std::string> DiskTreeOf(const vmformat::ChainReport& report,
                                 const std::string& file);

// DecideCloneFile(): the verdict for CloneFile of `file` (a name in the
// analyzed directory). `mechanism` is what an offload uses.
v1::Verdict DecideCloneFile(const vmformat::ChainReport& report,
                            const std::string& file, v1::Mechanism mechanism);

// DecideCloneVm(): the verdict for CloneVm of the analyzed directory.
v1::Verdict DecideCloneVm(const vmformat::ChainReport& report);

// DecideSnapshot(): CreateSnapshot (restore = false) or RestoreSnapshot of
// the analyzed directory or of `file` in it ("" = the directory).
v1::Verdict DecideSnapshot(const vmformat::ChainReport& report,
                           const std::string& file, bool restore);

// Converts the report to GetChain's reply fields (directory, clone_vm and
// focus are left to the caller).
void FillChainResponse(const vmformat::ChainReport& report,
                       v1::GetChainResponse* out);

}  // namespace vnas::control

#endif  // VNAS_SERVER_CONTROL_CHAIN_POLICY_H_
