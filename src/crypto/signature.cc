#include "crypto/signature.h"

#include <openssl/ecdsa.h>

#include "crypto/openssl_error.h"

namespace ck::crypto {
namespace {

constexpr size_t kP256CoordinateBytes = 32;

const EVP_MD* digest_for(Algorithm alg) {
  return alg == Algorithm::kEd25519 ? nullptr : EVP_sha256();
}

// DER ECDSA-Sig-Value -> fixed-width R||S.
Result<std::string> ecdsa_der_to_raw(const std::string& der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ossl::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return openssl_error("bad ECDSA signature");
  std::string raw(2 * kP256CoordinateBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, kP256CoordinateBytes) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + kP256CoordinateBytes, kP256CoordinateBytes) < 0)
    return openssl_error("bad ECDSA signature");
  return raw;
}

// Fixed-width R||S -> DER, or empty on malformed input.
std::string ecdsa_raw_to_der(std::string_view raw) {
  if (raw.size() != 2 * kP256CoordinateBytes) return {};
  auto* in = reinterpret_cast<const unsigned char*>(raw.data());
  ossl::BignumPtr r(BN_bin2bn(in, kP256CoordinateBytes, nullptr));
  ossl::BignumPtr s(BN_bin2bn(in + kP256CoordinateBytes, kP256CoordinateBytes, nullptr));
  ossl::EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return {};
  r.release();  // owned by sig now
  s.release();
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

}  // namespace

const char* jws_algorithm(Algorithm alg) {
  switch (alg) {
    case Algorithm::kEcdsaP256: return "ES256";
    case Algorithm::kEd25519: return "EdDSA";
    case Algorithm::kRsa3072: return "RS256";
  }
  return "none";
}

Result<std::string> sign(const PrivateKey& key, std::string_view data) {
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, digest_for(key.algorithm()), nullptr, key.get()) != 1)
    return openssl_error("cannot start signing");
  size_t len = 0;
  auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1) return openssl_error("cannot sign");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, data.size()) != 1)
    return openssl_error("cannot sign");
  sig.resize(len);
  if (key.algorithm() == Algorithm::kEcdsaP256) return ecdsa_der_to_raw(sig);
  return sig;
}

bool verify(const PublicKey& key, std::string_view data, std::string_view signature) {
  std::string sig_storage;
  std::string_view sig = signature;
  if (key.algorithm() == Algorithm::kEcdsaP256) {
    sig_storage = ecdsa_raw_to_der(signature);
    if (sig_storage.empty()) return false;
    sig = sig_storage;
  }
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, digest_for(key.algorithm()), nullptr, key.get()) != 1) {
    clear_openssl_errors();
    return false;
  }
  int rc = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                            reinterpret_cast<const unsigned char*>(data.data()), data.size());
  if (rc != 1) clear_openssl_errors();
  return rc == 1;  // 0 = bad signature, <0 = error: both reject
}

}  // namespace ck::crypto
