#include "store/cert_operations.h"
#include "common/fault_point.h"

#include "crypto/rotation_statement.h"

namespace ck::store {

CertRecord record_for(const crypto::Certificate& cert, CertStatus status, bool exportable,
                      int64_t generation, int64_t now) {
  CertRecord r;
  r.fingerprint = cert.fingerprint();
  r.algorithm = crypto::algorithm_name(cert.algorithm());
  r.subject = cert.subject();
  r.not_before = cert.not_before();
  r.not_after = cert.not_after();
  r.status = status;
  r.exportable = exportable;
  r.has_private_key = true;
  r.generation = generation;
  r.created_at = now;
  r.cert_pem = cert.pem();
  return r;
}

Status promote_in_txn(CertTxn& txn, const std::string& fingerprint, bool revoke_previous, int64_t now) {
  CK_ASSIGN_OR_RETURN(auto next, txn.find(fingerprint));
  if (!next) return make_error(ErrorKind::kNotFound, "no certificate " + fingerprint + " in the store");
  if (next->status == CertStatus::kRevoked) {
    return make_error(ErrorKind::kConflict,
                      "certificate " + fingerprint + " is revoked and can never become current again");
  }
  if (!next->has_private_key) {
    return make_error(ErrorKind::kConflict,
                      "certificate " + fingerprint + " has no private key in the store");
  }
  CK_ASSIGN_OR_RETURN(auto prev, txn.current());
  CK_ASSIGN_OR_RETURN(int64_t last_generation, txn.max_generation());
  const int64_t n = last_generation + 1;
  if (prev) {
    if (prev->fingerprint == fingerprint)
      return make_error(ErrorKind::kConflict, "certificate " + fingerprint + " is already current");
    CK_RETURN_IF_ERROR(txn.set_status(prev->fingerprint,
                                      revoke_previous ? CertStatus::kRevoked : CertStatus::kRetired));
    if (revoke_previous) CK_RETURN_IF_ERROR(txn.erase_private_key(prev->fingerprint));
  }
  CK_RETURN_IF_ERROR(txn.set_generation(fingerprint, n));
  CK_RETURN_IF_ERROR(txn.set_status(fingerprint, CertStatus::kCurrent));

  // A revoked key never signs anything, so a leaked predecessor gets no link.
  if (prev && !revoke_previous) {
    CK_ASSIGN_OR_RETURN(auto old_key, txn.private_key(prev->fingerprint));
    CK_ASSIGN_OR_RETURN(auto new_key, txn.private_key(fingerprint));
    if (old_key && new_key) {
      CK_ASSIGN_OR_RETURN(auto cert, crypto::Certificate::parse(next->cert_pem));
      CK_ASSIGN_OR_RETURN(auto signed_rotation, crypto::sign_rotation(*old_key, *new_key, cert, n, now));
      CK_RETURN_IF_ERROR(txn.insert_rotation(RotationRecord{n, prev->fingerprint, fingerprint,
                                                            signed_rotation.by_old,
                                                            signed_rotation.by_new, now}));
    }
  }
  return ok_status();
}

Result<CertRecord> install_current(CertStore& store, const crypto::PrivateKey& key,
                                   const crypto::Certificate& cert, bool exportable,
                                   bool revoke_previous, const std::string& action,
                                   const Context& ctx) {
  if (!cert.matches(key))
    return make_error(ErrorKind::kInvalidArgument, "the private key does not match the certificate");
  const int64_t now = ctx.now();
  CertRecord result;
  Status s = store.write([&](CertTxn& txn) -> Status {
    CK_ASSIGN_OR_RETURN(auto existing, txn.find(cert.fingerprint()));
    if (existing) {
      if (existing->status == CertStatus::kRevoked) {
        return make_error(ErrorKind::kConflict, "certificate " + cert.fingerprint() +
                                                    " is revoked and can never become current again");
      }
      return make_error(ErrorKind::kConflict, "certificate " + cert.fingerprint() +
                                                  " is already in the store (" +
                                                  status_name(existing->status) + ")");
    }
    CK_ASSIGN_OR_RETURN(auto prev, txn.current());
    CertRecord record = record_for(cert, CertStatus::kRetired, exportable, 0, now);
    CK_RETURN_IF_ERROR(txn.insert(record, &key));
    CK_RETURN_IF_ERROR(promote_in_txn(txn, cert.fingerprint(), revoke_previous, now));
    std::string fps = cert.fingerprint();
    std::string detail = action + " " + record.algorithm + (exportable ? " exportable" : " not exportable");
    if (prev) {
      fps += " " + prev->fingerprint;
      detail += revoke_previous ? "; previous revoked" : "; previous retired";
    }
    CK_RETURN_IF_ERROR(txn.append_audit(AuditEntry{now, ctx.actor, action, detail, fps}));
    CK_ASSIGN_OR_RETURN(auto stored, txn.find(cert.fingerprint()));
    result = *stored;
    return ok_status();
  });
  if (!s.ok()) return s.error();
  return result;
}

Result<CertRecord> generate_certificate(CertStore& store, const GenerateOptions& options,
                                        const Context& ctx) {
  CK_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::generate(options.algorithm));
  CK_ASSIGN_OR_RETURN(auto cert, crypto::Certificate::make_self_signed(
                                     key, crypto::kAuthenticationSubject, options.days, ctx.now()));
  fault_point("generate.key_made");
  return install_current(store, key, cert, /*exportable=*/true, options.revoke_previous, "generate", ctx);
}

Result<CertRecord> revoke_certificate(CertStore& store, const std::string& fingerprint,
                                      const Context& ctx) {
  CertRecord result;
  Status s = store.write([&](CertTxn& txn) -> Status {
    CK_ASSIGN_OR_RETURN(auto record, txn.find(fingerprint));
    if (!record) return make_error(ErrorKind::kNotFound, "no certificate " + fingerprint + " in the store");
    if (record->status == CertStatus::kCurrent) {
      return make_error(ErrorKind::kConflict,
                        "refusing to revoke the current certificate; replace it first "
                        "(certmgr generate --revoke-previous does both in one step)");
    }
    // A store revoked before keys were erased on revoke still holds the key: revoking
    // again erases it.
    if (record->status == CertStatus::kRevoked && !record->has_private_key)
      return make_error(ErrorKind::kConflict, "certificate " + fingerprint + " is already revoked");
    std::string detail = record->status == CertStatus::kRevoked
                             ? std::string("erased the private key of a revoked certificate")
                             : "revoked " + std::string(status_name(record->status)) +
                                   " certificate" +
                                   (record->has_private_key ? "; private key erased" : "");
    CK_RETURN_IF_ERROR(txn.set_status(fingerprint, CertStatus::kRevoked));
    CK_RETURN_IF_ERROR(txn.erase_private_key(fingerprint));
    CK_RETURN_IF_ERROR(
        txn.append_audit(AuditEntry{ctx.now(), ctx.actor, "revoke", detail, fingerprint}));
    CK_ASSIGN_OR_RETURN(auto stored, txn.find(fingerprint));
    result = *stored;
    return ok_status();
  });
  if (!s.ok()) return s.error();
  return result;
}

}  // namespace ck::store
