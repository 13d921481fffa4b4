// chain.cc — placeholder until the analyzer lands.
#include "server/vmformat/chain.h"

#include "absl/status/status.h"

namespace vnas::vmformat {

absl::StatusOr<ChainReport> AnalyzeVm(absl::Span<const FileSample>,
                                      const AnalyzeOptions&) {
  return absl::UnimplementedError("AnalyzeVm: not implemented yet");
}

const char* ReasonName(Reason) { return "UNKNOWN"; }

}  // namespace vnas::vmformat
