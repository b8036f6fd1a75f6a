// SQLite (WAL) implementation of CertStore.
#pragma once

#include <memory>

#include "store/cert_store.h"

namespace ck::store {

Result<std::unique_ptr<CertStore>> open_sqlite_cert_store(const std::string& path,
                                                          const StoreOptions& options);

// The write check open_sqlite_cert_store makes (require_write), without opening or
// creating anything; ok when the store's folder does not exist yet.
Status check_sqlite_store_writable(const std::string& path);

}  // namespace ck::store
