// Reading backups (restore and verify-backup). Decodes and checks everything before
// anything touches a store:
//  - the ZIP itself (see zip_reader.h: structure, names, symlinks, sizes, decryption);
//  - with manifest.json: every listed certificate parses and has the listed fingerprint,
//    times and algorithm; every certificate with has_key has its <fingerprint>.pfx, which
//    decrypts with the same password and holds that certificate and its matching key;
//    no PFX is missing or unlisted; exactly one current certificate; every rotation
//    statement links listed certificates and its two signatures verify, and the
//    generations agree with the signed ones (the current certificate's is the highest);
//  - a manifest under ZipCrypto (not authenticated) counts only where PFX files back it:
//    certificates listed without a PFX are ignored (revoked ones kept), and so are the
//    rotation statements that link them; each such decision is a Backup::warnings line,
//    after one saying the archive uses ZipCrypto;
//  - without manifest (a ZIP of PFX files made by other tools): only .pfx/.p12 entries,
//    each readable with the password; the one with the latest notBefore becomes current
//    (generation 1), the others retired.
// Any disagreement is an error; duplicate certificates are errors.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "archive/backup.h"
#include "common/paths/path_access.h"
#include "common/result.h"

namespace ck::archive {

Result<Backup> decode_backup(std::string_view archive, const std::string& password);

// Reads at most limits.h's kMaxArchiveBytes from `where` (local, share or mapped drive)
// and decodes it; errors are prefixed with the path.
Result<Backup> read_backup_file(paths::PathAccess& files, const paths::Location& where, const std::string& password);

// kConflict unless the backup can become a working store: a current certificate whose
// private key is in the archive and which is not revoked.
Status check_restorable(const Backup& backup);

}  // namespace ck::archive
