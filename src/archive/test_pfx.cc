#include "archive/test_pfx.h"

#include <gtest/gtest.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>

#include "crypto/ossl_ptr.h"

namespace ck::archive::testing {
namespace {

void bags_free(STACK_OF(PKCS12_SAFEBAG) * s) { sk_PKCS12_SAFEBAG_pop_free(s, PKCS12_SAFEBAG_free); }
void safes_free(STACK_OF(PKCS7) * s) { sk_PKCS7_pop_free(s, PKCS7_free); }
using BagsPtr = ossl::Ptr<STACK_OF(PKCS12_SAFEBAG), bags_free>;
using SafesPtr = ossl::Ptr<STACK_OF(PKCS7), safes_free>;
using Pbe2Ptr = ossl::Ptr<PBE2PARAM, PBE2PARAM_free>;
using Pbkdf2Ptr = ossl::Ptr<PBKDF2PARAM, PBKDF2PARAM_free>;

// Rewrites the PBKDF2 iteration count inside a PBES2 AlgorithmIdentifier.
bool set_iterations(X509_ALGOR* alg, int64_t iterations) {
  Pbe2Ptr pbe2(static_cast<PBE2PARAM*>(
      ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter)));
  if (!pbe2) return false;
  Pbkdf2Ptr kdf(static_cast<PBKDF2PARAM*>(
      ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter)));
  return kdf && ASN1_INTEGER_set_int64(kdf->iter, iterations) == 1 &&
         ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), kdf.get(),
                                 &pbe2->keyfunc->parameter) &&
         ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(PBE2PARAM), pbe2.get(), &alg->parameter);
}

bool set_key_bag_iterations(PKCS12_SAFEBAG* bag, int64_t iterations) {
  X509_ALGOR* alg = nullptr;
  X509_SIG_getm(const_cast<X509_SIG*>(PKCS12_SAFEBAG_get0_pkcs8(bag)), &alg, nullptr);
  return alg && set_iterations(alg, iterations);
}

}  // namespace

std::string costly_pfx(const crypto::PrivateKey& key, const crypto::Certificate& cert,
                       const std::string& password, CostlyPart part, int64_t iterations) {
  const char* pass = password.c_str();
  // A count this small is built for real (so the file reads); a larger one is written
  // over a 1-iteration build (so it costs nothing to make, and reads only if refused).
  const bool real = iterations <= 100'000;
  const int built = real ? static_cast<int>(iterations) : 1;
  const bool rewrite = !real;
  STACK_OF(PKCS12_SAFEBAG)* raw_keys = nullptr;
  STACK_OF(PKCS12_SAFEBAG)* raw_certs = nullptr;
  const bool key_costly =
      part == CostlyPart::kKeyBag || part == CostlyPart::kKeyBagInEncryptedContent;
  PKCS12_SAFEBAG* key_bag = PKCS12_add_key_ex(&raw_keys, key.get(), 0, key_costly ? built : 1,
                                              NID_aes_256_cbc, pass, nullptr, nullptr);
  BagsPtr keys(raw_keys);
  bool ok = key_bag && PKCS12_add_cert(&raw_certs, cert.get());
  BagsPtr certs(raw_certs);
  if (ok && key_costly && rewrite) ok = set_key_bag_iterations(key_bag, iterations);
  STACK_OF(PKCS7)* raw_safes = nullptr;
  const bool key_encrypted = part == CostlyPart::kKeyBagInEncryptedContent;
  const bool cert_encrypted = part == CostlyPart::kEncryptedContent;
  ok = ok && PKCS12_add_safe(&raw_safes, certs.get(), cert_encrypted ? NID_aes_256_cbc : -1,
                             cert_encrypted ? built : 1, pass);
  ok = ok && PKCS12_add_safe(&raw_safes, keys.get(), key_encrypted ? NID_aes_256_cbc : -1, 1, pass);
  SafesPtr safes(raw_safes);
  if (ok && cert_encrypted && rewrite) {
    PKCS7* p7 = sk_PKCS7_value(safes.get(), 0);
    ok = set_iterations(p7->d.encrypted->enc_data->algorithm, iterations);
  }
  ossl::Pkcs12Ptr p12(ok ? PKCS12_add_safes(safes.get(), 0) : nullptr);
  ok = p12 != nullptr;
  if (ok && part == CostlyPart::kMac && rewrite)
    ok = PKCS12_setup_mac(p12.get(), static_cast<int>(iterations), nullptr, 0, EVP_sha256());
  else if (ok)
    ok = PKCS12_set_mac(p12.get(), pass, -1, nullptr, 0, part == CostlyPart::kMac ? built : 1,
                        EVP_sha256());
  unsigned char* der = nullptr;
  int len = ok ? i2d_PKCS12(p12.get(), &der) : 0;
  if (len <= 0) {
    ADD_FAILURE() << "cannot build the test PFX";
    return "";
  }
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

}  // namespace ck::archive::testing
