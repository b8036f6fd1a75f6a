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
    CK_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::generate(crypto::Algorithm::kEcdsaP256));
    CK_ASSIGN_OR_RETURN(std::string pem, key.to_pkcs8_pem());
    CK_RETURN_IF_ERROR(write_file_atomic(key_path, pem, 0600));
    return with_certificate(std::move(key), agent_id);
  }
  if (fd < 0) return errno_error("cannot open", key_path, errno);
  struct stat st {};
  const bool stat_ok = ::fstat(fd, &st) == 0;
  ::close(fd);
  if (!stat_ok || !S_ISREG(st.st_mode)) return make_error(ErrorKind::kCorrupt, key_path + " is not a regular file");
  if (st.st_mode & 077) {
    return make_error(ErrorKind::kPermissionDenied,
                      key_path + " is readable by others; it must be 0600 (chmod 600 " + key_path + ")");
  }
  CK_ASSIGN_OR_RETURN(std::string pem, read_file(key_path, 64 * 1024));
  auto key = crypto::PrivateKey::from_pem(pem);
  if (!key.ok()) return make_error(ErrorKind::kCorrupt, key_path + ": " + key.error().message);
  return with_certificate(std::move(key).value(), agent_id);
}

}  // namespace ck::agent
