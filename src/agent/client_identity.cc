#include "agent/client_identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/clock.h"
#include "common/file_util.h"

namespace ck::agent {
namespace {

constexpr int kCertificateDays = 3650;

Result<std::shared_ptr<const ClientIdentity>> with_certificate(crypto::PrivateKey key, const std::string& agent_id) {
  CK_ASSIGN_OR_RETURN(auto cert, crypto::Certificate::make_self_signed(key, agent_id, kCertificateDays,
                                                                        system_clock().now() - 300));
  return std::make_shared<const ClientIdentity>(ClientIdentity{std::move(key), std::move(cert)});
}

}  // namespace

Result<std::shared_ptr<const ClientIdentity>> make_client_identity(const std::string& agent_id) {
  CK_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::generate(crypto::Algorithm::kEcdsaP256));
  return with_certificate(std::move(key), agent_id);
}

Result<std::shared_ptr<const ClientIdentity>> load_or_create_client_identity(const std::string& key_path,
                                                                            const std::string& agent_id) {
  int fd = ::open(key_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    // Made once: O_EXCL, so two starts at the same moment cannot each keep another key.
    CK_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::generate(crypto::Algorithm::kEcdsaP256));
    CK_ASSIGN_OR_RETURN(std::string pem, key.to_pkcs8_pem());
    int out = ::open(key_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0 && errno == EEXIST) return load_or_create_client_identity(key_path, agent_id);
    if (out < 0) return errno_error("cannot create", key_path, errno);
    const bool written = ::write(out, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size()) && ::fsync(out) == 0;
    ::close(out);
    if (!written) {
      ::unlink(key_path.c_str());
      return errno_error("cannot write", key_path, errno);
    }
    return with_certificate(std::move(key), agent_id);
  }
  if (fd < 0) return errno_error("cannot open", key_path, errno);
  // Checked and read on the same descriptor: what was checked is what is read.
  struct stat st {};
  std::string pem;
  Status read_ok = [&]() -> Status {
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
      return make_error(ErrorKind::kCorrupt, key_path + " is not a regular file");
    if (st.st_uid != ::geteuid()) {
      return make_error(ErrorKind::kPermissionDenied, key_path + " belongs to another user");
    }
    if (st.st_mode & 077) {
      return make_error(ErrorKind::kPermissionDenied,
                        key_path + " is readable by others; it must be 0600 (chmod 600 " + key_path + ")");
    }
    if (st.st_size > 64 * 1024) return make_error(ErrorKind::kCorrupt, key_path + " is too large for a key");
    pem.resize(static_cast<size_t>(st.st_size));
    if (::read(fd, pem.data(), pem.size()) != static_cast<ssize_t>(pem.size()))
      return errno_error("cannot read", key_path, errno);
    return ok_status();
  }();
  ::close(fd);
  CK_RETURN_IF_ERROR(read_ok);
  auto key = crypto::PrivateKey::from_pem(pem);
  if (!key.ok()) return make_error(ErrorKind::kCorrupt, key_path + ": " + key.error().message);
  return with_certificate(std::move(key).value(), agent_id);
}

}  // namespace ck::agent
