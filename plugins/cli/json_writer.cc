#include "plugins/cli/json_writer.h"

#include <cassert>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vnas::cli {

std::string JsonWriter::Quote(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += "\"";
  return out;
}

void JsonWriter::Indent() {
  if (!pretty_) return;
  out_ += "\n";
  out_.append(2 * stack_.size(), ' ');
}

void JsonWriter::BeforeValue() {
  if (stack_.empty()) return;
  Level& top = stack_.back();
  if (top.object) {
    assert(top.after_key && "JsonWriter: value in object without Key()");
    top.after_key = false;
    return;
  }
  if (!top.empty) out_ += ",";
  top.empty = false;
  Indent();
}

void JsonWriter::Key(absl::string_view key) {
  if (stack_.empty() || !stack_.back().object || stack_.back().after_key) {
    assert(false && "JsonWriter: Key() outside an object");
    return;
  }
  Level& top = stack_.back();
  if (!top.empty) out_ += ",";
  top.empty = false;
  Indent();
  out_ += Quote(key);
  out_ += pretty_ ? ": " : ":";
  top.after_key = true;
}

void JsonWriter::BeginObject() {
  BeforeValue();
  out_ += "{";
  stack_.push_back({true});
}

void JsonWriter::BeginArray() {
  BeforeValue();
  out_ += "[";
  stack_.push_back({false});
}

void JsonWriter::Close(char c, bool object) {
  if (stack_.empty() || stack_.back().object != object) {
    assert(false && "JsonWriter: mismatched End");
    return;
  }
  const bool empty = stack_.back().empty;
  stack_.pop_back();
  if (!empty) Indent();
  out_ += c;
}

void JsonWriter::EndObject() { Close('}', true); }
void JsonWriter::EndArray() { Close(']', false); }

void JsonWriter::String(absl::string_view value) {
  BeforeValue();
  out_ += Quote(value);
}

void JsonWriter::Int(int64_t value) {
  BeforeValue();
  absl::StrAppend(&out_, value);
}

void JsonWriter::Uint(uint64_t value) {
  BeforeValue();
  absl::StrAppend(&out_, value);
}

void JsonWriter::Double(double value) {
  BeforeValue();
  if (!std::isfinite(value)) {
    out_ += "null";
  } else {
    out_ += absl::StrFormat("%.6g", value);
  }
}

void JsonWriter::Bool(bool value) {
  BeforeValue();
  out_ += value ? "true" : "false";
}

void JsonWriter::Null() {
  BeforeValue();
  out_ += "null";
}

}  // namespace vnas::cli
