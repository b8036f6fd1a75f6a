// The endpoint registry: which agents exist and which certificate each pins.
// Implementations: SQLite (embedded default; file "registry.db" beside the store's
// database) and PostgreSQL (same database as the store). open_endpoint_registry()
// picks one from the store URL. Thread-safe: the server calls it from many threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace ck::registry {

struct Endpoint {
  std::string agent_id;  // 1-64 of [A-Za-z0-9._-]
  std::string hostname;
  std::string ip_address;
  std::string domain;
  std::string os;
  std::string agent_version;
  std::string pinned_fingerprint;
  int64_t last_seq = 0;
  int64_t first_seen = 0;  // unix seconds
  int64_t last_seen = 0;
  // A pin report from the agent's channel (after a rotation pushed there): only
  // pinned_fingerprint and last_seen change, and only on an existing row (the agent
  // checked in before it opened its channel); the other fields are ignored.
  bool pin_report = false;
  // Agent identity (DESIGN.md §5): SHA-256 of the SPKI of the key the agent presents
  // in its TLS handshakes ("" = none). The first key seen for an id is bound to it;
  // afterwards only that key's holder changes the row.
  std::string key_fingerprint;
  // "accepted" | "pending" (manual enrollment, waiting for `certmgr agents accept`) |
  // "rejected". What a new binding starts with; an existing row keeps its own.
  std::string enrollment = "accepted";
};

inline constexpr const char* kEnrollmentAccepted = "accepted";
inline constexpr const char* kEnrollmentPending = "pending";
inline constexpr const char* kEnrollmentRejected = "rejected";

// A page of endpoints for the web console (searched, sorted and paged in SQL, so it
// stays fast at a million rows).
enum class EndpointSort { kAgentId, kHostname, kLastSeen, kPinned };
struct EndpointQuery {
  // Only endpoints whose pinned fingerprint is not this one (the `certmgr -l` set);
  // empty: every endpoint.
  std::string not_pinning;
  // Case-insensitive substring of agent_id or hostname; empty: no filter.
  std::string search;
  EndpointSort sort = EndpointSort::kAgentId;  // ties broken by agent_id
  bool descending = false;
  int64_t offset = 0;
  int64_t limit = 50;
};
struct EndpointPage {
  int64_t total = 0;  // rows matching the filters, over all pages
  std::vector<Endpoint> rows;
};

class EndpointRegistry {
 public:
  virtual ~EndpointRegistry() = default;

  // Inserts or updates all `endpoints` in ONE transaction (group commit). first_seen is
  // kept from the existing row; pin reports update only the pin (see Endpoint).
  // Returns only after the transaction committed.
  // A row bound to a key is written only by a check-in presenting that key; a row
  // without a key yet is bound to the key this check-in presents. The agent ids of
  // the rows not written for that reason go to `refused` (when given); they are not
  // an error of the batch. Callers keep the check-ins of one agent id in a batch to one
  // key (BatchingWriter does): the PostgreSQL registry merges a batch per id and writes
  // only its last check-in, which matches a run in order only when all of them are
  // accepted or all refused.
  virtual Status upsert_batch(const std::vector<Endpoint>& endpoints, std::vector<std::string>* refused = nullptr) = 0;

  // Every endpoint, ordered by agent_id (certmgr agents list).
  virtual Status for_each_endpoint(const std::function<Status(const Endpoint&)>& fn) = 0;
  // certmgr agents accept|reject. Errors: kNotFound (no such agent).
  virtual Status set_enrollment(const std::string& agent_id, const std::string& enrollment) = 0;
  // certmgr agents forget: unbinds the key (an endpoint reinstalled with a new key
  // binds its new one at its next check-in); enrollment starts over as pending.
  // Errors: kNotFound.
  virtual Status forget_key(const std::string& agent_id) = 0;

  // Streams every endpoint whose pinned fingerprint is not `current_fingerprint`,
  // ordered by agent_id, without holding the whole result in memory. `fn` returning an
  // error stops the scan and that error is returned.
  virtual Status for_each_mismatched(const std::string& current_fingerprint,
                                     const std::function<Status(const Endpoint&)>& fn) = 0;

  // One page of the endpoints `query` selects, and how many it selects in all (one
  // read snapshot). Errors: kInvalidArgument for a negative offset or limit.
  virtual Result<EndpointPage> query_endpoints(const EndpointQuery& query) = 0;

  // Number of endpoints pinning each fingerprint.
  virtual Result<std::map<std::string, int64_t>> count_by_fingerprint() = 0;

  virtual Result<std::optional<Endpoint>> find(const std::string& agent_id) = 0;
};

// store_url as for open_cert_store: "sqlite:PATH" -> registry.db beside PATH;
// "postgresql://..." -> same database.
Result<std::unique_ptr<EndpointRegistry>> open_endpoint_registry(const std::string& store_url);

// The SQLite registry file for a store database path: "/x/ck.db" -> "/x/registry.db".
std::string sqlite_registry_path(const std::string& store_db_path);

}  // namespace ck::registry
