#include "cli/generate_backup.h"

namespace ck::cli {

Result<std::string> write_generate_backup(store::CertStore&, const std::string&) {
  // Backups arrive with the archive module (issue 3); until then -c says so.
  return make_error(ErrorKind::kUnavailable, "backup support is not built yet");
}

}  // namespace ck::cli
