// X.509 certificates: parse (PEM or DER), encode, inspect, and make the
// self-signed authentication certificate. Immutable; safe to share across threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "crypto/key.h"
#include "crypto/ossl_ptr.h"

namespace ck::crypto {

inline constexpr const char* kAuthenticationSubject = "CN=certkeeper authentication";

class Certificate {
 public:
  // Accepts PEM ("-----BEGIN CERTIFICATE-----") or DER.
  static Result<Certificate> parse(std::string_view pem_or_der);
  // Takes ownership of a certificate OpenSSL handed us.
  static Result<Certificate> adopt(ossl::X509Ptr x509);

  // Self-signed X.509 v3 certificate for `key`, valid from now for `days` days.
  static Result<Certificate> make_self_signed(const PrivateKey& key, std::string_view subject_cn,
                                              int days, int64_t now_unix);

  const std::string& pem() const { return pem_; }
  const std::string& der() const { return der_; }
  const PublicKey& public_key() const { return public_key_; }
  const std::string& fingerprint() const { return public_key_.fingerprint(); }
  Algorithm algorithm() const { return public_key_.algorithm(); }
  // One-line form, e.g. "CN=certkeeper authentication".
  const std::string& subject() const { return subject_; }
  int64_t not_before() const { return not_before_; }
  int64_t not_after() const { return not_after_; }
  X509* get() const { return x509_.get(); }

  // True when `key` is the private half of this certificate's public key.
  bool matches(const PrivateKey& key) const;

 private:
  Certificate(std::shared_ptr<X509> x509, PublicKey pub) : x509_(std::move(x509)), public_key_(std::move(pub)) {}
  std::shared_ptr<X509> x509_;
  PublicKey public_key_;
  std::string pem_, der_, subject_;
  int64_t not_before_ = 0, not_after_ = 0;
};

}  // namespace ck::crypto
