// Parsing the agent's --server URL ("https://HOST[:PORT][/PREFIX]") and resolving it
// once. Pure apart from resolve_server(), which blocks on DNS. Thread-safe.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace ck::transport {

struct ServerUrl {
  std::string host;    // without brackets for IPv6
  std::string port;    // "443" when absent
  std::string prefix;  // "" or "/base" (no trailing slash)
};

// Only https:// (a bare "HOST:PORT" is taken as https). Errors: kInvalidArgument.
Result<ServerUrl> parse_server_url(const std::string& url);

struct ServerTarget {
  ServerUrl url;
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;
  // Local address to connect from (fleet --source-ip: one loopback address has about
  // 28,000 ephemeral ports toward one server port); unset: the kernel's choice.
  std::optional<boost::asio::ip::address> source;
};

// Resolves the host synchronously. Errors: kUnavailable.
Result<ServerTarget> resolve_server(const ServerUrl& url);

}  // namespace ck::transport
