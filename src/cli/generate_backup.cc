// The backup `certmgr -c` writes once the new certificate is current and committed.
// If it cannot be written, the certificate stays (it is committed, current and its
// key is in the store, so nothing is lost) and generate exits 1 with the reason, so
// the administrator can run `certmgr backup` once the cause is fixed.
#include "cli/generate_backup.h"

#include "archive/backup_writer.h"
#include "cli/cli_support.h"
#include "common/clock.h"

namespace ck::cli {

Result<std::string> write_generate_backup(GlobalOptions& global, store::CertStore& store,
                                          const std::string& password) {
  CK_ASSIGN_OR_RETURN(archive::Backup backup, archive::snapshot_store(store, system_clock().now()));
  if (!backup.current())
    return make_error(ErrorKind::kInternal, "the store has no current certificate");
  CK_ASSIGN_OR_RETURN(paths::Location folder, backup_folder(global, store));
  CK_ASSIGN_OR_RETURN(paths::PathAccess * files, path_access(global));
  return archive::write_backup_to_folder(*files, backup, password, folder, store.location());
}

}  // namespace ck::cli
