// Certificate operations, each one store transaction: generate, import, revoke.
// These hold the rules (one current certificate, revoked keys are erased and never come back,
// a rotation statement at every replacement, an audit entry for every change).
#pragma once

#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "crypto/key.h"
#include "crypto/x509.h"
#include "store/cert_store.h"

namespace ck::store {

inline constexpr int kDefaultValidityDays = 3 * 365;

struct GenerateOptions {
  crypto::Algorithm algorithm = crypto::Algorithm::kEcdsaP256;
  int days = kDefaultValidityDays;
  // The answer to a leaked key: revoke the previous current in the same transaction.
  bool revoke_previous = false;
};

struct Context {
  std::string actor;
  const Clock* clock = nullptr;
  int64_t now() const { return (clock ? *clock : system_clock()).now(); }
};

// Makes a new key pair and certificate and makes it current (exportable).
Result<CertRecord> generate_certificate(CertStore& store, const GenerateOptions& options,
                                        const Context& ctx);

// Makes `cert` (with `key`) the current certificate. The previous current becomes
// retired (or revoked when `revoke_previous`); a rotation statement signed by the
// previous key and the new one is recorded when the previous key is held and not revoked.
Result<CertRecord> install_current(CertStore& store, const crypto::PrivateKey& key,
                                   const crypto::Certificate& cert, bool exportable,
                                   bool revoke_previous, const std::string& action,
                                   const Context& ctx);

// Marks a certificate revoked and erases its private key (the certificate stays, for
// status and the endpoints still pinning it). Refuses the current one (replace it first,
// or use generate --revoke-previous, which erases the previous key the same way).
// Revoking an already revoked certificate that still holds a key (revoked by an older
// version) erases the key; otherwise it is kConflict.
Result<CertRecord> revoke_certificate(CertStore& store, const std::string& fingerprint,
                                      const Context& ctx);

// A CertRecord describing `cert`.
CertRecord record_for(const crypto::Certificate& cert, CertStatus status, bool exportable,
                      int64_t generation, int64_t now);

// Inside a write transaction: makes `fingerprint` (already stored) current.
Status promote_in_txn(CertTxn& txn, const std::string& fingerprint, bool revoke_previous,
                      int64_t now);

}  // namespace ck::store
