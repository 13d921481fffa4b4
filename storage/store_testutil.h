// store_testutil.h — helpers shared by the ExtentStore tests (testonly).
#ifndef VNAS_STORAGE_STORE_TESTUTIL_H_
#define VNAS_STORAGE_STORE_TESTUTIL_H_

#include <memory>
#include <string>

#include "storage/extent_store.h"

namespace vnas::storage {

// A fresh directory name below $TEST_TMPDIR (or /tmp):
// "<name>-<pid>-<random>".
std::string TempDir(const std::string& name);

// Closes `*store` (if open), then opens `opts` into it; failing to open
// fails the test.
void ReopenStore(const StoreOptions& opts, std::unique_ptr<ExtentStore>* store);

// Reads up to `n` bytes of `ino` at `off`; a failed read fails the test and
// returns "".
std::string ReadBytes(ExtentStore* store, InodeId ino, uint64_t off,
                      uint32_t n);

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_STORE_TESTUTIL_H_
