// json_writer.h — a small streaming JSON writer for --json output.
//
// Produces compact or two-space indented JSON. Calls must form a valid
// document: Key() only directly inside an object, values elsewhere; the
// writer checks nesting with assertions in debug builds and ignores
// (drops) misplaced calls otherwise. Not thread-safe.
//
// Example:
//   JsonWriter w(/*pretty=*/true);
//   w.BeginObject();
//   w.Key("path"); w.String("vm1/vm1.vmdk");
//   w.Key("size"); w.Uint(1 << 20);
//   w.EndObject();
//   std::cout << w.str() << "\n";
#ifndef VNAS_PLUGINS_CLI_JSON_WRITER_H_
#define VNAS_PLUGINS_CLI_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace vnas::cli {

class JsonWriter {
 public:
  explicit JsonWriter(bool pretty = false) : pretty_(pretty) {}

  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  void Key(absl::string_view key);
  void String(absl::string_view value);
  void Int(int64_t value);
  void Uint(uint64_t value);
  // Non-finite values are written as null.
  void Double(double value);
  void Bool(bool value);
  void Null();

  // Convenience: Key(k) followed by the value.
  void Field(absl::string_view k, absl::string_view v) { Key(k); String(v); }
  void Field(absl::string_view k, const char* v) { Key(k); String(v); }
  void Field(absl::string_view k, const std::string& v) { Key(k); String(v); }
  void Field(absl::string_view k, uint64_t v) { Key(k); Uint(v); }
  void Field(absl::string_view k, uint32_t v) { Key(k); Uint(v); }
  void Field(absl::string_view k, int64_t v) { Key(k); Int(v); }
  void Field(absl::string_view k, int32_t v) { Key(k); Int(v); }
  void Field(absl::string_view k, double v) { Key(k); Double(v); }
  void Field(absl::string_view k, bool v) { Key(k); Bool(v); }

  // The document so far.
  const std::string& str() const { return out_; }

  // Escapes `s` as a JSON string literal, quotes included.
  static std::string Quote(absl::string_view s);

 private:
  struct Level {
    bool object;
    bool empty = true;
    bool after_key = false;
  };
  // Writes the comma / newline / indent that precede a value or key.
  void BeforeValue();
  void Close(char c, bool object);
  void Indent();

  bool pretty_;
  std::string out_;
  std::vector<Level> stack_;
};

}  // namespace vnas::cli

#endif  // VNAS_PLUGINS_CLI_JSON_WRITER_H_
