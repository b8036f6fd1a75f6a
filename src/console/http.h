// The console's HTTP values and helpers, free of sockets (the net layer converts to
// and from Beast messages): requests, responses, the security headers every response
// carries, cookies and query strings. Pure; thread-safe.
#pragma once

#include <boost/json.hpp>

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ck::console {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path plus optional "?query"
  std::string body;
  std::string content_type;  // "" when absent or sent twice
  std::string cookie;        // every Cookie header, joined with "; "
  std::string csrf_token;    // X-CSRF-Token ("" when absent or sent twice)
  std::string remote;        // for logs
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // GET /api/events: the net layer sends the headers, then overview events until the
  // client or the server goes, or the session ends (body unused).
  bool event_stream = false;
  std::string session_id;  // with event_stream: the session the stream belongs to
};

inline constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

// CSP, nosniff, no-referrer, X-Frame-Options DENY (and no-store unless a
// Cache-Control is already set).
void add_security_headers(Response& r);

Response json_response(int status, const boost::json::value& v);
// {"error": message}
Response error_response(int status, std::string_view message);

// The value of cookie `name` in a Cookie header ("" when absent); the first when sent
// more than once.
std::string cookie_value(std::string_view cookie_header, std::string_view name);
// Every value of cookie `name`, in order. A browser sends several when cookies of the
// same name differ in Path or Domain (one planted by another page on the host, say).
std::vector<std::string> cookie_values(std::string_view cookie_header, std::string_view name);

// "/p?a=1&b=x%20y" -> {a: "1", b: "x y"} ('+' is a space; bad escapes kept as is).
std::map<std::string, std::string> parse_query(std::string_view target);
// The path of a target, without the query.
std::string_view path_of(std::string_view target);
// Percent-encodes for a query value (RFC 3986 unreserved characters kept).
std::string url_encode(std::string_view text);

}  // namespace ck::console
