#include "plugins/cli/size.h"

#include "gtest/gtest.h"

namespace vnas::cli {
namespace {

TEST(ParseSizeTest, AcceptsUnits) {
  struct Case {
    const char* text;
    uint64_t want;
  };
  constexpr Case kCases[] = {
      {"0", 0},
      {"4096", 4096},
      {"512B", 512},
      {"1K", 1024},
      {"1k", 1024},
      {"512M", 512ull << 20},
      {"10G", 10ull << 30},
      {"10GiB", 10ull << 30},
      {"10gb", 10ull << 30},
      {" 2T ", 2ull << 40},
      {"1.5G", 3ull << 29},
      {"0.5K", 512},
      {"1P", 1ull << 50},
      {"15E", 15ull << 60},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.text);
    auto got = ParseSize(c.text);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, c.want);
  }
}

TEST(ParseSizeTest, RejectsGarbage) {
  for (const char* bad : {"", "G", "10X", "-1", "1.5", "1..5G", ".5G", "10 G B",
                          "abc", "5.G"}) {
    SCOPED_TRACE(bad);
    auto got = ParseSize(bad);
    EXPECT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ParseSizeTest, RejectsOverflow) {
  for (const char* big : {"16E", "99999999999999999999", "17179869184G"}) {
    SCOPED_TRACE(big);
    auto got = ParseSize(big);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kOutOfRange);
  }
}

TEST(FormatSizeTest, Formats) {
  EXPECT_EQ(FormatSize(0), "0 B");
  EXPECT_EQ(FormatSize(1023), "1023 B");
  EXPECT_EQ(FormatSize(1024), "1.00 KiB");
  EXPECT_EQ(FormatSize(1536), "1.50 KiB");
  EXPECT_EQ(FormatSize(10ull << 30), "10.0 GiB");
  EXPECT_EQ(FormatSize(123ull << 20), "123 MiB");
  EXPECT_EQ(FormatSize((1ull << 20) - 1), "1.00 MiB");
  EXPECT_EQ(FormatSize(~0ull), "16.0 EiB");
}

TEST(FormatSizeTest, RoundTripsThroughParse) {
  for (uint64_t v : {1ull << 10, 5ull << 20, 7ull << 30, 3ull << 40}) {
    std::string s = FormatSize(v);
    s.erase(s.find(' '), 1);
    auto back = ParseSize(s);
    ASSERT_TRUE(back.ok()) << s;
    EXPECT_EQ(*back, v);
  }
}

TEST(FormatTest, RateAndDuration) {
  EXPECT_EQ(FormatRate(0), "0 B/s");
  EXPECT_EQ(FormatRate(200.0 * (1 << 20)), "200 MiB/s");
  EXPECT_EQ(FormatDuration(0.4), "0.40s");
  EXPECT_EQ(FormatDuration(42), "42s");
  EXPECT_EQ(FormatDuration(185), "3m05s");
  EXPECT_EQ(FormatDuration(7260), "2h01m");
}

}  // namespace
}  // namespace vnas::cli
