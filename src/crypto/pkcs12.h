// PKCS#12 (.pfx) read and write.
// Read: OpenSSL 3 defaults (PBES2/AES) and legacy files (RC2/3DES, as Windows and
// `openssl pkcs12 -export -legacy` write them) — the legacy provider is loaded once.
// Write: PBES2 with AES-256-CBC, PBKDF2-SHA256, SHA-256 MAC.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "crypto/key.h"
#include "crypto/x509.h"

namespace ck::crypto {

struct Pkcs12Contents {
  PrivateKey key;
  Certificate certificate;
};

// Parses a PFX. Errors: kInvalidArgument (not PKCS#12, truncated, no key, no certificate,
// key does not match certificate), kCrypto (wrong password).
Result<Pkcs12Contents> read_pkcs12(std::string_view data, std::string_view password);

Result<std::string> write_pkcs12(const PrivateKey& key, const Certificate& cert,
                                 std::string_view password, std::string_view friendly_name);

// Loads the "legacy" provider next to "default" (idempotent, thread-safe).
void load_legacy_provider();

}  // namespace ck::crypto
