#include "net/ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <cstring>
#include <string>

#include "crypto/openssl_error.h"
#include "crypto/ossl_ptr.h"

namespace ck::net {
namespace {

using KdfPtr = ossl::Ptr<EVP_KDF, EVP_KDF_free>;
using KdfCtxPtr = ossl::Ptr<EVP_KDF_CTX, EVP_KDF_CTX_free>;

constexpr char kInfoLabel[] = "certkeeper ticket keys";

// Where an SSL_CTX keeps its TicketKeys (not owned).
int ex_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// OpenSSL's ticket key callback (SSL_CTX_set_tlsext_ticket_key_evp_cb): 1 = keys set,
// 2 = keys set and the ticket is to be renewed, 0 = no ticket (full handshake),
// negative = error.
int ticket_key_callback(SSL* ssl, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                        EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int enc) {
  const auto* keys = static_cast<const TicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_index()));
  if (!keys) return -1;
  TicketKeys::PeriodKey key;
  int result = 1;
  if (enc) {
    auto current = keys->key_for(keys->current_period());
    if (!current.ok()) return -1;
    key = *current;
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
    std::memcpy(key_name, key.name.data(), key.name.size());
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes_key.data(), iv) != 1) return -1;
  } else {
    auto found = keys->find(key_name);
    if (!found) return 0;
    key = found->key;
    // TLS 1.3 tickets are used once (RFC 8446 C.4; OpenSSL's own keys do the same):
    // renewing is what sends the client its next ticket. TLS 1.2 keeps a ticket of
    // the current period.
    result = found->renew || SSL_version(ssl) >= TLS1_3_VERSION ? 2 : 1;
    if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes_key.data(), iv) != 1) return -1;
  }
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac_key.data(), key.hmac_key.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  const bool mac_ok = EVP_MAC_CTX_set_params(mac, params) == 1;
  OPENSSL_cleanse(&key, sizeof key);
  return mac_ok ? result : -1;
}

}  // namespace

Result<std::shared_ptr<const TicketKeys>> TicketKeys::generate(const Clock* clock) {
  Secret secret;
  if (RAND_bytes(secret.data(), static_cast<int>(secret.size())) != 1)
    return crypto::openssl_error("TLS session ticket secret");
  auto keys = from_secret(secret, clock ? *clock : system_clock());
  OPENSSL_cleanse(secret.data(), secret.size());
  return keys;
}

std::shared_ptr<const TicketKeys> TicketKeys::from_secret(const Secret& secret, const Clock& clock) {
  return std::shared_ptr<const TicketKeys>(new TicketKeys(secret, clock));
}

TicketKeys::TicketKeys(const Secret& secret, const Clock& clock) : secret_(secret), clock_(clock) {}

TicketKeys::~TicketKeys() {
  OPENSSL_cleanse(secret_.data(), secret_.size());
  for (auto& k : cache_)
    if (k) OPENSSL_cleanse(&*k, sizeof *k);
}

int64_t TicketKeys::current_period() const {
  const int64_t now = clock_.now();
  return now >= 0 ? now / kPeriodSeconds : (now - kPeriodSeconds + 1) / kPeriodSeconds;
}

Result<TicketKeys::PeriodKey> TicketKeys::key_for(int64_t period) const {
  std::lock_guard lock(mu_);
  for (const auto& k : cache_)
    if (k && k->period == period) return *k;

  // info = label || period (8 bytes, big-endian); 80 bytes out: name, AES key, HMAC key.
  std::string info(kInfoLabel);
  for (int shift = 56; shift >= 0; shift -= 8) info.push_back(static_cast<char>((static_cast<uint64_t>(period) >> shift) & 0xff));
  KdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return crypto::openssl_error("HKDF");
  KdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return crypto::openssl_error("HKDF");
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<unsigned char*>(secret_.data()), secret_.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()), OSSL_PARAM_construct_end()};
  std::array<unsigned char, 80> out;
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) return crypto::openssl_error("HKDF");
  PeriodKey key;
  key.period = period;
  std::memcpy(key.name.data(), out.data(), 16);
  std::memcpy(key.aes_key.data(), out.data() + 16, 32);
  std::memcpy(key.hmac_key.data(), out.data() + 48, 32);
  OPENSSL_cleanse(out.data(), out.size());
  // Periods are asked for in order; three slots hold the current, the previous and
  // the next one (a clock at a period's edge).
  auto& slot = cache_[static_cast<size_t>(((period % 3) + 3) % 3)];
  if (slot) OPENSSL_cleanse(&*slot, sizeof *slot);
  slot = key;
  return key;
}

std::optional<TicketKeys::Found> TicketKeys::find(const unsigned char name[16]) const {
  const int64_t now = current_period();
  for (const int64_t period : {now, now - 1}) {
    auto key = key_for(period);
    if (!key.ok()) return std::nullopt;
    if (CRYPTO_memcmp(key->name.data(), name, key->name.size()) == 0) return Found{*key, period != now};
  }
  return std::nullopt;
}

Status TicketKeys::install(SSL_CTX* ctx) const {
  if (ex_index() < 0 || SSL_CTX_set_ex_data(ctx, ex_index(), const_cast<TicketKeys*>(this)) != 1 ||
      SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_callback) != 1)
    return crypto::openssl_error("TLS session tickets");
  return ok_status();
}

}  // namespace ck::net
