#include "cli/csv_writer.h"

namespace ck::cli {

namespace {

// OWASP's list: spreadsheets treat a cell starting with any of these as a formula (TAB and CR
// are stripped by some importers, exposing the character after them).
bool starts_formula(std::string_view value) {
  return !value.empty() && std::string_view("=+-@\t\r").find(value[0]) != std::string_view::npos;
}

}  // namespace

std::string csv_cell(std::string_view value) {
  std::string cell;
  if (starts_formula(value)) cell = "'";
  cell.append(value);
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string quoted = "\"";
  for (char c : cell) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::string csv_row(const std::vector<std::string>& cells) {
  std::string row;
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i) row += ',';
    row += csv_cell(cells[i]);
  }
  row += "\r\n";
  return row;
}

}  // namespace ck::cli
