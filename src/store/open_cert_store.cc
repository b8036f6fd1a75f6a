// The one factory that picks a store backend from its URL.
#include "store/cert_store.h"
#include "store/sqlite/sqlite_cert_store.h"

namespace ck::store {

Result<std::unique_ptr<CertStore>> open_postgres_cert_store(const std::string& url,
                                                            const StoreOptions& options);

Result<std::unique_ptr<CertStore>> open_cert_store(const std::string& url, const StoreOptions& options) {
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    return open_postgres_cert_store(url, options);
  }
  std::string path = url.rfind("sqlite:", 0) == 0 ? url.substr(7) : url;
  if (path.empty()) return make_error(ErrorKind::kInvalidArgument, "empty store path in '" + url + "'");
  return open_sqlite_cert_store(path, options);
}

}  // namespace ck::store
