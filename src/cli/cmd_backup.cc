// certmgr backup [PASSWORD] ZIP
// Writes every certificate of the store, its status, the rotation chain and every
// exportable private key into an AES-256 ZIP protected by PASSWORD (strong password
// required). Certificates whose key is not exportable are listed without it, and
// the command says so. The ZIP is written atomically, mode 0600.
#include <iostream>

#include "archive/backup_writer.h"
#include "common/fault_point.h"
#include "archive/store_files.h"
#include "cli/backup_args.h"
#include "cli/cli_support.h"
#include "cli/output.h"
#include "cli/progress.h"

namespace ck::cli {
namespace {

int run_backup(BackupArgs args, GlobalOptions& global) {
  resolve_backup_args(args, "backup");
  auto password = strong_password(args.password);
  if (!password.ok()) return fail(password.error());
  auto where = resolve_path(global, args.zip_path);
  if (!where.ok()) return fail(where.error());
  Status not_store = archive::refuse_store_file(*where, store_url(global), "write the backup to");
  if (!not_store.ok()) return fail(not_store.error());
  auto files = path_access(global);
  if (!files.ok()) return fail(files.error());
  auto store = open_store(global, /*for_write=*/false);
  if (!store.ok()) return fail(store.error());
  auto backup = archive::snapshot_store(**store, operation_context().now());
  if (!backup.ok()) return fail(backup.error());
  // Each private key is encrypted with many PBKDF2 iterations: a large store takes a while.
  Progress progress(global, "backup", "certificates", static_cast<int64_t>(backup->certificates.size()));
  auto bytes = archive::encode_backup(*backup, *password,
                                      [&](size_t done, size_t) { progress.update(static_cast<int64_t>(done)); });
  progress.finish();
  if (!bytes.ok()) return fail(bytes.error());
  fault_point("backup.encoded");
  Status written = archive::write_backup_file(**files, *where, *bytes, (*store)->location());
  if (!written.ok()) return fail(written.error());
  fault_point("backup.written");

  const auto without_key = archive::certificates_without_key(*backup);
  const auto* current = backup->current();
  const bool current_without_key = current && !current->key;
  if (global.json) {
    boost::json::array missing;
    for (const auto& fp : without_key) missing.push_back(boost::json::value(fp));
    print_json(boost::json::object{{"backup", where->given},
                                   {"certificates", backup->certificates.size()},
                                   {"keys", backup->certificates.size() - without_key.size()},
                                   {"rotations", backup->rotations.size()},
                                   {"without_key", std::move(missing)},
                                   {"restorable", !current_without_key}});
  } else {
    std::cout << "backup written to " << where->given << ": " << backup->certificates.size()
              << " certificates, " << backup->certificates.size() - without_key.size()
              << " private keys, " << backup->rotations.size() << " rotation statements\n";
    for (const auto& c : backup->certificates) {
      if (c.key) continue;
      const std::string fp = c.certificate.fingerprint();
      if (c.status == store::CertStatus::kRevoked)
        std::cout << "note: " << fp
                  << " is revoked; the backup holds its certificate, never its key\n";
      else
        std::cout << "note: the private key of " << fp
                  << " is not exportable; the backup holds its certificate without the key\n";
    }
    std::cout.flush();
  }
  if (current_without_key) {
    warn(global, "the current certificate's key is not exportable, so this backup cannot restore a working store");
  }
  return kExitOk;
}

}  // namespace

void add_backup_command(CLI::App& root, GlobalOptions& global) {
  auto args = std::make_shared<BackupArgs>();
  CLI::App* cmd = root.add_subcommand(
      "backup",
      "write all certificates, statuses, rotation chain and exportable keys to an AES-256 ZIP");
  add_backup_args(*cmd, *args);
  cmd->callback([args, &global] { global.exit_code = run_backup(*args, global); });
}

}  // namespace ck::cli
