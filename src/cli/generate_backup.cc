// The backup `certmgr -c` writes once the new certificate is current and committed.
// If it cannot be written, the certificate stays (it is committed, current and its
// key is in the store, so nothing is lost) and generate exits 1 with the reason, so
// the administrator can run `certmgr backup` once the cause is fixed.
#include "cli/generate_backup.h"

#include <ctime>

#include "archive/backup_writer.h"
#include "common/clock.h"
#include "common/file_util.h"

namespace ck::cli {
namespace {

// certkeeper-20261125T084500Z-0123456789ab.zip
std::string backup_file_name(int64_t now, const std::string& current_fp) {
  std::time_t t = static_cast<std::time_t>(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  return std::string("certkeeper-") + stamp + "-" + current_fp.substr(0, 12) + ".zip";
}

}  // namespace

Result<std::string> write_generate_backup(store::CertStore& store, const std::string& password) {
  const int64_t now = system_clock().now();
  CK_ASSIGN_OR_RETURN(archive::Backup backup, archive::snapshot_store(store, now));
  const archive::BackupCertificate* current = backup.current();
  if (!current) return make_error(ErrorKind::kInternal, "the store has no current certificate");
  CK_ASSIGN_OR_RETURN(std::string bytes, archive::encode_backup(backup, password));
  const std::string dir = store.backup_dir();
  Status made = ensure_directory(dir, 0700);
  if (!made.ok()) return made.error();
  const std::string path = dir + "/" + backup_file_name(now, current->certificate.fingerprint());
  CK_RETURN_IF_ERROR(archive::write_backup_file(path, bytes, store.location()));
  return path;
}

}  // namespace ck::cli
