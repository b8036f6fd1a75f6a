#include <cstdlib>

#include "common/install_layout.h"
#include "store/cert_store.h"

namespace ck::store {

const char* status_name(CertStatus s) {
  switch (s) {
    case CertStatus::kCurrent: return "current";
    case CertStatus::kRetired: return "retired";
    case CertStatus::kExpired: return "expired";
    case CertStatus::kRevoked: return "revoked";
  }
  return "unknown";
}

Result<CertStatus> parse_status(const std::string& s) {
  if (s == "current") return CertStatus::kCurrent;
  if (s == "retired") return CertStatus::kRetired;
  if (s == "expired") return CertStatus::kExpired;
  if (s == "revoked") return CertStatus::kRevoked;
  return make_error(ErrorKind::kCorrupt, "unknown certificate status '" + s + "'");
}

std::string default_store_url() {
  const char* env = std::getenv("CERTKEEPER_STORE");
  if (env && *env) return env;
  return "sqlite:" + install_layout().state_dir + "/certkeeper.db";
}

}  // namespace ck::store
