// Encrypts private keys at rest: encrypted PKCS#8 (PBES2, AES-256-CBC) under a
// key-encryption key (KEK) kept apart from the database, in a 0600 file.
#pragma once

#include <optional>
#include <string>

#include "common/result.h"
#include "crypto/key.h"

namespace ck::store {

class KeyProtector {
 public:
  // Loads the KEK from `path`, creating it (32 random bytes, hex, mode 0600) when
  // `create` is set and it does not exist. Refuses (kPermissionDenied) a symlink, a file
  // owned by another user (root excepted), or one with any group or other permission bit.
  static Result<KeyProtector> open(const std::string& path, bool create);

  Result<std::string> seal(const crypto::PrivateKey& key) const;
  Result<crypto::PrivateKey> unseal(const std::string& sealed) const;
  const std::string& path() const { return path_; }

 private:
  KeyProtector(std::string path, std::string kek) : path_(std::move(path)), kek_hex_(std::move(kek)) {}
  std::string path_;
  std::string kek_hex_;
};

// $CERTKEEPER_STORE_KEY_FILE, else `fallback`.
std::string key_file_path(const std::string& fallback);

}  // namespace ck::store
