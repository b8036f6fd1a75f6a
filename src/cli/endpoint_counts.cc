#include "cli/endpoint_counts.h"

#include "cli/cli_support.h"
#include "registry/endpoint_registry.h"
#include "store/cert_store.h"

namespace ck::cli {

Result<std::map<std::string, int64_t>> endpoint_counts(const GlobalOptions& global) {
  auto registry = registry::open_endpoint_registry(
      store_url(global));
  if (!registry.ok()) {
    // No server has recorded a check-in yet: no registry, no endpoints.
    if (registry.error().kind == ErrorKind::kNotFound) return std::map<std::string, int64_t>{};
    return registry.error();
  }
  return (*registry)->count_by_fingerprint();
}

}  // namespace ck::cli
