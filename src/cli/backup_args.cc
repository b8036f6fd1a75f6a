#include "cli/backup_args.h"

#include <cstdlib>

#include "cli/command.h"
#include "store/cert_store.h"

namespace ck::cli {

void add_backup_args(CLI::App& cmd, BackupArgs& args) {
  cmd.add_option("PASSWORD ZIP", args.positionals,
                 "archive password (prefer --password-file or --password-stdin) and the ZIP file");
  add_password_options(cmd, args.password);
}

void resolve_backup_args(BackupArgs& args, const char* command) {
  const auto& p = args.positionals;
  const bool other_source =
      !args.password.file.empty() || args.password.from_stdin ||
      (std::getenv("CERTKEEPER_PASSWORD") && *std::getenv("CERTKEEPER_PASSWORD"));
  if (p.size() == 2) {
    args.password.positional = p[0];
    args.zip_path = p[1];
  } else if (p.size() == 1 && other_source) {
    args.zip_path = p[0];
  } else if (p.size() > 2) {
    throw UsageError(std::string(command) + " takes PASSWORD and ZIP");
  } else {
    throw UsageError(std::string(command) + " needs PASSWORD ZIP (or --password-file F ZIP)");
  }
  if (args.zip_path.empty()) throw UsageError("the ZIP path is empty");
}

}  // namespace ck::cli
