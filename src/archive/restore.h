// Restoring a decoded backup into a store: in ONE write transaction, every certificate
// of the store is replaced by those of the backup (status, generation, keys with the
// requested exportability), the rotation statements are restored and an audit entry
// is appended. Nothing changes when any step fails. Thread-safe as the store is.
//
// Revocation outlives any backup: a certificate revoked in the store stays revoked (and
// key-less) whatever the backup says, and no revoked certificate is restored with a key.
//
// Generations of a ZIP of PFX files (no manifest, so no history): agents that pin the
// restored key may hold any generation the key's original store reached, and they
// accept a rotation only with a higher one. The store's count is unknown to us, so the
// restored current certificate gets max(this store's generation + 1, the Unix time in
// seconds). Stores count 1, 2, 3, ... from far below today's time, and a store whose
// count started at a clock value stays below the clock as long as it rotates less than
// once a second on average, so the next rotation is never a rollback for any agent.
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
// The generation a history-less (PFX-only) restore gives its current certificate.
int64_t history_less_generation(int64_t store_generation, int64_t now);

// kConflict when the backup's current certificate is revoked in `store` (restore_backup
// refuses it again inside its transaction); lets a caller refuse before writing anything.
Status check_not_revoked_in(store::CertStore& store, const Backup& backup);

Result<RestoreSummary> restore_backup(store::CertStore& store, const Backup& backup,
                                      bool exportable, const std::string& source,
                                      const store::Context& ctx);

}  // namespace ck::archive
