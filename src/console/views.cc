#include "console/views.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <sstream>

#include "cli/csv_writer.h"
#include "cli/mismatched_csv.h"

namespace ck::console {
namespace json = boost::json;

namespace {

// A page request: ?q=&sort=&order=&page=&per_page=. Errors: a 400 answer.
struct PageArgs {
  registry::EndpointQuery query;
  int64_t page = 1;
  int64_t per_page = kDefaultPerPage;
};

std::optional<int64_t> to_int(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

Result<PageArgs> page_args(const std::map<std::string, std::string>& q, bool paged) {
  PageArgs a;
  auto get = [&](const char* k) -> std::string {
    auto it = q.find(k);
    return it == q.end() ? "" : it->second;
  };
  a.query.search = get("q");
  if (a.query.search.size() > 200) return make_error(ErrorKind::kInvalidArgument, "q: at most 200 characters");
  const std::string sort = get("sort");
  if (sort.empty() || sort == "agent_id") {
    a.query.sort = registry::EndpointSort::kAgentId;
  } else if (sort == "hostname") {
    a.query.sort = registry::EndpointSort::kHostname;
  } else if (sort == "last_seen") {
    a.query.sort = registry::EndpointSort::kLastSeen;
  } else if (sort == "pinned") {
    a.query.sort = registry::EndpointSort::kPinned;
  } else {
    return make_error(ErrorKind::kInvalidArgument, "sort: agent_id, hostname, last_seen or pinned");
  }
  const std::string order = get("order");
  if (order != "" && order != "asc" && order != "desc")
    return make_error(ErrorKind::kInvalidArgument, "order: asc or desc");
  a.query.descending = order == "desc";
  if (!paged) {
    a.query.limit = INT64_MAX;
    return a;
  }
  if (auto p = get("page"); !p.empty()) {
    auto v = to_int(p);
    if (!v || *v < 1 || *v > 1000000000) return make_error(ErrorKind::kInvalidArgument, "page: a number from 1");
    a.page = *v;
  }
  if (auto p = get("per_page"); !p.empty()) {
    auto v = to_int(p);
    if (!v || *v < 1 || *v > kMaxPerPage)
      return make_error(ErrorKind::kInvalidArgument, "per_page: a number from 1 to " + std::to_string(kMaxPerPage));
    a.per_page = *v;
  }
  a.query.limit = a.per_page;
  a.query.offset = (a.page - 1) * a.per_page;
  return a;
}

Response registry_failure(const Error& e) {
  spdlog::warn("console: registry query failed: {}", e.message);
  Response r = error_response(503, "the registry is unavailable: " + e.message);
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

std::vector<std::string> split_words(const std::string& joined) {
  std::vector<std::string> out;
  std::istringstream in(joined);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

std::string straggler_reason(const store::Keyring& ring, const std::string& fingerprint) {
  const store::CertRecord* rec = ring.find(fingerprint);
  if (!rec) return "unknown";
  return store::status_name(rec->status);
}

std::string straggler_advice(const std::string& reason) {
  if (reason == "retired") return "will follow the rotation at its next check-in";
  if (reason == "expired")
    return "follows the rotation at its next check-in while the store holds the expired key; if it stays behind, "
           "reinstall OfcNTCer.dat from certmgr -e";
  if (reason == "revoked") return "reinstall OfcNTCer.dat from certmgr -e (a revoked key is not followed)";
  if (reason == "current") return "up to date";
  return "pins a certificate this store does not hold (another installation, or deleted): reinstall OfcNTCer.dat "
         "from certmgr -e";
}

Response Views::stragglers(const std::map<std::string, std::string>& q) {
  auto args = page_args(q, true);
  if (!args.ok()) return error_response(400, args.error().message);
  auto ring = deps_.snapshot();
  args->query.not_pinning = ring->current_fingerprint;
  auto page = deps_.registry->query_endpoints(args->query);
  if (!page.ok()) return registry_failure(page.error());
  json::array rows;
  for (const auto& e : page->rows) {
    const std::string reason = straggler_reason(*ring, e.pinned_fingerprint);
    rows.push_back(json::object{{"agent_id", e.agent_id},
                                {"hostname", e.hostname},
                                {"ip_address", e.ip_address},
                                {"pinned_fingerprint", e.pinned_fingerprint},
                                {"last_seen", format_rfc3339(e.last_seen)},
                                {"reason", reason},
                                {"advice", straggler_advice(reason)}});
  }
  return json_response(200, json::object{{"total", page->total},
                                         {"page", args->page},
                                         {"per_page", args->per_page},
                                         {"current_fingerprint", ring->current_fingerprint},
                                         {"rows", std::move(rows)}});
}

Response Views::stragglers_csv(const std::map<std::string, std::string>& q) {
  auto args = page_args(q, false);
  if (!args.ok()) return error_response(400, args.error().message);
  auto ring = deps_.snapshot();
  // Streamed from the registry in agent_id order, like certmgr -l (same rows, same
  // order when unfiltered); a search filters them.
  std::string out = cli::csv_row(cli::mismatched_csv_header());
  std::string needle = args->query.search;
  for (char& c : needle) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  Status s = deps_.registry->for_each_mismatched(ring->current_fingerprint, [&](const registry::Endpoint& e) {
    if (!needle.empty() && lower(e.agent_id).find(needle) == std::string::npos &&
        lower(e.hostname).find(needle) == std::string::npos)
      return ok_status();
    const store::CertRecord* rec = ring->find(e.pinned_fingerprint);
    cli::append_mismatched_csv_row(out, e, rec ? store::status_name(rec->status) : "unknown");
    return ok_status();
  });
  if (!s.ok()) return registry_failure(s.error());
  Response r;
  r.content_type = "text/csv; charset=utf-8";
  r.body = std::move(out);
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"stragglers.csv\"");
  return r;
}

Response Views::agents(const std::map<std::string, std::string>& q) {
  auto args = page_args(q, true);
  if (!args.ok()) return error_response(400, args.error().message);
  auto page = deps_.registry->query_endpoints(args->query);
  if (!page.ok()) return registry_failure(page.error());
  json::array rows;
  for (const auto& e : page->rows) {
    rows.push_back(json::object{{"agent_id", e.agent_id},
                                {"hostname", e.hostname},
                                {"key_fingerprint", e.key_fingerprint},
                                {"enrollment", e.enrollment},
                                {"pinned_fingerprint", e.pinned_fingerprint},
                                {"last_seen", format_rfc3339(e.last_seen)}});
  }
  return json_response(200, json::object{{"total", page->total},
                                         {"page", args->page},
                                         {"per_page", args->per_page},
                                         {"rows", std::move(rows)}});
}

Response Views::audit(const std::map<std::string, std::string>& q) {
  store::AuditQuery query;
  query.limit = kDefaultAuditLimit;
  if (auto it = q.find("limit"); it != q.end() && !it->second.empty()) {
    auto v = to_int(it->second);
    if (!v || *v < 1 || *v > kMaxAuditLimit)
      return error_response(400, "limit: a number from 1 to " + std::to_string(kMaxAuditLimit));
    query.limit = *v;
  }
  std::vector<store::AuditEntry> entries;
  Status s = deps_.store->read([&](store::CertTxn& t) -> Status {
    CK_ASSIGN_OR_RETURN(entries, t.audit_log(query));
    return ok_status();
  });
  if (!s.ok()) {
    spdlog::warn("console: audit log read failed: {}", s.error().message);
    return error_response(503, "the store is unavailable: " + s.error().message);
  }
  // The shape of `certmgr audit --json`.
  json::array out;
  for (const auto& e : entries) {
    json::array fps;
    for (const auto& fp : split_words(e.fingerprints)) fps.push_back(json::string(fp));
    out.push_back(json::object{{"at", format_rfc3339(e.at)},
                               {"at_unix", e.at},
                               {"actor", e.actor},
                               {"action", e.action},
                               {"fingerprints", std::move(fps)},
                               {"detail", e.detail}});
  }
  return json_response(200, json::object{{"entries", std::move(out)}});
}

Response Views::send_command(const std::string& body, const std::string& actor) {
  if (body.size() > protocol::kMaxRequestBodyBytes) return error_response(413, "request body too large");
  auto value = protocol::parse_json_body(body);
  if (!value.ok()) return error_response(400, value.error().message);
  if (!value->is_object()) return error_response(422, "expected a JSON object");
  const json::object& o = value->as_object();
  protocol::AdminMessageRequest req;
  const json::value* command = o.if_contains("command");
  const json::value* to = o.if_contains("to");
  const json::value* all = o.if_contains("all");
  const json::value* args = o.if_contains("args");
  if (!command || !command->is_string()) return error_response(422, "command: ping, set-policy or run-scan");
  req.command = std::string(command->as_string());
  const bool to_all = all && all->is_bool() && all->as_bool();
  const bool to_one = to && to->is_string() && !to->as_string().empty();
  if (to_all == to_one) return error_response(422, "give exactly one of \"to\": AGENT_ID or \"all\": true");
  req.to = to_all ? std::string(protocol::kToAll) : std::string(to->as_string());
  if (args && !args->is_null()) {
    if (!args->is_object()) return error_response(422, "args: a JSON object");
    req.args = args->as_object();
  }
  auto checked = protocol::admin_message_request_from_json(protocol::to_json(req));
  if (!checked.ok()) return error_response(422, checked.error().message);
  auto added = deps_.issue(*checked, actor);
  if (!added.ok()) {
    Response busy = error_response(503, "the outbox is unavailable: " + added.error().message);
    busy.headers.emplace_back("Retry-After", "1");
    return busy;
  }
  Status audited = deps_.store->write([&](store::CertTxn& t) {
    return t.append_audit(store::AuditEntry{added->iat, actor, "send",
                                            "command " + added->command + " to " + added->audience + ", message " +
                                                std::to_string(added->seq) + ", jti " + added->jti,
                                            ""});
  });
  if (!audited.ok()) spdlog::warn("console: message {} queued but not audited: {}", added->seq, audited.error().message);
  return json_response(200, protocol::to_json(protocol::AdminMessageResponse{added->seq, added->jti, added->exp}));
}

}  // namespace ck::console
