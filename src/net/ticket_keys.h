// TLS session-ticket keys shared by every worker of certkeeper-server --workers, so an
// agent resumes its session on whichever worker the kernel hands its reconnect to.
//
// One 32-byte secret from RAND_bytes, made once before the workers fork (or by a single
// server at start), kept in memory only: never logged, never written anywhere. Time is
// cut into 12-hour periods; the key of period p (16-byte key name, AES-256-CBC key,
// HMAC-SHA256 key) is HKDF-SHA256(secret, info = "certkeeper ticket keys" || p). New
// tickets are issued under the current period; a ticket is accepted under the current
// period and the one before (then renewed: a new ticket under the current period), so
// a ticket lives 12 to 24 hours. Under TLS 1.3 every accepted ticket is renewed (tickets
// are used once, as with OpenSSL's own keys). Anything else, and every ticket after a restart (a new
// secret), costs a full handshake. RFC 5077 §4 layout, done by OpenSSL; this class only
// supplies the keys through SSL_CTX_set_tlsext_ticket_key_evp_cb.
//
// Thread-safety: const methods are thread-safe (the per-period keys are cached under a
// mutex). The secret is wiped (OPENSSL_cleanse) on destruction.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "common/clock.h"
#include "common/result.h"

namespace ck::net {

class TicketKeys {
 public:
  static constexpr int64_t kPeriodSeconds = 12 * 60 * 60;
  using Secret = std::array<unsigned char, 32>;

  struct PeriodKey {
    int64_t period = 0;
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes_key{};
    std::array<unsigned char, 32> hmac_key{};
  };

  // A fresh secret (RAND_bytes). `clock` (default: the system clock) must outlive the
  // keys. Errors: kCrypto.
  static Result<std::shared_ptr<const TicketKeys>> generate(const Clock* clock = nullptr);
  // Keys from a given secret (tests). `clock` must outlive the keys.
  static std::shared_ptr<const TicketKeys> from_secret(const Secret& secret, const Clock& clock);
  ~TicketKeys();
  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;

  // The period the clock is in now.
  int64_t current_period() const;
  // The key of `period` (HKDF; cached). Errors: kCrypto.
  Result<PeriodKey> key_for(int64_t period) const;

  // What an offered ticket's key name unlocks now: the key, and whether the ticket is
  // to be renewed (it was issued in the previous period). nullopt: not ours, or too old.
  struct Found {
    PeriodKey key;
    bool renew = false;
  };
  std::optional<Found> find(const unsigned char name[16]) const;

  // Issues and accepts tickets on `ctx` with these keys. The keys must outlive `ctx`
  // (net::Server keeps a shared_ptr). Errors: kCrypto.
  Status install(SSL_CTX* ctx) const;

 private:
  TicketKeys(const Secret& secret, const Clock& clock);
  Secret secret_;
  const Clock& clock_;
  mutable std::mutex mu_;
  mutable std::array<std::optional<PeriodKey>, 3> cache_;  // guarded by mu_
};

}  // namespace ck::net
