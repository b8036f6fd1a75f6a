// certmgr agents list [--json] | accept ID | reject ID | forget ID   (list output: docs/output.md)
// Agent identities (DESIGN.md §5): which key each agent id is bound to, and its
// enrollment. `accept` lets a pending agent in (server run with --enrollment manual),
// `reject` shuts it out, `forget` unbinds its key (an endpoint reinstalled with a new
// key binds the new one at its next check-in, and waits again under manual
// enrollment). Every change is audited in the store. Servers see it at the agent's
// next check-in or channel.
#include <iostream>

#include "cli/cli_support.h"
#include "cli/output.h"
#include "common/clock.h"
#include "registry/endpoint_registry.h"

namespace ck::cli {
namespace {

struct AgentsArgs {
  std::string action;
  std::string agent_id;
};

// Streams: text lines, or one JSON array written row by row (no registry-sized array in
// memory).
int list_agents(GlobalOptions& global, registry::EndpointRegistry& reg) {
  if (!global.json) std::cout << "AGENT_ID                                                         ENROLLMENT KEY\n";
  if (global.json) std::cout << "[";
  bool first = true;
  Status s = reg.for_each_endpoint([&](const registry::Endpoint& e) -> Status {
    if (global.json) {
      // Agents report these: kept valid JSON whatever they sent.
      std::cout << (first ? "" : ",")
                << boost::json::serialize(boost::json::object{{"agent_id", json_text(e.agent_id)},
                                                              {"key_fingerprint", json_text(e.key_fingerprint)},
                                                              {"enrollment", json_text(e.enrollment)},
                                                              {"hostname", json_text(e.hostname)},
                                                              {"last_seen", format_rfc3339(e.last_seen)}});
    } else {
      std::string id = text_field(e.agent_id);  // one agent, one line
      if (id.size() < 64) id.resize(64, ' ');
      std::string enrollment = text_field(e.enrollment);
      if (enrollment.size() < 10) enrollment.resize(10, ' ');
      std::cout << id << " " << enrollment << " "
                << (e.key_fingerprint.empty() ? "-" : text_field(e.key_fingerprint)) << "\n";
    }
    first = false;
    if (!std::cout) return make_error(ErrorKind::kIo, "cannot write to standard output");
    return ok_status();
  });
  if (!s.ok()) return fail(s.error());
  if (global.json) std::cout << "]\n";
  std::cout.flush();
  return kExitOk;
}

int run_agents(const AgentsArgs& a, GlobalOptions& global) {
  const bool changes = a.action != "list";
  if (changes && a.agent_id.empty()) throw UsageError("certmgr agents " + a.action + " needs an agent id");
  // The store decides who may do this (DESIGN.md §9): changing an identity needs write
  // access to it, like every other certmgr change.
  auto store = open_store(global, /*for_write=*/changes);
  if (!store.ok()) return fail(store.error());
  auto reg = registry::open_endpoint_registry(store_url(global));
  if (!reg.ok()) return fail(reg.error());
  if (!changes) return list_agents(global, **reg);

  auto before = (*reg)->find(a.agent_id);
  if (!before.ok()) return fail(before.error());
  if (!*before) return fail(make_error(ErrorKind::kNotFound, "no agent " + a.agent_id + " in the registry"));
  Status s = a.action == "forget"   ? (*reg)->forget_key(a.agent_id)
             : a.action == "accept" ? (*reg)->set_enrollment(a.agent_id, registry::kEnrollmentAccepted)
                                    : (*reg)->set_enrollment(a.agent_id, registry::kEnrollmentRejected);
  if (!s.ok()) return fail(s.error());
  const std::string key = (*before)->key_fingerprint;
  Status audited = (*store)->write([&](store::CertTxn& t) {
    return t.append_audit(store::AuditEntry{system_clock().now(), operation_context().actor, "agents " + a.action,
                                            "agent " + a.agent_id + (key.empty() ? "" : ", key " + key), ""});
  });
  if (!audited.ok()) warn(global, "done, but not audited: " + audited.error().message);
  if (global.json) {
    print_json(boost::json::object{{"agent_id", a.agent_id}, {"action", a.action}, {"key_fingerprint", key}});
  } else if (a.action == "forget") {
    std::cout << "forgot the key of agent " << a.agent_id << "; its next check-in binds the key it presents" << std::endl;
  } else {
    std::cout << a.action << "ed agent " << a.agent_id << std::endl;
  }
  return kExitOk;
}

}  // namespace

void add_agents_command(CLI::App& root, GlobalOptions& global) {
  auto a = std::make_shared<AgentsArgs>();
  CLI::App* cmd = root.add_subcommand("agents", "agent identities: list | accept ID | reject ID | forget ID");
  cmd->add_option("ACTION", a->action, "list | accept | reject | forget")
      ->required()
      ->check(CLI::IsMember({"list", "accept", "reject", "forget"}));
  cmd->add_option("AGENT_ID", a->agent_id, "the agent (accept, reject, forget)");
  cmd->callback([a, &global] { global.exit_code = run_agents(*a, global); });
}

}  // namespace ck::cli
