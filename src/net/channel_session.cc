// GET /v1/channel: a WebSocket over the agent's TLS connection. The agent's first text
// frame is a hello; the server then pushes signed messages, one JWS per text frame.
// Runs on the connection's strand; push()/close()/stop() post to it.
#include <spdlog/spdlog.h>

#include <deque>

#include "net/beast_common.h"
#include "protocol/wire.h"

namespace ck::net::detail {
namespace {

constexpr size_t kMaxOutbox = 1024;  // frames waiting; a reader this slow is dropped

class ChannelSession final : public server::ChannelSink,
                             public Stoppable,
                             public std::enable_shared_from_this<ChannelSession> {
 public:
  ChannelSession(Shared& shared, TlsStream&& stream, ConnectionCounter::Slot slot, std::string peer_key)
      : shared_(shared),
        ws_(std::move(stream)),
        hello_timer_(ws_.get_executor()),
        slot_(std::move(slot)),
        peer_key_(std::move(peer_key)) {}

  void run(http::request<http::string_body> req) {
    beast::get_lowest_layer(ws_).expires_never();  // the websocket has its own timeouts
    ws_.next_layer().wait_before_idle_reads();       // so an idle channel holds no read buffer
    const auto idle = shared_.options.channel_idle_timeout;
    ws_.set_option(websocket::stream_base::timeout{shared_.options.handshake_timeout, idle, /*keep_alive_pings=*/true});
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "certkeeper"); }));
    ws_.read_message_max(protocol::kMaxAgentFrameBytes);
    if (!shared_.tracker.add(weak_from_this())) return;  // shutting down: drop
    // A channel that never says who it is holds a descriptor for nothing: it has the
    // handshake timeout to send its hello.
    hello_timer_.expires_after(shared_.options.handshake_timeout);
    hello_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || !self->agent_id_.empty() || self->closing_) return;
      if (self->shared_.metrics) self->shared_.metrics->channels_without_hello_total.fetch_add(1);
      self->fail(websocket::close_code::policy_error, "no hello in time");
      beast::get_lowest_layer(self->ws_).cancel();
    });
    ws_.async_accept(req, beast::bind_front_handler(&ChannelSession::on_accept, shared_from_this()));
  }

  void push(std::string frame) override {
    asio::post(ws_.get_executor(), [self = shared_from_this(), frame = std::move(frame)]() mutable {
      if (self->closing_) return;
      if (self->outbox_.size() >= kMaxOutbox) {
        spdlog::warn("channel: agent {} does not read its frames; closing", self->agent_id_);
        self->begin_close();
        return;
      }
      self->outbox_.push_back(std::move(frame));
      if (!self->writing_) self->do_write();
    });
  }

  void close() override {
    asio::post(ws_.get_executor(), [self = shared_from_this()] { self->begin_close(); });
  }
  void stop() override { close(); }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) {
      spdlog::debug("channel: handshake failed: {}", ec.message());
      return;
    }
    accepted_ = true;
    if (closing_) do_close();  // stop() arrived during the handshake
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&ChannelSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec) {
      if (ec != websocket::error::closed) spdlog::debug("channel {}: closed: {}", agent_id_, ec.message());
      finish();
      return;
    }
    std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    if (!ws_.got_text()) {
      fail(websocket::close_code::bad_payload, "binary frames are not accepted");
      return;
    }
    auto id = shared_.service.channel_frame(text, shared_from_this(), agent_id_, peer_key_);
    if (!id.ok()) {
      fail(websocket::close_code::policy_error, id.error().message);
      return;
    }
    if (!agent_id_.empty() && agent_id_ != *id) shared_.service.channel_closed(agent_id_, this);
    agent_id_ = *id;
    hello_timer_.cancel();
    do_read();
  }

  void fail(websocket::close_code code, const std::string& why) {
    spdlog::info("channel {}: closing: {}", agent_id_.empty() ? "(no hello)" : agent_id_, why);
    close_code_ = code;
    begin_close();
  }

  void do_write() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(outbox_.front()),
                    beast::bind_front_handler(&ChannelSession::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, size_t) {
    writing_ = false;
    if (ec) return;  // the read side notices and finishes
    outbox_.pop_front();
    if (closing_) {
      outbox_.clear();
      do_close();
    } else if (!outbox_.empty()) {
      do_write();
    }
  }

  void begin_close() {
    if (closing_) return;
    closing_ = true;
    if (!writing_) do_close();
  }

  void do_close() {
    if (!accepted_ || close_sent_) return;
    close_sent_ = true;
    ws_.async_close(close_code_, [self = shared_from_this()](beast::error_code) {});
  }

  void finish() {
    if (!agent_id_.empty()) shared_.service.channel_closed(agent_id_, this);
    agent_id_.clear();
  }

  Shared& shared_;
  websocket::stream<TlsStream> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> outbox_;
  std::string agent_id_;
  websocket::close_code close_code_ = websocket::close_code::normal;
  asio::steady_timer hello_timer_;
  ConnectionCounter::Slot slot_;
  const std::string peer_key_;  // the client key's fingerprint, "" for none
  bool accepted_ = false, writing_ = false, closing_ = false, close_sent_ = false;
};

}  // namespace

void start_channel_session(Shared& shared, TlsStream&& stream, http::request<http::string_body> req,
                           ConnectionCounter::Slot slot, std::string peer_key) {
  std::make_shared<ChannelSession>(shared, std::move(stream), std::move(slot), std::move(peer_key))
      ->run(std::move(req));
}

}  // namespace ck::net::detail
