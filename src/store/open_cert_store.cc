// The one factory that picks a store backend from its URL.
#include "store/cert_store.h"
#include "store/sqlite/sqlite_cert_store.h"
#include "store/store_url.h"

namespace ck::store {

Result<std::unique_ptr<CertStore>> open_postgres_cert_store(const std::string& url,
                                                            const StoreOptions& options);

Result<std::unique_ptr<CertStore>> open_cert_store(const std::string& url, const StoreOptions& options) {
  CK_ASSIGN_OR_RETURN(StoreUrl parsed, parse_store_url(url));
  if (parsed.postgres) return open_postgres_cert_store(parsed.pg_url, options);
  return open_sqlite_cert_store(parsed.sqlite_path, options);
}

Status check_store_writable(const std::string& url) {
  CK_ASSIGN_OR_RETURN(StoreUrl parsed, parse_store_url(url));
  if (parsed.postgres) return ok_status();  // the database's own grants decide, at the first write
  return check_sqlite_store_writable(parsed.sqlite_path);
}

}  // namespace ck::store
