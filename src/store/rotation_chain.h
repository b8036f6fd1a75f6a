// The rotation path (DESIGN.md §4): how an agent pinning some key reaches the current
// certificate, and which key may sign messages for it.
//
//   pinned == current                      -> no links; sign with the current key
//   pinned retired/expired, key held       -> ONE direct statement pinned -> current,
//                                             minted with both keys (n = current's
//                                             generation) and cached per pair; sign
//                                             messages with the pinned key
//   pinned retired/expired, key not held   -> the shortest chain of stored statements
//                                             (strictly increasing n) from the pinned key;
//                                             sign with the current key
//   pinned revoked or unknown, or no path  -> nothing (kUntrusted)
// A link whose signing key (`from`) is revoked or unknown is never used, and no
// revoked key ever signs anything.
//
// Keyring is an immutable snapshot loaded from the store; RotationChain is
// thread-safe (its cache is behind a mutex).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "crypto/key.h"
#include "crypto/rotation_statement.h"
#include "crypto/x509.h"
#include "store/cert_store.h"

namespace ck::store {

// What signing needs, copied out of the store in one read transaction.
struct Keyring {
  int64_t change_counter = 0;
  std::string current_fingerprint;
  std::map<std::string, CertRecord> certs;          // by fingerprint, all statuses
  std::map<std::string, crypto::PrivateKey> keys;   // held keys of non-revoked certs
  std::vector<RotationRecord> rotations;            // by generation ascending

  const CertRecord* find(const std::string& fp) const;
  const crypto::PrivateKey* key(const std::string& fp) const;
  const CertRecord& current() const { return certs.at(current_fingerprint); }
};

// Loads the snapshot. Errors: kNotFound when the store has no current certificate
// (or its private key is missing), store errors otherwise.
Result<std::shared_ptr<const Keyring>> load_keyring(CertStore& store);

enum class PinnedTrust {
  kCurrent,    // the agent pins the current key
  kStale,      // retired/expired pin with a trustworthy path to the current key
  kUntrusted,  // revoked, unknown, or no trustworthy path: send nothing
};

struct RotationPlan {
  PinnedTrust trust = PinnedTrust::kUntrusted;
  std::vector<crypto::SignedRotation> links;  // oldest first; empty unless kStale
  // Key to sign messages for this agent with; points into the Keyring passed to
  // plan() (keep it alive). Null when kUntrusted.
  const crypto::PrivateKey* signing_key = nullptr;
};

class RotationChain {
 public:
  explicit RotationChain(const Clock* clock = nullptr) : clock_(clock ? clock : &system_clock()) {}

  // The plan for an agent pinning `pinned`. Errors only when minting fails.
  Result<RotationPlan> plan(const Keyring& keyring, const std::string& pinned);

  // Number of minted statements held (for tests and metrics).
  size_t cached() const;

 private:
  const Clock* clock_;
  mutable std::mutex mu_;
  // (pinned, current) -> minted direct statement.
  std::map<std::pair<std::string, std::string>, crypto::SignedRotation> minted_;
};

// The stored-chain walk on its own: shortest sequence of stored statements from
// `pinned` to the current key with strictly increasing n, skipping links whose
// `from` is revoked or unknown. nullopt when there is none.
std::optional<std::vector<crypto::SignedRotation>> stored_path(const Keyring& keyring,
                                                               const std::string& pinned);

}  // namespace ck::store
