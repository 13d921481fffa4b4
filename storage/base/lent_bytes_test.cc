#include "storage/base/lent_bytes.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace vnas::storage {
namespace {

TEST(LentBytesTest, SizeCountsEveryPieceAndClearLetsTheBytesGo) {
  auto owner = std::make_shared<std::string>("abcdefgh");
  std::weak_ptr<std::string> watch = owner;
  LentBytes lent;
  lent.pieces = {absl::string_view(*owner).substr(0, 3),
                 absl::string_view(*owner).substr(3, 5)};
  lent.keep = std::move(owner);
  EXPECT_EQ(lent.size(), 8u);
  EXPECT_FALSE(watch.expired()) << "held while lent";
  lent.Clear();
  EXPECT_EQ(lent.size(), 0u);
  EXPECT_TRUE(watch.expired());
}

}  // namespace
}  // namespace vnas::storage
