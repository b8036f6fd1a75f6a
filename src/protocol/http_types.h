// Socket-free HTTP request/response values for the pure handlers (Beast's
// http_server_async pattern: handle(Request) -> Response). The net layer converts
// to and from Beast messages. Plain values; no thread-safety concerns.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ck::protocol {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path plus optional "?query"
  std::string body;
  std::string remote;  // peer address, for logs
  // For the admin API's CSRF / DNS-rebinding checks. "" when the header is absent or
  // appears more than once.
  std::string content_type;
  std::string host;
  bool has_origin = false;  // an Origin header was sent (browsers send it; certmgr does not)
  uint16_t local_port = 0;  // the port the connection arrived on
  // The peer process on a Unix socket (SO_PEERCRED); -1 when unknown (TCP).
  int64_t peer_pid = -1, peer_uid = -1, peer_gid = -1;
  // Agent port: SHA-256 (hex) of the SPKI of the client key the TLS peer proved it
  // holds; "" when it presented none; kUnusableClientKey for a key type we refuse.
  std::string peer_key;
};

inline constexpr const char* kUnusableClientKey = "unusable";

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra, e.g. {"Allow","POST"}
};

// {"error": message} with `status`.
HttpResponse error_response(int status, std::string_view message);
// 405 with an Allow header.
HttpResponse method_not_allowed(std::string_view allow);
// The path part of a request target (without "?query").
std::string_view target_path(std::string_view target);

// Whether a Content-Type value is application/json (any letter case, parameters such as
// "; charset=utf-8" allowed).
bool is_json_content_type(std::string_view content_type);


}  // namespace ck::protocol
