// One web console connection (plain HTTP on a loopback listener): requests go to
// console::Console::handle; GET /api/events turns the connection into a server-sent
// event stream — an `overview` event at once and whenever the overview changes
// (checked every 500 ms), a keep-alive comment after 15 s of silence — until the
// browser goes, the server shuts down, or the session ends (expired, or dropped for a
// newer login; checked every 500 ms too): then `event: ended` and the connection
// closes. Watching the stream is not activity: it ends at the session's idle expiry
// (the front end then finds /api/* answering 401 and shows its "session ended" notice).
#include <spdlog/spdlog.h>

#include <boost/asio/write.hpp>

#include "console/console.h"
#include "net/beast_common.h"

namespace ck::net::detail {
namespace {

constexpr size_t kHeaderLimit = 16 * 1024;
constexpr size_t kBodyLimit = 64 * 1024;
constexpr auto kEventPoll = std::chrono::milliseconds(500);
constexpr auto kKeepAlive = std::chrono::seconds(15);
constexpr auto kWriteTimeout = std::chrono::seconds(30);
constexpr auto kEndedLinger = std::chrono::seconds(2);  // for the browser to read `ended`

class ConsoleSession final : public Stoppable, public std::enable_shared_from_this<ConsoleSession> {
 public:
  ConsoleSession(Shared& shared, tcp::socket&& socket, std::shared_ptr<void> slot)
      : shared_(shared),
        console_(*shared.console),
        slot_(std::move(slot)),
        stream_(std::move(socket)),
        timer_(stream_.get_executor()) {}

  void run() { asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->start(); }); }

  void stop() override {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      self->stopping_ = true;
      if (self->streaming_) return self->end_stream();
      if (self->reading_) self->stream_.cancel();
    });
  }

 private:
  void start() {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string();
    if (!shared_.tracker.add(weak_from_this())) return;
    do_read();
  }

  void do_read() {
    if (stopping_) return close();
    parser_.emplace();
    parser_->body_limit(kBodyLimit);
    parser_->header_limit(kHeaderLimit);
    stream_.expires_after(shared_.options.read_timeout);
    reading_ = true;
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->on_read(ec);
    });
  }

  template <class Key>
  static std::string single(const http::request<http::string_body>& req, Key f) {
    auto range = req.equal_range(f);
    if (range.first == range.second || std::next(range.first) != range.second) return {};
    return std::string(range.first->value());
  }

  void on_read(beast::error_code ec) {
    reading_ = false;
    if (ec == http::error::end_of_stream) return close();
    if (ec == http::error::body_limit) return reply(error(413, "request body too large"), false);
    if (ec == http::error::header_limit) return reply(error(431, "request headers too large"), false);
    if (ec) {
      if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
          ec != http::error::partial_message) {
        return reply(error(400, "malformed HTTP request"), false);
      }
      return;  // timeout, reset: drop
    }
    auto& req = parser_->get();
    version_ = req.version();
    console::Request request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    request.body = std::move(req.body());
    request.content_type = single(req, http::field::content_type);
    request.csrf_token = single(req, std::string_view("X-CSRF-Token"));
    request.remote = remote_;
    for (auto [it, end] = req.equal_range(http::field::cookie); it != end; ++it) {
      if (!request.cookie.empty()) request.cookie += "; ";
      request.cookie += std::string(it->value());
    }
    const bool keep_alive = req.keep_alive();
    console::Response r = console_.handle(request);
    if (r.event_stream) return start_stream(r);
    reply(std::move(r), keep_alive);
  }

  static console::Response error(int status, std::string_view why) {
    console::Response r = console::error_response(status, why);
    console::add_security_headers(r);
    return r;
  }

  void reply(console::Response r, bool keep_alive) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), version_);
    res->set(http::field::server, "certkeeper");
    res->set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) res->insert(name, value);
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive && !stopping_);
    res->prepare_payload();
    stream_.expires_after(kWriteTimeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      if (ec) return;
      if (res->need_eof()) return self->close();
      self->do_read();
    });
  }

  // --- server-sent events ---

  void start_stream(const console::Response& r) {
    streaming_ = true;
    session_id_ = r.session_id;
    stream_.expires_never();
    std::string head = "HTTP/1.1 200 OK\r\nServer: certkeeper\r\nContent-Type: text/event-stream\r\n";
    for (const auto& [name, value] : r.headers) head += name + ": " + value + "\r\n";
    head += "Connection: close\r\n\r\n";
    // The browser's reconnect delay, then the state as it is now.
    head += "retry: 2000\n\n";
    send(std::move(head));
    poll_overview();
    watch_for_close();
  }

  // A read that ends when the browser closes the stream (it sends nothing else).
  void watch_for_close() {
    stream_.socket().async_read_some(asio::buffer(discard_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->end_stream();
      self->watch_for_close();
    });
  }

  void poll_overview() {
    if (!streaming_ || ending_) return;
    if (!console_.session_alive(session_id_)) return end_session();
    auto cur = console_.feed().current();
    if (cur.ok() && cur->version != sent_version_) {
      sent_version_ = cur->version;
      send("event: overview\ndata: " + cur->json + "\n\n");
    } else if (std::chrono::steady_clock::now() - last_sent_ >= kKeepAlive) {
      send(": keep-alive\n\n");
    }
    timer_.expires_after(kEventPoll);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->poll_overview();
    });
  }

  void send(std::string text) {
    if (!streaming_) return;
    if (writing_) {
      // A slow reader: what is queued is replaced by the newer state, not piled up.
      pending_ = std::move(text);
      return;
    }
    writing_ = true;
    out_ = std::move(text);
    last_sent_ = std::chrono::steady_clock::now();
    asio::async_write(stream_.socket(), asio::buffer(out_), [self = shared_from_this()](beast::error_code ec, size_t) {
      self->writing_ = false;
      if (ec) return self->end_stream();
      if (!self->pending_.empty()) return self->send(std::exchange(self->pending_, {}));
      if (self->ending_) self->finish_ended();
    });
  }

  // The session is gone: tell the browser, then close (it reconnects, gets 401).
  void end_session() {
    ending_ = true;
    timer_.cancel();
    send("event: ended\ndata: {}\n\n");
  }

  // `ended` is written: FIN, and the socket closed when the browser closes its end
  // (watch_for_close) or after kEndedLinger.
  void finish_ended() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    timer_.expires_after(kEndedLinger);
    timer_.async_wait([self = shared_from_this()](beast::error_code) { self->end_stream(); });
  }

  void end_stream() {
    if (!streaming_) return;
    streaming_ = false;
    timer_.cancel();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  Shared& shared_;
  console::Console& console_;
  std::shared_ptr<void> slot_;  // released with the session
  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_ = "?";
  unsigned version_ = 11;
  bool reading_ = false, stopping_ = false, streaming_ = false, writing_ = false, ending_ = false;
  std::string session_id_;
  uint64_t sent_version_ = 0;
  std::chrono::steady_clock::time_point last_sent_{};
  std::string out_, pending_;
  char discard_[512];
};

}  // namespace

void start_console_session(Shared& shared, tcp::socket&& socket, std::shared_ptr<void> slot) {
  std::make_shared<ConsoleSession>(shared, std::move(socket), std::move(slot))->run();
}

}  // namespace ck::net::detail
