// fuzz_entry.h — one entry point that feeds arbitrary bytes to every parser,
// the analyzer and the rewriters; shared by the libFuzzer target and the
// corpus replay test. Aborts (crashes) only when an invariant of the
// analyzer's report is violated; errors from parsers are expected.
//
// Multi-file input grammar (for AnalyzeVm): the bytes are cut into files at
// each line "=== <name>\n"; bytes before the first marker form "vm.vmdk".
// A name ending in "@fresh" is a file modified now (lock freshness tests);
// one ending in "@big" is a file larger than kSampleBytes of which the body
// is the start (the sample-overflow paths without a 64 KiB input). The two
// suffixes combine in either order.
#ifndef VNAS_SERVER_VMFORMAT_FUZZ_ENTRY_H_
#define VNAS_SERVER_VMFORMAT_FUZZ_ENTRY_H_

#include "absl/strings/string_view.h"

namespace vnas::vmformat {

void FuzzOneInput(absl::string_view data);

}  // namespace vnas::vmformat

#endif  // VNAS_SERVER_VMFORMAT_FUZZ_ENTRY_H_
