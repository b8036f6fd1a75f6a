// The options every certkeeper program shares and the one way each reads its settings:
// the config file (config_file.h), then CERTKEEPER_<FLAG> variables, then the flags.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace ck::config {

struct CommonOptions {
  std::string config;  // --config FILE (read before the other flags)
  std::string log_level;
  std::string log_format = "auto";
  bool log_json = false;  // --log-json: the same as --log-format json
};

// Declares --config, --log-level (default `default_level`), --log-format, --log-json.
void add_common_options(CLI::App& app, CommonOptions& options, const std::string& default_level);

// Applies the config file (from --config, CERTKEEPER_CONFIG or the installed default),
// names every option's variable, and parses argv. Returns the exit code when the
// program should stop here (0 after --help; 2 with a one-line error on stderr for a bad
// file or flag), std::nullopt to go on. `program`: "server", "agent", "fleet".
std::optional<int> parse_program_options(CLI::App& app, const std::string& program, int argc, char** argv);

// Starts logging as the options say.
void start_logging(const CommonOptions& options);

}  // namespace ck::config
