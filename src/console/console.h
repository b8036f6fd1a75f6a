// The web console's request handling (issue 14; docs/console.md), free of sockets:
// handle(Request) -> Response. The net layer serves it on --console-listen and streams
// /api/events from feed().
//
//   GET  /login?token=T   a valid one-time token -> session cookie + 303 to /;
//                         otherwise 403 with the login page
//   GET  /login           the login page
//   without a session:    303 -> /login for pages, 401 {"error":"login required"} for
//                         /api/*, nothing else (not even app.js)
//   GET  /api/session     {"csrf_token", "expires_at"}
//   GET  /api/overview, /api/events (SSE), /api/stragglers[.csv], /api/agents, /api/audit
//   POST /api/commands    X-CSRF-Token + application/json required (403 otherwise)
//   GET  anything else    a file of the built front end; a path without a file
//                         extension that is no file gets index.html (client routes)
//   other methods         405
// Every response carries the security headers (http.h). Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "console/auth.h"
#include "console/http.h"
#include "console/overview.h"
#include "console/static_files.h"
#include "console/views.h"

namespace ck::console {

inline constexpr const char* kSessionCookie = "ck_console";

struct ConsoleOptions {
  std::string assets_dir;
  AuthLimits limits;
  const Clock* clock = nullptr;
};

class Console {
 public:
  // `registry` and `store` are the console's own connections (it only reads them,
  // apart from the audit line of a command).
  Console(ConsoleOptions options, std::unique_ptr<registry::EndpointRegistry> registry,
          std::unique_ptr<store::CertStore> store, ViewDeps deps);
  ~Console();

  // The console for the store at `store_url`, with connections of its own to the
  // registry and the store. `snapshot` and `issue` come from the server's core.
  static Result<std::unique_ptr<Console>> open(
      const std::string& store_url, ConsoleOptions options,
      std::function<std::shared_ptr<const store::Keyring>()> snapshot,
      std::function<Result<outbox::Message>(const protocol::AdminMessageRequest&, const std::string& issued_by)> issue);

  Response handle(const Request& req);

  // Where the console is reached ("http://127.0.0.1:9465"), for login URLs. Set once
  // the listener is bound, before the admin socket serves.
  void set_base_url(std::string url);
  // POST /v1/admin/console-token: {"token", "url", "expires_in"}. `user` asked for it
  // (the admin socket's peer); what the session sends is audited as "console (user)".
  boost::json::object new_login(const std::string& user = "");
  // Whether the session an event stream belongs to (Response::session_id) is still
  // valid; the stream ends when not. Watching does not count as activity.
  bool session_alive(const std::string& id) { return auth_.alive(id); }

  OverviewFeed& feed() { return *feed_; }
  const StaticFiles& assets() const { return assets_; }
  // Ends the overview thread (before the registry goes).
  void stop();

 private:
  Response route(const Request& req);
  Response login(const Request& req);
  Response serve_file(std::string_view path);

  const ConsoleOptions options_;
  std::unique_ptr<registry::EndpointRegistry> registry_;
  std::unique_ptr<store::CertStore> store_;
  ConsoleAuth auth_;
  StaticFiles assets_;
  Views views_;
  std::unique_ptr<OverviewFeed> feed_;
  std::mutex mu_;
  std::string base_url_;  // guarded by mu_
};

}  // namespace ck::console
