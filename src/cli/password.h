// Where a password comes from, and whether it is strong enough.
// Sources, in order: the positional argument (kept for compatibility; visible in ps),
// --password-file F, --password-stdin, $CERTKEEPER_PASSWORD.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "common/result.h"

namespace ck::cli {

struct PasswordOptions {
  std::string positional;
  std::string file;
  bool from_stdin = false;
};

// Declares [PASSWORD], --password-file and --password-stdin on `cmd`.
void add_password_options(CLI::App& cmd, PasswordOptions& options);

// A positional password prints a warning when stderr is a terminal (argv is visible in ps). --password-file uses the first
// line only. Errors: kInvalidArgument when none or several sources are given, or the file's first
// line is empty; kPermissionDenied when the file is accessible by group or others; kIo/kNotFound
// when it is unreadable.
Result<std::string> resolve_password(const PasswordOptions& options);

// Refuses passwords shorter than 12 characters or guessable in fewer than 2^56 tries
// by zxcvbn's estimate, naming the weakness. Errors: kWeakPassword.
Status check_password_strength(const std::string& password);

}  // namespace ck::cli
