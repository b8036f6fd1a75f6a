#include "store/key_protector.h"
#include "common/fault_point.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "common/file_util.h"
#include "crypto/encoding.h"

namespace ck::store {

std::string key_file_path(const std::string& fallback) {
  const char* env = std::getenv("CERTKEEPER_STORE_KEY_FILE");
  return env && *env ? env : fallback;
}

namespace {

struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

// The KEK is checked on the descriptor we read (no stat-then-open race), never through a
// symlink, and must belong to us (or root) with no group or other access.
Result<std::string> read_kek(int fd, const std::string& path) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return errno_error("cannot stat key-encryption key", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorKind::kPermissionDenied, "key-encryption key " + path + " is not a regular file");
  }
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    return make_error(ErrorKind::kPermissionDenied,
                      "key-encryption key " + path + " belongs to another user (run as the certkeeper administrator)");
  }
  if (st.st_mode & 0077) {
    return make_error(ErrorKind::kPermissionDenied,
                      "key-encryption key " + path + " is accessible by group or others (chmod 600 it)");
  }
  std::string data;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("cannot read key-encryption key", path, errno);
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > 4096) return make_error(ErrorKind::kCorrupt, "key-encryption key " + path + " is too long");
  }
  return data;
}

}  // namespace

Result<KeyProtector> KeyProtector::open(const std::string& path, bool create) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  if (fd < 0 && errno == ENOENT) {
    if (!create) {
      return make_error(ErrorKind::kNotFound,
                        "key-encryption key " + path + " is missing (the store's keys cannot be read)");
    }
    // Created complete or not at all, and never over another process's key: two first
    // openers racing here must end up with the same key, or one's keys are lost.
    std::string kek = crypto::to_hex(crypto::random_bytes(32));
    Status created = write_new_file(path, kek + "\n", 0600);
    if (!created.ok() && created.error().kind == ErrorKind::kConflict) return open(path, /*create=*/false);
    CK_RETURN_IF_ERROR(created);
    fault_point("store.kek.created");
    return KeyProtector(path, kek);
  }
  if (fd < 0 && errno == ELOOP) {
    return make_error(ErrorKind::kPermissionDenied, "key-encryption key " + path + " is a symbolic link (refused)");
  }
  if (fd < 0) return errno_error("cannot open key-encryption key", path, errno);
  FdCloser closer{fd};
  CK_ASSIGN_OR_RETURN(std::string data, read_kek(fd, path));
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
