#include "agent/transport/tls_session.h"

namespace ck::transport {
namespace {

int slot_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

TlsSessionSlot::~TlsSessionSlot() {
  if (session_) SSL_SESSION_free(session_);
}

void TlsSessionSlot::attach(SSL* ssl) {
  SSL_set_ex_data(ssl, slot_index(), this);
  std::lock_guard lock(mu_);
  if (session_ && SSL_SESSION_is_resumable(session_)) SSL_set_session(ssl, session_);
}

void TlsSessionSlot::enable_on(SSL_CTX* ctx) {
  // Our slots keep the sessions; OpenSSL's own client cache would only grow.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, &TlsSessionSlot::on_new_session);
}

int TlsSessionSlot::on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* slot = static_cast<TlsSessionSlot*>(SSL_get_ex_data(ssl, slot_index()));
  if (!slot) return 0;  // not ours: OpenSSL frees it
  std::lock_guard lock(slot->mu_);
  if (slot->session_) SSL_SESSION_free(slot->session_);
  slot->session_ = session;  // returning 1: we keep the reference
  return 1;
}

}  // namespace ck::transport
