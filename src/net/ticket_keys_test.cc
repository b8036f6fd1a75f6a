// TicketKeys: a ticket issued in period p is accepted in p and (renewed) in p+1, refused
// from p+2 on and by a server with another secret; two SSL_CTXs with the same secret
// (two workers) resume each other's sessions. Real OpenSSL handshakes over a socket
// pair, on a clock the test moves.
#include "net/ticket_keys.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>

#include "net/tls_identity.h"
#include "support/process.h"

namespace ck::net {
namespace {

class MovedClock final : public Clock {
 public:
  explicit MovedClock(int64_t t) : t_(t) {}
  int64_t now() const override { return t_.load(); }
  void set(int64_t t) { t_ = t; }

 private:
  std::atomic<int64_t> t_;
};

using CtxPtr = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;
using SslPtr = std::unique_ptr<SSL, decltype(&SSL_free)>;
using SessionPtr = std::unique_ptr<SSL_SESSION, decltype(&SSL_SESSION_free)>;

constexpr int64_t kP = 4242;  // a period number
constexpr int64_t kStart = kP * TicketKeys::kPeriodSeconds + 100;

TicketKeys::Secret secret_of(unsigned char fill) {
  TicketKeys::Secret s;
  s.fill(fill);
  return s;
}

TEST(TicketKeys, PeriodsAcceptTheCurrentAndTheLastWithRenewal) {
  MovedClock clock(kStart);
  auto keys = TicketKeys::from_secret(secret_of(1), clock);
  auto other = TicketKeys::from_secret(secret_of(2), clock);
  ASSERT_EQ(keys->current_period(), kP);
  auto issued = keys->key_for(kP);
  ASSERT_TRUE(issued.ok()) << issued.error().message;
  // Deterministic per (secret, period); a new period or secret gives other keys.
  auto again = TicketKeys::from_secret(secret_of(1), clock)->key_for(kP);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->name, issued->name);
  EXPECT_EQ(again->aes_key, issued->aes_key);
  EXPECT_EQ(again->hmac_key, issued->hmac_key);
  EXPECT_NE(keys->key_for(kP + 1)->name, issued->name);
  EXPECT_NE(other->key_for(kP)->aes_key, issued->aes_key);
  EXPECT_NE(issued->aes_key, issued->hmac_key);

  auto found = keys->find(issued->name.data());
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->renew);
  EXPECT_EQ(found->key.aes_key, issued->aes_key);
  EXPECT_FALSE(other->find(issued->name.data())) << "a foreign secret does not know the name";

  clock.set(kStart + TicketKeys::kPeriodSeconds);  // p + 1
  found = keys->find(issued->name.data());
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->renew);
  clock.set(kStart + 2 * TicketKeys::kPeriodSeconds);  // p + 2
  EXPECT_FALSE(keys->find(issued->name.data()));
  clock.set(kStart - TicketKeys::kPeriodSeconds);  // a clock set back: p - 1
  EXPECT_FALSE(keys->find(issued->name.data()));
}

TEST(TicketKeys, GenerateMakesADifferentSecretEachTime) {
  auto a = TicketKeys::generate();
  auto b = TicketKeys::generate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE((*a)->key_for(1)->aes_key, (*b)->key_for(1)->aes_key);
}

// A TLS server context like net::Server's, with `keys` installed.
CtxPtr server_ctx(const TlsIdentity& id, const TicketKeys& keys) {
  CtxPtr ctx(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  EXPECT_TRUE(ctx);
  static const unsigned char kContext[] = "certkeeper-agents";
  SSL_CTX_set_session_id_context(ctx.get(), kContext, sizeof kContext - 1);
  EXPECT_EQ(SSL_CTX_use_certificate(ctx.get(), id.cert.get()), 1);
  EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), id.key.get()), 1);
  Status s = keys.install(ctx.get());
  EXPECT_TRUE(s.ok()) << s.error().message;
  return ctx;
}

struct Outcome {
  bool connected = false;
  bool resumed = false;
  SessionPtr session{nullptr, &SSL_SESSION_free};  // the client's, with the last ticket
};

// One connection: handshake, the client reads the tickets the server sent.
Outcome connect(SSL_CTX* server, SSL_CTX* client, SSL_SESSION* offer) {
  Outcome out;
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) != 0) return out;
  {
    SslPtr s(SSL_new(server), &SSL_free), c(SSL_new(client), &SSL_free);
    SSL_set_fd(s.get(), fds[0]);
    SSL_set_fd(c.get(), fds[1]);
    SSL_set_accept_state(s.get());
    SSL_set_connect_state(c.get());
    if (offer) SSL_set_session(c.get(), offer);
    bool s_done = false, c_done = false, failed = false;
    for (int i = 0; i < 200 && !(s_done && c_done) && !failed; ++i) {
      for (auto [ssl, done] : {std::pair{c.get(), &c_done}, std::pair{s.get(), &s_done}}) {
        if (*done) continue;
        const int r = SSL_do_handshake(ssl);
        const int err = SSL_get_error(ssl, r);
        if (r == 1) {
          *done = true;
        } else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
          failed = true;
        }
      }
    }
    if (s_done && c_done) {
      char byte;
      for (int i = 0; i < 4; ++i) SSL_read(c.get(), &byte, 1);  // processes NewSessionTicket
      out.connected = true;
      out.resumed = SSL_session_reused(s.get()) == 1;
      out.session.reset(SSL_get1_session(c.get()));
      // A connection freed without close_notify marks its session not resumable.
      SSL_shutdown(c.get());
      SSL_shutdown(s.get());
    }
    ERR_clear_error();
  }
  ::close(fds[0]);
  ::close(fds[1]);
  return out;
}

TEST(TicketKeys, WorkersWithOneSecretResumeEachOthersSessionsWithinTwoPeriods) {
  auto id = load_or_create_tls_identity("", "", ck::testing::temp_dir("tickets"));
  ASSERT_TRUE(id.ok()) << id.error().message;
  MovedClock clock(kStart);
  // Two workers: separate contexts and TicketKeys objects from one secret.
  auto keys_a = TicketKeys::from_secret(secret_of(7), clock);
  auto keys_b = TicketKeys::from_secret(secret_of(7), clock);
  auto foreign = TicketKeys::from_secret(secret_of(8), clock);
  CtxPtr a = server_ctx(*id, *keys_a), b = server_ctx(*id, *keys_b), c = server_ctx(*id, *foreign);
  CtxPtr client(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  SSL_CTX_set_verify(client.get(), SSL_VERIFY_NONE, nullptr);

  Outcome first = connect(a.get(), client.get(), nullptr);
  ASSERT_TRUE(first.connected);
  EXPECT_FALSE(first.resumed);
  ASSERT_TRUE(first.session && SSL_SESSION_is_resumable(first.session.get()));

  // Period p: the other worker resumes it; a server with another secret does not.
  Outcome on_b = connect(b.get(), client.get(), first.session.get());
  ASSERT_TRUE(on_b.connected);
  EXPECT_TRUE(on_b.resumed);
  for (int i = 0; i < 4; ++i) {
    Outcome chained = connect(i % 2 ? a.get() : b.get(), client.get(), on_b.session.get());
    ASSERT_TRUE(chained.connected);
    EXPECT_TRUE(chained.resumed) << "round " << i;
    on_b = std::move(chained);
  }
  Outcome on_c = connect(c.get(), client.get(), first.session.get());
  ASSERT_TRUE(on_c.connected);
  EXPECT_FALSE(on_c.resumed);

  // Period p+1: still resumed, and the ticket renewed under p+1.
  clock.set(kStart + TicketKeys::kPeriodSeconds);
  Outcome renewed = connect(b.get(), client.get(), first.session.get());
  ASSERT_TRUE(renewed.connected);
  EXPECT_TRUE(renewed.resumed);
  ASSERT_TRUE(renewed.session);

  // Period p+2: the old ticket costs a full handshake; the renewed one resumes.
  clock.set(kStart + 2 * TicketKeys::kPeriodSeconds);
  Outcome stale = connect(a.get(), client.get(), first.session.get());
  ASSERT_TRUE(stale.connected);
  EXPECT_FALSE(stale.resumed);
  Outcome fresh = connect(a.get(), client.get(), renewed.session.get());
  ASSERT_TRUE(fresh.connected);
  EXPECT_TRUE(fresh.resumed);
}

}  // namespace
}  // namespace ck::net
