// PostgreSQL implementation of EndpointRegistry: table `endpoints` in the store's
// database (the first schema of the connection's search_path), so several servers
// behind a load balancer share one registry. SQL kept to what CockroachDB and
// YugabyteDB also run (INSERT ... ON CONFLICT, multi-array unnest, DECLARE CURSOR /
// FETCH). A group commit is one prepared statement per kind whatever its size (the
// batch travels as arrays); a point read is prepared once per connection.
//
// Thread-safety: all methods may be called concurrently. Writes use one connection
// behind a mutex; point reads a pool of their own (one per concurrent caller);
// for_each_mismatched a connection of its own and a server-side cursor (FETCH 1000
// rows at a time) in a read-only snapshot.
#pragma once

#include <memory>
#include <string>

#include "registry/endpoint_registry.h"

namespace ck::registry {

// `url`: libpq connection URI ("postgresql://user@host:port/db[?options=...]").
Result<std::unique_ptr<EndpointRegistry>> open_postgres_endpoint_registry(const std::string& url);

}  // namespace ck::registry
