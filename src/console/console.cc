#include "console/console.h"

#include <spdlog/spdlog.h>

#include "console/login_page.h"
#include "protocol/http_types.h"

namespace ck::console {
namespace json = boost::json;

namespace {

Response html(int status, std::string body) {
  Response r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::move(body);
  return r;
}

Response redirect(std::string location) {
  Response r;
  r.status = 303;
  r.content_type = "text/plain; charset=utf-8";
  r.headers.emplace_back("Location", std::move(location));
  return r;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

Console::Console(ConsoleOptions options, std::unique_ptr<registry::EndpointRegistry> registry,
                 std::unique_ptr<store::CertStore> store, ViewDeps deps)
    : options_(std::move(options)),
      registry_(std::move(registry)),
      store_(std::move(store)),
      auth_(options_.limits, options_.clock),
      assets_(options_.assets_dir),
      views_([&] {
        deps.registry = registry_.get();
        deps.store = store_.get();
        deps.clock = options_.clock;
        return deps;
      }()) {
  registry::EndpointRegistry* reg = registry_.get();
  feed_ = std::make_unique<OverviewFeed>(
      OverviewSources{deps.snapshot, [reg] { return reg->count_by_fingerprint(); }, options_.clock});
}

Console::~Console() { stop(); }

Result<std::unique_ptr<Console>> Console::open(
    const std::string& store_url, ConsoleOptions options,
    std::function<std::shared_ptr<const store::Keyring>()> snapshot,
    std::function<Result<outbox::Message>(const protocol::AdminMessageRequest&, const std::string& issued_by)> issue) {
  store::StoreOptions store_options;
  store_options.create = false;
  if (options.clock) store_options.clock = options.clock;
  auto store = store::open_cert_store(store_url, store_options);
  if (!store.ok()) return store.error().with_context("console: cannot open the store");
  auto registry = registry::open_endpoint_registry(store_url);
  if (!registry.ok()) return registry.error().with_context("console: cannot open the endpoint registry");
  ViewDeps deps;
  deps.snapshot = std::move(snapshot);
  deps.issue = std::move(issue);
  return std::make_unique<Console>(std::move(options), std::move(registry).value(), std::move(store).value(),
                                   std::move(deps));
}

void Console::stop() {
  if (feed_) feed_->stop();
}

void Console::set_base_url(std::string url) {
  std::lock_guard lock(mu_);
  base_url_ = std::move(url);
}

json::object Console::new_login(const std::string& user) {
  const std::string token = auth_.issue_token(user);
  std::lock_guard lock(mu_);
  return json::object{{"token", token},
                      {"url", base_url_ + "/login?token=" + token},
                      {"expires_in", auth_.limits().token_ttl_seconds}};
}

Response Console::handle(const Request& req) {
  Response r = route(req);
  add_security_headers(r);
  return r;
}

Response Console::login(const Request& req) {
  auto query = parse_query(req.target);
  auto token = query.find("token");
  if (token == query.end()) return html(200, login_page_html(LoginPage::kAsk));
  auto created = auth_.redeem(token->second);
  if (!created) {
    spdlog::warn("console: login refused from {} (link used, expired or unknown)", req.remote);
    return html(403, login_page_html(LoginPage::kRefused));
  }
  spdlog::info("console: login from {}", req.remote);
  Response r = redirect("/");
  r.headers.emplace_back("Set-Cookie", std::string(kSessionCookie) + "=" + created->cookie +
                                           "; HttpOnly; SameSite=Strict; Path=/; Max-Age=" +
                                           std::to_string(created->max_age_seconds));
  return r;
}

Response Console::serve_file(std::string_view path) {
  auto file = assets_.get(path);
  if (!file.ok() && file.error().kind == ErrorKind::kNotFound) {
    // Client-side routes (/stragglers, /audit, ...) get the app; missing files do not.
    const std::string_view last = path.substr(path.rfind('/') + 1);
    if (!last.empty() && last.find('.') == std::string_view::npos) file = assets_.get("/index.html");
  }
  if (!file.ok()) {
    if (!assets_.available()) {
      return error_response(503, "the console's front end is not installed in " + assets_.root() +
                                     " (build it: cmake --build build --target console, or give --console-assets)");
    }
    return error_response(404, "no such file");
  }
  Response r;
  r.content_type = file->content_type;
  r.body = std::move(file->body);
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

Response Console::route(const Request& req) {
  const std::string_view path = path_of(req.target);
  const bool api = starts_with(path, "/api/") || path == "/api";
  if (path == "/login") {
    if (req.method != "GET") {
      Response r = error_response(405, "method not allowed");
      r.headers.emplace_back("Allow", "GET");
      return r;
    }
    return login(req);
  }
  // Any of the cookies of this name may be ours: a page elsewhere on the host can plant
  // one with a longer Path, which the browser sends first.
  std::string cookie;
  std::optional<SessionView> session;
  for (std::string& candidate : cookie_values(req.cookie, kSessionCookie)) {
    session = auth_.session(candidate);
    if (session) {
      cookie = std::move(candidate);
      break;
    }
  }
  if (!session) {
    if (api) return error_response(401, "login required");
    return redirect("/login");
  }
  if (path == "/api/commands") {
    if (req.method != "POST") {
      Response r = error_response(405, "method not allowed");
      r.headers.emplace_back("Allow", "POST");
      return r;
    }
    // CSRF: the session's own token in a header a cross-site form cannot set, and a
    // JSON body a form cannot send.
    if (!auth_.csrf_ok(cookie, req.csrf_token)) return error_response(403, "missing or wrong X-CSRF-Token");
    if (!protocol::is_json_content_type(req.content_type))
      return error_response(403, "Content-Type must be application/json");
    return views_.send_command(req.body, session->user.empty() ? "console" : "console (" + session->user + ")");
  }
  if (req.method != "GET") {
    Response r = error_response(405, "the console is read-only here");
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  if (!api) return serve_file(path);
  const auto query = parse_query(req.target);
  if (path == "/api/session") {
    return json_response(200, json::object{{"csrf_token", session->csrf_token}, {"expires_at", session->expires_at}});
  }
  if (path == "/api/overview") {
    auto cur = feed_->current();
    if (!cur.ok()) return error_response(503, "the registry is unavailable: " + cur.error().message);
    Response r;
    r.body = cur->json;
    return r;
  }
  if (path == "/api/events") {
    Response r;
    r.content_type = "text/event-stream";
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.event_stream = true;
    r.session_id = session->id;
    return r;
  }
  if (path == "/api/stragglers") return views_.stragglers(query);
  if (path == "/api/stragglers.csv") return views_.stragglers_csv(query);
  if (path == "/api/agents") return views_.agents(query);
  if (path == "/api/audit") return views_.audit(query);
  return error_response(404, "no such endpoint");
}

}  // namespace ck::console
