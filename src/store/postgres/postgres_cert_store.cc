// PostgreSQL backend of CertStore (scale-out). Implemented with the registry work (issue 4).
#include "store/cert_store.h"

namespace ck::store {

Result<std::unique_ptr<CertStore>> open_postgres_cert_store(const std::string& url,
                                                            const StoreOptions&) {
  (void)url;
  return make_error(ErrorKind::kUnavailable,
                    "the PostgreSQL store backend is not available in this build yet");
}

}  // namespace ck::store
