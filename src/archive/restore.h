// Restoring a decoded backup into a store: in ONE write transaction, every certificate
// of the store is replaced by those of the backup (status, generation, keys with the
// requested exportability), the rotation statements are restored and an audit entry
// is appended. Nothing changes when any step fails. Thread-safe as the store is.
#pragma once

#include <string>

#include "archive/backup.h"
#include "common/result.h"
#include "store/cert_operations.h"
#include "store/cert_store.h"

namespace ck::archive {

struct RestoreSummary {
  std::string current;  // fingerprint of the current certificate
  size_t certificates = 0;
  size_t with_key = 0;
  size_t rotations = 0;
  size_t replaced = 0;              // certificates the store held before
  int64_t previous_generation = 0;  // the store's generation before the restore
  int64_t generation = 0;           // the store's generation after it
};

// `exportable`: whether restored private keys may leave the store again (-r) or not (-re).
// `source` names the archive in the audit entry. Refuses (check_restorable) backups
// without a usable current certificate.
Result<RestoreSummary> restore_backup(store::CertStore& store, const Backup& backup,
                                      bool exportable, const std::string& source,
                                      const store::Context& ctx);

}  // namespace ck::archive
