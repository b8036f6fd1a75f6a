// Rotation statements (DESIGN.md §4): the payload
//   {"typ":"rotation","from":FP_OLD,"to":FP_NEW,"cert":PEM_NEW,"iat":…,"n":GENERATION}
// signed as JWS by the old key (by_old) and by the new key (by_new).
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "crypto/key.h"
#include "crypto/x509.h"

namespace ck::crypto {

struct SignedRotation {
  std::string by_old;
  std::string by_new;
};

Result<SignedRotation> sign_rotation(const PrivateKey& old_key, const PrivateKey& new_key,
                                     const Certificate& new_cert, int64_t generation, int64_t iat);

struct VerifiedRotation {
  std::string from;
  std::string to;
  Certificate new_cert;
  int64_t generation;
  int64_t iat;
};

// Verifies a link for a holder of `pinned`: `from` must be the pinned key, both
// signatures must verify over the same payload, the certificate must carry `to`'s
// key, and `n` must exceed `held_generation` (no rollback). Fails closed.
Result<VerifiedRotation> verify_rotation(const std::string& by_old, const std::string& by_new,
                                         const PublicKey& pinned, int64_t held_generation);

}  // namespace ck::crypto
