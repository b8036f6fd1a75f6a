#include "cli/mismatched_csv.h"

#include "cli/csv_writer.h"
#include "common/clock.h"

namespace ck::cli {

const std::vector<std::string>& mismatched_csv_header() {
  static const std::vector<std::string> kHeader = {"agent_id",           "hostname",      "ip_address",
                                                   "domain",             "pinned_fingerprint", "pinned_status",
                                                   "last_seen_utc",      "agent_version"};
  return kHeader;
}

void append_mismatched_csv_row(std::string& out, const registry::Endpoint& e, std::string_view pinned_status) {
  const std::string last_seen = format_rfc3339(e.last_seen);
  append_csv_row(out, {e.agent_id, e.hostname, e.ip_address, e.domain, e.pinned_fingerprint, pinned_status, last_seen,
                       e.agent_version});
}

}  // namespace ck::cli
