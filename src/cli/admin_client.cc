#include "cli/admin_client.h"

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <chrono>

namespace ck::cli {
namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using Unix = asio::local::stream_protocol;

Result<AdminResponse> admin_post(const std::string& address, const std::string& path, const std::string& json_body,
                                 int timeout_ms) {
  if (address.rfind("unix:", 0) != 0 || address.size() == 5) {
    return make_error(ErrorKind::kInvalidArgument,
                      "the server's admin API is a Unix socket: give --server-admin unix:PATH, got '" + address + "'");
  }
  const std::string socket_path = address.substr(5);
  asio::io_context ioc;
  beast::basic_stream<Unix> stream(ioc);
  beast::error_code ec;
  auto unreachable = [&](const std::string& what) {
    return make_error(ErrorKind::kUnavailable, "cannot reach the certkeeper server's admin socket " + address + ": " +
                                                   what + " (is the server running with this --state-dir?)");
  };
  stream.expires_after(std::chrono::milliseconds(timeout_ms));
  stream.connect(Unix::endpoint(socket_path), ec);
  if (ec == beast::errc::permission_denied) {
    return make_error(ErrorKind::kPermissionDenied,
                      "permission denied: " + socket_path + " (run as root, the server's user, or a member of its "
                                                            "admin group)");
  }
  if (ec) return unreachable(ec.message());

  http::request<http::string_body> req{http::verb::post, path, 11};
  req.set(http::field::host, "localhost");
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
  stream.socket().shutdown(Unix::socket::shutdown_both, ec);
  return AdminResponse{static_cast<int>(parser.get().result_int()), parser.get().body()};
}

std::string admin_refusal_reason(const AdminResponse& response) {
  boost::system::error_code ec;
  const auto body = boost::json::parse(response.body, ec);
  const boost::json::value* error = !ec && body.is_object() ? body.as_object().if_contains("error") : nullptr;
  return error && error->is_string() ? std::string(error->as_string()) : response.body;
}

}  // namespace ck::cli
