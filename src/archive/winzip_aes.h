// WinZip AES (AE-1 / AE-2) decryption of one ZIP entry's raw data, following the
// published format: salt | 2-byte password verifier | AES-CTR ciphertext | 10-byte
// HMAC-SHA1 of the ciphertext; keys from PBKDF2-HMAC-SHA1 (1000 iterations).
// We decrypt AES entries ourselves rather than through libzip because the libzip of
// Debian 12 (1.7.3) rejects entries written by 7-Zip with a spurious "CRC error"
// (fixed upstream in 1.9: "Improve compatibility with WinAES").
// Pure function; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace ck::archive {

// `key_bits`: 128, 192 or 256. Returns the still-compressed plaintext.
// Errors: kCrypto "wrong password" (verifier mismatch), kCorrupt (authentication
// code mismatch: damaged data), kInvalidArgument (too short).
Result<std::string> winzip_aes_decrypt(std::string_view raw, int key_bits,
                                       const std::string& password);

}  // namespace ck::archive
