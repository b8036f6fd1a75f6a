#include "agent/cert_cache.h"

#include "crypto/encoding.h"

namespace ck::agent {

Result<std::shared_ptr<const crypto::Certificate>> CertCache::parse(std::string_view bytes) {
  std::string key = crypto::sha256(bytes);
  {
    std::lock_guard lock(mu_);
    if (auto it = by_bytes_.find(key); it != by_bytes_.end()) return it->second;
  }
  CK_ASSIGN_OR_RETURN(crypto::Certificate cert, crypto::Certificate::parse(bytes));
  auto shared = intern(std::move(cert));
  std::lock_guard lock(mu_);
  by_bytes_.emplace(std::move(key), shared);
  return shared;
}

std::shared_ptr<const crypto::Certificate> CertCache::intern(crypto::Certificate cert) {
  std::string key = crypto::sha256(cert.der());
  std::lock_guard lock(mu_);
  auto [it, inserted] = by_der_.try_emplace(key);
  if (inserted) it->second = std::make_shared<const crypto::Certificate>(std::move(cert));
  return it->second;
}

std::optional<crypto::VerifiedRotation> CertCache::find_link(const std::string& by_old,
                                                             const std::string& by_new) {
  std::string key = crypto::sha256(by_old + "\n" + by_new);
  std::lock_guard lock(mu_);
  auto it = links_.find(key);
  if (it == links_.end()) return std::nullopt;
  return it->second;
}

void CertCache::remember_link(const std::string& by_old, const std::string& by_new,
                              const crypto::VerifiedRotation& link) {
  std::string key = crypto::sha256(by_old + "\n" + by_new);
  std::lock_guard lock(mu_);
  links_.emplace(std::move(key), link);
}

}  // namespace ck::agent
