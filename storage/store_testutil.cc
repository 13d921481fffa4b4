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

std::string ReadBytes(ExtentStore* store, InodeId ino, uint64_t off,
                      uint32_t n) {
  std::string buf(n, '?');
  auto r = store->Read(ino, off, n, buf.data());
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  buf.resize(r->count);
  return buf;
}

}  // namespace vnas::storage
