#include "agent/transport/tls_session.h"
#include "agent/transport/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <spdlog/spdlog.h>

#include "common/file_util.h"
#include "crypto/encoding.h"
#include "crypto/ossl_ptr.h"

namespace ck::transport {
namespace ssl = boost::asio::ssl;
namespace {

// DER of the first certificate in a PEM text; empty when there is none.
std::string pem_to_der(const std::string& pem) {
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  ossl::X509Ptr x(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!x) return {};
  unsigned char* der = nullptr;
  int len = i2d_X509(x.get(), &der);
  if (len <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string to_pem(X509* x) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), x) != 1) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

Result<std::shared_ptr<ServerTrust>> ServerTrust::from_ca_file(const std::string& ca_file) {
  CK_ASSIGN_OR_RETURN(std::string pem, read_file(ca_file, 4u << 20));
  if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
    return make_error(ErrorKind::kInvalidArgument, ca_file + " holds no PEM certificate");
  std::shared_ptr<ServerTrust> t(new ServerTrust());
  t->ca_file_ = ca_file;
  return t;
}

Result<std::shared_ptr<ServerTrust>> ServerTrust::trust_on_first_use(const std::string& pin_file) {
  std::shared_ptr<ServerTrust> t(new ServerTrust());
  t->pin_file_ = pin_file;
  if (!pin_file.empty()) {
    auto pem = read_file(pin_file, 1u << 20);
    if (pem.ok()) {
      std::string der = pem_to_der(*pem);
      if (der.empty()) return make_error(ErrorKind::kCorrupt, "server TLS pin " + pin_file + " holds no certificate");
      t->pinned_sha256_ = crypto::to_hex(crypto::sha256(der));
    } else if (pem.error().kind != ErrorKind::kNotFound) {
      return pem.error();
    }
  }
  return t;
}

std::string ServerTrust::pinned_sha256() const {
  std::lock_guard lock(mu_);
  return pinned_sha256_;
}

Result<std::shared_ptr<ssl::context>> ServerTrust::make_context() const {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  if (ec) return make_error(ErrorKind::kCrypto, "TLS options: " + ec.message());
  // A renegotiation request fails clearly instead of stalling a channel's writes.
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_NO_RENEGOTIATION);
  if (!ca_file_.empty()) {
    ctx->load_verify_file(ca_file_, ec);
    if (ec) return make_error(ErrorKind::kCrypto, "cannot load " + ca_file_ + ": " + ec.message());
    ctx->set_verify_mode(ssl::verify_peer, ec);
  } else {
    // Trust on first use: the chain cannot be verified; check_peer() compares the pin.
    ctx->set_verify_mode(ssl::verify_none, ec);
  }
  if (ec) return make_error(ErrorKind::kCrypto, "TLS verify mode: " + ec.message());
  TlsSessionSlot::enable_on(ctx->native_handle());
  return ctx;
}

Status ServerTrust::prepare(SSL* ssl, const std::string& host) const {
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(host, ec);  // ec set: a name, not an IP
  if (ec && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1)  // SNI only for names
    return make_error(ErrorKind::kCrypto, "cannot set SNI");
  if (ca_file_.empty()) return ok_status();
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  int rc = ec ? X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size())
              : X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  if (rc != 1) return make_error(ErrorKind::kCrypto, "cannot set the expected server name");
  return ok_status();
}

Status ServerTrust::check_peer(SSL* ssl) {
  if (!ca_file_.empty()) return ok_status();  // verified in the handshake
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (!peer) return make_error(ErrorKind::kCrypto, "server sent no TLS certificate");
  unsigned char* der = nullptr;
  int len = i2d_X509(peer, &der);
  if (len <= 0) return make_error(ErrorKind::kCrypto, "cannot encode the server TLS certificate");
  std::string der_str(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  std::string digest = crypto::to_hex(crypto::sha256(der_str));
  std::lock_guard lock(mu_);
  if (!pinned_sha256_.empty()) {
    if (crypto::constant_time_equal(digest, pinned_sha256_)) return ok_status();
    return make_error(ErrorKind::kCrypto,
                      "server TLS certificate changed (pinned sha256 " + pinned_sha256_ +
                          ", got " + digest + "); refusing. Use --server-ca or remove the pin");
  }
  if (!pin_file_.empty()) {
    std::string pem = to_pem(peer);
    if (pem.empty()) return make_error(ErrorKind::kCrypto, "cannot encode the server TLS certificate");
    CK_RETURN_IF_ERROR(write_file_atomic(pin_file_, pem, 0644));
  }
  pinned_sha256_ = digest;
  spdlog::info("trusting the server TLS certificate on first use sha256={}", digest);
  return ok_status();
}

std::string handshake_failure(SSL* ssl, const boost::system::error_code& ec) {
  std::string text = ec.message();
  // Only a verification that refused the handshake has a reason to give: without
  // --server-ca (trust on first use) OpenSSL still records a verdict it did not act on
  // (a self-signed server), and a resumed session brings its old one along.
  if (!ssl || SSL_get_verify_mode(ssl) == SSL_VERIFY_NONE) return text;
  const auto packed = static_cast<unsigned long>(ec.value());
  if (ec.category() != boost::asio::error::get_ssl_category() || ERR_GET_LIB(packed) != ERR_LIB_SSL ||
      ERR_GET_REASON(packed) != SSL_R_CERTIFICATE_VERIFY_FAILED)
    return text;
  const long verdict = SSL_get_verify_result(ssl);
  if (verdict != X509_V_OK) text += ": " + std::string(X509_verify_cert_error_string(verdict));
  return text;
}

Status present_client_identity(SSL* ssl, const agent::ClientIdentity& identity) {
  if (SSL_use_certificate(ssl, identity.cert.get()) != 1 || SSL_use_PrivateKey(ssl, identity.key.get()) != 1) {
    return make_error(ErrorKind::kCrypto, "cannot present the agent key in the TLS handshake");
  }
  return ok_status();
}

}  // namespace ck::transport
