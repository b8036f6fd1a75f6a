#include "cli/csv_writer.h"

namespace ck::cli {

namespace {

// OWASP's list: spreadsheets treat a cell starting with any of these as a formula (TAB and CR
// are stripped by some importers, exposing the character after them).
bool starts_formula(std::string_view value) {
  return !value.empty() && std::string_view("=+-@\t\r").find(value[0]) != std::string_view::npos;
}

}  // namespace

void append_csv_cell(std::string& out, std::string_view value) {
  const bool formula = starts_formula(value);
  bool quote = false;
  for (char c : value) {
    if (c == ',' || c == '"' || c == '\r' || c == '\n') {
      quote = true;
      break;
    }
  }
  if (quote) out += '"';
  if (formula) out += '\'';
  if (!quote) {
    out.append(value);
    return;
  }
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

void append_csv_row(std::string& out, std::initializer_list<std::string_view> cells) {
  bool first = true;
  for (std::string_view cell : cells) {
    if (!first) out += ',';
    first = false;
    append_csv_cell(out, cell);
  }
  out += "\r\n";
}

std::string csv_cell(std::string_view value) {
  std::string cell;
  append_csv_cell(cell, value);
  return cell;
}

std::string csv_row(const std::vector<std::string>& cells) {
  std::string row;
  bool first = true;
  for (const std::string& cell : cells) {
    if (!first) row += ',';
    first = false;
    append_csv_cell(row, cell);
  }
  row += "\r\n";
  return row;
}

}  // namespace ck::cli
