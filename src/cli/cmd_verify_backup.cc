// certmgr verify-backup [PASSWORD] ZIP   (output shapes: docs/output.md)
// Reports what a backup holds and whether every entry decrypts and every private key
// matches its certificate (and the manifest, PFX files and rotation chain agree).
// Changes nothing; never opens the store. Exit 1 when anything is wrong or the backup
// could not be restored.
#include <iomanip>
#include <iostream>

#include "archive/backup_reader.h"
#include "cli/backup_args.h"
#include "cli/cli_support.h"
#include "cli/output.h"
#include "common/clock.h"

namespace ck::cli {
namespace {

boost::json::object cert_json(const archive::BackupCertificate& c) {
  return boost::json::object{{"fingerprint", c.certificate.fingerprint()},
                             {"algorithm", crypto::algorithm_name(c.certificate.algorithm())},
                             {"subject", c.certificate.subject()},
                             {"not_before", format_rfc3339(c.certificate.not_before())},
                             {"not_after", format_rfc3339(c.certificate.not_after())},
                             {"status", store::status_name(c.status)},
                             {"generation", c.generation},
                             {"has_key", c.key.has_value()}};
}

int run_verify_backup(BackupArgs args, GlobalOptions& global) {
  resolve_backup_args(args, "verify-backup");
  auto password = any_password(args.password);
  if (!password.ok()) return fail(password.error());
  auto where = resolve_path(global, args.zip_path);
  if (!where.ok()) return fail(where.error());
  auto files = path_access(global);
  if (!files.ok()) return fail(files.error());
  auto backup = archive::read_backup_file(**files, *where, *password);
  if (!backup.ok()) {
    if (global.json)
      print_json(boost::json::object{
          {"archive", args.zip_path}, {"ok", false}, {"error", backup.error().message}});
    return fail(backup.error());
  }
  Status restorable = archive::check_restorable(*backup);
  const bool manifest = backup->format_version > 0;
  for (const auto& w : backup->warnings) warn(global, w);
  if (global.json) {
    boost::json::array certs;
    for (const auto& c : backup->certificates) certs.push_back(cert_json(c));
    boost::json::object out{
        {"archive", args.zip_path},
        {"ok", restorable.ok()},
        {"format_version", backup->format_version},
        {"created", manifest ? boost::json::value(format_rfc3339(backup->created))
                             : boost::json::value(nullptr)},
        {"generation", backup->store_generation},
        {"certificates", std::move(certs)},
        {"rotations", backup->rotations.size()},
        {"warnings", boost::json::value_from(backup->warnings)}};
    if (!restorable.ok()) out["error"] = restorable.error().message;
    print_json(out);
  } else {
    std::cout << "archive: " << args.zip_path << "\n";
    if (manifest) {
      std::cout << "format: certkeeper backup v" << backup->format_version << ", created "
                << format_rfc3339(backup->created) << ", generation " << backup->store_generation
                << "\n";
    } else {
      std::cout << "format: PFX files only (no manifest); the newest becomes current on restore\n";
    }
    std::cout << "certificates: " << backup->certificates.size() << "\n";
    for (const auto& c : backup->certificates) {
      std::cout << "  " << std::left << std::setw(8) << store::status_name(c.status) << " "
                << c.certificate.fingerprint() << " " << std::setw(10)
                << crypto::algorithm_name(c.certificate.algorithm()) << " generation "
                << c.generation
                << (c.key ? ", private key" : ", no private key (was not exportable)") << "\n";
    }
    std::cout << "rotation statements: " << backup->rotations.size()
              << (backup->rotations.empty() ? "" : " (all signatures verify)") << "\n";
    if (restorable.ok())
      std::cout << "ok: every entry decrypts and every private key matches its certificate\n";
    std::cout.flush();
  }
  if (!restorable.ok()) return fail(restorable.error().with_context(args.zip_path));
  return kExitOk;
}

}  // namespace

void add_verify_backup_command(CLI::App& root, GlobalOptions& global) {
  auto args = std::make_shared<BackupArgs>();
  CLI::App* cmd = root.add_subcommand("verify-backup", "check a backup without restoring it");
  add_backup_args(*cmd, *args);
  cmd->callback([args, &global] { global.exit_code = run_verify_backup(*args, global); });
}

}  // namespace ck::cli
