// The backup `certmgr -c` writes once the new certificate is current and committed.
// If it cannot be written, the certificate stays (it is committed, current and its
// key is in the store, so nothing is lost) and generate exits 1 with the reason, so
// the administrator can run `certmgr backup` once the cause is fixed.
#include "cli/generate_backup.h"

#include "archive/backup_writer.h"
#include "common/clock.h"

namespace ck::cli {

Result<std::string> write_generate_backup(store::CertStore& store, const std::string& password) {
  CK_ASSIGN_OR_RETURN(archive::Backup backup, archive::snapshot_store(store, system_clock().now()));
  if (!backup.current())
    return make_error(ErrorKind::kInternal, "the store has no current certificate");
  return archive::write_backup_to_folder(backup, password, store.backup_dir(), store.location());
}

}  // namespace ck::cli
