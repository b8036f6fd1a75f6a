// SQLite implementation of EndpointRegistry: "registry.db" (WAL, synchronous=FULL)
// beside the store's database, so registry traffic never contends with certmgr's
// store transactions.
//
// Thread-safety: all methods may be called concurrently. Writes use one connection
// behind a mutex; point reads a pool of their own (one per concurrent caller);
// for_each_mismatched opens its own read connection (a WAL snapshot), so a long scan
// neither blocks check-ins nor is blocked by them.
#pragma once

#include <memory>
#include <string>

#include "registry/endpoint_registry.h"

namespace ck::registry {

// Opens (creating when missing) the registry database at `path`. With `read_only`, or
// when this user cannot write an existing registry, it opens read-only: reads and
// scans work, upsert_batch answers kPermissionDenied.
Result<std::unique_ptr<EndpointRegistry>> open_sqlite_endpoint_registry(const std::string& path,
                                                                        bool read_only = false);

}  // namespace ck::registry
