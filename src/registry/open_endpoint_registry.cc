// The one factory that picks a registry backend from the store URL, and the agent id rule.
#include "common/file_util.h"
#include "registry/endpoint_registry.h"
#include "registry/postgres/postgres_endpoint_registry.h"
#include "registry/sqlite/sqlite_endpoint_registry.h"

namespace ck::registry {

Result<std::unique_ptr<EndpointRegistry>> open_endpoint_registry(const std::string& store_url) {
  if (store_url.rfind("postgresql://", 0) == 0 || store_url.rfind("postgres://", 0) == 0) {
    return open_postgres_endpoint_registry(store_url);
  }
  std::string path = store_url.rfind("sqlite:", 0) == 0 ? store_url.substr(7) : store_url;
  if (path.empty())
    return make_error(ErrorKind::kInvalidArgument, "empty store path in '" + store_url + "'");
  return open_sqlite_endpoint_registry(sqlite_registry_path(path));
}

std::string sqlite_registry_path(const std::string& store_db_path) {
  return parent_directory(store_db_path) + "/registry.db";
}

}  // namespace ck::registry
