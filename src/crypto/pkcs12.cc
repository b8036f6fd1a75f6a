#include "crypto/pkcs12.h"

#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>

#include <mutex>
#include <vector>

#include "crypto/openssl_error.h"

namespace ck::crypto {
namespace {

// Owners for the structures only this file decodes (see ossl_ptr.h for the common ones).
void pkcs7_stack_free(STACK_OF(PKCS7) * s) { sk_PKCS7_pop_free(s, PKCS7_free); }
void bag_stack_free(STACK_OF(PKCS12_SAFEBAG) * s) {
  sk_PKCS12_SAFEBAG_pop_free(s, PKCS12_SAFEBAG_free);
}
using Pkcs7StackPtr = ossl::Ptr<STACK_OF(PKCS7), pkcs7_stack_free>;
using BagStackPtr = ossl::Ptr<STACK_OF(PKCS12_SAFEBAG), bag_stack_free>;
using PbeParamPtr = ossl::Ptr<PBEPARAM, PBEPARAM_free>;
using Pbe2ParamPtr = ossl::Ptr<PBE2PARAM, PBE2PARAM_free>;
using Pbkdf2ParamPtr = ossl::Ptr<PBKDF2PARAM, PBKDF2PARAM_free>;
using ScryptParamsPtr = ossl::Ptr<SCRYPT_PARAMS, SCRYPT_PARAMS_free>;

Error too_costly(const std::string& what) {
  return make_error(ErrorKind::kInvalidArgument,
                    "PKCS#12 file refused: " + what +
                        " (a hostile or broken file; it would stall the key derivation)");
}

// Adds up the key-derivation work a PFX asks for, from its parameters alone (no KDF
// runs), refusing any single derivation above kMaxPkcs12Iterations and a total above
// kMaxPkcs12TotalIterations. Parameters are decoded with OpenSSL's own ASN.1 items.
class KdfBudget {
 public:
  Status add(const std::string& what, int64_t cost) {
    if (cost > kMaxPkcs12Iterations)
      return too_costly(what + " asks for " + std::to_string(cost) + " iterations, more than " +
                        std::to_string(kMaxPkcs12Iterations));
    total_ += cost;
    if (total_ > kMaxPkcs12TotalIterations)
      return too_costly("its key derivations ask for more than " +
                        std::to_string(kMaxPkcs12TotalIterations) + " iterations in total");
    return ok_status();
  }

  Status add_iterations(const std::string& what, const ASN1_INTEGER* iter) {
    int64_t n = 1;  // DER default when absent
    if (iter && (ASN1_INTEGER_get_int64(&n, iter) != 1 || n < 1)) {
      clear_openssl_errors();
      return too_costly(what + " has an invalid iteration count");
    }
    return add(what, n);
  }

  Status add_mac(const PKCS12* p12) {
    if (!PKCS12_mac_present(p12)) return ok_status();
    const ASN1_INTEGER* iter = nullptr;
    PKCS12_get0_mac(nullptr, nullptr, nullptr, &iter, p12);
    return add_iterations("its MAC", iter);
  }

  // A password-based encryption algorithm: PBES2 (PBKDF2 or scrypt), or a PKCS#5 v1 /
  // PKCS#12 PBE (3DES, RC2) whose parameters are salt and iterations.
  Status add_algorithm(const std::string& what, const X509_ALGOR* alg) {
    if (!alg) return too_costly(what + " has no encryption algorithm");
    const ASN1_OBJECT* oid = nullptr;
    X509_ALGOR_get0(&oid, nullptr, nullptr, alg);
    if (OBJ_obj2nid(oid) != NID_pbes2) {
      PbeParamPtr pbe(static_cast<PBEPARAM*>(
          ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), alg->parameter)));
      if (!pbe) return unreadable(what);
      return add_iterations(what, pbe->iter);
    }
    Pbe2ParamPtr pbe2(static_cast<PBE2PARAM*>(
        ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter)));
    if (!pbe2 || !pbe2->keyfunc) return unreadable(what);
    const ASN1_TYPE* kdf_params = pbe2->keyfunc->parameter;
    switch (OBJ_obj2nid(pbe2->keyfunc->algorithm)) {
      case NID_id_pbkdf2: {
        Pbkdf2ParamPtr p(static_cast<PBKDF2PARAM*>(
            ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), kdf_params)));
        if (!p) return unreadable(what);
        return add_iterations(what + " (PBKDF2)", p->iter);
      }
      case NID_id_scrypt: {
        ScryptParamsPtr p(static_cast<SCRYPT_PARAMS*>(
            ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(SCRYPT_PARAMS), kdf_params)));
        uint64_t n = 0, r = 0, par = 0;
        if (!p || ASN1_INTEGER_get_uint64(&n, p->costParameter) != 1 ||
            ASN1_INTEGER_get_uint64(&r, p->blockSize) != 1 ||
            ASN1_INTEGER_get_uint64(&par, p->parallelizationParameter) != 1) {
          return unreadable(what);
        }
        // N*r*p blocks of work; each factor is capped first so the product cannot wrap.
        const uint64_t cap = static_cast<uint64_t>(kMaxPkcs12Iterations);
        if (n > cap || r > cap || par > cap || n * r > cap || n * r * par > cap)
          return too_costly(what + " asks for scrypt N*r*p above " + std::to_string(cap));
        return add(what + " (scrypt)", static_cast<int64_t>(n * r * par));
      }
      default:
        return too_costly(what + " uses an unsupported key derivation");
    }
  }

  // Shrouded key bags, also inside nested safe-contents bags.
  Status add_bags(const STACK_OF(PKCS12_SAFEBAG) * bags, int depth = 0) {
    if (depth > 4) return too_costly("its bags are nested too deeply");
    for (int i = 0; bags && i < sk_PKCS12_SAFEBAG_num(bags); ++i) {
      const PKCS12_SAFEBAG* bag = sk_PKCS12_SAFEBAG_value(bags, i);
      switch (PKCS12_SAFEBAG_get_nid(bag)) {
        case NID_pkcs8ShroudedKeyBag: {
          const X509_ALGOR* alg = nullptr;
          const X509_SIG* p8 = PKCS12_SAFEBAG_get0_pkcs8(bag);
          if (!p8) return unreadable("a key bag");
          X509_SIG_get0(p8, &alg, nullptr);
          CK_RETURN_IF_ERROR(add_algorithm("a key bag", alg));
          break;
        }
        case NID_safeContentsBag:
          CK_RETURN_IF_ERROR(add_bags(PKCS12_SAFEBAG_get0_safes(bag), depth + 1));
          break;
        default:
          break;
      }
    }
    return ok_status();
  }

 private:
  static Error unreadable(const std::string& what) {
    clear_openssl_errors();
    return make_error(ErrorKind::kInvalidArgument,
                      "PKCS#12 file refused: " + what + " has unreadable encryption parameters");
  }
  int64_t total_ = 0;
};

const X509_ALGOR* encrypted_content_algorithm(const PKCS7* p7) {
  if (!p7->d.encrypted || !p7->d.encrypted->enc_data) return nullptr;
  return p7->d.encrypted->enc_data->algorithm;
}

Error wrong_password() {
  return make_error(ErrorKind::kCrypto, "wrong password for PKCS#12 file (MAC check failed)");
}

// True (and the queue cleared) when PKCS12_parse failed its MAC check (its last error).
bool mac_failed() {
  const unsigned long e = ERR_peek_last_error();
  const bool mac =
      ERR_GET_LIB(e) == ERR_LIB_PKCS12 && ERR_GET_REASON(e) == PKCS12_R_MAC_VERIFY_FAILURE;
  if (mac) clear_openssl_errors();
  return mac;
}

// Verifies the MAC, then decrypts each encrypted content (its cost already checked) to
// check the cost of the key bags inside before PKCS12_parse decrypts them.
Status check_encrypted_contents(PKCS12* p12, const std::string& pass,
                                const std::vector<PKCS7*>& encrypted, KdfBudget& budget) {
  const char* pass_arg = pass.c_str();
  const int pass_len = static_cast<int>(pass.size());
  if (PKCS12_verify_mac(p12, pass_arg, pass_len) != 1) {
    // An empty password may be encoded either as absent or as "".
    if (!pass.empty() || PKCS12_verify_mac(p12, nullptr, 0) != 1) {
      clear_openssl_errors();
      return wrong_password();
    }
    pass_arg = nullptr;
  }
  for (PKCS7* p7 : encrypted) {
    BagStackPtr bags(PKCS12_unpack_p7encdata(p7, pass_arg, pass_len));
    if (!bags) return openssl_error("cannot decrypt PKCS#12 file", ErrorKind::kCrypto);
    CK_RETURN_IF_ERROR(budget.add_bags(bags.get()));
  }
  return ok_status();
}

}  // namespace

void load_legacy_provider() {
  // Loaded once for the process and unloaded at exit (before OpenSSL's own cleanup,
  // which was registered earlier), so leak checkers see nothing left behind.
  struct Providers {
    OSSL_PROVIDER* base = nullptr;
    OSSL_PROVIDER* legacy = nullptr;
    Providers() {
      // Loading "legacy" explicitly disables the implicit default provider, so load both.
      base = OSSL_PROVIDER_load(nullptr, "default");
      legacy = OSSL_PROVIDER_load(nullptr, "legacy");
      if (legacy == nullptr) ERR_clear_error();
    }
    ~Providers() {
      if (legacy) OSSL_PROVIDER_unload(legacy);
      if (base) OSSL_PROVIDER_unload(base);
    }
  };
  static Providers providers;  // thread-safe initialisation
}

Result<Pkcs12Contents> read_pkcs12(std::string_view data, std::string_view password) {
  load_legacy_provider();
  const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
  ossl::Pkcs12Ptr p12(d2i_PKCS12(nullptr, &p, static_cast<long>(data.size())));
  if (!p12) {
    return openssl_error("not a PKCS#12 file (or truncated)", ErrorKind::kInvalidArgument);
  }
  Pkcs7StackPtr safes(PKCS12_unpack_authsafes(p12.get()));
  if (!safes) return openssl_error("not a PKCS#12 file (no contents)", ErrorKind::kInvalidArgument);
  // Every derivation visible without the password is checked before the first one runs.
  KdfBudget budget;
  CK_RETURN_IF_ERROR(budget.add_mac(p12.get()));
  std::vector<PKCS7*> encrypted;
  for (int i = 0; i < sk_PKCS7_num(safes.get()); ++i) {
    PKCS7* p7 = sk_PKCS7_value(safes.get(), i);
    if (PKCS7_type_is_data(p7)) {
      BagStackPtr bags(PKCS12_unpack_p7data(p7));
      if (!bags) return openssl_error("damaged PKCS#12 file", ErrorKind::kInvalidArgument);
      CK_RETURN_IF_ERROR(budget.add_bags(bags.get()));
    } else if (PKCS7_type_is_encrypted(p7)) {
      CK_RETURN_IF_ERROR(
          budget.add_algorithm("an encrypted content", encrypted_content_algorithm(p7)));
      encrypted.push_back(p7);
    }
  }
  std::string pass(password);
  // Key bags inside encrypted contents show only once decrypted (each at a checked cost),
  // and only after the MAC proved the password. Without encrypted contents (our own
  // files), PKCS12_parse checks the MAC itself: checking it here too would double its cost.
  if (!encrypted.empty()) {
    Status checked = check_encrypted_contents(p12.get(), pass, encrypted, budget);
    if (!checked.ok()) {
      OPENSSL_cleanse(pass.data(), pass.size());
      return checked.error();
    }
  }
  EVP_PKEY* raw_key = nullptr;
  X509* raw_cert = nullptr;
  STACK_OF(X509)* raw_ca = nullptr;
  // An empty password may be encoded either as absent or as "": PKCS12_parse tries both.
  int ok = PKCS12_parse(p12.get(), pass.c_str(), &raw_key, &raw_cert, &raw_ca);
  OPENSSL_cleanse(pass.data(), pass.size());
  ossl::PkeyPtr key(raw_key);
  ossl::X509Ptr cert(raw_cert);
  ossl::X509StackPtr ca(raw_ca);
  if (ok != 1 && mac_failed()) return wrong_password();
  if (ok != 1) return openssl_error("cannot decrypt PKCS#12 file", ErrorKind::kCrypto);
  if (!key) return make_error(ErrorKind::kInvalidArgument, "PKCS#12 file holds no private key");
  if (!cert && ca && sk_X509_num(ca.get()) > 0) {
    // PKCS12_parse pairs a certificate with the key only when they match.
    return make_error(ErrorKind::kInvalidArgument,
                      "the private key in the PKCS#12 file does not match its certificate");
  }
  if (!cert) return make_error(ErrorKind::kInvalidArgument, "PKCS#12 file holds no certificate");
  CK_ASSIGN_OR_RETURN(PrivateKey private_key, PrivateKey::adopt(std::move(key)));
  CK_ASSIGN_OR_RETURN(Certificate certificate, Certificate::adopt(std::move(cert)));
  if (!certificate.matches(private_key)) {
    return make_error(ErrorKind::kInvalidArgument,
                      "the private key in the PKCS#12 file does not match its certificate");
  }
  return Pkcs12Contents{std::move(private_key), std::move(certificate)};
}

Result<std::string> write_pkcs12(const PrivateKey& key, const Certificate& cert,
                                 std::string_view password, std::string_view friendly_name) {
  std::string pass(password);
  std::string name(friendly_name);
  // nid_cert -1: the certificate bag stays unencrypted (see pkcs12.h); mac_iter -1 skips
  // the default SHA-1 MAC, replaced below by a SHA-256 one.
  ossl::Pkcs12Ptr p12(PKCS12_create_ex(pass.c_str(), name.c_str(), key.get(), cert.get(), nullptr,
                                       NID_aes_256_cbc, -1, kPkcs12Iterations, -1, 0, nullptr,
                                       nullptr));
  if (!p12) {
    OPENSSL_cleanse(pass.data(), pass.size());
    return openssl_error("cannot create PKCS#12 file");
  }
  int rc = PKCS12_set_mac(p12.get(), pass.c_str(), static_cast<int>(pass.size()), nullptr, 0,
                          kPkcs12Iterations, EVP_sha256());
  OPENSSL_cleanse(pass.data(), pass.size());
  if (rc != 1) return openssl_error("cannot set PKCS#12 MAC");
  unsigned char* der = nullptr;
  int len = i2d_PKCS12(p12.get(), &der);
  if (len <= 0) return openssl_error("cannot encode PKCS#12 file");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

}  // namespace ck::crypto
