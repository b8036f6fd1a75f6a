// certmgr restore [--no-export] [PASSWORD] ZIP  (classic: -r PASSWORD ZIP, -re PASSWORD ZIP)
// Replaces every certificate of the store with those in the backup, in one
// transaction: statuses (which one is current), generations, the rotation chain and
// the private keys, exportable unless --no-export (never the key of a revoked
// certificate). The archive is read and checked completely (password included) before
// the store is opened, so a bad archive changes nothing and writes no safety backup. When the
// store holds certificates the backup lacks, they are first saved to a backup in the
// store's backup folder (same password), so a restore never destroys an exportable key.
#include <iostream>
#include <set>

#include "archive/backup_reader.h"
#include "common/fault_point.h"
#include "archive/backup_writer.h"
#include "archive/restore.h"
#include "archive/store_files.h"
#include "cli/backup_args.h"
#include "cli/cli_support.h"
#include "cli/output.h"

namespace ck::cli {
namespace {

// Restore replaces every certificate. When the store holds certificates the backup
// lacks, their exportable keys would be lost, so first they go into a backup in the
// store's backup folder, protected by the same password. Returns its path, or "" when
// nothing would be lost. Failing to write it aborts the restore.
Result<std::string> backup_what_restore_drops(GlobalOptions& global, store::CertStore& store,
                                              const archive::Backup& incoming,
                                              const std::string& password) {
  auto snapshot = archive::snapshot_store(store, operation_context().now());
  if (!snapshot.ok()) {
    if (snapshot.error().kind == ErrorKind::kNotFound) return std::string();  // empty store
    return snapshot.error();
  }
  std::set<std::string> kept;
  for (const auto& c : incoming.certificates) kept.insert(c.certificate.fingerprint());
  bool drops = false;
  for (const auto& c : snapshot->certificates) {
    // The restore keeps revoked certificates (and never their keys) anyway.
    if (kept.count(c.certificate.fingerprint()) || c.status == store::CertStatus::kRevoked)
      continue;
    drops = true;
    if (c.key_in_store && !c.key) {
      warn(global, "the private key of " + c.certificate.fingerprint() +
                       " is not exportable and not in the backup; the restore removes it");
    }
  }
  if (!drops) return std::string();
  CK_ASSIGN_OR_RETURN(paths::Location folder, backup_folder(global, store));
  CK_ASSIGN_OR_RETURN(paths::PathAccess * files, path_access(global));
  auto path = archive::write_backup_to_folder(*files, *snapshot, password, folder, store.location(), "before-restore");
  if (!path.ok())
    return path.error().with_context(
        "the store holds certificates the backup does not, and saving them first failed");
  return path;
}

struct RestoreArgs {
  BackupArgs backup;
  bool no_export = false;
};

int run_restore(RestoreArgs args, GlobalOptions& global) {
  resolve_backup_args(args.backup, "restore");
  const std::string& zip = args.backup.zip_path;
  auto password = any_password(args.backup.password);
  if (!password.ok()) return fail(password.error());
  auto where = resolve_path(global, zip);
  if (!where.ok()) return fail(where.error());
  Status not_store = archive::refuse_store_file(*where, store_url(global), "restore from");
  if (!not_store.ok()) return fail(not_store.error());
  auto files = path_access(global);
  if (!files.ok()) return fail(files.error());
  // The whole archive is decoded (so the password is proven right) before the store is
  // opened or the safety backup below is written with that password.
  auto backup = archive::read_backup_file(**files, *where, *password);
  if (!backup.ok()) return fail(backup.error());
  Status restorable = archive::check_restorable(*backup);
  if (!restorable.ok()) return fail(restorable.error().with_context(zip));
  for (const auto& w : backup->warnings) warn(global, w);
  fault_point("restore.archive_decoded");

  auto store = open_store(global, /*for_write=*/true);
  if (!store.ok()) return fail(store.error());
  Status not_revoked = archive::check_not_revoked_in(**store, *backup);
  if (!not_revoked.ok()) return fail(not_revoked.error());
  auto safety = backup_what_restore_drops(global, **store, *backup, *password);
  if (!safety.ok()) return fail(safety.error());
  fault_point("restore.safety_backup_written");
  const bool exportable = !args.no_export;
  auto summary = archive::restore_backup(**store, *backup, exportable, zip, operation_context());
  if (!summary.ok()) return fail(summary.error());
  fault_point("restore.committed");

  const size_t without_key = summary->certificates - summary->with_key;
  if (global.json) {
    print_json(boost::json::object{
        {"restored", summary->certificates},
        {"keys", summary->with_key},
        {"rotations", summary->rotations},
        {"replaced", summary->replaced},
        {"current", summary->current},
        {"exportable", exportable},
        {"warnings", boost::json::value_from(backup->warnings)},
        {"saved_before_restore",
         safety->empty() ? boost::json::value(nullptr) : boost::json::value(*safety)}});
  } else {
    std::cout << "restored " << summary->certificates << " certificates (" << summary->with_key
              << " private keys, " << (exportable ? "exportable" : "not exportable") << ") and "
              << summary->rotations << " rotation statements from " << zip << "\n"
              << "current: " << summary->current << "\n";
    if (!safety->empty())
      std::cout << "the certificates it replaced were saved first to " << *safety << "\n";
    if (summary->replaced > 0)
      std::cout << "replaced the " << summary->replaced << " certificates the store held before\n";
    if (without_key > 0)
      std::cout << "note: " << without_key
                << " certificates were restored without their private key\n";
    std::cout.flush();
  }
  if (summary->previous_generation > summary->generation) {
    warn(global, "the store had reached generation " + std::to_string(summary->previous_generation) +
                     " but the backup only reaches " + std::to_string(summary->generation) +
                     "; agents that already follow a newer certificate will show as unknown (certmgr -l)");
  }
  return kExitOk;
}

}  // namespace

void add_restore_command(CLI::App& root, GlobalOptions& global) {
  auto args = std::make_shared<RestoreArgs>();
  CLI::App* cmd = root.add_subcommand(
      "restore",
      "replace the store's certificates with all in a backup (classic: -r / -re PASSWORD ZIP)");
  add_backup_args(*cmd, args->backup);
  cmd->add_flag("--no-export", args->no_export,
                "mark the restored private keys not exportable (classic: -re)");
  cmd->callback([args, &global] { global.exit_code = run_restore(*args, global); });
}

}  // namespace ck::cli
