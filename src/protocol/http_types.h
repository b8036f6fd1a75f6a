// Socket-free HTTP request/response values for the pure handlers (Beast's
// http_server_async pattern: handle(Request) -> Response). The net layer converts
// to and from Beast messages. Plain values; no thread-safety concerns.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace ck::protocol {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path plus optional "?query"
  std::string body;
  std::string remote;  // peer address, for logs
};

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

}  // namespace ck::protocol
