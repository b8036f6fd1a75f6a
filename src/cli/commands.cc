// The table of certmgr commands. Add one line per command file.
#include "cli/command.h"

namespace ck::cli {

void add_generate_command(CLI::App&, GlobalOptions&);
void add_export_agent_key_command(CLI::App&, GlobalOptions&);
void add_import_command(CLI::App&, GlobalOptions&);
void add_status_command(CLI::App&, GlobalOptions&);
void add_revoke_command(CLI::App&, GlobalOptions&);
void add_backup_command(CLI::App&, GlobalOptions&);
void add_restore_command(CLI::App&, GlobalOptions&);
void add_verify_backup_command(CLI::App&, GlobalOptions&);
void add_send_command(CLI::App&, GlobalOptions&);
void add_list_mismatched_command(CLI::App&, GlobalOptions&);
void add_agents_command(CLI::App&, GlobalOptions&);
void add_audit_command(CLI::App&, GlobalOptions&);
void add_console_url_command(CLI::App&, GlobalOptions&);

const std::vector<AddCommandFn>& command_table() {
  static const std::vector<AddCommandFn> table = {
      add_generate_command,
      add_export_agent_key_command,
      add_import_command,
      add_status_command,
      add_revoke_command,
      add_backup_command,
      add_restore_command,
      add_verify_backup_command,
      add_send_command,
      add_list_mismatched_command,
      add_agents_command,
      add_audit_command,
      add_console_url_command,
  };
  return table;
}

}  // namespace ck::cli
