// The columns of `certmgr -l` (list-mismatched) CSV, shared with the web console's
// /api/stragglers.csv so both give the same file. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "registry/endpoint_registry.h"

namespace ck::cli {

// agent_id, hostname, ip_address, domain, pinned_fingerprint, pinned_status,
// last_seen_utc, agent_version
const std::vector<std::string>& mismatched_csv_header();

// Appends one CSV row for `e`; `pinned_status` is the store's status of its pin
// ("retired", "expired", "revoked", or "unknown" when the store does not hold it).
void append_mismatched_csv_row(std::string& out, const registry::Endpoint& e, std::string_view pinned_status);

}  // namespace ck::cli
