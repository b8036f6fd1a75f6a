#include "agent/transport/connect.h"
#include "agent/transport/channel.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "agent/checkin_wire.h"
#include "net/lean_tls_stream.h"

namespace ck::transport {
namespace {
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr auto kConnectTimeout = std::chrono::seconds(30);

class ChannelClientImpl final : public ChannelClient {
 public:
  ChannelClientImpl(asio::any_io_executor ex, std::shared_ptr<asio::ssl::context> ctx,
                    std::shared_ptr<ServerTrust> trust, std::shared_ptr<const ServerTarget> server,
                    Callbacks cb, std::shared_ptr<const agent::ClientIdentity> identity)
      : identity_(std::move(identity)),
        ex_(ex),
        ctx_(std::move(ctx)),
        ws_(tcp::socket(ex), *ctx_),
        trust_(std::move(trust)),
        server_(std::move(server)),
        cb_(std::move(cb)) {}

  void start(std::string hello) override {
    asio::post(ex_, [self = self(), hello = std::move(hello)]() mutable {
      self->hello_ = std::move(hello);
      self->do_connect();
    });
  }

  void send(std::string text) override {
    asio::post(ex_, [self = self(), text = std::move(text)]() mutable {
      if (self->closed_) return;
      self->outbox_.push_back(std::move(text));
      if (self->open_ && !self->writing_) self->do_write();
    });
  }

  void close() override {
    asio::post(ex_, [self = self()] {
      if (self->closed_) return;
      if (!self->open_) return self->finish(make_error(ErrorKind::kUnavailable, "closed by the agent"));
      self->closing_ = true;
      self->ws_.async_close(websocket::close_code::normal, [self](beast::error_code) {
        self->finish(make_error(ErrorKind::kUnavailable, "closed by the agent"));
      });
    });
  }

  void set_session(std::shared_ptr<TlsSessionSlot> session) { session_ = std::move(session); }

 private:
  std::shared_ptr<ChannelClientImpl> self() {
    return std::static_pointer_cast<ChannelClientImpl>(shared_from_this());
  }

  void do_connect() {
    if (session_) session_->attach(ws_.next_layer().native_handle());
    if (identity_) {
      if (auto st = present_client_identity(ws_.next_layer().native_handle(), *identity_); !st.ok())
        return finish(st.error());
    }
    if (auto st = trust_->prepare(ws_.next_layer().native_handle(), server_->url.host); !st.ok())
      return finish(st.error());
    beast::get_lowest_layer(ws_).expires_after(kConnectTimeout);
    async_connect_target(
        beast::get_lowest_layer(ws_), *server_, [self = self()](beast::error_code ec, const tcp::endpoint&) {
          if (ec) return self->fail(ErrorKind::kUnavailable, "connect", ec);
          self->ws_.next_layer().async_handshake(
              asio::ssl::stream_base::client,
              [self](beast::error_code ec2) { self->on_tls(ec2); });
        });
  }

  void on_tls(beast::error_code ec) {
    if (ec) return fail(ErrorKind::kCrypto, "TLS handshake", handshake_failure(ws_.next_layer().native_handle(), ec));
    if (auto st = trust_->check_peer(ws_.next_layer().native_handle()); !st.ok()) return finish(st.error());
    // The websocket stream has its own timeouts from here on, so an idle read may wait
    // for the socket before it takes a buffer.
    beast::get_lowest_layer(ws_).expires_never();
    ws_.next_layer().wait_before_idle_reads();
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::client);
    timeouts.idle_timeout = std::chrono::seconds(90);
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.read_message_max(kMaxChannelFrameBytes);
    ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
      req.set(beast::http::field::user_agent, std::string("certkeeper-agent/") + agent::kAgentVersion);
    }));
    std::string host = server_->url.host + ":" + server_->url.port;
    ws_.async_handshake(host, server_->url.prefix + "/v1/channel",
                        [self = self()](beast::error_code ec2) { self->on_upgrade(ec2); });
  }

  void on_upgrade(beast::error_code ec) {
    if (ec) return fail(ErrorKind::kUnavailable, "WebSocket upgrade", ec);
    ws_.text(true);
    open_ = true;
    outbox_.push_front(std::move(hello_));
    do_write();
    do_read();
    if (cb_.on_open) cb_.on_open();
  }

  void do_write() {
    writing_ = true;
    ws_.async_write(asio::buffer(outbox_.front()), [self = self()](beast::error_code ec, size_t) {
      self->writing_ = false;
      if (ec) return self->fail(ErrorKind::kUnavailable, "write", ec);
      self->outbox_.pop_front();
      if (!self->outbox_.empty() && !self->closing_) self->do_write();
    });
  }

  void do_read() {
    ws_.async_read(buffer_, [self = self()](beast::error_code ec, size_t) {
      if (ec) return self->fail(ErrorKind::kUnavailable, "read", ec);
      std::string frame = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      if (self->cb_.on_frame && !self->closed_) self->cb_.on_frame(std::move(frame));
      if (!self->closed_) self->do_read();
    });
  }

  void fail(ErrorKind kind, const char* what, beast::error_code ec) { fail(kind, what, ec.message()); }
  void fail(ErrorKind kind, const char* what, const std::string& why) {
    finish(make_error(kind, std::string("channel ") + what + ": " + why));
  }

  void finish(Error why) {
    if (closed_) return;
    closed_ = true;
    open_ = false;
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    if (cb_.on_closed) cb_.on_closed(std::move(why));
    cb_ = {};
  }

  std::shared_ptr<const agent::ClientIdentity> identity_;  // first: the initializer list uses it first
  std::shared_ptr<TlsSessionSlot> session_;
  asio::any_io_executor ex_;
  std::shared_ptr<asio::ssl::context> ctx_;
  // LeanTlsStream, not asio's ssl::stream: that one keeps four 17 KiB buffers for the
  // connection's whole life (68 KiB of each simulated agent in a 100,000-agent fleet).
  websocket::stream<net::detail::LeanTlsStream> ws_;
  std::shared_ptr<ServerTrust> trust_;
  std::shared_ptr<const ServerTarget> server_;
  Callbacks cb_;
  std::string hello_;
  std::deque<std::string> outbox_;
  beast::flat_buffer buffer_;
  bool open_ = false, writing_ = false, closing_ = false, closed_ = false;
};

}  // namespace

std::shared_ptr<ChannelClient> ChannelClient::create(asio::any_io_executor executor,
                                                     std::shared_ptr<asio::ssl::context> ctx,
                                                     std::shared_ptr<ServerTrust> trust,
                                                     std::shared_ptr<const ServerTarget> server,
                                                     Callbacks callbacks,
                                                     std::shared_ptr<const agent::ClientIdentity> identity,
                                                     std::shared_ptr<TlsSessionSlot> session) {
  auto channel = std::make_shared<ChannelClientImpl>(std::move(executor), std::move(ctx), std::move(trust),
                                                     std::move(server), std::move(callbacks), std::move(identity));
  channel->set_session(std::move(session));
  return channel;
}

}  // namespace ck::transport
