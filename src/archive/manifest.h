// manifest.json of a backup archive (format version 1): what the archive holds, so
// restore can bring back statuses, generations and the rotation chain, and so a
// missing, extra or swapped PFX file is detected.
//
//   {"format":"certkeeper-backup","format_version":1,"created":RFC3339,
//    "store":{"generation":N,"certificates":K},
//    "certificates":[{"fingerprint","algorithm","subject","status","exportable",
//                     "generation","created_at","not_before","not_after","has_key",
//                     "file" (string|null),"certificate" (PEM)}…],
//    "rotations":[{"generation","from","to","by_old","by_new","created_at"}…]}
//
// Times are RFC 3339 UTC. Never holds key material. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/cert_store.h"

namespace ck::archive {

inline constexpr const char* kManifestName = "manifest.json";
inline constexpr int kManifestFormatVersion = 1;

struct ManifestCertificate {
  std::string fingerprint;
  std::string algorithm;
  std::string subject;
  store::CertStatus status = store::CertStatus::kRetired;
  bool exportable = false;
  int64_t generation = 0;
  int64_t created_at = 0;
  int64_t not_before = 0;
  int64_t not_after = 0;
  bool has_key = false;
  std::optional<std::string> file;  // "<fingerprint>.pfx" when has_key
  std::string certificate_pem;
};

struct Manifest {
  int format_version = kManifestFormatVersion;
  int64_t created = 0;
  int64_t store_generation = 0;
  std::vector<ManifestCertificate> certificates;
  std::vector<store::RotationRecord> rotations;
};

// "<fingerprint>.pfx"
std::string pfx_entry_name(const std::string& fingerprint);

std::string serialize_manifest(const Manifest& manifest);

// Strict: unknown format or version, missing or mistyped fields, malformed
// fingerprints or times, and duplicate fingerprints are kCorrupt errors.
Result<Manifest> parse_manifest(std::string_view json);

// "2026-11-25T08:45:00Z" -> Unix seconds (UTC only).
Result<int64_t> parse_rfc3339(std::string_view text);

}  // namespace ck::archive
