// certmgr console-url [--server-admin unix:PATH]
// Asks the running server, over its admin socket, for a one-time web console login
// and prints the URL (with --json the whole answer: token, url, expires_in). The link
// works once, within 5 minutes; opening it gives the browser a session (docs/console.md).
// Only who may use the admin socket (root, the server's user, the admin group) gets one.
#include <iostream>

#include "cli/admin_client.h"
#include "cli/cli_support.h"
#include "cli/command.h"
#include "common/install_layout.h"
#include "protocol/wire.h"

namespace ck::cli {
namespace {

int run_console_url(const std::string& admin, GlobalOptions& global) {
  auto resp = admin_post(admin, std::string(protocol::kAdminConsoleTokenPath), "{}");
  if (!resp.ok()) return fail(resp.error());
  boost::system::error_code ec;
  auto body = boost::json::parse(resp->body, ec);
  if (resp->status != 200) {
    const std::string why = admin_refusal_reason(*resp);
    return fail(make_error(resp->status == 403 ? ErrorKind::kPermissionDenied : ErrorKind::kUnavailable,
                           "the server refused a console login (HTTP " + std::to_string(resp->status) + "): " + why));
  }
  const boost::json::value* url = !ec && body.is_object() ? body.as_object().if_contains("url") : nullptr;
  if (!url || !url->is_string()) {
    return fail(make_error(ErrorKind::kCorrupt, "unexpected answer from the server: no console URL"));
  }
  if (global.json) {
    print_json(body);
  } else {
    std::cout << url->as_string().c_str() << std::endl;
  }
  return kExitOk;
}

}  // namespace

void add_console_url_command(CLI::App& root, GlobalOptions& global) {
  auto admin = std::make_shared<std::string>("unix:" + install_layout().state_dir + "/server/admin.sock");
  CLI::App* cmd = root.add_subcommand(
      "console-url", "print a one-time login link to the web console of the running server (valid 5 minutes)");
  cmd->add_option("--server-admin", *admin, "the server's admin socket unix:PATH (env CERTKEEPER_ADMIN)")
      ->envname("CERTKEEPER_ADMIN")
      ->capture_default_str();
  cmd->callback([admin, &global] { global.exit_code = run_console_url(*admin, global); });
}

}  // namespace ck::cli
