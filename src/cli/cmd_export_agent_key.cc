// certmgr export-agent-key PATH  (classic: -e PATH)
// Writes the current certificate as the agents' key file OfcNTCer.dat (PEM),
// atomically. PATH may be a folder (OfcNTCer.dat is written inside) or a file, local,
// on a share or on a mapped drive.
#include <iostream>

#include "archive/store_files.h"
#include "cli/cli_support.h"

namespace ck::cli {
namespace {

constexpr const char* kAgentKeyFile = "OfcNTCer.dat";

int run_export(const std::string& path_arg, GlobalOptions& global) {
  auto store = open_store(global, /*for_write=*/false);
  if (!store.ok()) return fail(store.error());
  std::optional<store::CertRecord> current;
  Status s = (*store)->read([&](store::CertTxn& t) -> Status {
    CK_ASSIGN_OR_RETURN(current, t.current());
    return ok_status();
  });
  if (!s.ok()) return fail(s.error());
  if (!current) return fail(make_error(ErrorKind::kNotFound, "the store has no current certificate (run certmgr -c)"));
  auto target = resolve_path(global, path_arg);
  if (!target.ok()) return fail(target.error());
  auto files = path_access(global);
  if (!files.ok()) return fail(files.error());
  auto is_folder = (*files)->is_directory(*target);
  if (!is_folder.ok()) return fail(is_folder.error());
  if (*is_folder) *target = target->child(kAgentKeyFile);
  // Never let an export replace the store's own database or key-encryption key.
  if (Status own = archive::refuse_store_file(*target, (*store)->location(), "write"); !own.ok())
    return fail(own.error());
  Status w = (*files)->write(*target, current->cert_pem, 0644);
  if (!w.ok()) return fail(w.error());
  const std::string& path = target->given;
  if (global.json) {
    print_json(boost::json::object{{"path", path}, {"fingerprint", current->fingerprint}});
  } else {
    std::cout << "wrote " << path << " (certificate " << current->fingerprint << ")" << std::endl;
  }
  return kExitOk;
}

}  // namespace

void add_export_agent_key_command(CLI::App& root, GlobalOptions& global) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = root.add_subcommand(
      "export-agent-key", "write the current certificate as the agents' OfcNTCer.dat (classic: -e PATH)");
  cmd->add_option("PATH", *path, "file to write, or a folder to write OfcNTCer.dat into")->required();
  cmd->callback([path, &global] { global.exit_code = run_export(*path, global); });
}

}  // namespace ck::cli
