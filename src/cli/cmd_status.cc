// certmgr status [--json]   (output shapes: docs/output.md)
// The current certificate, every retained one with its status, and how many
// endpoints pin each. Warns when the current certificate expires within 30 days.
#include <iomanip>
#include <iostream>

#include "cli/cli_support.h"
#include "cli/endpoint_counts.h"
#include "cli/output.h"
#include "common/clock.h"

namespace ck::cli {
namespace {

constexpr int64_t kExpiryWarningSeconds = 30 * 86400;

int run_status(GlobalOptions& global) {
  auto store = open_store(global, /*for_write=*/false);
  if (!store.ok()) return fail(store.error());
  std::vector<store::CertRecord> all;
  Status s = (*store)->read([&](store::CertTxn& t) -> Status {
    CK_ASSIGN_OR_RETURN(all, t.list());
    return ok_status();
  });
  if (!s.ok()) return fail(s.error());
  auto counts = endpoint_counts(global);
  if (!counts.ok()) return fail(counts.error());
  auto endpoints_of = [&](const std::string& fp) -> int64_t {
    auto it = counts->find(fp);
    return it == counts->end() ? 0 : it->second;
  };
  const store::CertRecord* current = nullptr;
  for (const auto& r : all) if (r.status == store::CertStatus::kCurrent) current = &r;
  const int64_t now = system_clock().now();
  const bool expiring = current && current->not_after - now < kExpiryWarningSeconds;

  if (global.json) {
    boost::json::array certs;
    for (const auto& r : all) certs.push_back(cert_to_json(r, endpoints_of(r.fingerprint)));
    boost::json::object out{
        {"store", (*store)->location()},
        {"current", current ? boost::json::value(cert_to_json(*current, endpoints_of(current->fingerprint)))
                            : boost::json::value(nullptr)},
        {"certificates", std::move(certs)}};
    print_json(out);
  } else {
    std::cout << "store: " << (*store)->location() << "\n";
    if (current) {
      std::cout << "current: " << current->fingerprint << "\n"
                << "  algorithm:  " << current->algorithm << "\n"
                << "  subject:    " << text_field(current->subject) << "\n"
                << "  valid:      " << format_rfc3339(current->not_before) << " .. "
                << format_rfc3339(current->not_after) << "\n"
                << "  exportable: " << (current->exportable ? "yes" : "no") << "\n"
                << "  endpoints:  " << endpoints_of(current->fingerprint) << "\n";
    } else {
      std::cout << "current: none (run certmgr -c PASSWORD)\n";
    }
    std::cout << "certificates: " << all.size() << "\n";
    if (!all.empty()) {
      std::cout << "  " << std::left << std::setw(8) << "STATUS" << " " << std::setw(64) << "FINGERPRINT"
                << " " << std::setw(10) << "ALGORITHM" << " " << std::setw(20) << "NOT_AFTER" << " "
                << std::setw(10) << "EXPORTABLE" << " ENDPOINTS\n";
    }
    for (const auto& r : all) {
      std::cout << "  " << std::left << std::setw(8) << store::status_name(r.status) << " " << std::setw(64)
                << r.fingerprint << " " << std::setw(10) << r.algorithm << " " << std::setw(20)
                << format_rfc3339(r.not_after) << " " << std::setw(10) << (r.exportable ? "yes" : "no")
                << " " << endpoints_of(r.fingerprint) << "\n";
    }
    std::cout.flush();
  }
  if (expiring) {
    warn(global, "the current certificate expires on " + format_rfc3339(current->not_after) +
                     "; replace it (certmgr -c PASSWORD)");
  }
  return kExitOk;
}

}  // namespace

void add_status_command(CLI::App& root, GlobalOptions& global) {
  CLI::App* cmd = root.add_subcommand("status", "current certificate, retained ones, and endpoints holding each");
  cmd->callback([&global] { global.exit_code = run_status(global); });
}

}  // namespace ck::cli
