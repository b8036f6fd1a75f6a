// certmgr audit [--since WHEN] [--limit N]   (global --json for one JSON document)
// The store's append-only audit log — who did what, when, to which certificates —
// without SQL. Oldest first; --limit keeps the most recent N of those --since selects.
// Read-only: needs only read access to the store. Output shapes: docs/output.md.
#include <iostream>
#include <sstream>

#include "cli/cli_support.h"
#include "cli/output.h"
#include "cli/time_arg.h"
#include "common/clock.h"
#include "common/logging.h"

namespace ck::cli {
namespace {

struct AuditArgs {
  std::string since;
  int64_t limit = 0;
  bool limit_given = false;
};

std::vector<std::string> split_fingerprints(const std::string& joined) {
  std::vector<std::string> out;
  std::istringstream in(joined);
  for (std::string fp; in >> fp;) out.push_back(fp);
  return out;
}

boost::json::object entry_json(const store::AuditEntry& e) {
  boost::json::array fps;
  for (const auto& fp : split_fingerprints(e.fingerprints)) fps.push_back(json_text(fp));
  return boost::json::object{{"at", format_rfc3339(e.at)},
                             {"at_unix", e.at},
                             {"actor", json_text(e.actor)},
                             {"action", json_text(e.action)},
                             {"fingerprints", std::move(fps)},
                             {"detail", json_text(e.detail)}};
}

// AT ACTOR ACTION FINGERPRINTS DETAIL, tab-separated; every field escaped, so one entry
// is always exactly one line.
std::string entry_line(const store::AuditEntry& e) {
  std::string fps;
  for (const auto& fp : split_fingerprints(e.fingerprints)) fps += (fps.empty() ? "" : ",") + text_field(fp);
  return format_rfc3339(e.at) + "\t" + text_field(e.actor) + "\t" + text_field(e.action) + "\t" +
         (fps.empty() ? "-" : fps) + "\t" + text_field(e.detail);
}

int run_audit(const AuditArgs& a, GlobalOptions& global) {
  if (a.limit_given && a.limit < 1) throw UsageError("--limit must be at least 1");
  store::AuditQuery query;
  query.limit = a.limit;
  if (!a.since.empty()) {
    auto since = parse_since(a.since, system_clock().now());
    if (!since.ok()) throw UsageError(since.error().message);
    query.since = *since;
  }
  auto store = open_store(global, /*for_write=*/false);
  if (!store.ok()) return fail(store.error());
  std::vector<store::AuditEntry> entries;
  Status s = (*store)->read([&](store::CertTxn& t) -> Status {
    CK_ASSIGN_OR_RETURN(entries, t.audit_log(query));
    return ok_status();
  });
  if (!s.ok()) return fail(s.error());
  spdlog::info("audit: {} entries from {} (since {}, limit {})", entries.size(), (*store)->location(),
               format_rfc3339(query.since), query.limit);
  if (global.json) {
    boost::json::array out;
    for (const auto& e : entries) out.push_back(entry_json(e));
    print_json(boost::json::object{{"entries", std::move(out)}});
    return kExitOk;
  }
  for (const auto& e : entries) std::cout << entry_line(e) << "\n";
  std::cout.flush();
  if (!std::cout) return fail(make_error(ErrorKind::kIo, "cannot write to standard output"));
  return kExitOk;
}

}  // namespace

void add_audit_command(CLI::App& root, GlobalOptions& global) {
  auto a = std::make_shared<AuditArgs>();
  CLI::App* cmd = root.add_subcommand("audit", "the audit log: who did what, when, to which certificates");
  cmd->add_option("--since", a->since,
                  "only entries at or after WHEN: 2026-11-01, 2026-11-01T12:00:00Z (UTC) or 30m, 12h, 7d, 2w ago")
      ->type_name("WHEN");
  cmd->add_option("--limit", a->limit, "only the most recent N entries (still printed oldest first)")
      ->type_name("N");
  cmd->callback([a, cmd, &global] {
    a->limit_given = cmd->count("--limit") > 0;
    global.exit_code = run_audit(*a, global);
  });
}

}  // namespace ck::cli
