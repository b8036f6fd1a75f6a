// The backup that `certmgr -c` writes after the new certificate became current.
#pragma once

#include <string>

#include "common/result.h"
#include "store/cert_store.h"

namespace ck::cli {

// Writes a backup of the whole store protected by `password` into the store's backup
// folder and returns its path. kUnavailable when this build cannot write backups.
Result<std::string> write_generate_backup(store::CertStore& store, const std::string& password);

}  // namespace ck::cli
