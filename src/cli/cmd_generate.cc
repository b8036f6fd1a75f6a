// certmgr generate [PASSWORD]  (classic: -c PASSWORD)
// A new key pair and self-signed authentication certificate becomes current; the
// previous current is retired (or revoked with --revoke-previous) and a rotation
// statement is recorded. Then a backup of the store protected by PASSWORD is written.
#include <iostream>

#include "cli/cli_support.h"
#include "common/fault_point.h"
#include "cli/generate_backup.h"
#include "crypto/key.h"

namespace ck::cli {
namespace {

struct GenerateArgs {
  PasswordOptions password;
  std::string algorithm = "ecdsa-p256";
  int days = store::kDefaultValidityDays;
  bool revoke_previous = false;
};

int run_generate(const GenerateArgs& args, GlobalOptions& global) {
  auto algorithm = crypto::parse_algorithm(args.algorithm);
  if (!algorithm.ok()) throw UsageError(algorithm.error().message);
  if (args.days < 1 || args.days > 36500) throw UsageError("--days must be between 1 and 36500");
  auto password = strong_password(args.password);
  if (!password.ok()) return fail(password.error());
  // An unreachable or unwritable backup folder is found before anything changes (a
  // missing store is not even created); the backup itself can still fail later (disk
  // full). The default folder sits beside the store, so it is checked once it is open.
  auto files = path_access(global);
  if (!files.ok()) return fail(files.error());
  auto check_folder = [&](const store::CertStore* opened) -> Status {
    if (global.backup_dir.empty() && !opened) return ok_status();
    CK_ASSIGN_OR_RETURN(paths::Location folder,
                        opened ? backup_folder(global, *opened) : resolve_path(global, global.backup_dir));
    Status ready = (*files)->ensure_directory(folder, 0700);
    if (!ready.ok()) return ready.error().with_context("the backup folder cannot be used, so nothing was generated");
    return ok_status();
  };
  if (Status writable = store::check_store_writable(store_url(global)); !writable.ok()) return fail(writable.error());
  if (Status ready = check_folder(nullptr); !ready.ok()) return fail(ready.error());
  auto store = open_store(global, /*for_write=*/true);
  if (!store.ok()) return fail(store.error());
  if (global.backup_dir.empty()) {
    if (Status ready = check_folder(store->get()); !ready.ok()) return fail(ready.error());
  }

  store::GenerateOptions options;
  options.algorithm = *algorithm;
  options.days = args.days;
  options.revoke_previous = args.revoke_previous;
  std::optional<store::CertRecord> previous;
  (void)(*store)->read([&](store::CertTxn& t) -> Status {
    CK_ASSIGN_OR_RETURN(previous, t.current());
    return ok_status();
  });
  auto record = store::generate_certificate(**store, options, operation_context());
  if (!record.ok()) return fail(record.error());
  fault_point("generate.committed");

  auto backup = write_generate_backup(global, **store, *password);
  fault_point("generate.backup_written");
  if (global.json) {
    boost::json::object out{{"current", cert_to_json(*record, 0)}};
    if (previous) {
      out["previous"] = previous->fingerprint;
      out["previous_status"] = args.revoke_previous ? "revoked" : "retired";
    }
    out["backup"] = backup.ok() ? boost::json::value(*backup) : boost::json::value(nullptr);
    print_json(out);
  } else {
    std::cout << "generated " << record->fingerprint << " (" << record->algorithm
              << "), now current, valid until " << format_rfc3339(record->not_after) << "\n";
    if (previous) {
      std::cout << "previous " << previous->fingerprint << " is now "
                << (args.revoke_previous ? "revoked" : "retired") << "\n";
    }
    if (backup.ok()) std::cout << "backup written to " << *backup << "\n";
    std::cout.flush();
  }
  if (!backup.ok()) {
    // The new certificate is current and committed; say loudly that no backup exists.
    std::cerr << "certmgr: warning: no backup was written: " << backup.error().message << std::endl;
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace

void add_generate_command(CLI::App& root, GlobalOptions& global) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd = root.add_subcommand(
      "generate", "new certificate becomes current, previous retired; then a backup (classic: -c PASSWORD)");
  cmd->add_option("PASSWORD", args->password.positional, "backup password (prefer --password-file)");
  add_password_options(*cmd, args->password);
  cmd->add_option("--algorithm", args->algorithm, "ecdsa-p256 (default), ed25519 or rsa-3072");
  cmd->add_option("--days", args->days, "validity in days (default 1095)");
  cmd->add_flag("--revoke-previous", args->revoke_previous,
                "revoke the previous current certificate (answer to a leaked key)");
  cmd->callback([args, &global] { global.exit_code = run_generate(*args, global); });
}

}  // namespace ck::cli
