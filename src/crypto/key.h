// Key pairs and public keys (OpenSSL EVP_PKEY under RAII).
// Identity of a key = SHA-256 of its DER SubjectPublicKeyInfo, lowercase hex.
// Objects are immutable after construction and safe to share across threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "crypto/ossl_ptr.h"

namespace ck::crypto {

enum class Algorithm { kEcdsaP256, kEd25519, kRsa3072 };

// "ecdsa-p256" | "ed25519" | "rsa-3072".
const char* algorithm_name(Algorithm alg);
Result<Algorithm> parse_algorithm(std::string_view name);

class PublicKey {
 public:
  explicit PublicKey(ossl::PkeyPtr pkey);

  static Result<PublicKey> from_spki_der(std::string_view der);

  Algorithm algorithm() const { return algorithm_; }
  const std::string& spki_der() const { return spki_der_; }
  // SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex (64 characters).
  const std::string& fingerprint() const { return fingerprint_; }
  EVP_PKEY* get() const { return pkey_.get(); }

 private:
  std::shared_ptr<EVP_PKEY> pkey_;
  Algorithm algorithm_;
  std::string spki_der_;
  std::string fingerprint_;
};

class PrivateKey {
 public:
  static Result<PrivateKey> generate(Algorithm alg);
  // Unencrypted PKCS#8 DER.
  static Result<PrivateKey> from_pkcs8_der(std::string_view der);
  // Encrypted PKCS#8 (PBES2, AES-256-CBC, PBKDF2) DER, decrypted with `passphrase`.
  static Result<PrivateKey> from_encrypted_pkcs8_der(std::string_view der,
                                                     std::string_view passphrase);
  // Wraps a key that OpenSSL handed us (e.g. from PKCS#12); fails for unsupported types.
  static Result<PrivateKey> adopt(ossl::PkeyPtr pkey);

  // Unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), for keys that live in a
  // 0600 file of their own (TLS identities); errors: kInvalidArgument (not such a PEM).
  static Result<PrivateKey> from_pem(std::string_view pem);

  // Encrypted PKCS#8 DER (PBES2 with AES-256-CBC). The signing keys' export form besides PKCS#12.
  Result<std::string> to_encrypted_pkcs8_der(std::string_view passphrase) const;
  // Unencrypted PKCS#8 PEM (TLS identity keys only: never an authentication key).
  Result<std::string> to_pkcs8_pem() const;

  Algorithm algorithm() const { return public_key_.algorithm(); }
  const PublicKey& public_key() const { return public_key_; }
  const std::string& fingerprint() const { return public_key_.fingerprint(); }
  EVP_PKEY* get() const { return pkey_.get(); }

 private:
  PrivateKey(std::shared_ptr<EVP_PKEY> pkey, PublicKey pub)
      : pkey_(std::move(pkey)), public_key_(std::move(pub)) {}
  std::shared_ptr<EVP_PKEY> pkey_;
  PublicKey public_key_;
};

// The algorithm of a key OpenSSL holds, if it is one we use: P-256 (named curve), Ed25519, or
// RSA of at least 2048 bits with public exponent 65537.
std::optional<Algorithm> algorithm_of(const EVP_PKEY* pkey);

// Computes the fingerprint of a key.
Result<std::string> fingerprint_of(const EVP_PKEY* pkey);

}  // namespace ck::crypto
