// The one factory that picks an outbox backend from the store's URL.
#include "outbox/outbox.h"
#include "store/store_url.h"

namespace ck::outbox {

Result<std::unique_ptr<Outbox>> open_sqlite_outbox(const std::string& path);
Result<std::unique_ptr<Outbox>> open_postgres_outbox(const std::string& url);

Result<std::unique_ptr<Outbox>> open_outbox(const std::string& store_url) {
  CK_ASSIGN_OR_RETURN(store::StoreUrl url, store::parse_store_url(store_url));
  if (url.postgres) return open_postgres_outbox(url.pg_url);
  return open_sqlite_outbox(url.sqlite_path);
}

}  // namespace ck::outbox
