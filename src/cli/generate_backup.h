// The backup that `certmgr -c` writes after the new certificate became current.
#pragma once

#include <string>

#include "cli/command.h"
#include "common/result.h"
#include "store/cert_store.h"

namespace ck::cli {

// Writes a backup of the whole store protected by `password` into the backup folder
// (--backup-dir, else the store's) and returns its path.
Result<std::string> write_generate_backup(GlobalOptions& global, store::CertStore& store,
                                          const std::string& password);

}  // namespace ck::cli
