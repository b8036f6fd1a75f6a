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

bool is_valid_agent_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  // "all" addresses every agent in admin messages, so no agent may be called that.
  if (id.size() == 3 && (id[0] | 0x20) == 'a' && (id[1] | 0x20) == 'l' && (id[2] | 0x20) == 'l') return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace ck::registry
