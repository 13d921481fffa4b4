#include "plugins/cli/table.h"

#include <algorithm>

namespace vnas::cli {
namespace {

std::string Clean(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\t', ' ');
  return s;
}

// Display width: counts UTF-8 code points, not bytes (tree glyphs).
size_t Width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

void TrimRight(std::string* s) {
  while (!s->empty() && s->back() == ' ') s->pop_back();
}

}  // namespace

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  for (std::string& c : cells) c = Clean(std::move(c));
  if (columns_.empty()) return;
  rows_.push_back(std::move(cells));
}

void Table::AddSeparator() { rows_.emplace_back(); }

std::string Table::Render() const {
  std::vector<size_t> widths(columns_.size());
  for (size_t i = 0; i < columns_.size(); ++i) widths[i] = Width(columns_[i].title);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], Width(row[i]));
    }
  }
  size_t total = 0;
  for (size_t w : widths) total += w;
  if (!widths.empty()) total += 2 * (widths.size() - 1);

  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < columns_.size(); ++i) {
      if (i > 0) out += "  ";
      const std::string& c = cells[i];
      const std::string pad(widths[i] - Width(c), ' ');
      if (columns_[i].align == kRight) {
        out += pad + c;
      } else {
        out += c + pad;
      }
    }
    TrimRight(&out);
    return out + "\n";
  };

  std::vector<std::string> titles;
  for (const Column& c : columns_) titles.push_back(c.title);
  std::string out = show_header_ ? line(titles) : "";
  for (const auto& row : rows_) {
    if (row.empty()) {
      out += std::string(total, '-') + "\n";
    } else {
      out += line(row);
    }
  }
  return out;
}

}  // namespace vnas::cli
