#include "store/key_protector.h"

#include <sys/stat.h>

#include <cstdlib>

#include "common/file_util.h"
#include "crypto/encoding.h"

namespace ck::store {

std::string key_file_path(const std::string& fallback) {
  const char* env = std::getenv("CERTKEEPER_STORE_KEY_FILE");
  return env && *env ? env : fallback;
}

Result<KeyProtector> KeyProtector::open(const std::string& path, bool create) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    if (!create) {
      return make_error(ErrorKind::kNotFound,
                        "key-encryption key " + path + " is missing (the store's keys cannot be read)");
    }
    std::string kek = crypto::to_hex(crypto::random_bytes(32));
    CK_RETURN_IF_ERROR(write_file_atomic(path, kek + "\n", 0600));
    return KeyProtector(path, kek);
  }
  if (st.st_mode & 0077) {
    return make_error(ErrorKind::kPermissionDenied,
                      "key-encryption key " + path + " is readable by others (chmod 600 it)");
  }
  CK_ASSIGN_OR_RETURN(std::string data, read_file(path, 4096));
  while (!data.empty() && (data.back() == '\n' || data.back() == '\r')) data.pop_back();
  if (data.size() < 32) return make_error(ErrorKind::kCorrupt, "key-encryption key " + path + " is too short");
  return KeyProtector(path, data);
}

Result<std::string> KeyProtector::seal(const crypto::PrivateKey& key) const {
  return key.to_encrypted_pkcs8_der(kek_hex_);
}

Result<crypto::PrivateKey> KeyProtector::unseal(const std::string& sealed) const {
  auto key = crypto::PrivateKey::from_encrypted_pkcs8_der(sealed, kek_hex_);
  if (!key.ok()) {
    return make_error(ErrorKind::kCrypto,
                      "cannot decrypt a stored private key with " + path_ + " (wrong key-encryption key?)");
  }
  return key;
}

}  // namespace ck::store
