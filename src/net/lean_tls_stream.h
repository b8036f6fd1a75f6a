// A TLS stream over beast::tcp_stream that keeps no buffers while a connection is
// idle: the server's agent port, and the agent's channel (async_handshake's type picks
// the side). asio::ssl::stream holds four 17 KiB buffers per connection for
// its whole life (two in stream_core, two in its BIO pair): 68 KiB of an idle agent's
// ~88 KiB. Here OpenSSL talks to a small custom BIO whose input and output are
// std::strings filled and emptied per operation (their memory is returned when they
// drain), OpenSSL releases its own record buffers (SSL_MODE_RELEASE_BUFFERS), and a
// pending read holds only kReadChunk bytes.
//
// Same surface as beast::ssl_stream for what src/net and the channel client use:
// async_handshake, async_read_some, async_write_some, async_shutdown, native_handle,
// next_layer (timeouts stay those of beast::tcp_stream), and websocket teardown.
// Concurrency: at most one read and one write operation at a time (Beast's contract),
// all on the stream's strand. Output produced by a read (a TLS 1.3 KeyUpdate answer)
// leaves with the next write.
#pragma once

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ck::net::detail {

class LeanTlsStream {
 public:
  using next_layer_type = boost::beast::tcp_stream;
  using executor_type = next_layer_type::executor_type;
  static constexpr size_t kReadChunk = 1536;  // one Ethernet frame's worth per socket read
  static constexpr int kMaxPlaintextPerWrite = 16 * 1024;  // one TLS record

  LeanTlsStream(boost::asio::ip::tcp::socket&& socket, SSL_CTX* ctx);
  LeanTlsStream(boost::asio::ip::tcp::socket&& socket, boost::asio::ssl::context& ctx)
      : LeanTlsStream(std::move(socket), ctx.native_handle()) {}
  LeanTlsStream(LeanTlsStream&&) noexcept = default;
  LeanTlsStream& operator=(LeanTlsStream&& other) noexcept {
    close_socket();
    state_ = std::move(other.state_);
    return *this;
  }
  // Closes the socket: an operation still pending (it holds the State) ends with
  // operation_aborted instead of keeping the connection open.
  ~LeanTlsStream() { close_socket(); }

  executor_type get_executor() noexcept { return state_->tcp.get_executor(); }
  next_layer_type& next_layer() noexcept { return state_->tcp; }
  const next_layer_type& next_layer() const noexcept { return state_->tcp; }
  SSL* native_handle() noexcept { return state_->ssl.get(); }
  // Ciphertext produced and not yet sent (for the synchronous teardown).
  std::string& pending_output() noexcept { return state_->out; }
  // An idle read first waits for the socket to become readable and only then takes
  // its kReadChunk buffer: about 2 KiB less per idle connection. Only for streams
  // whose timeouts are not beast::tcp_stream's (those cover reads, not waits): the
  // WebSocket channels, whose own timer closes the socket.
  void wait_before_idle_reads() noexcept { state_->wait_before_read = true; }

  template <class Handler>
  auto async_handshake(boost::asio::ssl::stream_base::handshake_type type, Handler&& handler) {
    if (type == boost::asio::ssl::stream_base::client) SSL_set_connect_state(state_->ssl.get());
    return boost::asio::async_compose<Handler, void(boost::system::error_code)>(HandshakeOp{state_.get(), state_}, handler,
                                                                                 state_->tcp);
  }
  template <class MutableBuffers, class Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    return boost::asio::async_compose<Handler, void(boost::system::error_code, size_t)>(
        ReadOp{state_.get(), state_, first_buffer<boost::asio::mutable_buffer>(buffers)}, handler, state_->tcp);
  }
  template <class ConstBuffers, class Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    // The whole sequence (up to one record's worth) goes out in one socket write: an
    // HTTP header and body sent apart would meet Nagle and delayed ACKs (40 ms).
    WriteOp op{state_.get(), state_, {}};
    size_t total = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && total < kMaxPlaintextPerWrite; ++it) {
      boost::asio::const_buffer b(*it);
      if (b.size() == 0) continue;
      b = boost::asio::buffer(b, kMaxPlaintextPerWrite - total);
      op.buffers.push_back(b);
      total += b.size();
    }
    return boost::asio::async_compose<Handler, void(boost::system::error_code, size_t)>(std::move(op), handler,
                                                                                         state_->tcp);
  }
  template <class Handler>
  auto async_shutdown(Handler&& handler) {
    return boost::asio::async_compose<Handler, void(boost::system::error_code)>(ShutdownOp{state_.get(), state_}, handler,
                                                                                 state_->tcp);
  }

  // The BIO's view of the connection (public for the BIO callbacks).
  struct State {
    State(boost::asio::ip::tcp::socket&& socket, SSL_CTX* ctx);
    boost::beast::tcp_stream tcp;
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl;
    std::string in;        // ciphertext received, not yet taken by OpenSSL
    size_t in_pos = 0;
    std::string out;       // ciphertext OpenSSL produced, not yet handed to the socket
    // What the socket write in flight sends. Apart from `out`: an SSL_read during that
    // write (a TLS 1.3 KeyUpdate answer) appends to `out`, never under the write.
    std::string sending;
    bool tcp_eof = false;
    bool wait_before_read = false;  // see wait_before_idle_reads()
  };

 private:
  // The first non-empty buffer (one TLS operation fills or sends one buffer).
  template <class Buffer, class Buffers>
  static Buffer first_buffer(const Buffers& buffers) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
      Buffer b(*it);
      if (b.size() > 0) return b;
    }
    return Buffer();
  }

  // Maps the result of an SSL call that failed; `want_read` when more input is needed.
  static boost::system::error_code ssl_failure(State* s, int result, bool* want_read);
  // Sends all of s->out (moved to s->sending first); sent() releases the memory.
  // Only the write side (handshake, write, shutdown: never two at once) flushes.
  template <class Self>
  static void flush(State* s, Self& self) {
    s->sending.swap(s->out);
    boost::asio::async_write(s->tcp, boost::asio::buffer(s->sending), std::move(self));
  }
  static void sent(State* s) { std::string().swap(s->sending); }
  // Completes now if I/O already happened, else from the executor (never inside the
  // initiating call: Asio's rule, and no recursion through Beast's loops).
  template <class Self, class... Args>
  static void finish(Self& self, bool did_io, Args... args) {
    if (did_io) return self.complete(args...);
    auto ex = self.get_io_executor();
    boost::asio::post(ex, [self = std::move(self), args...]() mutable { self.complete(args...); });
  }
  // Reads one chunk into s->in.
  template <class Self>
  static void fill(State* s, Self& self) {
    if (s->in_pos > 0) {  // keep only what OpenSSL has not taken yet
      s->in.erase(0, s->in_pos);
      s->in_pos = 0;
    }
    const size_t old = s->in.size();
    s->in.resize(old + kReadChunk);
    s->tcp.async_read_some(boost::asio::buffer(s->in.data() + old, kReadChunk), std::move(self));
  }
  static void filled(State* s, size_t n) {
    s->in.resize(s->in.size() - kReadChunk + n);
  }

  // Every operation holds the State it works on: a pending write (Beast's keep-alive
  // ping holds its stream only weakly) may complete after its stream was destroyed.
  struct HandshakeOp {
    State* s;
    std::shared_ptr<State> keep;
    enum { kStart, kFlushing, kReading } step = kStart;
    boost::system::error_code failed;  // a fatal error whose alert is being sent
    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, size_t n = 0) {
      const bool did_io = step != kStart;
      if (step == kFlushing) sent(s);
      if (step == kReading) filled(s, ec ? 0 : n);
      // A failure whose alert could not be sent is still that failure (a certificate
      // that does not verify, not "broken pipe").
      if (ec) return finish(self, did_io, failed ? failed : ec);
      if (failed) return finish(self, did_io, failed);
      ERR_clear_error();
      const int r = SSL_do_handshake(s->ssl.get());
      bool want_read = false;
      if (r != 1) failed = ssl_failure(s, r, &want_read);
      if (!s->out.empty()) {  // ServerHello, tickets, alerts: out before anything else
        step = kFlushing;
        return flush(s, self);
      }
      if (r == 1) return finish(self, did_io, boost::system::error_code{});
      if (!want_read) return finish(self, did_io, failed);
      step = kReading;
      fill(s, self);
    }
  };

  struct ReadOp {
    State* s;
    std::shared_ptr<State> keep;
    boost::asio::mutable_buffer buffer;
    bool reading = false;
    bool waiting = false;
    bool did_io = false;
    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, size_t n = 0) {
      if (reading || waiting) did_io = true;
      if (waiting) {  // the socket is readable (or the wait ended): now take a buffer
        waiting = false;
        if (ec) return finish(self, did_io, ec, size_t{0});
        reading = true;
        return fill(s, self);
      }
      if (reading) {
        filled(s, ec ? 0 : n);
        reading = false;
        if (ec == boost::asio::error::eof) {
          s->tcp_eof = true;
          ec = {};
        }
        if (ec) return finish(self, did_io, ec, size_t{0});
      }
      if (buffer.size() == 0) return finish(self, did_io, boost::system::error_code{}, size_t{0});
      ERR_clear_error();
      const int r = SSL_read(s->ssl.get(), buffer.data(), static_cast<int>(std::min<size_t>(buffer.size(), INT32_MAX)));
      if (r > 0) return finish(self, did_io, boost::system::error_code{}, static_cast<size_t>(r));
      bool want_read = false;
      auto failure = ssl_failure(s, r, &want_read);
      if (!want_read) return finish(self, did_io, failure, size_t{0});
      if (s->tcp_eof)
        return finish(self, did_io, boost::system::error_code(boost::asio::ssl::error::stream_truncated), size_t{0});
      if (s->wait_before_read && s->in.empty()) {
        waiting = true;
        return s->tcp.socket().async_wait(boost::asio::socket_base::wait_read, std::move(self));
      }
      reading = true;
      fill(s, self);
    }
  };

  struct WriteOp {
    State* s;
    std::shared_ptr<State> keep;
    std::vector<boost::asio::const_buffer> buffers;
    size_t written = 0;
    bool flushing = false;
    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, size_t = 0) {
      if (flushing) {
        sent(s);
        // Output an SSL_read produced meanwhile (KeyUpdate answer) goes out next, in order.
        if (!ec && !s->out.empty()) return flush(s, self);
        return self.complete(ec, ec ? 0 : written);
      }
      if (buffers.empty()) return finish(self, false, boost::system::error_code{}, size_t{0});
      // One record for the whole sequence: Beast hands an HTTP answer over as its start
      // line, each header field and the body apart, and a record each would cost both
      // ends a cipher setup per piece (SSL_write was 15 % of a check-in's CPU).
      boost::asio::const_buffer whole = buffers.front();
      if (buffers.size() > 1) {
        // Used only until SSL_write returns, which copies it into its record: no
        // callback of ours starts another write on this thread meanwhile.
        thread_local std::string gathered;
        gathered.clear();
        for (const auto& b : buffers) gathered.append(static_cast<const char*>(b.data()), b.size());
        whole = boost::asio::buffer(gathered);
      }
      ERR_clear_error();
      const int r = SSL_write(s->ssl.get(), whole.data(), static_cast<int>(whole.size()));
      if (r <= 0) {
        bool want_read = false;
        auto failure = ssl_failure(s, r, &want_read);
        return finish(self, false,
                      want_read ? boost::system::error_code(boost::asio::error::operation_not_supported) : failure,
                      size_t{0});
      }
      written = static_cast<size_t>(r);
      flushing = true;
      flush(s, self);
    }
  };

  struct ShutdownOp {
    State* s;
    std::shared_ptr<State> keep;
    bool flushing = false;
    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, size_t = 0) {
      if (flushing) {
        sent(s);
        boost::system::error_code ignored;
        s->tcp.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
        return self.complete(ec);
      }
      ERR_clear_error();
      (void)SSL_shutdown(s->ssl.get());  // our close_notify; the peer's is not awaited
      if (s->out.empty()) {
        boost::system::error_code ignored;
        s->tcp.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
        return finish(self, false, boost::system::error_code{});
      }
      flushing = true;
      flush(s, self);
    }
  };

  void close_socket() noexcept {
    if (!state_) return;
    boost::system::error_code ignored;
    state_->tcp.socket().close(ignored);
  }

  std::shared_ptr<State> state_;
};

// WebSocket close over a LeanTlsStream: our close_notify, then the TCP send side.
void teardown(boost::beast::role_type role, LeanTlsStream& stream, boost::system::error_code& ec);

template <class TeardownHandler>
void async_teardown(boost::beast::role_type, LeanTlsStream& stream, TeardownHandler&& handler) {
  stream.async_shutdown(std::forward<TeardownHandler>(handler));
}

}  // namespace ck::net::detail
