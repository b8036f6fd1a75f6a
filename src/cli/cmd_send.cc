// certmgr send COMMAND [--to AGENT | --all] [--arg KEY=VALUE]... [--args-json JSON]
// Asks the running server (admin listener, loopback) to sign COMMAND and push it to
// the agent(s) now, or queue it for their next check-in.
#include <iostream>

#include "cli/admin_client.h"
#include "cli/cli_support.h"
#include "protocol/wire.h"

namespace ck::cli {
namespace {

struct SendArgs {
  std::string command;
  std::string to;
  bool all = false;
  std::vector<std::string> kv_args;
  std::string args_json;
  std::string admin = default_admin_address();
};

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

  auto resp = admin_post(a.admin, std::string(protocol::kAdminMessagesPath),
                         boost::json::serialize(protocol::to_json(req)));
  if (!resp.ok()) return fail(resp.error());
  boost::system::error_code ec;
  auto body = boost::json::parse(resp->body, ec);
  if (resp->status != 200) {
    std::string why = resp->body;
    if (!ec && body.is_object() && body.as_object().contains("error") && body.at("error").is_string())
      why = std::string(body.at("error").as_string());
    return fail(make_error(ErrorKind::kConflict, "server refused the message (HTTP " +
                                                     std::to_string(resp->status) + "): " + why));
  }
  auto result = ec ? Result<protocol::AdminMessageResponse>(make_error(ErrorKind::kCorrupt, "bad JSON"))
                   : protocol::admin_message_response_from_json(body);
  if (!result.ok()) return fail(result.error().with_context("unexpected answer from the server"));
  if (global.json) {
    print_json(protocol::to_json(*result));
  } else {
    std::cout << "sent " << a.command << " to " << req.to << ": " << result->delivered << " delivered now, "
              << result->queued << " queued for the next check-in";
    // A broadcast also reaches agents the server has not seen yet, until it expires.
    if (a.all) std::cout << " (agents that check in before it expires get it too)";
    std::cout << std::endl;
  }
  return kExitOk;
}

}  // namespace

void add_send_command(CLI::App& root, GlobalOptions& global) {
  auto a = std::make_shared<SendArgs>();
  CLI::App* cmd = root.add_subcommand("send", "sign a server-initiated command and deliver it (running server)");
  cmd->add_option("COMMAND", a->command, "ping | set-policy | run-scan")->required();
  cmd->add_option("--to", a->to, "agent id");
  cmd->add_flag("--all", a->all, "every registered agent");
  cmd->add_option("--arg", a->kv_args, "command argument KEY=VALUE (repeatable)");
  cmd->add_option("--args-json", a->args_json, "command arguments as a JSON object");
  cmd->add_option("--server-admin", a->admin, "admin listener HOST:PORT (env CERTKEEPER_ADMIN)")
      ->envname("CERTKEEPER_ADMIN");
  cmd->callback([a, &global] { global.exit_code = run_send(*a, global); });
}

}  // namespace ck::cli
