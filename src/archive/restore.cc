#include "archive/restore.h"

#include <algorithm>
#include <map>

#include "archive/backup_reader.h"

namespace ck::archive {

namespace {

Error revoked_here(const std::string& fingerprint) {
  return make_error(ErrorKind::kConflict,
                    "the backup's current certificate " + fingerprint +
                        " is revoked in this store and can never become current again; restore "
                        "a newer backup or generate a new certificate");
}

}  // namespace

Status check_not_revoked_in(store::CertStore& store, const Backup& backup) {
  const BackupCertificate* current = backup.current();
  if (!current) return ok_status();
  const std::string fp = current->certificate.fingerprint();
  return store.read([&](store::CertTxn& txn) -> Status {
    CK_ASSIGN_OR_RETURN(auto record, txn.find(fp));
    if (record && record->status == store::CertStatus::kRevoked) return revoked_here(fp);
    return ok_status();
  });
}

int64_t history_less_generation(int64_t store_generation, int64_t now) {
  return std::max(store_generation + 1, now);
}

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
    if (revoked.count(summary.current)) return revoked_here(summary.current);
    CK_RETURN_IF_ERROR(txn.delete_all_certificates());
    std::string fingerprints;
    for (const auto& c : backup.certificates) {
      int64_t generation = c.generation;
      if (backup.format_version == 0 && c.status == store::CertStatus::kCurrent)
        generation = history_less_generation(old_generation, now);
      const bool was_revoked = revoked.erase(c.certificate.fingerprint()) > 0;
      const store::CertStatus status = was_revoked ? store::CertStatus::kRevoked : c.status;
      // A revoked key is never restored, whatever the backup holds.
      const crypto::PrivateKey* key =
          status == store::CertStatus::kRevoked || !c.key ? nullptr : &*c.key;
      store::CertRecord record =
          store::record_for(c.certificate, status, exportable && key, generation, now);
      record.has_private_key = key != nullptr;
      if (c.created_at > 0) record.created_at = c.created_at;
      CK_RETURN_IF_ERROR(txn.insert(record, key));
      summary.generation = std::max(summary.generation, generation);
      ++summary.certificates;
      if (key) ++summary.with_key;
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
