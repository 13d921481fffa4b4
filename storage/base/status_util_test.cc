#include "storage/base/status_util.h"

#include <cerrno>

#include "gtest/gtest.h"

namespace vnas {
namespace {

struct Case {
  int err;
  absl::StatusCode code;
};

TEST(StatusUtilTest, FsErrorKeepsErrnoAndPicksCode) {
  constexpr Case kCases[] = {
      {ENOENT, absl::StatusCode::kNotFound},
      {EEXIST, absl::StatusCode::kAlreadyExists},
      {ENOSPC, absl::StatusCode::kResourceExhausted},
      {ENOTDIR, absl::StatusCode::kFailedPrecondition},
      {EISDIR, absl::StatusCode::kFailedPrecondition},
      {ENOTEMPTY, absl::StatusCode::kFailedPrecondition},
      {ENAMETOOLONG, absl::StatusCode::kInvalidArgument},
      {EIO, absl::StatusCode::kInternal},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.err);
    absl::Status s = FsError(c.err, "x");
    EXPECT_EQ(s.code(), c.code);
    EXPECT_EQ(ErrnoOf(s), c.err);
  }
}

TEST(StatusUtilTest, ErrnoOfPlainStatusFollowsCode) {
  EXPECT_EQ(ErrnoOf(absl::OkStatus()), 0);
  EXPECT_EQ(ErrnoOf(absl::NotFoundError("x")), ENOENT);
  EXPECT_EQ(ErrnoOf(absl::DataLossError("x")), EIO);
}

TEST(StatusUtilTest, IoErrorTags) {
  EXPECT_TRUE(HasRetryableTag(IoError(ENOSPC, "pwrite member-0")));
  EXPECT_FALSE(HasDataLossTag(IoError(ENOSPC, "pwrite member-0")));
  EXPECT_TRUE(HasDataLossTag(IoError(EIO, "pread member-1")));
  EXPECT_FALSE(HasRetryableTag(IoError(EIO, "pread member-1")));
  EXPECT_EQ(ErrnoOf(IoError(EIO, "pread")), EIO);
}

absl::StatusOr<int> Half(int x) {
  if (x % 2) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::Status UseMacros(int x, int* out) {
  VNAS_ASSIGN_OR_RETURN(int h, Half(x));
  VNAS_RETURN_IF_ERROR(h > 10 ? absl::OutOfRangeError("big") : absl::OkStatus());
  *out = h;
  return absl::OkStatus();
}

TEST(StatusUtilTest, Macros) {
  int out = 0;
  EXPECT_TRUE(UseMacros(4, &out).ok());
  EXPECT_EQ(out, 2);
  EXPECT_EQ(UseMacros(3, &out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UseMacros(40, &out).code(), absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace vnas
