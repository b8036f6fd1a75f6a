#include "crypto/pkcs12.h"

#include <openssl/err.h>
#include <openssl/provider.h>

#include <mutex>

#include "crypto/openssl_error.h"

namespace ck::crypto {

void load_legacy_provider() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Loading "legacy" explicitly disables the implicit default provider, so load both.
    OSSL_PROVIDER_load(nullptr, "default");
    if (OSSL_PROVIDER_load(nullptr, "legacy") == nullptr) ERR_clear_error();
  });
}

Result<Pkcs12Contents> read_pkcs12(std::string_view data, std::string_view password) {
  load_legacy_provider();
  const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
  ossl::Pkcs12Ptr p12(d2i_PKCS12(nullptr, &p, static_cast<long>(data.size())));
  if (!p12) {
    return openssl_error("not a PKCS#12 file (or truncated)", ErrorKind::kInvalidArgument);
  }
  std::string pass(password);
  // An empty password may be encoded either as absent or as "", try the MAC both ways.
  if (PKCS12_verify_mac(p12.get(), pass.c_str(), static_cast<int>(pass.size())) != 1 &&
      !(pass.empty() && PKCS12_verify_mac(p12.get(), nullptr, 0) == 1)) {
    OPENSSL_cleanse(pass.data(), pass.size());
    clear_openssl_errors();
    return make_error(ErrorKind::kCrypto, "wrong password for PKCS#12 file (MAC check failed)");
  }
  EVP_PKEY* raw_key = nullptr;
  X509* raw_cert = nullptr;
  STACK_OF(X509)* raw_ca = nullptr;
  int ok = PKCS12_parse(p12.get(), pass.c_str(), &raw_key, &raw_cert, &raw_ca);
  OPENSSL_cleanse(pass.data(), pass.size());
  ossl::PkeyPtr key(raw_key);
  ossl::X509Ptr cert(raw_cert);
  ossl::X509StackPtr ca(raw_ca);
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
  ossl::Pkcs12Ptr p12(PKCS12_create_ex(pass.c_str(), name.c_str(), key.get(), cert.get(), nullptr,
                                       NID_aes_256_cbc, NID_aes_256_cbc, 0, -1, 0, nullptr,
                                       nullptr));
  if (!p12) {
    OPENSSL_cleanse(pass.data(), pass.size());
    return openssl_error("cannot create PKCS#12 file");
  }
  // mac_iter -1 above skips the default SHA-1 MAC; add a SHA-256 one.
  int rc = PKCS12_set_mac(p12.get(), pass.c_str(), static_cast<int>(pass.size()), nullptr, 0,
                          PKCS12_DEFAULT_ITER, EVP_sha256());
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
