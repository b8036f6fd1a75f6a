#include "archive/restore.h"

#include <algorithm>
#include <map>

#include "archive/backup_reader.h"

namespace ck::archive {

Result<RestoreSummary> restore_backup(store::CertStore& store, const Backup& backup,
                                      bool exportable, const std::string& source,
                                      const store::Context& ctx) {
  CK_RETURN_IF_ERROR(check_restorable(backup));
  const int64_t now = ctx.now();
  RestoreSummary summary;
  summary.current = backup.current()->certificate.fingerprint();
  Status s = store.write([&](store::CertTxn& txn) -> Status {
    summary = RestoreSummary{summary.current};
    CK_ASSIGN_OR_RETURN(auto before, txn.list());
    CK_ASSIGN_OR_RETURN(int64_t old_generation, txn.max_generation());
    summary.replaced = before.size();
    summary.previous_generation = old_generation;
    // Revocation outlives any backup: a key revoked here stays revoked, and a backup
    // whose current key was revoked since is refused.
    std::map<std::string, store::CertRecord> revoked;
    for (const auto& r : before)
      if (r.status == store::CertStatus::kRevoked) revoked.emplace(r.fingerprint, r);
    if (revoked.count(summary.current)) {
      return make_error(ErrorKind::kConflict, "the backup's current certificate " + summary.current +
                                                  " is revoked in this store and can never become current "
                                                  "again; restore a newer backup or generate a new certificate");
    }
    CK_RETURN_IF_ERROR(txn.delete_all_certificates());
    std::string fingerprints;
    for (const auto& c : backup.certificates) {
      int64_t generation = c.generation;
      // A ZIP of foreign PFX files has no history: its current one continues this
      // store's count, so agents never see the generation go backwards.
      if (backup.format_version == 0 && c.status == store::CertStatus::kCurrent)
        generation = old_generation + 1;
      const bool was_revoked = revoked.erase(c.certificate.fingerprint()) > 0;
      store::CertRecord record = store::record_for(
          c.certificate, was_revoked ? store::CertStatus::kRevoked : c.status,
          exportable && c.key.has_value(), generation, now);
      record.has_private_key = c.key.has_value();
      if (c.created_at > 0) record.created_at = c.created_at;
      CK_RETURN_IF_ERROR(txn.insert(record, c.key ? &*c.key : nullptr));
      summary.generation = std::max(summary.generation, generation);
      ++summary.certificates;
      if (c.key) ++summary.with_key;
      if (!fingerprints.empty()) fingerprints += ' ';
      fingerprints += c.certificate.fingerprint();
    }
    // Revoked certificates the backup does not know are kept (without their keys).
    for (auto& [fp, r] : revoked) {
      r.has_private_key = false;
      r.exportable = false;
      CK_RETURN_IF_ERROR(txn.insert(r, nullptr));
    }
    for (const auto& r : backup.rotations) {
      CK_RETURN_IF_ERROR(txn.insert_rotation(r));
      ++summary.rotations;
    }
    std::string detail = "restored " + std::to_string(summary.certificates) + " certificates (" +
                         std::to_string(summary.with_key) + " with keys, " +
                         (exportable ? "exportable" : "not exportable") + ") and " +
                         std::to_string(summary.rotations) + " rotation statements from " + source +
                         "; replaced " + std::to_string(summary.replaced) + "; current " +
                         summary.current;
    return txn.append_audit(store::AuditEntry{now, ctx.actor, "restore", detail, fingerprints});
  });
  if (!s.ok()) return s.error();
  return summary;
}

}  // namespace ck::archive
