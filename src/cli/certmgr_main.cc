#include "cli/certmgr_main.h"

#include <iostream>

#include "cli/certmgr_config.h"
#include "cli/classic_forms.h"
#include "cli/command.h"
#include "common/config/config_file.h"
#include "common/logging.h"
#include "common/process_hardening.h"

namespace ck::cli {
namespace {

std::string one_line(std::string s) {
  for (char& c : s) if (c == '\n') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

int certmgr_main(int argc, char** argv) {
  // Private keys live in this process's memory: never let them reach a core dump.
  (void)disable_core_dumps();  // best effort: a failure must not stop the administrator
  GlobalOptions global;
  CLI::App app{"certmgr — manage the authentication certificate of the certkeeper server\n"
               "Classic forms: -c PASSWORD | -r PASSWORD ZIP | -re PASSWORD ZIP | -e PATH |\n"
               "               -ine PASSWORD PFX | -l CSV",
               "certmgr"};
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--store", global.store_url, "store URL: sqlite:PATH or postgresql://…");
  app.add_option("--config", global.config_file,
                 "TOML config file (docs/config.md; installed: /etc/certkeeper/certkeeper.toml); flags and "
                 "CERTKEEPER_* variables win over it");
  app.add_option("--map-drive", global.map_drive,
                 "map a drive letter for D:\\dir\\file paths: D=/mnt/share or D=\\\\server\\share (repeatable)");
  app.add_option("--smb-credentials", global.smb_credentials,
                 "SMB credentials file, mount.cifs format, mode 0600");
  app.add_option("--smb-port", global.smb_port, "TCP port of SMB servers whose path names none (default 445)");
  app.add_option("--backup-dir", global.backup_dir,
                 "folder for the backups of -c and restore (default: the store's backups folder)");
  app.add_flag("--json", global.json, "machine-readable output");
  CLI::Option* quiet = app.add_flag("-q,--quiet", global.quiet, "errors only on stderr: no warnings, notes or progress");
  app.add_flag("-v,--verbose", global.verbose, "log at info level (-vv: debug)")->excludes(quiet);
  app.parse_complete_callback([&global] { apply_output_options(global); });  // before the command runs
  app.add_option("--log-level", global.log_level, "trace|debug|info|warn|error|off")
      ->check(CLI::IsMember(kLogLevels));
  config::add_environment_names(app);  // before the commands: their options keep their own names
  for (AddCommandFn add : command_table()) add(app, global);

  std::vector<std::string> args(argv + 1, argv + argc);
  if (std::string config = config::find_config_file(args); !config.empty()) {
    if (Status loaded = load_certmgr_config(config, app, global); !loaded.ok()) {
      std::cerr << "certmgr: usage error: " << one_line(loaded.error().message) << std::endl;
      return kExitUsage;
    }
  }
  args = translate_classic_forms(args);
  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "certmgr: usage error: " << one_line(e.what()) << " (see certmgr --help)" << std::endl;
    return kExitUsage;
  } catch (const UsageError& e) {
    std::cerr << "certmgr: usage error: " << one_line(e.what()) << " (see certmgr --help)" << std::endl;
    return kExitUsage;
  } catch (const std::exception& e) {
    // Library boundaries return errors as values; this is the last line of defence.
    std::cerr << "certmgr: error: " << one_line(e.what()) << std::endl;
    return kExitFailed;
  }
  return global.exit_code;
}

}  // namespace ck::cli
