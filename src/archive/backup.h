// What a backup holds, decoded: every certificate of a store with its status,
// generation and (when it was exportable) its private key, plus the rotation chain.
// Value types; immutable once built, safe to share across threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/key.h"
#include "crypto/x509.h"
#include "store/cert_store.h"

namespace ck::archive {

struct BackupCertificate {
  crypto::Certificate certificate;
  store::CertStatus status = store::CertStatus::kRetired;
  bool exportable = false;  // in the store the backup was taken from
  int64_t generation = 0;   // 0: never current
  int64_t created_at = 0;
  std::optional<crypto::PrivateKey> key;  // absent when the key was not exportable
  bool key_in_store = false;  // snapshot_store only: the source store holds a key for it
};

struct Backup {
  // kManifestFormatVersion, or 0 for a ZIP of PFX files made by other tools.
  int format_version = 0;
  int64_t created = 0;
  int64_t store_generation = 0;
  std::vector<BackupCertificate> certificates;   // the current one among them
  std::vector<store::RotationRecord> rotations;  // by generation ascending
  // One line each, for the administrator (decode_backup: e.g. a ZipCrypto archive).
  std::vector<std::string> warnings;

  const BackupCertificate* current() const {
    for (const auto& c : certificates)
      if (c.status == store::CertStatus::kCurrent) return &c;
    return nullptr;
  }
};

}  // namespace ck::archive
