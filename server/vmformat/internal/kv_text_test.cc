#include "server/vmformat/internal/kv_text.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace vnas::vmformat::internal {
namespace {

TEST(SplitLines, KeepsEveryByte) {
  const std::string text = "a=1\r\nb = \"2\"\n\nlast\rline";
  std::string joined;
  for (const TextLine& l : SplitLines(text)) {
    EXPECT_EQ(text.substr(l.offset, l.body.size()), l.body);
    joined += std::string(l.body) + std::string(l.eol);
  }
  EXPECT_EQ(joined, text);
  auto lines = SplitLines(text);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].body, "a=1");
  EXPECT_EQ(lines[0].eol, "\r\n");
  EXPECT_EQ(lines[3].body, "last\rline");
  EXPECT_EQ(lines[3].eol, "");
}

TEST(Lines, WalksTheSameLinesAsSplitLines) {
  const std::string cases[] = {"",       "\n",         "\n\n",   "a",
                               "a\n",    "a\r\nb",      "\r\n",   "\r",
                               "x\r\r\n", "a=1\n\nlast", "\n\na\n"};
  for (const std::string& text : cases) {
    SCOPED_TRACE(testing::PrintToString(text));
    const std::vector<TextLine> want = SplitLines(text);
    size_t i = 0;
    std::string joined;
    for (const TextLine& l : Lines(text)) {
      ASSERT_LT(i, want.size());
      EXPECT_EQ(l.body, want[i].body);
      EXPECT_EQ(l.eol, want[i].eol);
      EXPECT_EQ(l.offset, want[i].offset);
      joined += std::string(l.body) + std::string(l.eol);
      ++i;
    }
    EXPECT_EQ(i, want.size());
    EXPECT_EQ(joined, text);
  }
  // A text ending in a line break has no empty last line.
  EXPECT_EQ(SplitLines("a\nb\n").size(), 2u);
  EXPECT_TRUE(SplitLines("").empty());
}

TEST(ParseKeyValue, Table) {
  struct Case {
    const char* line;
    bool ok;
    const char* key;
    const char* value;
    bool quoted;
  };
  const Case cases[] = {
      {"version=1", true, "version", "1", false},
      {"  CID = 3a5c0f21  ", true, "CID", "3a5c0f21", false},
      {"createType=\"vmfs\"", true, "createType", "vmfs", true},
      {"\tscsi0:0.fileName = \"a b.vmdk\"", true, "scsi0:0.fileName", "a b.vmdk", true},
      {"k = \"\"", true, "k", "", true},
      {"k =", true, "k", "", false},
      {"# comment = x", false, "", "", false},
      {"", false, "", "", false},
      {"= value", false, "", "", false},
      {"key \"x\"", false, "", "", false},
      {"k = \"unterminated", false, "", "", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    auto kv = ParseKeyValue(c.line);
    ASSERT_EQ(kv.has_value(), c.ok);
    if (!c.ok) continue;
    EXPECT_EQ(kv->key, c.key);
    EXPECT_EQ(kv->value, c.value);
    EXPECT_EQ(kv->quoted, c.quoted);
    EXPECT_EQ(std::string(c.line).substr(kv->value_begin, kv->value.size()),
              kv->value);
  }
}

TEST(ParseKeyValue, HugeLineDoesNotCrash) {
  std::string line = "k = \"" + std::string(1 << 20, 'x') + "\"";
  auto kv = ParseKeyValue(line);
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value.size(), size_t{1} << 20);
}

}  // namespace
}  // namespace vnas::vmformat::internal
