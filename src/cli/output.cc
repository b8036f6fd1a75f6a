#include "cli/output.h"

#include <iostream>

#include "common/logging.h"

namespace ck::cli {

void apply_output_options(GlobalOptions& global) {
  std::string level = global.log_level;
  if (global.quiet) level = "error";
  else if (global.verbose >= 2) level = "debug";
  else if (global.verbose == 1) level = "info";
  init_logging(level, resolve_log_format("auto"));  // stderr: text on a terminal, else JSON lines
}

void warn(const GlobalOptions& global, std::string_view message) {
  if (global.quiet) return;
  std::cerr << "certmgr: warning: " << line_escape(message) << std::endl;
}

std::string text_field(std::string_view text) { return line_escape(text); }

boost::json::string json_text(std::string_view text) {
  // json_escape yields a valid JSON string body; parsing it back gives valid UTF-8.
  return boost::json::parse("\"" + json_escape(text) + "\"").as_string();
}

}  // namespace ck::cli
