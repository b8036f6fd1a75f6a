// JWS compact serialization (RFC 7515) with ES256 / EdDSA (RFC 8037) / RS256.
// Protected header: {"alg": <by key type>, "kid": <key fingerprint>}.
// Verification fails closed and refuses algorithm confusion: "alg" must be the one
// the verifying key implies, and "kid" must name that key.
#pragma once

#include <boost/json.hpp>

#include <string>
#include <string_view>

#include "common/result.h"
#include "crypto/key.h"

namespace ck::crypto {

inline constexpr size_t kMaxJwsBytes = 256 * 1024;

// Signs the serialized `payload` object.
Result<std::string> jws_sign(const PrivateKey& key, const boost::json::object& payload);

struct JwsParts {
  boost::json::object header;
  std::string kid;          // header "kid", may be empty
  std::string payload;      // decoded payload bytes
  std::string signing_input;  // BASE64URL(header) "." BASE64URL(payload)
  std::string signature;    // decoded signature bytes
};

// Splits and decodes without verifying. Errors: kInvalidArgument.
Result<JwsParts> jws_parse(std::string_view compact);

// The header's "kid" (empty when absent), decoding only the header: choosing the key
// to verify with does not need the payload (a rotation link carries a certificate).
// Errors: kInvalidArgument, as jws_parse.
Result<std::string> jws_kid(std::string_view compact);

// Verifies `compact` with `key` and returns its payload object. Errors: kCrypto for a
// bad signature / wrong key, kInvalidArgument for malformed input.
Result<boost::json::object> jws_verify(std::string_view compact, const PublicKey& key);

}  // namespace ck::crypto
