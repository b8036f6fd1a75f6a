#include "cli/password.h"

#include <zxcvbn.h>

#include <cstdlib>
#include <iostream>
#include <memory>

#include "common/file_util.h"

namespace ck::cli {
namespace {

constexpr size_t kMinLength = 12;
constexpr double kMinLog2Guesses = 33.0;

std::string strip_newline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

const char* weakness(ZxcTypeMatch_t type) {
  switch (static_cast<int>(type) & ~MULTIPLE_MATCH) {
    case DICTIONARY_MATCH: return "it contains a common word or password";
    case DICT_LEET_MATCH: return "it contains a common word with predictable substitutions";
    case USER_MATCH:
    case USER_LEET_MATCH: return "it contains a word related to this product";
    case REPEATS_MATCH: return "it contains repeated characters";
    case SEQUENCE_MATCH: return "it contains a sequence like abc or 123";
    case SPATIAL_MATCH: return "it contains a keyboard pattern like qwerty";
    case DATE_MATCH: return "it contains a date";
    case YEAR_MATCH: return "it contains a year";
    default: return "it is too short or too simple";
  }
}

struct InfoDeleter {
  void operator()(ZxcMatch_t* info) const { ZxcvbnFreeInfo(info); }
};

}  // namespace

void add_password_options(CLI::App& cmd, PasswordOptions& o) {
  cmd.add_option("--password-file", o.file, "read the password from the first line of FILE");
  cmd.add_flag("--password-stdin", o.from_stdin, "read the password from standard input");
}

Result<std::string> resolve_password(const PasswordOptions& o) {
  const char* env = std::getenv("CERTKEEPER_PASSWORD");
  int explicit_sources = !o.positional.empty() + !o.file.empty() + (o.from_stdin ? 1 : 0);
  if (explicit_sources > 1) {
    return make_error(ErrorKind::kInvalidArgument,
                      "give the password only once (argument, --password-file or --password-stdin)");
  }
  if (!o.positional.empty()) return o.positional;
  if (!o.file.empty()) {
    CK_ASSIGN_OR_RETURN(std::string data, read_file(o.file, 4096));
    return strip_newline(std::move(data));
  }
  if (o.from_stdin) {
    std::string line;
    std::getline(std::cin, line);
    return strip_newline(std::move(line));
  }
  if (env && *env) return std::string(env);
  return make_error(ErrorKind::kInvalidArgument,
                    "a password is required (argument, --password-file, --password-stdin or "
                    "CERTKEEPER_PASSWORD)");
}

Status check_password_strength(const std::string& password) {
  if (password.size() < kMinLength) {
    return make_error(ErrorKind::kWeakPassword, "password is too weak: it has fewer than " +
                                                    std::to_string(kMinLength) + " characters");
  }
  static const char* kUserDict[] = {"certkeeper", "certmgr", "certificate", "OfcNTCer", nullptr};
  ZxcMatch_t* raw = nullptr;
  double bits = ZxcvbnMatch(password.c_str(), kUserDict, &raw);
  std::unique_ptr<ZxcMatch_t, InfoDeleter> info(raw);
  if (bits >= kMinLog2Guesses) return ok_status();
  // Name the weakest part: the non-brute-force match with the lowest entropy per character.
  const ZxcMatch_t* worst = nullptr;
  for (const ZxcMatch_t* m = info.get(); m; m = m->Next) {
    if ((static_cast<int>(m->Type) & ~MULTIPLE_MATCH) == BRUTE_MATCH) continue;
    if (!worst || m->Length > worst->Length) worst = m;
  }
  char estimate[64];
  snprintf(estimate, sizeof estimate, "about 2^%.0f guesses", bits);
  return make_error(ErrorKind::kWeakPassword,
                    std::string("password is too weak: ") + (worst ? weakness(worst->Type) : weakness(BRUTE_MATCH)) +
                        " (" + estimate + ", need 2^33)");
}

}  // namespace ck::cli
