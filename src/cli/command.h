// How certmgr commands plug in: one file per command exports an `add_*_command`
// function that declares the subcommand's options on a CLI11 app and sets its
// callback; commands.cc lists them in a table (like openssl's apps/*.c).
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "common/paths/path_access.h"

namespace ck::cli {

// Exit codes (DESIGN.md §3).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// Flags that come before the subcommand; shared by all commands.
struct GlobalOptions {
  std::string store_url;  // --store / CERTKEEPER_STORE
  bool json = false;      // --json
  bool quiet = false;     // --quiet: errors only on stderr (no warnings, notes or progress)
  int verbose = 0;        // --verbose / -v: log level info; -vv: debug
  std::string log_level = "warn";
  std::string config_file;  // --config / CERTKEEPER_CONFIG (read before the flags)
  // Certificate paths (DESIGN.md §10).
  std::vector<std::string> map_drive;  // --map-drive D=/mnt/share (repeatable; wins over the config)
  paths::DriveMap config_drives;        // the config file's [drives] table
  std::string smb_credentials;          // --smb-credentials / CERTKEEPER_SMB_CREDENTIALS
  int smb_port = 445;                   // --smb-port
  std::string backup_dir;               // --backup-dir / CERTKEEPER_BACKUP_DIR ("": the store's)
  std::unique_ptr<paths::PathAccess> files;  // made on first use by path_access()
  int exit_code = kExitOk;  // set by the command that ran
};

using AddCommandFn = void (*)(CLI::App& root, GlobalOptions& global);

// Applies --quiet, --verbose and --log-level (sets up logging on stderr); runs once
// parsing is complete, before the command. Defined in output.cc.
void apply_output_options(GlobalOptions& global);

// Every command; defined in commands.cc.
const std::vector<AddCommandFn>& command_table();

// Thrown by a command for a usage error found after parsing (exit code 2).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace ck::cli
