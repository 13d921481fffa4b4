// paths_test.cc — the request path grammar (no store needed for parsing).
#include "server/control/paths.h"

#include <string>

#include "gtest/gtest.h"
#include "server/control/reasons.h"

namespace vnas::control {
namespace {

TEST(ParsePathTest, AcceptsRelativeAndExportAbsolute) {
  struct Case {
    std::string path;
    std::string joined;
  };
  const Case cases[] = {
      {"", ""},
      {"vm1", "vm1"},
      {"vm1/disk.vmdk", "vm1/disk.vmdk"},
      {"vm1/", "vm1"},
      {"/vnas", ""},
      {"/vnas/", ""},
      {"/vnas/vm1/disk.vmdk", "vm1/disk.vmdk"},
      {"vm1/..x/...", "vm1/..x/..."},
      {std::string(255, 'n'), std::string(255, 'n')},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    auto p = ParsePath(c.path, "/vnas");
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(JoinPath(*p), c.joined);
  }
}

TEST(ParsePathTest, RefusesEscapesWithReasons) {
  struct Case {
    std::string path;
    v1::ReasonCode reason;
  };
  const Case cases[] = {
      {"..", v1::REASON_INVALID_ARGUMENT},
      {"../x", v1::REASON_INVALID_ARGUMENT},
      {"a/../../x", v1::REASON_INVALID_ARGUMENT},
      {"a/./b", v1::REASON_INVALID_ARGUMENT},
      {".", v1::REASON_INVALID_ARGUMENT},
      {"a//b", v1::REASON_INVALID_ARGUMENT},
      {"/vnas/../etc", v1::REASON_INVALID_ARGUMENT},
      {"/vnas//x", v1::REASON_INVALID_ARGUMENT},
      {std::string("a\0b", 3), v1::REASON_INVALID_ARGUMENT},
      {std::string(256, 'n'), v1::REASON_INVALID_ARGUMENT},
      {std::string(4097, 'n'), v1::REASON_INVALID_ARGUMENT},
      {"/etc/passwd", v1::REASON_CROSS_DATASTORE},
      {"/vnasx/a", v1::REASON_CROSS_DATASTORE},
      {"/", v1::REASON_CROSS_DATASTORE},
      {"//vnas/a", v1::REASON_CROSS_DATASTORE},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path.substr(0, 40));
    auto p = ParsePath(c.path, "/vnas");
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ReasonOf(p.status()), c.reason);
  }
}

TEST(ParsePathTest, RootExportTakesAbsolutePathsAsRelative) {
  auto p = ParsePath("/vm1/a", "/");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(JoinPath(*p), "vm1/a");
}

TEST(ReasonsTest, PayloadRoundTripsAndNamesAreStable) {
  absl::Status s = Refusal(absl::StatusCode::kFailedPrecondition,
                           v1::REASON_VSS_SIBLING_REDO_LOGS, "two children");
  EXPECT_EQ(ReasonOf(s), v1::REASON_VSS_SIBLING_REDO_LOGS);
  EXPECT_EQ(s.message(), "VSS_SIBLING_REDO_LOGS: two children");
  EXPECT_EQ(ReasonOf(absl::NotFoundError("x")), v1::REASON_NOT_FOUND);
  EXPECT_EQ(ReasonOf(absl::OkStatus()), v1::REASON_NONE);
  EXPECT_EQ(ReasonName(v1::REASON_CROSS_DATASTORE), "CROSS_DATASTORE");
}

// Receipts and Reason messages carry the name apart from the text: the text
// must not start with the name again ("NOT_FOUND: NOT_FOUND: ...").
TEST(ReasonsTest, TextDropsTheLeadingNameOnlyOnce) {
  absl::Status s = Refusal(absl::StatusCode::kNotFound, v1::REASON_NOT_FOUND,
                           "vm1/a.vmdk does not exist");
  EXPECT_EQ(ReasonText(s), "vm1/a.vmdk does not exist");
  v1::Reason r = ReasonFromStatus(s);
  EXPECT_EQ(r.name(), "NOT_FOUND");
  EXPECT_EQ(r.text(), "vm1/a.vmdk does not exist");
  // A plain store error keeps its whole message.
  EXPECT_EQ(ReasonText(absl::NotFoundError("no such inode")), "no such inode");
  // Only the status's own reason name is dropped.
  absl::Status odd = Refusal(absl::StatusCode::kFailedPrecondition,
                             v1::REASON_RUNNING_VM, "NOT_FOUND: lock");
  EXPECT_EQ(ReasonText(odd), "NOT_FOUND: lock");
}

}  // namespace
}  // namespace vnas::control
