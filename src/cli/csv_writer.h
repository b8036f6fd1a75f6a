// RFC 4180 CSV rows (CRLF line ends, quotes doubled), safe to open in a
// spreadsheet: a cell starting with = + - @ TAB or CR is prefixed with ' (CSV injection).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace ck::cli {

std::string csv_cell(std::string_view value);
std::string csv_row(const std::vector<std::string>& cells);

// The same, appended to `out` without temporaries (-l writes millions of rows).
void append_csv_cell(std::string& out, std::string_view value);
void append_csv_row(std::string& out, std::initializer_list<std::string_view> cells);

}  // namespace ck::cli
