// file_text_test.cc — whole files, binary bytes, and a clear error.
#include "server/file_text.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace vnas::server {
namespace {

std::string TmpPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + name;
}

TEST(ReadWholeFile, ReturnsEveryByte) {
  const std::string path = TmpPath("whole");
  std::string bytes(70000, 'x');
  bytes[5] = '\0';
  bytes[69999] = '\n';
  std::ofstream(path, std::ios::binary) << bytes;
  absl::StatusOr<std::string> got = ReadWholeFile(path);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == bytes);
}

TEST(ReadWholeFile, AMissingFileIsAClearError) {
  absl::StatusOr<std::string> got = ReadWholeFile(TmpPath("no-such-file"));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(got.status().message().find("no-such-file"), std::string::npos) << got.status();
}

}  // namespace
}  // namespace vnas::server
