// kv_text.cc — see kv_text.h for the grammar.
#include "server/vmformat/internal/kv_text.h"

#include "absl/strings/match.h"

namespace vnas::vmformat::internal {
namespace {
bool IsWs(char c) { return c == ' ' || c == '\t'; }
}  // namespace

absl::string_view TrimWs(absl::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && IsWs(s[b])) ++b;
  while (e > b && IsWs(s[e - 1])) --e;
  return s.substr(b, e - b);
}

bool IsBlankOrComment(absl::string_view body) {
  absl::string_view t = TrimWs(body);
  return t.empty() || t[0] == '#';
}

bool IsFreeTextKey(absl::string_view key) {
  return absl::EndsWithIgnoreCase(key, "displayName") ||
         absl::EndsWithIgnoreCase(key, "annotation") ||
         absl::EndsWithIgnoreCase(key, "description") ||
         absl::StartsWithIgnoreCase(key, "guestinfo.");
}

void Lines::Iterator::Load(size_t pos) {
  if (pos >= text_.size()) {
    at_end_ = true;
    line_ = TextLine();
    return;
  }
  at_end_ = false;
  line_.offset = pos;
  const size_t nl = text_.find('\n', pos);
  if (nl == absl::string_view::npos) {
    line_.body = text_.substr(pos);
    line_.eol = absl::string_view();
    next_ = text_.size();
    return;
  }
  size_t end = nl;
  if (end > pos && text_[end - 1] == '\r') --end;
  line_.body = text_.substr(pos, end - pos);
  line_.eol = text_.substr(end, nl + 1 - end);
  next_ = nl + 1;
}

std::vector<TextLine> SplitLines(absl::string_view text) {
  return std::vector<TextLine>(Lines(text).begin(), Lines(text).end());
}

std::optional<KeyValue> ParseKeyValue(absl::string_view body) {
  size_t i = 0;
  const size_t n = body.size();
  while (i < n && IsWs(body[i])) ++i;
  size_t kb = i;
  while (i < n && !IsWs(body[i]) && body[i] != '=' && body[i] != '"' &&
         body[i] != '#' && body[i] != '\r') {
    ++i;
  }
  if (i == kb) return std::nullopt;
  KeyValue kv;
  kv.key = body.substr(kb, i - kb);
  while (i < n && IsWs(body[i])) ++i;
  if (i >= n || body[i] != '=') return std::nullopt;
  ++i;
  while (i < n && IsWs(body[i])) ++i;
  if (i < n && body[i] == '"') {
    size_t close = body.find('"', i + 1);
    if (close == absl::string_view::npos) return std::nullopt;
    kv.quoted = true;
    kv.value_begin = i + 1;
    kv.value = body.substr(i + 1, close - i - 1);
    kv.trailing = !TrimWs(body.substr(close + 1)).empty();
    return kv;
  }
  absl::string_view rest = body.substr(i);
  absl::string_view trimmed = TrimWs(rest);
  kv.value_begin = i;
  kv.value = trimmed;
  return kv;
}

}  // namespace vnas::vmformat::internal
