// TLS session resumption for one agent talking to one server: the tickets the server
// sends are kept here and offered on the agent's next connection (check-in or
// channel), so a reconnecting agent (or a fleet of them) skips the certificate
// signatures of a full handshake. The resumed session keeps the server's certificate
// (the TOFU pin check still runs) and, on the server, the agent's key.
// Thread-safe.
#pragma once

#include <openssl/ssl.h>

#include <mutex>

namespace ck::transport {

class TlsSessionSlot {
 public:
  TlsSessionSlot() = default;
  TlsSessionSlot(const TlsSessionSlot&) = delete;
  TlsSessionSlot& operator=(const TlsSessionSlot&) = delete;
  ~TlsSessionSlot();

  // Before the handshake on `ssl`: offers the saved session, and routes the tickets
  // of this connection here. The slot must outlive the connection.
  void attach(SSL* ssl);

  // Makes a client context hand new sessions to the slot attached to each connection.
  static void enable_on(SSL_CTX* ctx);

 private:
  static int on_new_session(SSL* ssl, SSL_SESSION* session);
  mutable std::mutex mu_;
  SSL_SESSION* session_ = nullptr;
};

}  // namespace ck::transport
