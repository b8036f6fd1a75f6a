#include "cli/admin_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdlib>

namespace ck::cli {
namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

Result<AdminResponse> admin_post(const std::string& host_port, const std::string& path,
                                 const std::string& json_body, int timeout_ms) {
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == host_port.size())
    return make_error(ErrorKind::kInvalidArgument, "admin address must be HOST:PORT, got '" + host_port + "'");
  std::string host = host_port.substr(0, colon);
  std::string port = host_port.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);

  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  asio::ip::tcp::resolver resolver(ioc);
  auto endpoints = resolver.resolve(host, port, ec);
  auto unreachable = [&](const std::string& what) {
    return make_error(ErrorKind::kUnavailable,
                      "cannot reach the certkeeper server admin listener at " + host_port + ": " + what);
  };
  if (ec) return unreachable(ec.message());
  stream.expires_after(std::chrono::milliseconds(timeout_ms));
  stream.connect(endpoints, ec);
  if (ec) return unreachable(ec.message());

  http::request<http::string_body> req{http::verb::post, path, 11};
  req.set(http::field::host, host_port);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::user_agent, "certmgr");
  req.body() = json_body;
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) return unreachable(ec.message());

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  http::read(stream, buffer, parser, ec);
  if (ec) return unreachable(ec.message());
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  return AdminResponse{static_cast<int>(parser.get().result_int()), parser.get().body()};
}

}  // namespace ck::cli
