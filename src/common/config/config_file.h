// certkeeper's one config format, shared by certmgr, certkeeper-server,
// certkeeper-agent and certkeeper-fleet (docs/config.md). A TOML file whose keys are
// the program's long flags without their dashes, `_` for `-`:
//   store = "sqlite:/var/lib/certkeeper/certkeeper.db"   # shared: store, log_level, log_format
//   [server]                                             # this program's own table
//   state_dir = "/var/lib/certkeeper/server"
//   [certmgr.smb]                                        # a nested table prefixes its keys:
//   port = 445                                           #   --smb-port
// Top-level keys apply to the program reading the file; a program skips the shared keys
// it has no flag for and the tables of the other programs. The file's values become the
// options' defaults, so a flag wins over the file and a CERTKEEPER_<FLAG> variable wins
// over the file too (and loses to the flag). An unknown key, a wrong type or a value
// the flag would refuse is an error naming the file, the line and the key.
//
// toml++ 3.3 (Debian 12) does not survive all input (fuzz_config found assertions and
// unreachable code), so the file must first be in the subset our settings use: one
// `key = value` per line with a string, an integer, a decimal or a boolean, `[table]`
// headers, comments; no arrays, inline tables or multi-line strings.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

#include "common/result.h"

namespace ck::config {

inline constexpr const char* kConfigEnv = "CERTKEEPER_CONFIG";
inline constexpr const char* kEnvPrefix = "CERTKEEPER_";

// One string setting of a free-form table such as certmgr's [drives].
struct Entry {
  std::string key;
  std::string value;
  int line = 0;
};

struct FreeFormTable {
  std::string name;  // e.g. "drives"
  std::function<Status(const std::vector<Entry>&)> apply;
};

struct Program {
  std::string table;                 // its own table: "certmgr", "server", "agent", "fleet"
  CLI::App* app = nullptr;           // whose long options take the keys
  std::vector<FreeFormTable> free_form;
};

// The config file to read: --config FILE / --config=FILE in args (before a "--"), else
// $CERTKEEPER_CONFIG, else the installed default when it exists (install_layout.h), else "".
std::string find_config_file(const std::vector<std::string>& args);

// Applies the file to the program's options (their defaults). Errors are kInvalidArgument
// with a one-line message "config FILE:LINE: ...".
Status apply_config_file(const std::string& path, const Program& program);

// Gives every long option of `app` (not its subcommands) the variable CERTKEEPER_<NAME>
// (--state-dir: CERTKEEPER_STATE_DIR), unless it has one already.
void add_environment_names(CLI::App& app);

// "config FILE:LINE: what", for free-form tables.
Error config_error(const std::string& path, int line, const std::string& what);

// Exposed for the fuzzer and tests: the line check that runs before toml++.
Status check_parsable(const std::string& path, std::string_view text);

}  // namespace ck::config
