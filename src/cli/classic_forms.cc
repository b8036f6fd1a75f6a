#include "cli/classic_forms.h"

#include <array>
#include <string_view>

namespace ck::cli {
namespace {

struct ClassicForm {
  std::string_view flag;
  std::vector<std::string> replacement;
};

const std::array<ClassicForm, 6>& classic_forms() {
  static const std::array<ClassicForm, 6> forms = {{
      {"-c", {"generate"}},
      {"-r", {"restore"}},
      {"-re", {"restore", "--no-export"}},
      {"-e", {"export-agent-key"}},
      {"-ine", {"import"}},
      {"-l", {"list-mismatched"}},
  }};
  return forms;
}

// Global flags that take a value (so their value is not mistaken for a command).
bool global_flag_takes_value(std::string_view arg) {
  return arg == "--store" || arg == "--config" || arg == "--log-level" || arg == "--map-drive" ||
         arg == "--smb-credentials" || arg == "--smb-port" || arg == "--backup-dir";
}

// Global flags without a value, which may also come right after the classic flag.
bool is_global_switch(std::string_view arg) {
  return arg == "--json" || arg == "--quiet" || arg == "-q" || arg == "--verbose" || arg == "-v" || arg == "-vv";
}

// Long options the classic commands take right after the classic flag
// (`-c --password-file F`): kept as options, not taken for a password. Returns how
// many arguments the option at `i` spans (0: not one of them).
size_t classic_option_span(const std::vector<std::string>& args, size_t i) {
  const std::string_view a = args[i];
  for (std::string_view with_value : {"--password-file", "--algorithm", "--days", "--backup-dir", "--map-drive",
                                      "--smb-credentials", "--smb-port"}) {
    if (a == with_value) return i + 1 < args.size() ? 2 : 1;
    if (a.size() > with_value.size() && a.substr(0, with_value.size()) == with_value && a[with_value.size()] == '=')
      return 1;
  }
  return (a == "--password-stdin" || a == "--revoke-previous" || is_global_switch(a)) ? 1 : 0;
}

}  // namespace

std::vector<std::string> translate_classic_forms(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  size_t i = 0;
  // Copy leading global flags unchanged.
  while (i < args.size() && (args[i].rfind("--", 0) == 0 || is_global_switch(args[i]))) {
    out.push_back(args[i]);
    if (global_flag_takes_value(args[i]) && args[i].find('=') == std::string::npos && i + 1 < args.size())
      out.push_back(args[++i]);
    ++i;
  }
  if (i < args.size()) {
    for (const auto& form : classic_forms()) {
      if (args[i] == form.flag) {
        out.insert(out.end(), form.replacement.begin(), form.replacement.end());
        ++i;
        for (size_t span; i < args.size() && (span = classic_option_span(args, i)) > 0; i += span) {
          out.insert(out.end(), args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i + span));
        }
        // The other arguments after a classic flag are positional even when they start
        // with '-' (a password may), so end option parsing for them.
        if (i < args.size()) out.push_back("--");
        break;
      }
    }
  }
  out.insert(out.end(), args.begin() + static_cast<long>(i), args.end());
  return out;
}

}  // namespace ck::cli
