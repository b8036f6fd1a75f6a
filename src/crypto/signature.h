// Raw signatures in JWS form (RFC 7518 §3.4: ES256 is R||S, 64 bytes; RFC 8037: EdDSA).
// Verification fails closed: any error is "invalid".
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "crypto/key.h"

namespace ck::crypto {

// "ES256" | "EdDSA" | "RS256".
const char* jws_algorithm(Algorithm alg);

Result<std::string> sign(const PrivateKey& key, std::string_view data);

// True only when `signature` is a valid JWS-form signature of `data` by `key`.
bool verify(const PublicKey& key, std::string_view data, std::string_view signature);

}  // namespace ck::crypto
