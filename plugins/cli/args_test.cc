#include "plugins/cli/args.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace vnas::cli {
namespace {

TEST(DashFlagsTest, RewritesNamesOnly) {
  std::vector<std::string> in = {"prog", "--dry-run", "--token-file=/a-b", "-no-x",
                                 "pos-arg", "--", "--keep-me"};
  std::vector<char*> argv;
  for (auto& s : in) argv.push_back(s.data());
  DashFlagsToUnderscores(static_cast<int>(argv.size()), argv.data());
  EXPECT_EQ(in[1], "--dry_run");
  EXPECT_EQ(in[2], "--token_file=/a-b");
  EXPECT_EQ(in[3], "-no_x");
  EXPECT_EQ(in[4], "pos-arg");
  EXPECT_EQ(in[6], "--keep-me");
}

}  // namespace
}  // namespace vnas::cli
