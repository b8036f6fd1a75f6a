// Turns the OpenSSL error queue into an Error at the crypto boundary.
#pragma once

#include <string>

#include "common/result.h"

namespace ck::crypto {

// Drains the thread's OpenSSL error queue into "what: reason; reason".
Error openssl_error(const std::string& what, ErrorKind kind = ErrorKind::kCrypto);

// Discards queued OpenSSL errors (after an expected failure).
void clear_openssl_errors();

}  // namespace ck::crypto
