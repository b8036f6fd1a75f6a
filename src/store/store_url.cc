#include "store/store_url.h"

namespace ck::store {

Result<StoreUrl> parse_store_url(const std::string& url) {
  StoreUrl out;
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    out.postgres = true;
    out.pg_url = url;
    return out;
  }
  out.sqlite_path = url.rfind("sqlite:", 0) == 0 ? url.substr(7) : url;
  if (out.sqlite_path.empty()) return make_error(ErrorKind::kInvalidArgument, "empty store path in '" + url + "'");
  return out;
}

}  // namespace ck::store
