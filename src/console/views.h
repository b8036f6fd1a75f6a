// The console's read views and its one write, as JSON (shapes: docs/console.md):
//   /api/stragglers      endpoints pinning anything but the current certificate, with
//                        why (retired, expired, revoked, unknown) and what to do;
//                        searched, sorted and paged in SQL (EndpointRegistry::query_endpoints)
//   /api/stragglers.csv  the same rows as `certmgr -l` (same columns, src/cli/mismatched_csv)
//   /api/agents          agent identities (key, enrollment, last seen), paged the same way
//   /api/audit           the store's audit log, as `certmgr audit --json`
//   /api/commands        a command into the outbox (as `certmgr send`), audited as
//                        "console (USER)", USER having asked for the login link
// No view touches private keys: the keyring snapshot is read for statuses only.
// Thread-safe (the registry and the store are).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "console/http.h"
#include "outbox/outbox.h"
#include "protocol/wire.h"
#include "registry/endpoint_registry.h"
#include "store/cert_store.h"
#include "store/rotation_chain.h"

namespace ck::console {

inline constexpr int64_t kDefaultPerPage = 50;
inline constexpr int64_t kMaxPerPage = 500;
inline constexpr int64_t kDefaultAuditLimit = 100;
inline constexpr int64_t kMaxAuditLimit = 1000;

// "retired" | "expired" | "revoked" | "unknown" for an endpoint pinning `fingerprint`,
// and the advice shown with it.
std::string straggler_reason(const store::Keyring& ring, const std::string& fingerprint);
std::string straggler_advice(const std::string& reason);

struct ViewDeps {
  registry::EndpointRegistry* registry = nullptr;
  store::CertStore* store = nullptr;
  std::function<std::shared_ptr<const store::Keyring>()> snapshot;
  // Adds a message to the outbox (Service::issue).
  std::function<Result<outbox::Message>(const protocol::AdminMessageRequest&, const std::string& issued_by)> issue;
  const Clock* clock = nullptr;
};

class Views {
 public:
  explicit Views(ViewDeps deps) : deps_(std::move(deps)) {}

  Response stragglers(const std::map<std::string, std::string>& query);
  Response stragglers_csv(const std::map<std::string, std::string>& query);
  Response agents(const std::map<std::string, std::string>& query);
  Response audit(const std::map<std::string, std::string>& query);
  // `actor`: who sends, for the outbox and the audit log ("console (alice)").
  Response send_command(const std::string& body, const std::string& actor);

 private:
  ViewDeps deps_;
};

}  // namespace ck::console
