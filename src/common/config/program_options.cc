#include "common/config/program_options.h"

#include <cstdio>
#include <vector>

#include "common/config/config_file.h"
#include "common/logging.h"

namespace ck::config {

void add_common_options(CLI::App& app, CommonOptions& options, const std::string& default_level) {
  options.log_level = default_level;
  app.add_option("--config", options.config,
                 "TOML config file (docs/config.md; installed: /etc/certkeeper/certkeeper.toml); flags and "
                 "CERTKEEPER_* variables win over it");
  app.add_option("--log-level", options.log_level, "trace|debug|info|warn|error|off")
      ->capture_default_str()
      ->check(CLI::IsMember(kLogLevels));
  app.add_option("--log-format", options.log_format,
                 "auto (text on a terminal, journal under systemd, else JSON lines), text, journal or json")
      ->capture_default_str()
      ->check(CLI::IsMember(kLogFormats));
  app.add_flag("--log-json", options.log_json, "the same as --log-format json");
}

std::optional<int> parse_program_options(CLI::App& app, const std::string& program, int argc, char** argv) {
  add_environment_names(app);
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (const std::string path = find_config_file(args); !path.empty()) {
    Program p;
    p.table = program;
    p.app = &app;
    if (Status applied = apply_config_file(path, p); !applied.ok()) {
      std::fprintf(stderr, "certkeeper-%s: usage error: %s\n", program.c_str(), applied.error().message.c_str());
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line; a value may come from a flag, a CERTKEEPER_* variable or the config file.
    std::string what = e.what();
    for (char& c : what)
      if (c == '\n' || c == '\r') c = ' ';
    std::fprintf(stderr, "certkeeper-%s: usage error: %s (from a flag, a CERTKEEPER_* variable or the config file; see --help)\n",
                 program.c_str(), what.c_str());
    return 2;
  }
  return std::nullopt;
}

void start_logging(const CommonOptions& options) {
  init_logging(options.log_level, options.log_json ? LogFormat::kJson : resolve_log_format(options.log_format));
}

}  // namespace ck::config
