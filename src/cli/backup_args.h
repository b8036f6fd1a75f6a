// Arguments shared by backup, restore and verify-backup: `[PASSWORD] ZIP`, where the
// password may instead come from --password-file, --password-stdin or
// CERTKEEPER_PASSWORD (then the single positional is the ZIP).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cli/password.h"

namespace ck::cli {

struct BackupArgs {
  std::vector<std::string> positionals;  // [PASSWORD] ZIP
  PasswordOptions password;
  std::string zip_path;  // filled by resolve_backup_args
};

// Declares "PASSWORD ZIP" and the password options on `cmd`.
void add_backup_args(CLI::App& cmd, BackupArgs& args);

// Splits the positionals; throws UsageError when the ZIP is missing or too many are given.
void resolve_backup_args(BackupArgs& args, const char* command);

}  // namespace ck::cli
