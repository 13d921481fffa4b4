// store_testutil.cc — see store_testutil.h.
#include "storage/store_testutil.h"

#include <unistd.h>

#include <cstdlib>

#include "gtest/gtest.h"

namespace vnas::storage {

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  return std::string(base ? base : "/tmp") + "/" + name + "-" +
         std::to_string(::getpid()) + "-" + std::to_string(std::rand());
}

void ReopenStore(const StoreOptions& opts,
                 std::unique_ptr<ExtentStore>* store) {
  store->reset();
  auto s = ExtentStore::Open(opts);
  ASSERT_TRUE(s.ok()) << s.status();
  *store = std::move(*s);
}

}  // namespace vnas::storage
