#include "agent/transport/connect.h"
#include "agent/transport/https.h"

#include <boost/asio/connect.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "agent/checkin_wire.h"

namespace ck::transport {
namespace {
namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class HttpsCall : public std::enable_shared_from_this<HttpsCall> {
 public:
  HttpsCall(asio::any_io_executor ex, std::shared_ptr<asio::ssl::context> ctx,
            std::shared_ptr<ServerTrust> trust, std::shared_ptr<const ServerTarget> server, HttpsRequest req,
            std::function<void(Result<HttpReply>)> done)
      : ctx_(std::move(ctx)),
        stream_(ex, *ctx_),
        trust_(std::move(trust)),
        server_(std::move(server)),
        req_(std::move(req)),
        done_(std::move(done)) {}

  void run() {
    if (auto st = trust_->prepare(stream_.native_handle(), server_->url.host); !st.ok())
      return finish(st.error());
    if (req_.identity) {
      if (auto st = present_client_identity(stream_.native_handle(), *req_.identity); !st.ok())
        return finish(st.error());
    }
    if (req_.session) req_.session->attach(stream_.native_handle());
    beast::get_lowest_layer(stream_).expires_after(req_.timeout);
    async_connect_target(beast::get_lowest_layer(stream_), *server_,
                         beast::bind_front_handler(&HttpsCall::on_connect, shared_from_this()));
  }

 private:
  void on_connect(beast::error_code ec, const tcp::endpoint&) {
    if (ec) return fail(ErrorKind::kUnavailable, "connect", ec);
    stream_.async_handshake(asio::ssl::stream_base::client,
                            beast::bind_front_handler(&HttpsCall::on_handshake, shared_from_this()));
  }

  void on_handshake(beast::error_code ec) {
    if (ec) return fail(ErrorKind::kCrypto, "TLS handshake", handshake_failure(stream_.native_handle(), ec));
    if (auto st = trust_->check_peer(stream_.native_handle()); !st.ok()) return finish(st.error());
    beast::error_code lec;
    auto local = beast::get_lowest_layer(stream_).socket().local_endpoint(lec);
    if (!lec) reply_.local_ip = local.address().to_string();
    request_.method_string(req_.method);
    request_.target(server_->url.prefix + req_.target);
    request_.version(11);
    request_.set(http::field::host, server_->url.host);
    request_.set(http::field::user_agent, std::string("certkeeper-agent/") + agent::kAgentVersion);
    request_.set(http::field::content_type, "application/json");
    request_.set(http::field::connection, "close");
    if (req_.body) request_.body() = req_.body(reply_.local_ip);
    request_.prepare_payload();
    http::async_write(stream_, request_, beast::bind_front_handler(&HttpsCall::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, size_t) {
    if (ec) return fail(ErrorKind::kUnavailable, "write", ec);
    parser_.body_limit(req_.body_limit);
    http::async_read(stream_, buffer_, parser_,
                     beast::bind_front_handler(&HttpsCall::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec) return fail(ErrorKind::kUnavailable, "read", ec);
    reply_.status = static_cast<int>(parser_.get().result_int());
    reply_.body = std::move(parser_.get().body());
    finish(std::move(reply_));
    // Close politely, without making the caller wait for it.
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

  void fail(ErrorKind kind, const char* what, beast::error_code ec) { fail(kind, what, ec.message()); }
  void fail(ErrorKind kind, const char* what, const std::string& why) {
    finish(make_error(kind, std::string(what) + " " + server_->url.host + ":" + server_->url.port + ": " + why));
  }

  void finish(Result<HttpReply> r) {
    if (done_) {
      auto done = std::move(done_);
      done_ = nullptr;
      done(std::move(r));
    }
  }

  std::shared_ptr<asio::ssl::context> ctx_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  std::shared_ptr<ServerTrust> trust_;
  std::shared_ptr<const ServerTarget> server_;
  HttpsRequest req_;
  std::function<void(Result<HttpReply>)> done_;
  http::request<http::string_body> request_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  HttpReply reply_;
};

}  // namespace

void async_https(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> ctx,
                 std::shared_ptr<ServerTrust> trust, std::shared_ptr<const ServerTarget> server, HttpsRequest request,
                 std::function<void(Result<HttpReply>)> done) {
  std::make_shared<HttpsCall>(std::move(executor), std::move(ctx), std::move(trust), std::move(server),
                              std::move(request), std::move(done))
      ->run();
}

}  // namespace ck::transport
