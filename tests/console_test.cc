// The web console's server side against the real certkeeper-server (127.0.0.1, port 0,
// a temp SQLite store): login links work once and expire, sessions are strict
// cookies, nothing but the login page is served without one, every response carries
// the security headers, the overview and the left-behind list match the registry,
// the CSV equals `certmgr -l`, the event stream follows a rotation and ends with its
// session, commands need the CSRF token and are audited with who asked for the login
// link, a planted cookie does not log anyone out, the listener holds at most 64
// connections, and no response ever carries private key material.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "crypto/key.h"
#include "registry/endpoint_registry.h"
#include "store/cert_operations.h"
#include "store/cert_store.h"
#include "support/process.h"
#include "support/server_client.h"

namespace ck::testing {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

std::string current_user() {
  const passwd* pw = ::getpwuid(::geteuid());
  return pw ? pw->pw_name : "uid " + std::to_string(::geteuid());
}

// A TCP connection to `to` that sends nothing (-1 when it cannot connect).
int open_idle_connection(const HostPort& to) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(to.port);
  ::inet_pton(AF_INET, to.host.c_str(), &addr.sin_addr);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

// Whether the server closed `fd` (EOF or reset) within `wait`.
bool closed_within(int fd, std::chrono::milliseconds wait) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

struct Reply {
  int status = 0;
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string raw;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

Reply parse_reply(const std::string& raw) {
  Reply r;
  r.raw = raw;
  const size_t end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || end == std::string::npos) return r;
  r.status = std::stoi(raw.substr(9, 3));
  std::istringstream head(raw.substr(0, end));
  std::string line;
  std::getline(head, line);
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace(name, line.substr(colon + 2));
  }
  r.body = raw.substr(end + 4);
  return r;
}

// Sends `request` and collects what arrives for `duration` (an event stream does not
// end by itself). `closed` tells whether the server closed the connection meanwhile.
std::string read_for(const HostPort& to, const std::string& request, std::chrono::milliseconds duration,
                     bool* closed) {
  *closed = false;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(to.port);
  ::inet_pton(AF_INET, to.host.c_str(), &addr.sin_addr);
  std::string out;
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    if (fd >= 0) ::close(fd);
    return out;
  }
  const auto deadline = std::chrono::steady_clock::now() + duration;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      *closed = true;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir("console");
    url_ = "sqlite:" + dir_ + "/ck.db";
    auto s = store::open_cert_store(url_);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
    // A front end to serve, until the real one is built (console/dist).
    assets_ = dir_ + "/assets";
    std::filesystem::create_directories(assets_ + "/sub");
    write_file(assets_ + "/index.html", "<!DOCTYPE html><title>console</title><script src=\"/app.js\"></script>");
    write_file(assets_ + "/app.js", "console.log('app');");
    write_file(assets_ + "/app.css", "body{}");
    write_file(assets_ + "/sub/x.txt", "x");
    write_file(dir_ + "/secret.txt", "outside the assets");
  }
  void TearDown() override {
    server_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  static void write_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }
  std::string generate(bool revoke_previous = false) {
    store::GenerateOptions opts;
    opts.revoke_previous = revoke_previous;
    auto r = store::generate_certificate(*store_, opts, store::Context{"tester", nullptr});
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r->fingerprint : "";
  }
  void start(std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--console-assets", assets_});
    server_ = std::make_unique<ServerUnderTest>(url_, dir_ + "/state", extra);
    ASSERT_TRUE(server_->started()) << server_->process().error_output();
    ASSERT_NE(server_->console().port, 0) << server_->process().error_output();
  }
  ProcessResult certmgr(std::vector<std::string> args, std::vector<std::string> prefix = {}) {
    args.insert(args.begin(), bin("certmgr"));
    args.insert(args.begin(), prefix.begin(), prefix.end());
    RunOptions o;
    o.env = {{"CERTKEEPER_STORE", url_}, {"CERTKEEPER_ADMIN", "unix:" + server_->admin_socket()}};
    o.timeout = 30s;
    return run(args, o);
  }
  // One request on its own connection.
  Reply request(const std::string& method, const std::string& target, const std::string& cookie = "",
                const std::vector<std::string>& headers = {}, const std::string& body = "") {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    if (!cookie.empty()) req += "Cookie: ck_console=" + cookie + "\r\n";
    for (const auto& h : headers) req += h + "\r\n";
    if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    Reply r = parse_reply(raw_tcp(server_->console(), req, 10s).data);
    replies_.push_back(r.raw);
    return r;
  }
  std::string console_url() {
    auto r = certmgr({"console-url"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string url = r.out;
    while (!url.empty() && url.back() == '\n') url.pop_back();
    return url;
  }
  // The target part of a console URL ("/login?token=...").
  std::string target_of(const std::string& url) {
    const std::string base = "http://127.0.0.1:" + std::to_string(server_->console().port);
    EXPECT_EQ(url.rfind(base, 0), 0u) << url;
    return url.substr(base.size());
  }
  // Logs in; returns the session cookie's value.
  std::string login() {
    Reply r = request("GET", target_of(console_url()));
    EXPECT_EQ(r.status, 303) << r.raw;
    static const std::regex re("ck_console=([A-Za-z0-9_-]+);");
    std::smatch m;
    const std::string cookie = r.header("set-cookie");
    if (!std::regex_search(cookie, m, re)) {
      ADD_FAILURE() << "no session cookie: " << r.raw;
      return "";
    }
    return m[1];
  }
  static void expect_security_headers(const Reply& r) {
    EXPECT_EQ(r.header("content-security-policy"),
              "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
              "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
        << r.raw;
    EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
    EXPECT_EQ(r.header("referrer-policy"), "no-referrer");
    EXPECT_EQ(r.header("x-frame-options"), "DENY");
  }
  static json::value parse(const std::string& body) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    EXPECT_FALSE(ec) << body;
    return v;
  }

  std::string dir_, url_, assets_;
  std::unique_ptr<store::CertStore> store_;
  std::unique_ptr<ServerUnderTest> server_;
  std::vector<std::string> replies_;  // every answer, for the key-material check
};

TEST_F(ConsoleTest, LoginLinkWorksOnceAndGivesAStrictSessionCookie) {
  generate();
  start();
  auto json_out = certmgr({"console-url", "--json"});
  ASSERT_EQ(json_out.exit_code, 0) << json_out.err;
  json::value v = parse(json_out.out);
  const std::string token(v.at("token").as_string());
  EXPECT_EQ(token.size(), 43u);
  EXPECT_EQ(v.at("expires_in").as_int64(), 300);
  EXPECT_EQ(std::string(v.at("url").as_string()),
            "http://127.0.0.1:" + std::to_string(server_->console().port) + "/login?token=" + token);

  const std::string target = target_of(console_url());
  Reply first = request("GET", target);
  EXPECT_EQ(first.status, 303) << first.raw;
  EXPECT_EQ(first.header("location"), "/");
  const std::string cookie = first.header("set-cookie");
  EXPECT_TRUE(std::regex_match(cookie, std::regex("ck_console=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; "
                                                  "Path=/; Max-Age=28800")))
      << cookie;
  expect_security_headers(first);

  Reply second = request("GET", target);
  EXPECT_EQ(second.status, 403) << second.raw;
  EXPECT_NE(second.body.find("This login link was already used or has expired. Run certmgr console-url for a new "
                             "one."),
            std::string::npos)
      << second.body;
  EXPECT_EQ(second.header("set-cookie"), "");
  expect_security_headers(second);
  // A made-up token is refused the same way.
  EXPECT_EQ(request("GET", "/login?token=" + std::string(43, 'A')).status, 403);
}

TEST_F(ConsoleTest, WithoutASessionOnlyTheLoginPageIsServed) {
  generate();
  start();
  Reply page = request("GET", "/login");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.header("content-type").find("text/html"), std::string::npos);
  EXPECT_NE(page.body.find("certmgr console-url"), std::string::npos);
  EXPECT_EQ(page.body.find("<script"), std::string::npos);
  EXPECT_EQ(page.body.find("style"), std::string::npos);
  expect_security_headers(page);

  for (std::string path : {"/", "/stragglers", "/app.js", "/app.css", "/index.html"}) {
    Reply r = request("GET", path);
    EXPECT_EQ(r.status, 303) << path;
    EXPECT_EQ(r.header("location"), "/login") << path;
    EXPECT_EQ(r.body.find("console.log"), std::string::npos) << path;
    expect_security_headers(r);
  }
  for (std::string path : {"/api/overview", "/api/stragglers", "/api/events", "/api/session", "/api/audit"}) {
    Reply r = request("GET", path);
    EXPECT_EQ(r.status, 401) << path;
    EXPECT_EQ(r.body, R"({"error":"login required"})") << path;
  }
  EXPECT_EQ(request("GET", "/api/overview", std::string(43, 'x')).status, 401);  // a made-up cookie

  const std::string cookie = login();
  Reply app = request("GET", "/app.js", cookie);
  EXPECT_EQ(app.status, 200);
  EXPECT_EQ(app.body, "console.log('app');");
  EXPECT_EQ(app.header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(app.header("cache-control"), "no-cache");
  expect_security_headers(app);
  EXPECT_EQ(request("GET", "/app.css", cookie).header("content-type"), "text/css; charset=utf-8");
  Reply index = request("GET", "/", cookie);
  EXPECT_EQ(index.status, 200);
  EXPECT_NE(index.body.find("<title>console</title>"), std::string::npos);
  EXPECT_NE(request("GET", "/stragglers", cookie).body.find("<title>console</title>"), std::string::npos);
  // No way out of the folder, no listing.
  for (std::string path : {"/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt", "/sub/",
                                  "/.hidden.js", "/nope.js", "/sub/..%2f..%2fsecret.txt"}) {
    Reply r = request("GET", path, cookie);
    EXPECT_EQ(r.status, 404) << path << ": " << r.raw;
    EXPECT_EQ(r.body.find("outside the assets"), std::string::npos) << path;
  }
  EXPECT_EQ(request("GET", "/sub/x.txt", cookie).body, "x");
  EXPECT_EQ(request("POST", "/api/overview", cookie).status, 405);
  EXPECT_EQ(request("DELETE", "/", cookie).status, 405);
}

// The registry as a fleet leaves it: pins on the current key, a retired one, a revoked
// one and one the store never held.
class ConsoleFleetTest : public ConsoleTest {
 protected:
  void SetUp() override {
    ConsoleTest::SetUp();
    retired_ = generate();
    revoked_ = generate();
    current_ = generate(/*revoke_previous=*/true);
    auto reg = registry::open_endpoint_registry(url_);
    ASSERT_TRUE(reg.ok()) << reg.error().message;
    std::vector<registry::Endpoint> rows;
    auto add = [&](const std::string& id, const std::string& host, const std::string& fp, int64_t seen) {
      rows.push_back(registry::Endpoint{id, host, "10.1.0." + std::to_string(rows.size()), "corp.example", "linux",
                                        "1.0", fp, 0, seen, seen});
    };
    for (int i = 0; i < 5; ++i) add("cur-" + std::to_string(i), "ws-cur-" + std::to_string(i), current_, 1000 + i);
    for (int i = 0; i < 4; ++i) add("ret-" + std::to_string(i), "ws-ret-" + std::to_string(i), retired_, 2000 + i);
    for (int i = 0; i < 3; ++i) add("rev-" + std::to_string(i), "ws-rev-" + std::to_string(i), revoked_, 1500 + i);
    add("unk-0", "Mail.Corp", std::string(64, 'f'), 900);
    add("unk-1", "db-1,\"quoted\"", std::string(64, 'e'), 901);
    ASSERT_TRUE((*reg)->upsert_batch(rows).ok());
  }
  std::string retired_, revoked_, current_;
};

TEST_F(ConsoleFleetTest, OverviewCountsMatchTheRegistry) {
  start();
  const std::string cookie = login();
  Reply r = request("GET", "/api/overview", cookie);
  ASSERT_EQ(r.status, 200) << r.raw;
  expect_security_headers(r);
  json::value v = parse(r.body);
  EXPECT_EQ(std::string(v.at("current").at("fingerprint").as_string()), current_);
  EXPECT_EQ(std::string(v.at("current").at("algorithm").as_string()), "ecdsa-p256");
  EXPECT_GT(v.at("current").at("expires_in_seconds").as_int64(), 300 * 86400);
  EXPECT_TRUE(v.at("current").at("exportable").is_bool());
  EXPECT_EQ(v.at("endpoints").at("total").as_int64(), 14);
  EXPECT_EQ(v.at("endpoints").at("current").as_int64(), 5);
  EXPECT_EQ(v.at("endpoints").at("behind").as_int64(), 9);
  EXPECT_EQ(v.at("unknown_pins").as_int64(), 2);
  std::map<std::string, std::pair<std::string, int64_t>> certs;
  for (const auto& c : v.at("certificates").as_array()) {
    certs[std::string(c.at("fingerprint").as_string())] = {std::string(c.at("status").as_string()),
                                                           c.at("endpoints").as_int64()};
  }
  EXPECT_EQ(certs[current_], std::make_pair(std::string("current"), int64_t{5}));
  EXPECT_EQ(certs[retired_], std::make_pair(std::string("retired"), int64_t{4}));
  EXPECT_EQ(certs[revoked_], std::make_pair(std::string("revoked"), int64_t{3}));
  EXPECT_EQ(std::string(v.at("certificates").at(0).at("fingerprint").as_string()), current_);

  json::value session = parse(request("GET", "/api/session", cookie).body);
  EXPECT_EQ(session.at("csrf_token").as_string().size(), 43u);
  EXPECT_GT(session.at("expires_at").as_int64(), 0);
}

TEST_F(ConsoleFleetTest, StragglersArePagedSearchedAndSortedWithReasons) {
  start();
  const std::string cookie = login();
  json::value all = parse(request("GET", "/api/stragglers", cookie).body);
  EXPECT_EQ(all.at("total").as_int64(), 9);
  EXPECT_EQ(all.at("page").as_int64(), 1);
  EXPECT_EQ(all.at("per_page").as_int64(), 50);
  std::map<std::string, std::string> reasons;
  for (const auto& row : all.at("rows").as_array()) {
    const std::string id(row.at("agent_id").as_string());
    reasons[id] = std::string(row.at("reason").as_string());
    EXPECT_FALSE(row.at("advice").as_string().empty());
    EXPECT_NE(id.rfind("cur-", 0), 0u) << "a current endpoint is listed";
  }
  EXPECT_EQ(reasons["ret-0"], "retired");
  EXPECT_EQ(reasons["rev-2"], "revoked");
  EXPECT_EQ(reasons["unk-0"], "unknown");
  EXPECT_EQ(std::string(all.at("rows").at(0).at("agent_id").as_string()), "ret-0");  // agent_id order
  for (const auto& row : all.at("rows").as_array()) {
    if (row.at("reason").as_string() == "revoked") {
      EXPECT_EQ(std::string(row.at("advice").as_string()),
                "reinstall OfcNTCer.dat from certmgr -e (a revoked key is not followed)");
    }
    if (row.at("reason").as_string() == "retired") {
      EXPECT_EQ(std::string(row.at("advice").as_string()), "will follow the rotation at its next check-in");
    }
  }

  json::value page3 = parse(request("GET", "/api/stragglers?per_page=4&page=3", cookie).body);
  EXPECT_EQ(page3.at("total").as_int64(), 9);
  ASSERT_EQ(page3.at("rows").as_array().size(), 1u);
  EXPECT_EQ(std::string(page3.at("rows").at(0).at("agent_id").as_string()), "unk-1");

  json::value found = parse(request("GET", "/api/stragglers?q=mAiL.c", cookie).body);
  ASSERT_EQ(found.at("total").as_int64(), 1);
  EXPECT_EQ(std::string(found.at("rows").at(0).at("agent_id").as_string()), "unk-0");
  EXPECT_EQ(parse(request("GET", "/api/stragglers?q=ws-re", cookie).body).at("total").as_int64(), 7);

  json::value by_seen = parse(request("GET", "/api/stragglers?sort=last_seen&order=desc&per_page=2", cookie).body);
  EXPECT_EQ(std::string(by_seen.at("rows").at(0).at("agent_id").as_string()), "ret-3");
  EXPECT_EQ(std::string(by_seen.at("rows").at(1).at("agent_id").as_string()), "ret-2");
  json::value by_host = parse(request("GET", "/api/stragglers?sort=hostname&order=asc", cookie).body);
  EXPECT_EQ(std::string(by_host.at("rows").at(0).at("hostname").as_string()), "Mail.Corp");

  for (std::string bad : {"sort=password", "order=up", "page=0", "per_page=501", "per_page=x", "page=-1"}) {
    Reply r = request("GET", "/api/stragglers?" + bad, cookie);
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
  }

  json::value agents = parse(request("GET", "/api/agents?per_page=3", cookie).body);
  EXPECT_EQ(agents.at("total").as_int64(), 14);
  EXPECT_EQ(agents.at("rows").as_array().size(), 3u);
  EXPECT_EQ(std::string(agents.at("rows").at(0).at("agent_id").as_string()), "cur-0");
  EXPECT_TRUE(agents.at("rows").at(0).as_object().contains("enrollment"));
}

TEST_F(ConsoleFleetTest, CsvDownloadEqualsCertmgrList) {
  start();
  const std::string cookie = login();
  Reply csv = request("GET", "/api/stragglers.csv", cookie);
  ASSERT_EQ(csv.status, 200) << csv.raw;
  EXPECT_EQ(csv.header("content-disposition"), "attachment; filename=\"stragglers.csv\"");
  EXPECT_EQ(csv.header("content-type"), "text/csv; charset=utf-8");
  expect_security_headers(csv);
  auto listed = certmgr({"-l", "-"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(csv.body, listed.out);
  EXPECT_NE(csv.body.find("\"db-1,\"\"quoted\"\"\""), std::string::npos) << csv.body;
  Reply searched = request("GET", "/api/stragglers.csv?q=rev-", cookie);
  EXPECT_EQ(std::count(searched.body.begin(), searched.body.end(), '\n'), 4) << searched.body;  // header + 3
}

TEST_F(ConsoleFleetTest, AuditAndCommandsNeedTheCsrfToken) {
  start();
  const std::string cookie = login();
  const std::string csrf(parse(request("GET", "/api/session", cookie).body).at("csrf_token").as_string());
  const std::string body = R"({"command":"ping","to":"ret-0","all":false,"args":{}})";
  const std::string json_type = "Content-Type: application/json";
  EXPECT_EQ(request("POST", "/api/commands", cookie, {json_type}, body).status, 403);
  EXPECT_EQ(request("POST", "/api/commands", cookie, {json_type, "X-CSRF-Token: " + std::string(43, 'A')}, body).status,
            403);
  EXPECT_EQ(request("POST", "/api/commands", cookie, {"Content-Type: text/plain", "X-CSRF-Token: " + csrf}, body).status,
            403);
  EXPECT_EQ(request("POST", "/api/commands", "", {json_type, "X-CSRF-Token: " + csrf}, body).status, 401);
  EXPECT_EQ(request("GET", "/api/commands", cookie).status, 405);
  Reply bad = request("POST", "/api/commands", cookie, {json_type, "X-CSRF-Token: " + csrf},
                      R"({"command":"format-disk","to":"ret-0"})");
  EXPECT_EQ(bad.status, 422) << bad.body;
  Reply sent = request("POST", "/api/commands", cookie, {json_type, "X-CSRF-Token: " + csrf}, body);
  ASSERT_EQ(sent.status, 200) << sent.raw;
  json::value v = parse(sent.body);
  EXPECT_GT(v.at("seq").as_int64(), 0);
  EXPECT_EQ(v.at("jti").as_string().size(), 32u);
  Reply all = request("POST", "/api/commands", cookie, {json_type, "X-CSRF-Token: " + csrf},
                      R"({"command":"run-scan","to":null,"all":true})");
  EXPECT_EQ(all.status, 200) << all.body;

  json::value audit = parse(request("GET", "/api/audit?limit=2", cookie).body);
  const auto& entries = audit.at("entries").as_array();
  ASSERT_EQ(entries.size(), 2u);
  // Who asked for the login link (certmgr console-url, as this user) is named.
  EXPECT_EQ(std::string(entries.at(1).at("actor").as_string()), "console (" + current_user() + ")");
  EXPECT_EQ(std::string(entries.at(1).at("action").as_string()), "send");
  EXPECT_NE(std::string(entries.at(1).at("detail").as_string()).find("run-scan to all"), std::string::npos);
  // The same entries as certmgr audit --json.
  auto cli = certmgr({"audit", "--limit", "2", "--json"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_EQ(parse(cli.out), audit);
  const json::value listed = parse(cli.out);
  for (const auto& e : listed.at("entries").as_array()) {
    const std::string actor(e.at("actor").as_string());
    EXPECT_EQ(actor.rfind("console (", 0), 0u) << actor;
    EXPECT_NE(actor.find(current_user()), std::string::npos) << actor;
  }
}

TEST_F(ConsoleFleetTest, EventStreamEndsWithItsSession) {
  start({"--console-session-idle", "2"});
  const std::string cookie = login();
  bool closed = false;
  const auto began = std::chrono::steady_clock::now();
  const std::string streamed = read_for(
      server_->console(), "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ck_console=" + cookie + "\r\n\r\n",
      8s, &closed);
  const auto took = std::chrono::steady_clock::now() - began;
  Reply r = parse_reply(streamed);
  EXPECT_EQ(r.status, 200) << streamed;
  EXPECT_NE(r.body.find("event: overview\n"), std::string::npos) << r.body;
  // Watching is not activity: the session ends 2 s after the stream opened, and so
  // does the stream.
  EXPECT_TRUE(closed) << r.body;
  EXPECT_LT(took, 5s);
  EXPECT_GE(took, 1s);
  const std::string ended = "event: ended\ndata: {}\n\n";  // the last thing sent
  ASSERT_GE(r.body.size(), ended.size());
  EXPECT_EQ(r.body.substr(r.body.size() - ended.size()), ended) << r.body;
  // And the browser's reconnect is refused (the front end shows "session ended").
  EXPECT_EQ(request("GET", "/api/events", cookie).status, 401);
}

TEST_F(ConsoleTest, APlantedCookieDoesNotLogTheAdminOut) {
  generate();
  start();
  const std::string cookie = login();
  // What a browser sends when another page on the host set ck_console with a longer
  // Path: that one first.
  const std::string junk = std::string(43, 'j');
  for (const std::string& header : {"Cookie: ck_console=" + junk + "; ck_console=" + cookie,
                                    "Cookie: ck_console=" + cookie + "; ck_console=" + junk}) {
    Reply r = request("GET", "/api/session", "", {header});
    EXPECT_EQ(r.status, 200) << header << ": " << r.raw;
  }
  // Two headers, junk in the first.
  EXPECT_EQ(request("GET", "/api/overview", "", {"Cookie: ck_console=" + junk, "Cookie: ck_console=" + cookie}).status,
            200);
  EXPECT_EQ(request("GET", "/api/session", "", {"Cookie: ck_console=" + junk + "; ck_console=x"}).status, 401);
  // The CSRF token is checked against the session that matched.
  const std::string csrf(
      parse(request("GET", "/api/session", "", {"Cookie: ck_console=" + junk + "; ck_console=" + cookie}).body)
          .at("csrf_token")
          .as_string());
  Reply sent = request("POST", "/api/commands", "",
                       {"Cookie: ck_console=" + junk + "; ck_console=" + cookie, "Content-Type: application/json",
                        "X-CSRF-Token: " + csrf},
                       R"({"command":"ping","all":true})");
  EXPECT_EQ(sent.status, 200) << sent.raw;
}

TEST_F(ConsoleTest, TheListenerHoldsAtMost64Connections) {
  generate();
  start();
  std::vector<int> fds;
  for (int i = 0; i < 70; ++i) {
    const int fd = open_idle_connection(server_->console());
    ASSERT_GE(fd, 0) << i;
    fds.push_back(fd);
  }
  // The 65th and later are closed at once; the first 64 stay (until --read-timeout).
  std::vector<int> closed;
  for (size_t i = 0; i < fds.size(); ++i) {
    if (closed_within(fds[i], i < 64 ? 50ms : 2000ms)) closed.push_back(static_cast<int>(i));
  }
  EXPECT_EQ(closed, (std::vector<int>{64, 65, 66, 67, 68, 69}));
  // Counted.
  HttpReply metrics = http_request(server_->metrics(), false, "GET", "/metrics");
  EXPECT_NE(metrics.body.find("\ncertkeeper_console_connections_refused_total 6\n"), std::string::npos)
      << metrics.body.substr(0, 300);
  // Once they are gone, a real login works.
  for (int fd : fds) ::close(fd);
  int status = 0;
  for (int attempt = 0; attempt < 40 && status != 200; ++attempt) {
    if (attempt) std::this_thread::sleep_for(50ms);
    status = request("GET", "/login").status;
  }
  EXPECT_EQ(status, 200);
  const std::string cookie = login();
  EXPECT_EQ(request("GET", "/api/session", cookie).status, 200);
}

TEST_F(ConsoleFleetTest, EventsStreamTheOverviewAndFollowARotation) {
  start();
  const std::string cookie = login();
  std::string streamed;
  bool closed = false;
  std::thread reader([&] {
    streamed = read_for(server_->console(),
                        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ck_console=" + cookie + "\r\n\r\n",
                        4s, &closed);
  });
  std::this_thread::sleep_for(1500ms);
  const std::string next = generate();  // as certmgr -c would, from another process
  reader.join();
  Reply r = parse_reply(streamed);
  EXPECT_EQ(r.status, 200) << streamed;
  EXPECT_EQ(r.header("content-type"), "text/event-stream");
  expect_security_headers(r);
  std::vector<json::value> events;
  static const std::regex re("event: overview\ndata: ([^\n]+)\n\n");
  for (std::sregex_iterator it(r.body.begin(), r.body.end(), re), end; it != end; ++it) events.push_back(parse((*it)[1]));
  ASSERT_GE(events.size(), 2u) << r.body;
  EXPECT_EQ(std::string(events.front().at("current").at("fingerprint").as_string()), current_);
  EXPECT_EQ(std::string(events.back().at("current").at("fingerprint").as_string()), next);
  EXPECT_EQ(events.back().at("endpoints").at("behind").as_int64(), 14);
  EXPECT_FALSE(closed);  // the stream stays open
}

TEST_F(ConsoleFleetTest, NoResponseCarriesPrivateKeyMaterial) {
  start();
  const std::string cookie = login();
  const std::string csrf(parse(request("GET", "/api/session", cookie).body).at("csrf_token").as_string());
  for (std::string path : {"/api/overview", "/api/stragglers", "/api/stragglers.csv", "/api/agents",
                                  "/api/audit?limit=1000", "/", "/app.js", "/login"}) {
    EXPECT_EQ(request("GET", path, cookie).status, 200) << path;
  }
  request("POST", "/api/commands", cookie, {"Content-Type: application/json", "X-CSRF-Token: " + csrf},
          R"({"command":"ping","all":true})");
  std::vector<std::string> secrets;
  ASSERT_TRUE(store_->read([&](store::CertTxn& t) -> Status {
    for (const std::string& fp : {current_, retired_, revoked_}) {
      CK_ASSIGN_OR_RETURN(auto key, t.private_key(fp));
      if (!key) continue;
      CK_ASSIGN_OR_RETURN(std::string pem, key->to_pkcs8_pem());
      // Every base64 line of the PEM body (long enough not to match by chance).
      std::istringstream lines(pem);
      for (std::string line; std::getline(lines, line);) {
        if (line.size() >= 40 && line.find("-----") == std::string::npos) secrets.push_back(line);
      }
    }
    return ok_status();
  }).ok());
  ASSERT_FALSE(secrets.empty());
  ASSERT_GE(replies_.size(), 10u);
  for (const std::string& reply : replies_) {
    EXPECT_EQ(reply.find("PRIVATE KEY"), std::string::npos) << reply.substr(0, 200);
    for (const auto& s : secrets) EXPECT_EQ(reply.find(s), std::string::npos);
  }
}

TEST_F(ConsoleTest, LoginLinkExpires) {
  generate();
  start({"--console-token-ttl", "1"});
  const std::string target = target_of(console_url());
  std::this_thread::sleep_for(2200ms);
  Reply r = request("GET", target);
  EXPECT_EQ(r.status, 403) << r.raw;
  EXPECT_NE(r.body.find("already used or has expired"), std::string::npos);
}

TEST_F(ConsoleTest, ConsoleUrlIsForAdministratorsOnly) {
  generate();
  // A socket nobody may open and one where only SO_PEERCRED stands in the way.
  const std::string open_dir = short_socket_path() + ".d";
  std::filesystem::create_directories(open_dir);
  ::chmod(open_dir.c_str(), 0755);
  start({"--admin-listen", "unix:" + open_dir + "/admin.sock", "--admin-group", "no-such-group-here"});
  ::chmod((open_dir + "/admin.sock").c_str(), 0666);
  auto r = certmgr({"console-url"}, {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("HTTP 403"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("permission denied"), std::string::npos) << r.err;
  // Not a socket path at all: one line too.
  auto bad = certmgr({"console-url", "--server-admin", "tcp://127.0.0.1:1"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  std::filesystem::remove_all(open_dir);
}

}  // namespace
}  // namespace ck::testing
