#include "cli/certmgr_config.h"

#include <toml++/toml.h>

#include <cctype>
#include <string_view>

#include <cstdlib>
#include <set>

#include "common/file_util.h"

namespace ck::cli {
namespace {

constexpr size_t kMaxConfigBytes = 1 << 20;

Error config_error(const std::string& path, const toml::source_region& where, const std::string& what) {
  return make_error(ErrorKind::kInvalidArgument,
                    "config " + path + ":" + std::to_string(where.begin.line) + ": " + what);
}

Result<std::string> string_value(const std::string& path, const std::string& key, const toml::node& node) {
  if (auto v = node.value<std::string>(); v && node.is_string()) return *v;
  return config_error(path, node.source(), "'" + key + "' must be a string");
}

Status load_smb(const std::string& path, const toml::table& smb, GlobalOptions& global) {
  for (const auto& [k, node] : smb) {
    const std::string key(k.str());
    if (key == "credentials") {
      CK_ASSIGN_OR_RETURN(global.smb_credentials, string_value(path, "smb." + key, node));
    } else if (key == "port") {
      auto port = node.value<int64_t>();
      if (!node.is_integer() || !port || *port < 1 || *port > 65535)
        return config_error(path, node.source(), "'smb.port' must be an integer from 1 to 65535");
      global.smb_port = static_cast<int>(*port);
    } else {
      return config_error(path, node.source(), "unknown key 'smb." + key + "' (credentials, port)");
    }
  }
  return ok_status();
}

Status load_drives(const std::string& path, const toml::table& drives, GlobalOptions& global) {
  for (const auto& [k, node] : drives) {
    const std::string letter(k.str());
    CK_ASSIGN_OR_RETURN(std::string target, string_value(path, "drives." + letter, node));
    if (letter.size() == 1 && global.config_drives.count(static_cast<char>(std::toupper(static_cast<unsigned char>(letter[0])))))
      return config_error(path, node.source(), "drive " + letter + " is mapped twice");
    Status added = paths::add_drive_mapping(letter, target, global.config_drives);
    if (!added.ok()) return config_error(path, node.source(), added.error().message);
  }
  return ok_status();
}

}  // namespace

std::string find_config_file(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if (args[i] == "--config" && i + 1 < args.size()) return args[i + 1];
    if (args[i].rfind("--config=", 0) == 0) return args[i].substr(9);
  }
  const char* env = std::getenv("CERTKEEPER_CONFIG");
  return env ? env : "";
}

namespace {

// Refuses what toml++ 3.3 (Debian 12) does not survive: a table header whose first
// character is not a key character (e.g. "[\0drives]", found by fuzz_config) trips an
// assertion in its parser, which a release build turns into an "assume", i.e. undefined
// behaviour. Control characters are invalid TOML anyway; our files have no arrays, so
// a line starting with '[' is always a table header.
Status check_parsable(const std::string& path, std::string_view text) {
  size_t line = 1;
  bool line_start = true;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    auto refuse = [&](const std::string& what) {
      return make_error(ErrorKind::kInvalidArgument, "config " + path + ":" + std::to_string(line) + ": " + what);
    };
    if (c == '\n') {
      ++line;
      line_start = true;
      continue;
    }
    if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) return refuse("control character (not a text file?)");
    if (line_start && c == '[') {
      size_t j = i + 1;
      if (j < text.size() && text[j] == '[') ++j;
      while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
      const char k = j < text.size() ? text[j] : '\n';
      if (!(std::isalnum(static_cast<unsigned char>(k)) || k == '_' || k == '-' || k == '"' || k == '\'' || k == ']'))
        return refuse("a table header must start with a key, e.g. [drives]");
    }
    if (c != ' ' && c != '\t') line_start = false;
  }
  return ok_status();
}

}  // namespace

Status load_config_file(const std::string& path, GlobalOptions& global) {
  auto text = read_file(path, kMaxConfigBytes);
  if (!text.ok()) return text.error().with_context("cannot read the config file");
  CK_RETURN_IF_ERROR(check_parsable(path, *text));
  toml::parse_result parsed = toml::parse(*text, path);
  if (!parsed) {
    const toml::parse_error& e = parsed.error();
    return make_error(ErrorKind::kInvalidArgument, "config " + path + ":" + std::to_string(e.source().begin.line) +
                                                       ": " + std::string(e.description()));
  }
  const toml::table& root = parsed.table();
  for (const auto& [k, node] : root) {
    const std::string key(k.str());
    if (key == "store") {
      CK_ASSIGN_OR_RETURN(global.store_url, string_value(path, key, node));
    } else if (key == "backup_dir") {
      CK_ASSIGN_OR_RETURN(global.backup_dir, string_value(path, key, node));
    } else if (key == "log_level") {
      CK_ASSIGN_OR_RETURN(global.log_level, string_value(path, key, node));
      static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "critical", "off"};
      if (!levels.count(global.log_level))
        return config_error(path, node.source(), "'log_level' must be one of trace, debug, info, warn, error, off");
    } else if (key == "smb" && node.is_table()) {
      CK_RETURN_IF_ERROR(load_smb(path, *node.as_table(), global));
    } else if (key == "drives" && node.is_table()) {
      CK_RETURN_IF_ERROR(load_drives(path, *node.as_table(), global));
    } else if (key == "smb" || key == "drives") {
      return config_error(path, node.source(), "'" + key + "' must be a table ([" + key + "])");
    } else {
      return config_error(path, node.source(),
                          "unknown key '" + key + "' (store, backup_dir, log_level, [smb], [drives])");
    }
  }
  return ok_status();
}

}  // namespace ck::cli
