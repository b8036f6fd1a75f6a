// certmgr import [PASSWORD] [PFX]  (classic: -ine PASSWORD PFX)
// Imports a PKCS#12 file made by other tools as the current certificate, marked not
// exportable; the previous current becomes retired.
#include <iostream>

#include "cli/cli_support.h"
#include "common/fault_point.h"
#include "common/file_util.h"
#include "crypto/pkcs12.h"

namespace ck::cli {
namespace {

constexpr const char* kDefaultPfx = "OfcNTCer.pfx";
constexpr size_t kMaxPfxBytes = 1 << 20;

struct ImportArgs {
  std::vector<std::string> positionals;  // [PASSWORD] [PFX]
  PasswordOptions password;
};

int run_import(ImportArgs args, GlobalOptions& global) {
  if (args.positionals.size() > 2) throw UsageError("import takes at most PASSWORD and PFX");
  std::string pfx_path = kDefaultPfx;
  const bool other_source = !args.password.file.empty() || args.password.from_stdin;
  if (args.positionals.size() == 2) {
    args.password.positional = args.positionals[0];
    pfx_path = args.positionals[1];
  } else if (args.positionals.size() == 1) {
    // One argument: the PFX when the password comes from elsewhere, else the password.
    if (other_source || std::getenv("CERTKEEPER_PASSWORD")) pfx_path = args.positionals[0];
    else args.password.positional = args.positionals[0];
  }
  auto password = any_password(args.password);
  if (!password.ok()) return fail(password.error());
  auto where = resolve_path(global, pfx_path);
  if (!where.ok()) return fail(where.error());
  auto files = path_access(global);
  if (!files.ok()) return fail(files.error());
  auto data = (*files)->read(*where, kMaxPfxBytes);
  if (!data.ok()) return fail(data.error());
  auto contents = crypto::read_pkcs12(*data, *password);
  if (!contents.ok()) return fail(contents.error().with_context(pfx_path));
  fault_point("import.pfx_decoded");
  auto store = open_store(global, /*for_write=*/true);
  if (!store.ok()) return fail(store.error());
  auto record = store::install_current(**store, contents->key, contents->certificate,
                                       /*exportable=*/false, /*revoke_previous=*/false, "import",
                                       operation_context());
  if (!record.ok()) return fail(record.error());
  fault_point("import.committed");
  if (global.json) {
    print_json(boost::json::object{{"current", cert_to_json(*record, 0)}});
  } else {
    std::cout << "imported " << record->fingerprint << " (" << record->algorithm
              << ") from " << pfx_path << ", now current, not exportable" << std::endl;
  }
  return kExitOk;
}

}  // namespace

void add_import_command(CLI::App& root, GlobalOptions& global) {
  auto args = std::make_shared<ImportArgs>();
  CLI::App* cmd = root.add_subcommand(
      "import", "import a PKCS#12 file as the current certificate, not exportable (classic: -ine PASSWORD PFX)");
  cmd->add_option("PASSWORD PFX", args->positionals,
                  "PFX password (prefer --password-file) and file (default OfcNTCer.pfx)");
  add_password_options(*cmd, args->password);
  cmd->callback([args, &global] { global.exit_code = run_import(*args, global); });
}

}  // namespace ck::cli
