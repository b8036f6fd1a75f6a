#include "support/server_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <regex>

namespace ck::testing {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

void set_timeouts(tcp::socket& s, std::chrono::milliseconds t) {
  timeval tv{static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>((t.count() % 1000) * 1000)};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

bool connect_socket(tcp::socket& s, const HostPort& to, std::chrono::milliseconds t, std::string* error) {
  beast::error_code ec;
  s.connect(tcp::endpoint(asio::ip::make_address(to.host), to.port), ec);
  if (ec) {
    if (error) *error = "connect: " + ec.message();
    return false;
  }
  set_timeouts(s, t);
  return true;
}

bool connect_unix(asio::local::stream_protocol::socket& s, const std::string& path, std::chrono::milliseconds t,
                  std::string* error) {
  beast::error_code ec;
  s.connect(asio::local::stream_protocol::endpoint(path), ec);
  if (ec) {
    if (error) *error = "connect: " + ec.message();
    return false;
  }
  timeval tv{static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>((t.count() % 1000) * 1000)};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  return true;
}

ssl::context client_context() {
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_verify_mode(ssl::verify_none);  // tests trust whatever the server presents
  return ctx;
}

template <class Stream>
HttpReply exchange(Stream& stream, const HostPort& to, const std::string& method, const std::string& target,
                   const std::string& body, const std::string& content_type) {
  HttpReply out;
  http::request<http::string_body> req(http::string_to_verb(method), target, 11);
  if (req.method() == http::verb::unknown) req.method_string(method);
  // As certmgr does: the address and port it dialed (the admin API checks both).
  std::string host = to.host.find(':') != std::string::npos ? "[" + to.host + "]" : to.host;
  req.set(http::field::host, host + ":" + std::to_string(to.port));
  req.set(http::field::content_type, content_type);
  req.keep_alive(false);
  req.body() = body;
  req.prepare_payload();
  beast::error_code ec;
  http::write(stream, req, ec);
  if (ec) {
    out.error = "write: " + ec.message();
    // The server may answer (e.g. 413) before reading everything; try to read anyway.
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 << 20);
  http::read(stream, buffer, parser, ec);
  if (ec) {
    out.error += (out.error.empty() ? "" : "; ") + std::string("read: ") + ec.message();
    return out;
  }
  auto res = parser.release();
  out.status = static_cast<int>(res.result_int());
  out.body = res.body();
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  return out;
}

}  // namespace

std::optional<HostPort> parse_listening_line(const std::string& line) {
  static const std::regex re(R"(listening on (.+):(\d+) \((agents|admin|metrics|console)\))");
  std::smatch m;
  if (!std::regex_search(line, m, re)) return std::nullopt;
  std::string host = m[1];
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return HostPort{host, static_cast<uint16_t>(std::stoi(m[2]))};
}

HttpReply http_request(const HostPort& to, bool tls, const std::string& method, const std::string& target,
                       const std::string& body, std::chrono::milliseconds timeout, const std::string& content_type) {
  asio::io_context ioc;
  HttpReply fail;
  if (!tls) {
    tcp::socket s(ioc);
    if (!connect_socket(s, to, timeout, &fail.error)) return fail;
    return exchange(s, to, method, target, body, content_type);
  }
  ssl::context ctx = client_context();
  beast::ssl_stream<tcp::socket> stream(ioc, ctx);
  if (!connect_socket(stream.next_layer(), to, timeout, &fail.error)) return fail;
  beast::error_code ec;
  stream.handshake(ssl::stream_base::client, ec);
  if (ec) {
    fail.error = "handshake: " + ec.message();
    return fail;
  }
  return exchange(stream, to, method, target, body, content_type);
}

HttpReply admin_request(const std::string& socket_path, const std::string& method, const std::string& target,
                        const std::string& body, const std::string& content_type, std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  asio::local::stream_protocol::socket s(ioc);
  HttpReply fail;
  if (!connect_unix(s, socket_path, timeout, &fail.error)) return fail;
  return exchange(s, HostPort{"localhost", 0}, method, target, body, content_type);
}

RawResult raw_unix(const std::string& socket_path, const std::string& bytes, std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  asio::local::stream_protocol::socket s(ioc);
  RawResult out;
  if (!connect_unix(s, socket_path, timeout, nullptr)) return out;
  out.connected = true;
  beast::error_code ec;
  if (!bytes.empty()) asio::write(s, asio::buffer(bytes), ec);
  char buf[4096];
  while (true) {
    size_t n = s.read_some(asio::buffer(buf), ec);
    out.data.append(buf, n);
    if (ec == asio::error::eof || ec == asio::error::connection_reset) {
      out.closed_by_peer = true;
      break;
    }
    if (ec) break;
  }
  return out;
}

RawResult raw_tcp(const HostPort& to, const std::string& bytes, std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  tcp::socket s(ioc);
  RawResult out;
  if (!connect_socket(s, to, timeout, nullptr)) return out;
  out.connected = true;
  beast::error_code ec;
  if (!bytes.empty()) asio::write(s, asio::buffer(bytes), ec);
  char buf[4096];
  while (true) {
    size_t n = s.read_some(asio::buffer(buf), ec);
    out.data.append(buf, n);
    if (ec == asio::error::eof || ec == asio::error::connection_reset) {
      out.closed_by_peer = true;
      break;
    }
    if (ec) break;  // timeout (EAGAIN) or other
  }
  return out;
}

struct ChannelClient::Impl {
  asio::io_context ioc;
  ssl::context ctx = client_context();
  websocket::stream<beast::ssl_stream<tcp::socket>> ws{ioc, ctx};
  beast::flat_buffer buffer;
};

ChannelClient::ChannelClient() : impl_(std::make_unique<Impl>()) {}
ChannelClient::~ChannelClient() {
  beast::error_code ec;
  if (impl_->ws.is_open()) {
    set_timeouts(beast::get_lowest_layer(impl_->ws), std::chrono::milliseconds(500));
    impl_->ws.close(websocket::close_code::normal, ec);
  }
}

bool ChannelClient::connect(const HostPort& to, std::chrono::milliseconds timeout, std::string* error) {
  if (!connect_socket(beast::get_lowest_layer(impl_->ws), to, timeout, error)) return false;
  beast::error_code ec;
  impl_->ws.next_layer().handshake(ssl::stream_base::client, ec);
  if (!ec) impl_->ws.handshake(to.host + ":" + std::to_string(to.port), "/v1/channel", ec);
  if (ec && error) *error = "handshake: " + ec.message();
  return !ec;
}

bool ChannelClient::send_text(const std::string& text) {
  beast::error_code ec;
  impl_->ws.text(true);
  impl_->ws.write(asio::buffer(text), ec);
  return !ec;
}

std::optional<std::string> ChannelClient::read(std::chrono::milliseconds timeout) {
  set_timeouts(beast::get_lowest_layer(impl_->ws), timeout);
  // Asio's blocking reads poll() without a timeout (SO_RCVTIMEO does not apply): wait
  // for the first bytes here, unless OpenSSL already holds some.
  if (SSL_pending(impl_->ws.next_layer().native_handle()) == 0) {
    pollfd pfd{beast::get_lowest_layer(impl_->ws).native_handle(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
  }
  beast::error_code ec;
  impl_->buffer.clear();
  impl_->ws.read(impl_->buffer, ec);
  if (ec) return std::nullopt;
  return beast::buffers_to_string(impl_->buffer.data());
}

ServerUnderTest::ServerUnderTest(const std::string& store_url, const std::string& state_dir,
                                 const std::vector<std::string>& extra_args,
                                 const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv = {bin("certkeeper-server"), "--store",     store_url,
                                   "--listen",               "127.0.0.1:0", "--metrics-listen",
                                   "127.0.0.1:0",            "--state-dir", state_dir};
  if (std::find(extra_args.begin(), extra_args.end(), "--console-listen") == extra_args.end()) {
    argv.insert(argv.end(), {"--console-listen", "127.0.0.1:0"});
  }
  if (std::find(extra_args.begin(), extra_args.end(), "--admin-listen") == extra_args.end()) {
    argv.insert(argv.end(), {"--admin-listen", "unix:" + short_socket_path()});
  }
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  RunOptions options;
  options.unset_env = {"CERTKEEPER_STORE", "CK_FAULT_AT", "CK_FAULT_TRACE"};
  options.env = env;
  child_ = std::make_unique<ChildProcess>(argv, options);
  if (auto a = parse_listening_line(child_->wait_for_line("(agents)", std::chrono::seconds(20)))) agents_ = *a;
  static const std::regex unix_re(R"(listening on unix:(.+) \(admin\))");
  std::smatch m;
  std::string admin = child_->wait_for_line("(admin)", std::chrono::seconds(5));
  if (std::regex_search(admin, m, unix_re)) admin_socket_ = m[1];
  if (auto a = parse_listening_line(child_->wait_for_line("(metrics)", std::chrono::seconds(5)))) metrics_ = *a;
  if (auto a = parse_listening_line(child_->wait_for_line("(console)", std::chrono::seconds(5)))) console_ = *a;
}

}  // namespace ck::testing
