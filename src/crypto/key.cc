#include "crypto/key.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include "crypto/encoding.h"
#include "crypto/openssl_error.h"

namespace ck::crypto {
namespace {

std::shared_ptr<EVP_PKEY> to_shared(ossl::PkeyPtr p) {
  return std::shared_ptr<EVP_PKEY>(p.release(), EVP_PKEY_free);
}

Result<std::string> spki_der_of(const EVP_PKEY* pkey) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey, &der);
  if (len <= 0) return openssl_error("cannot encode public key");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

// The public half of `pkey` as its own EVP_PKEY.
Result<ossl::PkeyPtr> public_half(const EVP_PKEY* pkey) {
  CK_ASSIGN_OR_RETURN(std::string der, spki_der_of(pkey));
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ossl::PkeyPtr pub(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!pub) return openssl_error("cannot decode public key");
  return pub;
}

// Every mainstream tool uses e = 65537. Anything else is refused: e = 1 makes signatures forgeable,
// and small exponents invite the textbook low-exponent attacks.
bool has_exponent_65537(const EVP_PKEY* pkey) {
  BIGNUM* e = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1) return false;
  const bool ok = BN_is_word(e, 65537);
  BN_free(e);
  return ok;
}

}  // namespace

const char* algorithm_name(Algorithm alg) {
  switch (alg) {
    case Algorithm::kEcdsaP256: return "ecdsa-p256";
    case Algorithm::kEd25519: return "ed25519";
    case Algorithm::kRsa3072: return "rsa-3072";
  }
  return "unknown";
}

Result<Algorithm> parse_algorithm(std::string_view name) {
  if (name == "ecdsa-p256") return Algorithm::kEcdsaP256;
  if (name == "ed25519") return Algorithm::kEd25519;
  if (name == "rsa-3072") return Algorithm::kRsa3072;
  return make_error(ErrorKind::kInvalidArgument,
                    "unknown algorithm '" + std::string(name) +
                        "' (expected ecdsa-p256, ed25519 or rsa-3072)");
}

std::optional<Algorithm> algorithm_of(const EVP_PKEY* pkey) {
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_ED25519: return Algorithm::kEd25519;
    case EVP_PKEY_RSA:
      // RSA from 2048 bits is accepted on import (Windows exports 2048); smaller keys
      // are too weak to sign for a fleet. "rsa-3072" names the family we generate.
      if (EVP_PKEY_get_bits(pkey) < 2048 || !has_exponent_65537(pkey)) return std::nullopt;
      return Algorithm::kRsa3072;
    case EVP_PKEY_EC: {
      char group[64] = {0};
      size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                         &len) != 1) {
        return std::nullopt;
      }
      std::string_view g(group, len);
      if (g == "prime256v1" || g == "P-256") return Algorithm::kEcdsaP256;
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

Result<std::string> fingerprint_of(const EVP_PKEY* pkey) {
  CK_ASSIGN_OR_RETURN(std::string der, spki_der_of(pkey));
  return to_hex(sha256(der));
}

PublicKey::PublicKey(ossl::PkeyPtr pkey) : algorithm_(Algorithm::kEcdsaP256) {
  auto alg = algorithm_of(pkey.get());
  if (alg) algorithm_ = *alg;
  auto der = spki_der_of(pkey.get());
  if (der.ok()) {
    spki_der_ = std::move(der).value();
    fingerprint_ = to_hex(sha256(spki_der_));
  }
  pkey_ = to_shared(std::move(pkey));
}

Result<PublicKey> PublicKey::from_spki_der(std::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ossl::PkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!pkey) return openssl_error("not a public key", ErrorKind::kInvalidArgument);
  if (!algorithm_of(pkey.get())) {
    return make_error(ErrorKind::kInvalidArgument,
                      "unsupported key type (expected ECDSA P-256, Ed25519 or RSA of 2048 bits or more with exponent 65537)");
  }
  return PublicKey(std::move(pkey));
}

Result<PrivateKey> PrivateKey::adopt(ossl::PkeyPtr pkey) {
  if (!pkey) return make_error(ErrorKind::kInvalidArgument, "no private key");
  if (!algorithm_of(pkey.get())) {
    return make_error(ErrorKind::kInvalidArgument,
                      "unsupported key type (expected ECDSA P-256, Ed25519 or RSA of 2048 bits or more with exponent 65537)");
  }
  CK_ASSIGN_OR_RETURN(ossl::PkeyPtr pub, public_half(pkey.get()));
  PublicKey public_key(std::move(pub));
  return PrivateKey(to_shared(std::move(pkey)), std::move(public_key));
}

Result<PrivateKey> PrivateKey::generate(Algorithm alg) {
  EVP_PKEY* raw = nullptr;
  switch (alg) {
    case Algorithm::kEcdsaP256: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case Algorithm::kEd25519: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
    case Algorithm::kRsa3072:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(3072));
      break;
  }
  if (raw == nullptr) return openssl_error("key generation failed");
  return adopt(ossl::PkeyPtr(raw));
}

Result<PrivateKey> PrivateKey::from_pkcs8_der(std::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ossl::PkeyPtr pkey(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size())));
  if (!pkey) return openssl_error("not a private key", ErrorKind::kInvalidArgument);
  return adopt(std::move(pkey));
}

Result<PrivateKey> PrivateKey::from_encrypted_pkcs8_der(std::string_view der,
                                                        std::string_view passphrase) {
  ossl::BioPtr bio(BIO_new_mem_buf(der.data(), static_cast<int>(der.size())));
  if (!bio) return openssl_error("out of memory");
  std::string pass(passphrase);
  ossl::PkeyPtr pkey(d2i_PKCS8PrivateKey_bio(bio.get(), nullptr, nullptr, pass.data()));
  OPENSSL_cleanse(pass.data(), pass.size());
  if (!pkey) return openssl_error("cannot decrypt private key", ErrorKind::kCrypto);
  return adopt(std::move(pkey));
}

Result<std::string> PrivateKey::to_encrypted_pkcs8_der(std::string_view passphrase) const {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return openssl_error("out of memory");
  std::string pass(passphrase);
  int rc = i2d_PKCS8PrivateKey_bio(bio.get(), pkey_.get(), EVP_aes_256_cbc(), pass.data(),
                                   static_cast<int>(pass.size()), nullptr, nullptr);
  OPENSSL_cleanse(pass.data(), pass.size());
  if (rc != 1) return openssl_error("cannot encrypt private key");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return openssl_error("BIO_new_mem_buf failed");
  ossl::PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) return make_error(ErrorKind::kInvalidArgument, "not a PEM private key (or it is encrypted)");
  return adopt(std::move(pkey));
}

Result<std::string> PrivateKey::to_pkcs8_pem() const {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return openssl_error("cannot encode the private key");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace ck::crypto
