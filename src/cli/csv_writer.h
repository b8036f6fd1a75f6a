// RFC 4180 CSV rows (CRLF line ends, quotes doubled), safe to open in a
// spreadsheet: a cell starting with = + - @ TAB or CR is prefixed with ' (CSV injection).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ck::cli {

std::string csv_cell(std::string_view value);
std::string csv_row(const std::vector<std::string>& cells);

}  // namespace ck::cli
