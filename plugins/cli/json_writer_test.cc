#include "plugins/cli/json_writer.h"

#include <cmath>

#include "gtest/gtest.h"

namespace vnas::cli {
namespace {

TEST(JsonWriterTest, CompactNested) {
  JsonWriter w;
  w.BeginObject();
  w.Field("path", "vm1/vm1.vmdk");
  w.Field("size", uint64_t{18446744073709551615ull});
  w.Field("delta", int64_t{-5});
  w.Field("ok", true);
  w.Key("list");
  w.BeginArray();
  w.Uint(1);
  w.BeginObject();
  w.EndObject();
  w.BeginArray();
  w.EndArray();
  w.Null();
  w.EndArray();
  w.EndObject();
  EXPECT_EQ(w.str(),
            "{\"path\":\"vm1/vm1.vmdk\",\"size\":18446744073709551615,"
            "\"delta\":-5,\"ok\":true,\"list\":[1,{},[],null]}");
}

TEST(JsonWriterTest, Pretty) {
  JsonWriter w(true);
  w.BeginObject();
  w.Field("a", uint64_t{1});
  w.Key("b");
  w.BeginArray();
  w.String("x");
  w.EndArray();
  w.EndObject();
  EXPECT_EQ(w.str(), "{\n  \"a\": 1,\n  \"b\": [\n    \"x\"\n  ]\n}");
}

TEST(JsonWriterTest, Escapes) {
  EXPECT_EQ(JsonWriter::Quote("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
  EXPECT_EQ(JsonWriter::Quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

TEST(JsonWriterTest, Doubles) {
  JsonWriter w;
  w.BeginArray();
  w.Double(1.5);
  w.Double(NAN);
  w.Double(0.25);
  w.EndArray();
  EXPECT_EQ(w.str(), "[1.5,null,0.25]");
}

TEST(JsonWriterTest, TopLevelScalar) {
  JsonWriter w;
  w.String("x");
  EXPECT_EQ(w.str(), "\"x\"");
}

}  // namespace
}  // namespace vnas::cli
