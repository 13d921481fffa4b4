#include "plugins/cli/table.h"

#include "gtest/gtest.h"

namespace vnas::cli {
namespace {

TEST(TableTest, PadsAndAligns) {
  Table t({{"VM"}, {"USED", Table::kRight}, {"NOTE"}});
  t.AddRow({"vm1", "1.00 GiB", "ok"});
  t.AddRow({"longer-vm", "12 B", ""});
  EXPECT_EQ(t.Render(),
            "VM             USED  NOTE\n"
            "vm1        1.00 GiB  ok\n"
            "longer-vm      12 B\n");
}

TEST(TableTest, SeparatorSpansTable) {
  Table t({{"A"}, {"B", Table::kRight}});
  t.AddRow({"x", "1"});
  t.AddSeparator();
  t.AddRow({"total", "1"});
  EXPECT_EQ(t.Render(),
            "A      B\n"
            "x      1\n"
            "--------\n"
            "total  1\n");
  EXPECT_EQ(t.rows(), 3u);
}

TEST(TableTest, MissingAndExtraCells) {
  Table t({{"A"}, {"B"}});
  t.AddRow({"only"});
  t.AddRow({"a", "b", "dropped"});
  EXPECT_EQ(t.Render(), "A     B\nonly\na     b\n");
}

TEST(TableTest, NewlinesBecomeSpacesAndUtf8Width) {
  Table t({{"TREE"}, {"X"}});
  t.AddRow({"\xe2\x94\x94\xe2\x94\x80 a", "1"});  // "└─ a": 4 columns wide
  t.AddRow({"two\nlines", "2"});
  EXPECT_EQ(t.Render(),
            "TREE       X\n"
            "\xe2\x94\x94\xe2\x94\x80 a       1\n"
            "two lines  2\n");
}

TEST(TableTest, WithoutHeader) {
  Table t({{"K"}, {"V"}});
  t.set_show_header(false);
  t.AddRow({"size", "1 B"});
  t.AddRow({"allocated", "0 B"});
  EXPECT_EQ(t.Render(), "size       1 B\nallocated  0 B\n");
}

}  // namespace
}  // namespace vnas::cli
