#include "archive/backup_reader.h"

#include <zip.h>

#include <algorithm>
#include <map>
#include <set>

#include "archive/limits.h"
#include "archive/manifest.h"
#include "archive/zip_reader.h"
#include "common/file_util.h"
#include "crypto/pkcs12.h"
#include "crypto/rotation_statement.h"

namespace ck::archive {
namespace {

Error disagrees(const std::string& what) {
  return make_error(ErrorKind::kCorrupt, "the manifest disagrees with the archive: " + what);
}

Result<crypto::Pkcs12Contents> open_pfx(const std::string& name, const std::string& data,
                                        const std::string& password) {
  auto contents = crypto::read_pkcs12(data, password);
  if (!contents.ok()) {
    if (contents.error().kind == ErrorKind::kCrypto)
      return make_error(ErrorKind::kCrypto, name + ": wrong password for the PKCS#12 file");
    return contents.error().with_context(name);
  }
  if (!contents->certificate.matches(contents->key))
    return make_error(ErrorKind::kInvalidArgument,
                      name + ": the private key does not match the certificate");
  return contents;
}

Result<BackupCertificate> decode_listed(const ManifestCertificate& m,
                                        std::map<std::string, const ZipEntry*>& unclaimed,
                                        const std::string& password) {
  auto cert = crypto::Certificate::parse(m.certificate_pem);
  if (!cert.ok()) return disagrees("the certificate of " + m.fingerprint + " does not parse");
  if (cert->fingerprint() != m.fingerprint)
    return disagrees("the certificate listed as " + m.fingerprint + " has fingerprint " +
                     cert->fingerprint());
  if (cert->not_before() != m.not_before || cert->not_after() != m.not_after ||
      m.algorithm != crypto::algorithm_name(cert->algorithm()))
    return disagrees("the validity or algorithm of " + m.fingerprint +
                     " differs from its certificate");
  BackupCertificate out{*cert, m.status, m.exportable, m.generation, m.created_at, std::nullopt};
  if (m.has_key) {
    auto it = unclaimed.find(*m.file);
    if (it == unclaimed.end()) return disagrees(*m.file + " is listed but missing");
    CK_ASSIGN_OR_RETURN(auto pfx, open_pfx(*m.file, it->second->data, password));
    if (pfx.certificate.fingerprint() != m.fingerprint)
      return disagrees(*m.file + " holds certificate " + pfx.certificate.fingerprint());
    if (pfx.certificate.der() != cert->der())
      return disagrees(*m.file + " holds a different certificate for the same key");
    out.key = std::move(pfx.key);
    unclaimed.erase(it);
  }
  return out;
}

// The signed rotation statements fix part of the history; the manifest must agree:
// each link's new certificate has the link's generation, its old one an earlier
// generation, and the current certificate the highest generation of all but the revoked
// (a restore keeps the store's revoked certificates, with their generations, beside an
// older backup's).
Status check_generations(const Backup& backup,
                         const std::map<std::string, const BackupCertificate*>& by_fp) {
  const BackupCertificate* current = backup.current();
  for (const auto& c : backup.certificates)
    if (current && c.status != store::CertStatus::kRevoked &&
        c.generation > current->generation)
      return disagrees("certificate " + c.certificate.fingerprint() + " has generation " +
                       std::to_string(c.generation) + ", above the current one's");
  for (const auto& r : backup.rotations) {
    if (by_fp.at(r.to_fingerprint)->generation != r.generation ||
        by_fp.at(r.from_fingerprint)->generation >= r.generation)
      return disagrees("the generations of " + r.from_fingerprint + " and " + r.to_fingerprint +
                       " contradict their signed rotation statement " +
                       std::to_string(r.generation));
  }
  return ok_status();
}

Status check_chain(const Backup& backup) {
  std::map<std::string, const BackupCertificate*> by_fp;
  std::set<int64_t> generations;
  for (const auto& c : backup.certificates) {
    by_fp[c.certificate.fingerprint()] = &c;
    // Revoked ones may share one: a restore keeps the store's beside a backup's.
    if (c.generation > 0 && c.status != store::CertStatus::kRevoked &&
        !generations.insert(c.generation).second)
      return disagrees("two certificates have generation " + std::to_string(c.generation));
    if (c.generation > backup.store_generation)
      return disagrees("certificate generation " + std::to_string(c.generation) +
                       " exceeds the store's");
  }
  for (const auto& r : backup.rotations) {
    const std::string where = "rotation statement " + std::to_string(r.generation);
    auto from = by_fp.find(r.from_fingerprint);
    auto to = by_fp.find(r.to_fingerprint);
    if (from == by_fp.end() || to == by_fp.end())
      return disagrees(where + " links an unlisted certificate");
    if (r.generation < 1 || r.generation > backup.store_generation)
      return disagrees(where + " has an impossible generation");
    auto verified = crypto::verify_rotation(
        r.by_old, r.by_new, from->second->certificate.public_key(), r.generation - 1);
    if (!verified.ok()) return disagrees(where + " does not verify: " + verified.error().message);
    if (verified->to != r.to_fingerprint || verified->from != r.from_fingerprint ||
        verified->generation != r.generation)
      return disagrees(where + " says something else than its signed payload");
  }
  return check_generations(backup, by_fp);
}

bool is_aes(uint16_t encryption_method) {
  return encryption_method == ZIP_EM_AES_128 || encryption_method == ZIP_EM_AES_192 ||
         encryption_method == ZIP_EM_AES_256;
}

// A manifest under ZipCrypto is not authenticated (its keys can be recovered from known
// plaintext without the password, and CRC-32 is no MAC), while every PFX is (its MAC
// needs the password). So only what a PFX backs is kept: a certificate listed without
// its PFX is dropped, except a revoked one (a revocation can only take trust away), and
// so is a rotation statement linking a dropped certificate. Status and generation of
// the kept ones still have to agree with the signed rotation statements (check_chain).
void keep_only_what_pfx_files_back(Manifest& manifest, std::vector<std::string>& warnings) {
  std::set<std::string> kept;
  std::vector<ManifestCertificate> certificates;
  for (auto& m : manifest.certificates) {
    if (!m.has_key && m.status != store::CertStatus::kRevoked) {
      warnings.push_back("ignored " + m.fingerprint + " (" + store::status_name(m.status) +
                         "): only the unauthenticated manifest lists it, no PFX file backs it");
      continue;
    }
    kept.insert(m.fingerprint);
    certificates.push_back(std::move(m));
  }
  manifest.certificates = std::move(certificates);
  std::vector<store::RotationRecord> rotations;
  for (auto& r : manifest.rotations) {
    if (kept.count(r.from_fingerprint) && kept.count(r.to_fingerprint)) {
      rotations.push_back(std::move(r));
    } else {
      warnings.push_back("ignored rotation statement " + std::to_string(r.generation) +
                         ": it links a certificate no PFX file backs");
    }
  }
  manifest.rotations = std::move(rotations);
}

Result<Backup> decode_with_manifest(const ZipEntry& manifest_entry,
                                    const std::vector<ZipEntry>& entries,
                                    const std::string& password) {
  CK_ASSIGN_OR_RETURN(Manifest manifest, parse_manifest(manifest_entry.data));
  std::map<std::string, const ZipEntry*> unclaimed;
  for (const auto& e : entries)
    if (e.name != kManifestName) unclaimed[e.name] = &e;
  Backup backup;
  if (!is_aes(manifest_entry.encryption_method))
    keep_only_what_pfx_files_back(manifest, backup.warnings);
  backup.format_version = manifest.format_version;
  backup.created = manifest.created;
  backup.store_generation = manifest.store_generation;
  backup.rotations = manifest.rotations;
  std::sort(backup.rotations.begin(), backup.rotations.end(),
            [](const auto& a, const auto& b) { return a.generation < b.generation; });
  if (manifest.certificates.empty()) return disagrees("it lists no certificates");
  int current = 0;
  for (const auto& m : manifest.certificates) {
    CK_ASSIGN_OR_RETURN(BackupCertificate c, decode_listed(m, unclaimed, password));
    if (c.status == store::CertStatus::kCurrent) ++current;
    backup.certificates.push_back(std::move(c));
  }
  if (!unclaimed.empty())
    return disagrees(unclaimed.begin()->first + " is in the archive but not listed");
  if (current != 1) return disagrees(std::to_string(current) + " certificates are marked current");
  CK_RETURN_IF_ERROR(check_chain(backup));
  return backup;
}

bool has_pfx_extension(const std::string& name) {
  if (name.size() < 5) return false;
  std::string ext = name.substr(name.size() - 4);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".pfx" || ext == ".p12";
}

Result<Backup> decode_pfx_only(const std::vector<ZipEntry>& entries, const std::string& password) {
  Backup backup;
  backup.format_version = 0;
  std::map<std::string, std::string> seen;  // fingerprint -> entry
  for (const auto& e : entries) {
    if (!has_pfx_extension(e.name))
      return make_error(ErrorKind::kInvalidArgument,
                        "unexpected entry \"" + e.name +
                            "\" (an archive without manifest.json may hold only .pfx files)");
    CK_ASSIGN_OR_RETURN(auto pfx, open_pfx(e.name, e.data, password));
    const std::string fp = pfx.certificate.fingerprint();
    auto [it, fresh] = seen.emplace(fp, e.name);
    if (!fresh)
      return make_error(ErrorKind::kInvalidArgument,
                        "duplicate certificate " + fp + " in " + it->second + " and " + e.name);
    backup.certificates.push_back(BackupCertificate{std::move(pfx.certificate),
                                                    store::CertStatus::kRetired,
                                                    /*exportable=*/true, 0, 0, std::move(pfx.key)});
  }
  // The newest certificate (latest notBefore; then latest notAfter) becomes current.
  auto newest = std::max_element(backup.certificates.begin(), backup.certificates.end(),
                                 [](const BackupCertificate& a, const BackupCertificate& b) {
                                   const auto& x = a.certificate;
                                   const auto& y = b.certificate;
                                   if (x.not_before() != y.not_before())
                                     return x.not_before() < y.not_before();
                                   if (x.not_after() != y.not_after())
                                     return x.not_after() < y.not_after();
                                   return x.fingerprint() < y.fingerprint();
                                 });
  newest->status = store::CertStatus::kCurrent;
  newest->generation = 1;
  backup.store_generation = 1;
  return backup;
}

}  // namespace

Result<Backup> decode_backup(std::string_view archive, const std::string& password) {
  CK_ASSIGN_OR_RETURN(std::vector<ZipEntry> entries, read_zip_entries(archive, password));
  const bool zipcrypto = std::any_of(entries.begin(), entries.end(), [](const ZipEntry& e) {
    return !is_aes(e.encryption_method);
  });
  auto manifest = std::find_if(entries.begin(), entries.end(),
                               [](const ZipEntry& e) { return e.name == kManifestName; });
  auto backup = manifest != entries.end() ? decode_with_manifest(*manifest, entries, password)
                                          : decode_pfx_only(entries, password);
  if (backup.ok() && zipcrypto) {
    backup->warnings.insert(
        backup->warnings.begin(),
        "the archive uses ZipCrypto (legacy ZIP encryption, e.g. 7-Zip's default), which "
        "neither hides nor authenticates its contents: its integrity rests on the PFX files "
        "alone, and only what they confirm is restored");
  }
  return backup;
}

Result<Backup> read_backup_file(paths::PathAccess& files, const paths::Location& where, const std::string& password) {
  auto data = files.read(where, kMaxArchiveBytes);
  if (!data.ok()) return data.error();
  auto backup = decode_backup(*data, password);
  if (!backup.ok()) return backup.error().with_context(where.given);
  return backup;
}

Status check_restorable(const Backup& backup) {
  const BackupCertificate* current = backup.current();
  if (!current) return make_error(ErrorKind::kConflict, "the backup has no current certificate");
  if (current->status == store::CertStatus::kRevoked)
    return make_error(ErrorKind::kConflict, "the backup's current certificate is revoked");
  if (!current->key)
    return make_error(
        ErrorKind::kConflict,
        "the backup holds no private key for its current certificate " +
            current->certificate.fingerprint() +
            " (it was not exportable); restoring it would leave a store that cannot sign");
  return ok_status();
}

}  // namespace ck::archive
