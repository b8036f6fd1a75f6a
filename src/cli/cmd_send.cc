// certmgr send COMMAND [--to AGENT | --all] [--arg KEY=VALUE]... [--args-json JSON]
// Writes COMMAND to the durable outbox in the store's database (DESIGN.md §5): every
// server sharing the store signs it for each agent it reaches, pushes it over open
// channels at once and hands it to the others at their next check-in, until it
// expires. No server needs to run. With --server-admin the message goes through a
// running server's admin API instead (same outbox). The sending is audited.
#include <iostream>

#include "cli/admin_client.h"
#include "cli/cli_support.h"
#include "cli/output.h"
#include "common/actor.h"
#include "outbox/outbox.h"
#include "protocol/wire.h"

namespace ck::cli {
namespace {

struct SendArgs {
  std::string command;
  std::string to;
  bool all = false;
  std::vector<std::string> kv_args;
  std::string args_json;
  std::string admin;  // empty: write the outbox directly
};

void print_queued(const SendArgs& a, const protocol::AdminMessageRequest& req,
                  const protocol::AdminMessageResponse& r, const GlobalOptions& global) {
  if (global.json) {
    print_json(protocol::to_json(r));
    return;
  }
  std::cout << "queued " << a.command << " for " << (a.all ? "every agent" : req.to) << " as message " << r.seq
            << " (jti " << r.jti << "), valid until " << format_rfc3339(r.exp)
            << ": servers push it to connected agents now, the others get it at their next check-in" << std::endl;
}

// The outbox in the store's database, and an audit line in the store.
int send_to_outbox(const SendArgs& a, const protocol::AdminMessageRequest& req, GlobalOptions& global) {
  auto store = open_store(global, /*for_write=*/false);
  if (!store.ok()) return fail(store.error());
  const std::string url = store_url(global);
  auto outbox = outbox::open_outbox(url);
  if (!outbox.ok()) return fail(outbox.error());
  auto m = outbox::new_message(req.command, req.args, req.to, system_clock().now(), protocol::kMessageLifetimeSeconds);
  m.issued_by = current_actor();
  auto added = (*outbox)->add(std::move(m));
  if (!added.ok()) return fail(added.error().with_context("message not queued"));
  Status audited = (*store)->write([&](store::CertTxn& t) {
    return t.append_audit(store::AuditEntry{added->iat, added->issued_by, "send",
                                            "command " + added->command + " to " + added->audience + ", message " +
                                                std::to_string(added->seq) + ", jti " + added->jti,
                                            ""});
  });
  if (!audited.ok()) warn(global, "queued, but not audited: " + audited.error().message);
  print_queued(a, req, protocol::AdminMessageResponse{added->seq, added->jti, added->exp}, global);
  return kExitOk;
}

int run_send(const SendArgs& a, GlobalOptions& global) {
  if (a.all == !a.to.empty()) throw UsageError("give exactly one of --to AGENT or --all");
  protocol::AdminMessageRequest req;
  req.command = a.command;
  req.to = a.all ? std::string(protocol::kToAll) : a.to;
  if (!a.args_json.empty()) {
    boost::system::error_code ec;
    auto v = boost::json::parse(a.args_json, ec);
    if (ec || !v.is_object()) throw UsageError("--args-json must be a JSON object");
    req.args = v.as_object();
  }
  for (const auto& kv : a.kv_args) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError("--arg takes KEY=VALUE, got '" + kv + "'");
    req.args[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // Validate locally with the same rules the server applies.
  auto checked = protocol::admin_message_request_from_json(protocol::to_json(req));
  if (!checked.ok()) throw UsageError(checked.error().message);

  if (a.admin.empty()) return send_to_outbox(a, req, global);
  auto resp = admin_post(a.admin, std::string(protocol::kAdminMessagesPath),
                         boost::json::serialize(protocol::to_json(req)));
  if (!resp.ok()) return fail(resp.error());
  boost::system::error_code ec;
  auto body = boost::json::parse(resp->body, ec);
  if (resp->status != 200) {
    const std::string why = admin_refusal_reason(*resp);
    return fail(make_error(ErrorKind::kConflict, "server refused the message (HTTP " +
                                                     std::to_string(resp->status) + "): " + why));
  }
  auto result = ec ? Result<protocol::AdminMessageResponse>(make_error(ErrorKind::kCorrupt, "bad JSON"))
                   : protocol::admin_message_response_from_json(body);
  if (!result.ok()) return fail(result.error().with_context("unexpected answer from the server"));
  print_queued(a, req, *result, global);
  return kExitOk;
}

}  // namespace

void add_send_command(CLI::App& root, GlobalOptions& global) {
  auto a = std::make_shared<SendArgs>();
  CLI::App* cmd = root.add_subcommand("send", "queue a server-initiated command in the outbox; servers sign and deliver it");
  cmd->add_option("COMMAND", a->command, "ping | set-policy | run-scan")->required();
  cmd->add_option("--to", a->to, "agent id");
  cmd->add_flag("--all", a->all, "every registered agent");
  cmd->add_option("--arg", a->kv_args, "command argument KEY=VALUE (repeatable)");
  cmd->add_option("--args-json", a->args_json, "command arguments as a JSON object");
  cmd->add_option("--server-admin", a->admin,
                  "send through a running server's admin socket unix:PATH instead of writing the outbox "
                  "(env CERTKEEPER_ADMIN)")
      ->envname("CERTKEEPER_ADMIN");
  cmd->callback([a, &global] { global.exit_code = run_send(*a, global); });
}

}  // namespace ck::cli
