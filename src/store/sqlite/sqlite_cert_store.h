// SQLite (WAL) implementation of CertStore.
#pragma once

#include <memory>

#include "store/cert_store.h"

namespace ck::store {

Result<std::unique_ptr<CertStore>> open_sqlite_cert_store(const std::string& path,
                                                          const StoreOptions& options);

}  // namespace ck::store
