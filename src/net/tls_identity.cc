#include "net/tls_identity.h"

#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/clock.h"
#include "common/file_util.h"
#include "crypto/encoding.h"
#include "crypto/openssl_error.h"

namespace ck::net {
namespace {

constexpr int kTlsValidityDays = 10 * 365;

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string local_hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return {};
  return buf;
}

// A self-signed server certificate with subjectAltName for local names.
Result<crypto::Certificate> make_server_certificate(const crypto::PrivateKey& key, int64_t now) {
  ossl::X509Ptr x509(X509_new());
  if (!x509) return crypto::openssl_error("X509_new failed");
  ossl::BignumPtr serial_bn(BN_new());
  ossl::Asn1IntegerPtr serial;
  if (serial_bn && BN_rand(serial_bn.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1)
    serial.reset(BN_to_ASN1_INTEGER(serial_bn.get(), nullptr));
  if (!serial || X509_set_version(x509.get(), 2) != 1 || X509_set_serialNumber(x509.get(), serial.get()) != 1)
    return crypto::openssl_error("cannot set TLS certificate serial");
  if (!X509_time_adj_ex(X509_getm_notBefore(x509.get()), 0, -3600, &now) ||
      !X509_time_adj_ex(X509_getm_notAfter(x509.get()), kTlsValidityDays, 0, &now))
    return crypto::openssl_error("cannot set TLS certificate validity");
  X509_NAME* name = X509_get_subject_name(x509.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("certkeeper server"),
                                 -1, -1, 0) != 1 ||
      X509_set_issuer_name(x509.get(), name) != 1 || X509_set_pubkey(x509.get(), key.get()) != 1)
    return crypto::openssl_error("cannot set TLS certificate name or key");
  std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  std::string host = local_hostname();
  bool host_ok = !host.empty();
  for (char c : host) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) host_ok = false;
  }
  if (host_ok && host != "localhost") san += ",DNS:" + host;
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x509.get(), x509.get(), nullptr, nullptr, 0);
  const std::pair<int, std::string> exts[] = {{NID_subject_alt_name, san},
                                              {NID_basic_constraints, "critical,CA:FALSE"},
                                              {NID_key_usage, "critical,digitalSignature"},
                                              {NID_ext_key_usage, "serverAuth"}};
  for (const auto& [nid, value] : exts) {
    ossl::X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str()));
    if (!ext || X509_add_ext(x509.get(), ext.get(), -1) != 1) return crypto::openssl_error("cannot add TLS certificate extension");
  }
  const EVP_MD* md = key.algorithm() == crypto::Algorithm::kEd25519 ? nullptr : EVP_sha256();
  if (X509_sign(x509.get(), key.get(), md) <= 0) return crypto::openssl_error("cannot sign the TLS certificate");
  return crypto::Certificate::adopt(std::move(x509));
}

}  // namespace

Result<TlsIdentity> load_or_create_tls_identity(const std::string& cert_file, const std::string& key_file,
                                                const std::string& state_dir) {
  if (cert_file.empty() != key_file.empty())
    return make_error(ErrorKind::kInvalidArgument, "--tls-cert and --tls-key go together");
  std::string cert_path = cert_file, key_path = key_file;
  bool configured = !cert_file.empty();
  if (!configured) {
    CK_RETURN_IF_ERROR(ensure_directory(state_dir, 0700));
    cert_path = state_dir + "/server-tls.crt";
    key_path = state_dir + "/server-tls.key";
    if (!exists(cert_path) && !exists(key_path)) {
      CK_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::generate(crypto::Algorithm::kEcdsaP256));
      CK_ASSIGN_OR_RETURN(auto cert, make_server_certificate(key, system_clock().now()));
      CK_ASSIGN_OR_RETURN(std::string key_pem, key.to_pkcs8_pem());
      CK_RETURN_IF_ERROR(write_file_atomic(key_path, key_pem, 0600));
      CK_RETURN_IF_ERROR(write_file_atomic(cert_path, cert.pem(), 0644));
      return TlsIdentity{cert, key, cert.pem(), "generated " + cert_path};
    }
  }
  CK_ASSIGN_OR_RETURN(std::string cert_pem, read_file(cert_path, 1 << 20));
  CK_ASSIGN_OR_RETURN(std::string key_pem, read_file(key_path, 1 << 20));
  auto cert = crypto::Certificate::parse(cert_pem);
  if (!cert.ok()) return cert.error().with_context("TLS certificate " + cert_path);
  auto key = crypto::PrivateKey::from_pem(key_pem);
  if (!key.ok()) return key.error().with_context("TLS key " + key_path);
  if (!cert->matches(*key))
    return make_error(ErrorKind::kInvalidArgument, "TLS key " + key_path + " does not match " + cert_path);
  if (cert_pem.find("-----BEGIN") == std::string::npos) cert_pem = cert->pem();  // DER given
  return TlsIdentity{std::move(cert).value(), std::move(key).value(), std::move(cert_pem), cert_path};
}

}  // namespace ck::net
