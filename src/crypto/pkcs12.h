// PKCS#12 (.pfx) read and write.
// Read: OpenSSL 3 defaults (PBES2/AES) and legacy files (RC2/3DES, as Windows and
// `openssl pkcs12 -export -legacy` write them) — the legacy provider is loaded once.
// The file chooses its own key-derivation costs, so they are checked (without running
// any KDF) before OpenSSL spends them: at most kMaxPkcs12Iterations per derivation and
// kMaxPkcs12TotalIterations for the whole file.
// Write: the key bag PBES2 with AES-256-CBC and PBKDF2-HMAC-SHA256, the MAC SHA-256,
// both at kPkcs12Iterations (OWASP 2023 for PBKDF2-SHA256), because a backup ZIP may
// leak and then every guess of its password should cost that much. The certificate bag
// is not encrypted: the certificate is public, and a second encryption under the same
// password would only add a derivation (or, cheaper, a faster password oracle).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "crypto/key.h"
#include "crypto/x509.h"

namespace ck::crypto {

inline constexpr int kPkcs12Iterations = 600'000;
inline constexpr int64_t kMaxPkcs12Iterations = 10'000'000;
inline constexpr int64_t kMaxPkcs12TotalIterations = 20'000'000;

struct Pkcs12Contents {
  PrivateKey key;
  Certificate certificate;
};

// Parses a PFX. Errors: kInvalidArgument (not PKCS#12, truncated, no key, no certificate,
// key does not match certificate, key derivation too costly), kCrypto (wrong password).
Result<Pkcs12Contents> read_pkcs12(std::string_view data, std::string_view password);

Result<std::string> write_pkcs12(const PrivateKey& key, const Certificate& cert,
                                 std::string_view password, std::string_view friendly_name);

// Loads the "legacy" provider next to "default" (idempotent, thread-safe).
void load_legacy_provider();

}  // namespace ck::crypto
