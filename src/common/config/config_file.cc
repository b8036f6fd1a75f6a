#include "common/config/config_file.h"

#include <fmt/format.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <set>
#include <string_view>

#include "common/file_util.h"
#include "common/install_layout.h"

namespace ck::config {
namespace {

constexpr size_t kMaxConfigBytes = 1 << 20;

// Keys every program may meet at the top of the shared file; one without the flag skips them.
const std::set<std::string, std::less<>> kSharedKeys = {"store", "log_level", "log_format"};
// Tables that belong to one program each; the others skip them.
const std::set<std::string, std::less<>> kProgramTables = {"certmgr", "server", "agent", "fleet"};

int line_of(const toml::node& node) { return static_cast<int>(node.source().begin.line); }

// toml++ keeps a table's keys sorted; mistakes are reported, and entries handed on, in file order.
std::vector<std::pair<std::string, const toml::node*>> in_file_order(const toml::table& t) {
  std::vector<std::pair<std::string, const toml::node*>> out;
  for (const auto& [k, node] : t) out.emplace_back(std::string(k.str()), &node);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    const auto& x = a.second->source().begin;
    const auto& y = b.second->source().begin;
    return x.line != y.line ? x.line < y.line : x.column < y.column;
  });
  return out;
}

std::string program_name(const Program& p) { return p.table == "certmgr" ? "certmgr" : "certkeeper-" + p.table; }

CLI::Option* find_long_option(CLI::App& app, const std::string& name) {
  if (name == "config" || name == "help" || name == "help-all") return nullptr;
  for (CLI::Option* opt : app.get_options())
    for (const std::string& lname : opt->get_lnames())
      if (lname == name) return opt;
  return nullptr;
}

std::string flag_of(std::string key) {
  for (char& c : key)
    if (c == '_') c = '-';
  return key;
}

class Applier {
 public:
  Applier(const std::string& path, const Program& program) : path_(path), program_(program) {}

  // `shown` is the key as the file spells it (smb.port), `flag` the long option (smb-port).
  Status value(const std::string& shown, const std::string& flag, const toml::node& node) {
    CLI::Option* opt = find_long_option(*program_.app, flag);
    if (!opt)
      return config_error(path_, line_of(node), "unknown key '" + shown + "' (not a flag of " + program_name(program_) +
                                                    "; see its --help)");
    std::string text;
    const std::string type = opt->get_type_name();
    if (opt->get_expected_max() == 0 || type.rfind("BOOLEAN", 0) == 0) {
      if (!node.is_boolean()) return config_error(path_, line_of(node), "'" + shown + "' must be true or false");
      text = node.as_boolean()->get() ? "true" : "false";
    } else if (type.rfind("INT", 0) == 0 || type.rfind("UINT", 0) == 0) {
      if (!node.is_integer()) return config_error(path_, line_of(node), "'" + shown + "' must be an integer");
      text = std::to_string(node.as_integer()->get());
    } else if (type.rfind("FLOAT", 0) == 0) {
      if (node.is_integer()) text = std::to_string(node.as_integer()->get());
      else if (node.is_floating_point()) text = fmt::format("{}", node.as_floating_point()->get());
      else return config_error(path_, line_of(node), "'" + shown + "' must be a number");
    } else {
      if (!node.is_string())
        return config_error(path_, line_of(node), "'" + shown + "' must be a string (in quotes)");
      text = node.as_string()->get();
    }
    // One setting per option and level (state_dir and state-dir are one key); the
    // program's own table may override a top-level value.
    const bool own_table = shown.rfind(program_.table + ".", 0) == 0;
    if (const auto set = set_at_.find(opt); set != set_at_.end() && set->second.second == own_table)
      return config_error(path_, line_of(node), "'" + shown + "' is set twice (also on line " +
                                                    std::to_string(set->second.first) + ")");
    set_at_[opt] = {line_of(node), own_table};
    // --help keeps showing the built-in default: the file's values may be secrets
    // (a postgresql:// URL with its password) and help text reaches man pages.
    const std::string shown_default = opt->get_default_str();
    try {
      opt->run_callback_for_default();
      opt->default_val(text);
    } catch (const CLI::Error& e) {
      return config_error(path_, line_of(node), "'" + shown + "': " + e.what());
    }
    opt->default_str(shown_default);
    opt->required(false);  // the file gave it
    return ok_status();
  }

  // [name] below the program's level: a free-form table, or keys prefixed with name-.
  Status table(const std::string& shown, const std::string& name, const toml::table& t) {
    for (const FreeFormTable& free : program_.free_form) {
      if (free.name != name) continue;
      std::vector<Entry> entries;
      for (const auto& [key, node] : in_file_order(t)) {
        if (!node->is_string()) return config_error(path_, line_of(*node), "'" + shown + "." + key + "' must be a string");
        entries.push_back(Entry{key, node->as_string()->get(), line_of(*node)});
      }
      return free.apply(entries);
    }
    for (const auto& [key, node] : in_file_order(t)) {
      if (node->is_table())
        return config_error(path_, line_of(*node), "table [" + shown + "." + key + "] is nested too deep");
      CK_RETURN_IF_ERROR(value(shown + "." + key, flag_of(name + "-" + key), *node));
    }
    return ok_status();
  }

  // The keys of the file's top level, or of the program's own table.
  Status level(const toml::table& t, const std::string& prefix) {
    for (const auto& [key, node] : in_file_order(t)) {
      if (node->is_table()) {
        if (prefix.empty() && key == program_.table) {
          CK_RETURN_IF_ERROR(level(*node->as_table(), key + "."));
        } else if (prefix.empty() && kProgramTables.count(key)) {
          continue;  // another program's settings
        } else {
          CK_RETURN_IF_ERROR(table(prefix + key, key, *node->as_table()));
        }
        continue;
      }
      if (prefix.empty() && kSharedKeys.count(key) && !find_long_option(*program_.app, flag_of(key))) continue;
      CK_RETURN_IF_ERROR(value(prefix + key, flag_of(key), *node));
    }
    return ok_status();
  }

 private:
  const std::string& path_;
  const Program& program_;
  std::map<const CLI::Option*, std::pair<int, bool>> set_at_;  // line, in the program's own table
};

}  // namespace

Error config_error(const std::string& path, int line, const std::string& what) {
  return make_error(ErrorKind::kInvalidArgument, "config " + path + ":" + std::to_string(line) + ": " + what);
}

std::string find_config_file(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if (args[i] == "--config" && i + 1 < args.size()) return args[i + 1];
    if (args[i].rfind("--config=", 0) == 0) return args[i].substr(9);
  }
  if (const char* env = std::getenv(kConfigEnv); env && *env) return env;
  const InstallLayout& layout = install_layout();
  // Installed, a file this user may not read (kept 0640 for a password in it) is skipped:
  // --help and verify-backup still work, and the store says "permission denied" itself.
  if (layout.installed && ::access(layout.config_file.c_str(), R_OK) == 0) return layout.config_file;
  return "";
}

Status check_parsable(const std::string& path, std::string_view text) {
  int line_no = 0;
  auto is_key_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; };
  auto is_digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty()) {
    ++line_no;
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto refuse = [&](const std::string& what) { return config_error(path, line_no, what); };
    for (char ch : line) {
      const unsigned char c = static_cast<unsigned char>(ch);
      if ((c < 0x20 && c != '\t') || c == 0x7f) return refuse("control character (not a text file?)");
    }
    size_t i = 0;
    auto skip_blanks = [&] {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    };
    auto digits = [&] {
      const size_t begin = i;
      while (i < line.size() && (is_digit(line[i]) || (i > begin && line[i] == '_'))) ++i;
      return i > begin;
    };
    // key or key.key (bare keys only)
    auto dotted_key = [&]() -> bool {
      for (;;) {
        const size_t begin = i;
        while (i < line.size() && is_key_char(line[i])) ++i;
        if (i == begin) return false;
        skip_blanks();
        if (i < line.size() && line[i] == '.') {
          ++i;
          skip_blanks();
          continue;
        }
        return true;
      }
    };
    // What may follow a header or a value: blanks and a comment.
    auto rest_is_comment = [&]() -> bool {
      skip_blanks();
      return i == line.size() || line[i] == '#';
    };
    skip_blanks();
    if (i == line.size() || line[i] == '#') continue;
    if (line[i] == '[') {
      ++i;
      skip_blanks();
      if (!dotted_key() || i == line.size() || line[i] != ']')
        return refuse("a table header is [name] or [name.name], e.g. [server]");
      ++i;
      if (!rest_is_comment()) return refuse("unexpected text after the table header");
      continue;
    }
    if (!dotted_key() || i == line.size() || line[i] != '=')
      return refuse("expected key = value (bare ASCII keys, e.g. backup_dir = \"/srv/backups\")");
    ++i;
    skip_blanks();
    if (i == line.size()) return refuse("a key without a value");
    const char open = line[i];
    if (open == '"' || open == '\'') {
      if (line.substr(i, 3) == std::string(3, open))
        return refuse("multi-line strings are not supported here; write the value on one line");
      ++i;
      while (i < line.size() && line[i] != open) {
        if (open == '"' && line[i] == '\\') ++i;  // the escaped character (toml++ checks it)
        ++i;
      }
      if (i >= line.size()) return refuse("a string does not end on its line");
      ++i;
    } else if (line.substr(i, 4) == "true" || line.substr(i, 5) == "false") {
      i += line[i] == 't' ? 4 : 5;
    } else {
      // An integer or a decimal: [+-]digits[.digits][(e|E)[+-]digits]
      if (line[i] == '+' || line[i] == '-') ++i;
      bool number = digits();
      if (number && i < line.size() && line[i] == '.') {
        ++i;
        number = digits();
      }
      if (number && i < line.size() && (line[i] == 'e' || line[i] == 'E')) {
        ++i;
        if (i < line.size() && (line[i] == '+' || line[i] == '-')) ++i;
        number = digits();
      }
      if (!number) return refuse("a value is a \"string\", a number, true or false");
    }
    if (!rest_is_comment()) return refuse("unexpected text after the value");
  }
  return ok_status();
}

Status apply_config_file(const std::string& path, const Program& program) {
  auto text = read_file(path, kMaxConfigBytes);
  if (!text.ok()) return text.error().with_context("cannot read the config file");
  CK_RETURN_IF_ERROR(check_parsable(path, *text));
  toml::parse_result parsed = toml::parse(*text, path);
  if (!parsed) {
    const toml::parse_error& e = parsed.error();
    return config_error(path, static_cast<int>(e.source().begin.line), std::string(e.description()));
  }
  return Applier(path, program).level(parsed.table(), "");
}

void add_environment_names(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    if (!opt->get_envname().empty() || opt->get_lnames().empty()) continue;
    const std::string& name = opt->get_lnames().front();
    if (name == "help" || name == "help-all") continue;
    std::string env = kEnvPrefix;
    for (char c : name) env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    opt->envname(env);
  }
}

}  // namespace ck::config
