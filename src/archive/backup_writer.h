// Writing backups: take a snapshot of a store, encode it as an AES-256 ZIP
// (manifest.json + one PBES2/AES-256 PKCS#12 per certificate whose key is exportable,
// both protected by the backup password), and write it atomically.
// Functions are thread-safe; the store serializes its own transactions.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "archive/backup.h"
#include "common/paths/path_access.h"
#include "common/result.h"
#include "store/cert_store.h"

namespace ck::archive {

// Every certificate (exportable keys only), the rotation chain and the generation, in
// one read transaction. Errors: kNotFound when the store holds no certificate.
Result<Backup> snapshot_store(store::CertStore& store, int64_t now);

// Fingerprints of certificates listed without their key (not exportable or not held).
std::vector<std::string> certificates_without_key(const Backup& backup);

// The archive bytes. Every entry AES-256 encrypted with `password`. `on_certificate`, when
// set, is called after each certificate is encoded with (done, total), for progress.
Result<std::string> encode_backup(const Backup& backup, const std::string& password,
                                  const std::function<void(size_t, size_t)>& on_certificate = {});

// Writes `archive` to `where` (a local path, a share or a mapped drive) all at once:
// temporary file in the same folder, then rename; mode 0600 for a local file. Refuses
// to overwrite the store's own files (database, WAL, key file) named by
// `store_location` ("sqlite:PATH"). On failure nothing is left behind. Errors:
// kPermissionDenied (read-only folder, access denied), kIo (disk full), kConflict,
// kNotFound / kUnavailable (share or server).
Status write_backup_file(paths::PathAccess& files, const paths::Location& where, const std::string& archive,
                         const std::string& store_location);

// Encodes `backup` and writes it into the folder `dir` (created, 0700 when local, if
// missing) as certkeeper-<UTC yyyymmddThhmmssZ>[-<tag>]-<first 12 hex of the current
// fingerprint>.zip. Returns the path as the administrator would name it.
Result<std::string> write_backup_to_folder(paths::PathAccess& files, const Backup& backup,
                                           const std::string& password, const paths::Location& dir,
                                           const std::string& store_location, const std::string& tag = "");

}  // namespace ck::archive
