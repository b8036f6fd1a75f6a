// Byte encodings and small primitives: hex, base64url (RFC 4648 §5, no padding),
// SHA-256, random bytes and constant-time comparison — all on OpenSSL.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace ck::crypto {

std::string to_hex(std::string_view bytes);
std::string base64url_encode(std::string_view bytes);
Result<std::string> base64url_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);

// Raw 32-byte SHA-256 digest.
std::string sha256(std::string_view data);

// Cryptographically random bytes (RAND_bytes).
std::string random_bytes(size_t n);

// Equality that takes the same time wherever the first difference is.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace ck::crypto
