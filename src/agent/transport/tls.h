// The agent's TLS trust in the server (DESIGN.md §6): either a CA file (--server-ca:
// chain and host name are verified in the handshake), or trust on first use: the
// server certificate seen first is stored (PEM) and any other one is refused later.
// The server's TLS certificate is separate from the authentication certificate.
//
// ServerTrust is thread-safe (the fleet shares one across many agents); the first
// TOFU contact records the pin under a mutex.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/client_identity.h"
#include "common/result.h"

namespace ck::transport {

inline constexpr const char* kServerTlsPinFile = "server_tls.pem";

class ServerTrust {
 public:
  // Verifies the server against the certificates in `ca_file` (PEM).
  static Result<std::shared_ptr<ServerTrust>> from_ca_file(const std::string& ca_file);
  // Pins the first certificate seen; kept in `pin_file` (PEM), or only in memory
  // when `pin_file` is empty. An existing pin file is loaded now.
  static Result<std::shared_ptr<ServerTrust>> trust_on_first_use(const std::string& pin_file);

  // A client context configured for this trust (TLS 1.2+).
  Result<std::shared_ptr<boost::asio::ssl::context>> make_context() const;

  // Before the handshake: SNI and (CA mode) host name / IP verification.
  Status prepare(SSL* ssl, const std::string& host) const;
  // After the handshake, before any byte is sent: the TOFU pin check. Fails closed.
  Status check_peer(SSL* ssl);

  bool tofu() const { return ca_file_.empty(); }
  // SHA-256 (hex) of the pinned certificate's DER; empty before the first contact.
  std::string pinned_sha256() const;

 private:
  ServerTrust() = default;
  std::string ca_file_;
  std::string pin_file_;
  mutable std::mutex mu_;
  std::string pinned_sha256_;
};

// Why a client handshake on `ssl` failed with `ec`: the error, and when verification
// (--server-ca) refused the server's certificate, the verifier's reason ("hostname
// mismatch", "unable to get local issuer certificate"), so an operator can tell a wrong
// CA from a wrong name. Other failures (timeouts, closed connections) get no reason.
std::string handshake_failure(SSL* ssl, const boost::system::error_code& ec);

// Presents the agent's own key (a self-signed certificate of it) on `ssl` before the
// handshake: the server binds the agent id to that key. Errors: kCrypto.
Status present_client_identity(SSL* ssl, const agent::ClientIdentity& identity);

}  // namespace ck::transport
