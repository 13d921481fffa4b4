// table.h — plain-text tables for terminal output.
//
// Columns are padded to their widest cell; columns declared kRight (numbers,
// sizes) are right-aligned. A separator row can be placed before totals.
//
// Example:
//   Table t({{"VM"}, {"USED", Table::kRight}});
//   t.AddRow({"vm1", "1.00 GiB"});
//   t.AddSeparator();
//   t.AddRow({"total", "1.00 GiB"});
//   std::cout << t.Render();
#ifndef VNAS_PLUGINS_CLI_TABLE_H_
#define VNAS_PLUGINS_CLI_TABLE_H_

#include <string>
#include <vector>

namespace vnas::cli {

class Table {
 public:
  enum Align { kLeft, kRight };
  struct Column {
    std::string title;
    Align align = kLeft;
  };

  explicit Table(std::vector<Column> columns);

  // Table::AddRow()
  //
  // Appends a row. Missing cells are empty; cells beyond the column count are
  // dropped. Newlines in cells are shown as spaces.
  void AddRow(std::vector<std::string> cells);

  // Table::AddSeparator()
  //
  // Appends a line of dashes as wide as the table (e.g. above totals).
  void AddSeparator();

  size_t rows() const { return rows_.size(); }

  // Table::set_show_header()
  //
  // false: Render() omits the title line (key/value listings).
  void set_show_header(bool show) { show_header_ = show; }

  // Table::Render()
  //
  // The header line, then every row, each ending in '\n'. Columns are
  // separated by two spaces; trailing spaces are trimmed.
  std::string Render() const;

 private:
  std::vector<Column> columns_;
  bool show_header_ = true;
  // An empty vector is a separator.
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace vnas::cli

#endif  // VNAS_PLUGINS_CLI_TABLE_H_
