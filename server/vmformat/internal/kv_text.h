// kv_text.h — line splitting and `key = value` parsing for VMware's text
// formats (VMDK descriptors, .vmx, .vmsd), with byte offsets so rewriters can
// splice a value and keep everything else byte for byte.
//
// Grammar (ABNF-ish; WS = SP / HTAB):
//   text      = *(line eol) [line]
//   eol       = CRLF / LF                ; a lone CR is line content
//   kv-line   = *WS key *WS "=" *WS value *WS
//   key       = 1*(any octet except WS, "=", DQUOTE, "#", CR, LF)
//   value     = DQUOTE *(any octet except DQUOTE) DQUOTE   ; quoted
//             / *(any octet)                               ; bare, WS-trimmed
//   comment   = *WS "#" *(any octet)
// A quoted value followed by more than WS is still accepted (the rest is
// reported as `trailing`). Keys keep their spelling; callers compare them
// case-insensitively where the format says so (.vmx, .vmsd).
#ifndef VNAS_SERVER_VMFORMAT_INTERNAL_KV_TEXT_H_
#define VNAS_SERVER_VMFORMAT_INTERNAL_KV_TEXT_H_

#include <cstddef>
#include <iterator>
#include <optional>
#include <vector>

#include "absl/strings/string_view.h"

namespace vnas::vmformat::internal {

struct TextLine {
  absl::string_view body;  // the line without its end-of-line bytes
  absl::string_view eol;   // "\n", "\r\n" or "" (last line)
  size_t offset = 0;       // offset of `body` in the text
};

// Lines(text)
//
// The lines of `text`, produced one at a time as the range is iterated, so a
// parser walks a large text without allocating per line (SplitLines below
// materializes them all). The concatenation of every body+eol is `text`.
// `text` must outlive the range and its iterators.
//
// Example:
//   for (const TextLine& line : Lines(text)) Use(line.body);
class Lines {
 public:
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = TextLine;
    using difference_type = std::ptrdiff_t;
    using pointer = const TextLine*;
    using reference = const TextLine&;

    Iterator() = default;
    reference operator*() const { return line_; }
    pointer operator->() const { return &line_; }
    Iterator& operator++() {
      Load(next_);
      return *this;
    }
    Iterator operator++(int) {
      Iterator old = *this;
      ++*this;
      return old;
    }
    // Iterators compare by position; both must come from the same text.
    bool operator==(const Iterator& o) const {
      return at_end_ == o.at_end_ && (at_end_ || line_.offset == o.line_.offset);
    }
    bool operator!=(const Iterator& o) const { return !(*this == o); }

   private:
    friend class Lines;
    Iterator(absl::string_view text, size_t pos) : text_(text) { Load(pos); }
    void Load(size_t pos);

    absl::string_view text_;
    TextLine line_;
    size_t next_ = 0;  // offset of the line after line_
    bool at_end_ = true;
  };

  explicit Lines(absl::string_view text) : text_(text) {}
  Iterator begin() const { return Iterator(text_, 0); }
  Iterator end() const { return Iterator(); }

 private:
  absl::string_view text_;
};

// Splits `text` into lines; the concatenation of body+eol is `text`.
// Allocates one TextLine per line: prefer Lines() to just walk them.
std::vector<TextLine> SplitLines(absl::string_view text);

struct KeyValue {
  absl::string_view key;
  absl::string_view value;   // without quotes
  size_t value_begin = 0;    // offset of `value` within the line body
  bool quoted = false;
  bool trailing = false;     // non-WS bytes after the closing quote
};

// Parses one line body as `key = value`. Returns nullopt for blank lines,
// comments and anything else that is not a key/value line.
std::optional<KeyValue> ParseKeyValue(absl::string_view body);

// Strips SP/HTAB on both ends.
absl::string_view TrimWs(absl::string_view s);

// True when the body is empty/WS only or a '#' comment.
bool IsBlankOrComment(absl::string_view body);

// True for .vmx/.vmsd keys whose values are free text for humans, never file
// references (*displayName, *annotation, *description, guestinfo.*).
bool IsFreeTextKey(absl::string_view key);

}  // namespace vnas::vmformat::internal

#endif  // VNAS_SERVER_VMFORMAT_INTERNAL_KV_TEXT_H_
