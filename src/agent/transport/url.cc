#include "agent/transport/url.h"

#include <boost/asio/io_context.hpp>

namespace ck::transport {

Result<ServerUrl> parse_server_url(const std::string& url) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorKind::kInvalidArgument, "bad --server URL \"" + url + "\": " + why);
  };
  std::string rest = url;
  if (auto p = rest.find("://"); p != std::string::npos) {
    if (rest.substr(0, p) != "https") return bad("only https:// is supported");
    rest = rest.substr(p + 3);
  }
  ServerUrl out;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    out.prefix = rest.substr(slash);
    rest.resize(slash);
    while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  }
  if (rest.empty()) return bad("missing host");
  if (rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) return bad("unclosed [");
    out.host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("junk after ]");
      out.port = rest.substr(1);
    }
  } else if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    out.host = rest.substr(0, colon);
    out.port = rest.substr(colon + 1);
  } else {
    out.host = rest;
  }
  if (out.port.empty()) out.port = "443";
  for (char c : out.port)
    if (c < '0' || c > '9') return bad("port is not a number");
  if (out.host.empty()) return bad("missing host");
  return out;
}

Result<ServerTarget> resolve_server(const ServerUrl& url) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  boost::system::error_code ec;
  auto results = resolver.resolve(url.host, url.port, ec);
  if (ec) return make_error(ErrorKind::kUnavailable, "cannot resolve " + url.host + ": " + ec.message());
  ServerTarget t{url, {}, std::nullopt};
  for (const auto& r : results) t.endpoints.push_back(r.endpoint());
  if (t.endpoints.empty()) return make_error(ErrorKind::kUnavailable, "no address for " + url.host);
  return t;
}

}  // namespace ck::transport
