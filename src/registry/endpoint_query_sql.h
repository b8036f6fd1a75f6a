// The SQL of EndpointRegistry::query_endpoints, shared by the SQLite and PostgreSQL
// registries: only the placeholder syntax and the substring function differ. Sort
// columns come from a fixed table, never from the request; the search text and the
// fingerprint are bound as parameters. Pure; thread-safe.
#pragma once

#include <cctype>
#include <string>
#include <vector>

#include "registry/endpoint_registry.h"

namespace ck::registry {

struct EndpointQuerySql {
  std::string where;              // "" or " WHERE ..."
  std::string order_limit;        // " ORDER BY ... LIMIT n OFFSET m"
  std::vector<std::string> params;  // in placeholder order: $1/?1, $2/?2
};

// `placeholder` is "?" (SQLite, numbered ?1 ?2) or "$" (PostgreSQL, $1 $2);
// `find_fn` is "instr" (SQLite) or "strpos" (PostgreSQL): (haystack, needle) -> 1-based position or 0.
inline EndpointQuerySql endpoint_query_sql(const EndpointQuery& q, const char* placeholder, const char* find_fn) {
  EndpointQuerySql out;
  std::vector<std::string> conditions;
  auto next = [&](std::string value) {
    out.params.push_back(std::move(value));
    return std::string(placeholder) + std::to_string(out.params.size());
  };
  if (!q.not_pinning.empty()) conditions.push_back("pinned_fingerprint <> " + next(q.not_pinning));
  if (!q.search.empty()) {
    std::string needle = q.search;
    for (char& c : needle) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::string p = next(needle);
    conditions.push_back(std::string("(") + find_fn + "(lower(agent_id), " + p + ") > 0 OR " + find_fn +
                         "(lower(hostname), " + p + ") > 0)");
  }
  for (size_t i = 0; i < conditions.size(); ++i) out.where += (i == 0 ? " WHERE " : " AND ") + conditions[i];
  const char* dir = q.descending ? " DESC" : " ASC";
  const char* column = "agent_id";
  switch (q.sort) {
    case EndpointSort::kAgentId: column = "agent_id"; break;
    case EndpointSort::kHostname: column = "hostname"; break;
    case EndpointSort::kLastSeen: column = "last_seen"; break;
    case EndpointSort::kPinned: column = "pinned_fingerprint"; break;
  }
  out.order_limit = std::string(" ORDER BY ") + column + dir;
  if (q.sort != EndpointSort::kAgentId) out.order_limit += std::string(", agent_id") + dir;
  out.order_limit += " LIMIT " + std::to_string(q.limit) + " OFFSET " + std::to_string(q.offset);
  return out;
}

}  // namespace ck::registry
