// chain_tree.h — a VM's disk graph (GetChainResponse) drawn as a tree, with
// the offload verdict and its reasons, for `vnasctl chain`.
//
// Example output (VSS case):
//   vm1/ — 3 disks, not linear
//   vm.vmdk  [vmfs, CID 3a5c0f21]
//   ├── vm-000001.vmdk  [vmfsSparse, CID 7b2e9d44]
//   └── vm-000002.vmdk  [vmfsSparse, CID 5e90b7c1]  <- .vmx
//   verdict: NOT offloadable (CloneVm)
//     ✗ VSS_SIBLING_REDO_LOGS: vm.vmdk has 2 child redo logs ...
#ifndef VNAS_SERVER_ADMIN_CHAIN_TREE_H_
#define VNAS_SERVER_ADMIN_CHAIN_TREE_H_

#include <string>

#include "proto/vnas.pb.h"

namespace vnas::admin {

// RenderChain()
//
// The text block for `chain` (each line ends in '\n'). Disks whose parent is
// missing from the response are drawn as roots; a cycle is cut and marked.
std::string RenderChain(const vnas::v1::GetChainResponse& chain);

// "NAME: text" of a reason (the name once, even when the text repeats it).
std::string ReasonText(const vnas::v1::Reason& reason);

// One-line verdict text: "offloaded" / "refused: NAME: text".
std::string VerdictLine(const vnas::v1::Verdict& verdict);

}  // namespace vnas::admin

#endif  // VNAS_SERVER_ADMIN_CHAIN_TREE_H_
