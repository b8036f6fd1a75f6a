#include "crypto/x509.h"

#include <openssl/pem.h>

#include "crypto/encoding.h"
#include "crypto/openssl_error.h"

namespace ck::crypto {
namespace {

Result<int64_t> asn1_time_to_unix(const ASN1_TIME* t) {
  struct tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return openssl_error("bad certificate time");
  return static_cast<int64_t>(timegm(&tm));
}

std::string name_to_string(const X509_NAME* name) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Status add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ossl::X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) return openssl_error("cannot add extension");
  return ok_status();
}

}  // namespace

Result<Certificate> Certificate::adopt(ossl::X509Ptr x509) {
  if (!x509) return make_error(ErrorKind::kInvalidArgument, "no certificate");
  ossl::PkeyPtr pub(X509_get_pubkey(x509.get()));
  if (!pub) return openssl_error("certificate has no usable public key", ErrorKind::kInvalidArgument);
  if (!algorithm_of(pub.get())) {
    return make_error(ErrorKind::kInvalidArgument,
                      "unsupported certificate key type (expected ECDSA P-256, Ed25519 or RSA of 2048 bits or more)");
  }
  CK_ASSIGN_OR_RETURN(int64_t nb, asn1_time_to_unix(X509_get0_notBefore(x509.get())));
  CK_ASSIGN_OR_RETURN(int64_t na, asn1_time_to_unix(X509_get0_notAfter(x509.get())));

  unsigned char* der = nullptr;
  int len = i2d_X509(x509.get(), &der);
  if (len <= 0) return openssl_error("cannot encode certificate");
  std::string der_str(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);

  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), x509.get()) != 1) return openssl_error("cannot encode certificate");
  char* pem = nullptr;
  long pem_len = BIO_get_mem_data(bio.get(), &pem);

  std::string subject = name_to_string(X509_get_subject_name(x509.get()));
  Certificate cert(std::shared_ptr<X509>(x509.release(), X509_free), PublicKey(std::move(pub)));
  cert.der_ = std::move(der_str);
  cert.pem_.assign(pem, static_cast<size_t>(pem_len));
  cert.subject_ = std::move(subject);
  cert.not_before_ = nb;
  cert.not_after_ = na;
  return cert;
}

Result<Certificate> Certificate::parse(std::string_view data) {
  ossl::X509Ptr x509;
  if (data.find("-----BEGIN") != std::string_view::npos) {
    ossl::BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    x509.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  } else {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
    x509.reset(d2i_X509(nullptr, &p, static_cast<long>(data.size())));
  }
  if (!x509) return openssl_error("not an X.509 certificate (PEM or DER)", ErrorKind::kInvalidArgument);
  return adopt(std::move(x509));
}

Result<Certificate> Certificate::make_self_signed(const PrivateKey& key, std::string_view subject_cn,
                                                  int days, int64_t now_unix) {
  if (days <= 0) return make_error(ErrorKind::kInvalidArgument, "validity must be at least 1 day");
  ossl::X509Ptr x509(X509_new());
  if (!x509) return openssl_error("out of memory");
  X509_set_version(x509.get(), X509_VERSION_3);

  // 159-bit random positive serial (RFC 5280 allows up to 20 octets).
  std::string serial_bytes = random_bytes(20);
  serial_bytes[0] = static_cast<char>(serial_bytes[0] & 0x7f);
  ossl::BignumPtr bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(serial_bytes.data()),
                               static_cast<int>(serial_bytes.size()), nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x509.get())))
    return openssl_error("cannot set serial number");

  const time_t now = static_cast<time_t>(now_unix);
  if (!ASN1_TIME_adj(X509_getm_notBefore(x509.get()), now, 0, -300) ||  // 5 min clock skew
      !ASN1_TIME_adj(X509_getm_notAfter(x509.get()), now, days, 0))
    return openssl_error("cannot set validity");

  X509_NAME* name = X509_get_subject_name(x509.get());
  std::string cn(subject_cn);
  if (cn.rfind("CN=", 0) == 0) cn = cn.substr(3);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) != 1 ||
      X509_set_issuer_name(x509.get(), name) != 1 || X509_set_pubkey(x509.get(), key.get()) != 1)
    return openssl_error("cannot set certificate name or key");

  CK_RETURN_IF_ERROR(add_extension(x509.get(), NID_basic_constraints, "critical,CA:FALSE"));
  CK_RETURN_IF_ERROR(add_extension(x509.get(), NID_key_usage, "critical,digitalSignature"));
  CK_RETURN_IF_ERROR(add_extension(x509.get(), NID_subject_key_identifier, "hash"));

  // Ed25519 signs without a separate digest.
  const EVP_MD* md = key.algorithm() == Algorithm::kEd25519 ? nullptr : EVP_sha256();
  if (X509_sign(x509.get(), key.get(), md) <= 0) return openssl_error("cannot sign certificate");
  return adopt(std::move(x509));
}

bool Certificate::matches(const PrivateKey& key) const {
  return constant_time_equal(key.public_key().spki_der(), public_key_.spki_der());
}

}  // namespace ck::crypto
