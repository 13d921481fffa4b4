// vmformat_fuzzer.cc — libFuzzer target over every vmformat parser, the
// analyzer and the rewriters (see fuzz_entry.h for the input grammar).
// Build and run: see the comment above the target in BUILD.
#include <cstddef>
#include <cstdint>

#include "server/vmformat/fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vnas::vmformat::FuzzOneInput(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
