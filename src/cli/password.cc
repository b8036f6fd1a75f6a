#include "cli/password.h"

#include <openssl/crypto.h>
#include <zxcvbn.h>


#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "common/file_util.h"

namespace ck::cli {
namespace {

constexpr size_t kMinLength = 12;
// Backup floor. The weakest layer of a backup is the ZIP's WinZip AE-2 key: PBKDF2-HMAC-SHA1 with
// 1000 iterations, fixed by the format, and its 2-byte verifier lets an attacker test a guess
// with about 2000 SHA-1 compressions: ~10^7 guesses/s per current GPU. The inner PFX uses the same
// password, so a slower PFX KDF does not help. At that rate 2^33 falls in minutes on one GPU;
// 2^56 is about 200 GPU-years (a 100-GPU rig: ~2 years for the whole space), and leaves margin
// for zxcvbn over-rating human patterns. 12 random lowercase letters or a random 4-word
// passphrase still pass.
constexpr double kMinLog2Guesses = 56.0;
constexpr size_t kMaxPasswordLine = 4096;

std::string strip_newline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// The first line of `path`, without its CR/LF. Refuses a file that others could read, or write
// (a writer chooses the backup password).
Result<std::string> read_password_file(const std::string& path) {
  CK_ASSIGN_OR_RETURN(std::string data, read_private_file(path, 64 * 1024, "password file"));
  std::string line = data.substr(0, data.find('\n'));
  OPENSSL_cleanse(data.data(), data.size());
  if (line.size() > kMaxPasswordLine) {
    return make_error(ErrorKind::kInvalidArgument, "the first line of password file " + path + " is too long");
  }
  line = strip_newline(std::move(line));
  if (line.empty()) return make_error(ErrorKind::kInvalidArgument, "the first line of password file " + path + " is empty");
  return line;
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
  if (!o.positional.empty()) {
    // Only for the person typing: scripts keep certmgr's one-line error contract on stderr.
    if (::isatty(STDERR_FILENO))
      std::cerr << "certmgr: warning: a password given as an argument is visible to other users (ps); "
                   "use --password-file, --password-stdin or CERTKEEPER_PASSWORD"
                << std::endl;
    return o.positional;
  }
  if (!o.file.empty()) return read_password_file(o.file);
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
                        " (" + estimate + ", need 2^56)");
}

}  // namespace ck::cli
