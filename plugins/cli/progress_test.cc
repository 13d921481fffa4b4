#include "plugins/cli/progress.h"

#include <sstream>

#include "gtest/gtest.h"

namespace vnas::cli {
namespace {

struct FakeClock {
  absl::Time now = absl::FromUnixSeconds(1000);
  std::function<absl::Time()> fn() {
    return [this] { return now; };
  }
};

TEST(ProgressLineTest, KnownTotal) {
  EXPECT_EQ(ProgressBar::Line("clone", 512 << 20, 1 << 30, 2.0, 10),
            "clone  [#####.....]   50%  512 MiB / 1.00 GiB  256 MiB/s  ETA 2.00s");
  EXPECT_EQ(ProgressBar::Line("x", 0, 100, 0, 4), "x  [....]    0%  0 B / 100 B");
  EXPECT_EQ(ProgressBar::Line("x", 100, 100, 1, 0), "x  100%  100 B / 100 B  100 B/s");
}

TEST(ProgressLineTest, UnknownTotal) {
  EXPECT_EQ(ProgressBar::Line("ops", 2048, 0, 1, 10), "ops  2.00 KiB  2.00 KiB/s");
}

TEST(ProgressBarTest, PlainPrintsEachDecileOnce) {
  std::ostringstream out;
  FakeClock clock;
  ProgressBar::Options o;
  o.label = "copy";
  o.clock = clock.fn();
  ProgressBar bar(&out, 100, o);
  for (uint64_t d = 0; d <= 100; d += 5) {
    clock.now += absl::Seconds(1);
    bar.Update(d);
  }
  bar.Finish("done");
  bar.Finish("again");  // ignored
  std::string s = out.str();
  int lines = 0;
  for (char c : s) lines += c == '\n';
  EXPECT_EQ(lines, 11) << s;  // 0%,10%..90% and the final line
  EXPECT_NE(s.find("copy: 50% 50 B / 100 B"), std::string::npos) << s;
  EXPECT_NE(s.find("copy: 100% 100 B / 100 B 4 B/s done\n"), std::string::npos) << s;
  EXPECT_EQ(s.find('\r'), std::string::npos);
}

TEST(ProgressBarTest, TerminalRedrawsInPlaceThrottled) {
  std::ostringstream out;
  FakeClock clock;
  ProgressBar::Options o;
  o.label = "clone";
  o.terminal = true;
  o.bar_width = 4;
  o.clock = clock.fn();
  ProgressBar bar(&out, 1000, o);
  bar.Update(1);  // drawn
  bar.Update(2);  // same instant: throttled
  clock.now += absl::Milliseconds(150);
  bar.Update(500);  // drawn
  bar.Finish();
  std::string s = out.str();
  int redraws = 0;
  for (char c : s) redraws += c == '\r';
  EXPECT_EQ(redraws, 3) << s;
  EXPECT_EQ(s.back(), '\n');
  EXPECT_NE(s.find("[##..]"), std::string::npos) << s;
}

}  // namespace
}  // namespace vnas::cli
