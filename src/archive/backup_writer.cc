#include "archive/backup_writer.h"

#include <ctime>

#include "archive/manifest.h"
#include "archive/store_files.h"
#include "archive/zip_writer.h"
#include "common/file_util.h"
#include "crypto/pkcs12.h"

namespace ck::archive {

Result<Backup> snapshot_store(store::CertStore& store, int64_t now) {
  Backup backup;
  backup.format_version = kManifestFormatVersion;
  backup.created = now;
  Status s = store.read([&](store::CertTxn& txn) -> Status {
    CK_ASSIGN_OR_RETURN(auto records, txn.list());
    for (const auto& r : records) {
      CK_ASSIGN_OR_RETURN(auto cert, crypto::Certificate::parse(r.cert_pem));
      if (cert.fingerprint() != r.fingerprint)
        return make_error(ErrorKind::kCorrupt,
                          "stored certificate " + r.fingerprint + " has another key");
      BackupCertificate c{std::move(cert), r.status,     r.exportable,
                          r.generation,    r.created_at, std::nullopt};
      // Only exportable keys leave the store, and never a revoked one (revoke erases
      // keys; a store revoked by an older version may still hold one).
      c.key_in_store = r.has_private_key;
      if (r.exportable && r.has_private_key && r.status != store::CertStatus::kRevoked) {
        CK_ASSIGN_OR_RETURN(c.key, txn.private_key(r.fingerprint));
      }
      backup.certificates.push_back(std::move(c));
    }
    CK_ASSIGN_OR_RETURN(backup.rotations, txn.rotations());
    CK_ASSIGN_OR_RETURN(backup.store_generation, txn.max_generation());
    return ok_status();
  });
  if (!s.ok()) return s.error();
  if (backup.certificates.empty())
    return make_error(ErrorKind::kNotFound, "the store holds no certificates; nothing to back up");
  return backup;
}

std::vector<std::string> certificates_without_key(const Backup& backup) {
  std::vector<std::string> out;
  for (const auto& c : backup.certificates)
    if (!c.key) out.push_back(c.certificate.fingerprint());
  return out;
}

Result<std::string> encode_backup(const Backup& backup, const std::string& password,
                                  const std::function<void(size_t, size_t)>& on_certificate) {
  Manifest manifest;
  manifest.created = backup.created;
  manifest.store_generation = backup.store_generation;
  manifest.rotations = backup.rotations;
  CK_ASSIGN_OR_RETURN(ZipWriter zip, ZipWriter::create(password, backup.created));
  std::vector<std::pair<std::string, std::string>> pfx_files;
  for (const auto& c : backup.certificates) {
    const crypto::Certificate& cert = c.certificate;
    ManifestCertificate m;
    m.fingerprint = cert.fingerprint();
    m.algorithm = crypto::algorithm_name(cert.algorithm());
    m.subject = cert.subject();
    m.status = c.status;
    m.exportable = c.exportable;
    m.generation = c.generation;
    m.created_at = c.created_at;
    m.not_before = cert.not_before();
    m.not_after = cert.not_after();
    m.certificate_pem = cert.pem();
    m.has_key = c.key.has_value();
    if (c.key) {
      if (!cert.matches(*c.key))
        return make_error(ErrorKind::kCorrupt,
                          "the key of " + m.fingerprint + " does not match its certificate");
      m.file = pfx_entry_name(m.fingerprint);
      CK_ASSIGN_OR_RETURN(std::string pfx,
                          crypto::write_pkcs12(*c.key, cert, password,
                                               "certkeeper " + m.fingerprint.substr(0, 12)));
      pfx_files.emplace_back(*m.file, std::move(pfx));
    }
    manifest.certificates.push_back(std::move(m));
    if (on_certificate) on_certificate(manifest.certificates.size(), backup.certificates.size());
  }
  CK_RETURN_IF_ERROR(zip.add(kManifestName, serialize_manifest(manifest)));
  for (auto& [name, data] : pfx_files) CK_RETURN_IF_ERROR(zip.add(name, std::move(data)));
  return zip.finish();
}

Status write_backup_file(paths::PathAccess& files, const paths::Location& where, const std::string& archive,
                         const std::string& store_location) {
  CK_RETURN_IF_ERROR(refuse_store_file(where, store_location, "write the backup to"));
  Status s = files.write(where, archive, 0600);
  if (!s.ok()) return s.error().with_context("cannot write the backup");
  return ok_status();
}

Result<std::string> write_backup_to_folder(paths::PathAccess& files, const Backup& backup,
                                           const std::string& password, const paths::Location& dir,
                                           const std::string& store_location, const std::string& tag) {
  const BackupCertificate* current = backup.current();
  const std::string fp = current ? current->certificate.fingerprint() : std::string("none");
  CK_ASSIGN_OR_RETURN(std::string bytes, encode_backup(backup, password));
  CK_RETURN_IF_ERROR(files.ensure_directory(dir, 0700));
  std::time_t t = static_cast<std::time_t>(backup.created);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  const paths::Location where =
      dir.child("certkeeper-" + std::string(stamp) + (tag.empty() ? "" : "-" + tag) + "-" + fp.substr(0, 12) + ".zip");
  CK_RETURN_IF_ERROR(write_backup_file(files, where, bytes, store_location));
  return where.given;
}

}  // namespace ck::archive
