// Listeners and HTTP sessions (agent port: TLS; admin port: plain, loopback only).
#include "net/server.h"

#include <spdlog/spdlog.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <condition_variable>
#include <optional>
#include <thread>

#include "crypto/key.h"
#include "net/beast_common.h"
#include "protocol/wire.h"

namespace ck::net {
using namespace detail;  // NOLINT: aliases only

namespace detail {
namespace {

constexpr size_t kHeaderLimit = 16 * 1024;
constexpr auto kCloseTimeout = std::chrono::seconds(3);
constexpr auto kDrainTimeout = std::chrono::seconds(2);
constexpr size_t kMaxDrainBytes = 4 << 20;

// SHA-256 of the SPKI of the client key the TLS peer proved it holds ("" for none, or
// for a key type certkeeper does not use).
std::string peer_key_fingerprint(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) return {};
  const EVP_PKEY* key = X509_get0_pubkey(cert);
  // A key we would never bind is refused, not taken for "no key" (that would make it a
  // keyless legacy client).
  if (!key || !crypto::algorithm_of(key)) return protocol::kUnusableClientKey;
  auto fp = crypto::fingerprint_of(key);
  return fp.ok() ? *fp : std::string(protocol::kUnusableClientKey);
}

using UnixStream = beast::basic_stream<asio::local::stream_protocol>;

// Which listener a session came from: agents (TLS), /metrics (TCP), admin (Unix socket).
enum class Port { kAgent, kMetrics, kAdmin };

template <Port kPort>
class HttpSession final : public Stoppable, public std::enable_shared_from_this<HttpSession<kPort>> {
  static constexpr bool kTls = kPort == Port::kAgent;
  using Stream = std::conditional_t<kTls, TlsStream, std::conditional_t<kPort == Port::kAdmin, UnixStream, beast::tcp_stream>>;
  using Socket = std::conditional_t<kPort == Port::kAdmin, asio::local::stream_protocol::socket, tcp::socket>;

 public:
  HttpSession(Shared& shared, Socket&& socket, ssl::context& ctx, ConnectionCounter::Slot slot)
    requires kTls
      : shared_(shared), stream_(std::move(socket), ctx), executor_(stream_.get_executor()), slot_(std::move(slot)) {}
  HttpSession(Shared& shared, Socket&& socket)
    requires(!kTls)
      : shared_(shared), stream_(std::move(socket)), executor_(stream_.get_executor()) {}

  void run() {
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&HttpSession::start, this->shared_from_this()));
  }

  // From the shutdown thread: the executor was kept, since stream_ may have moved to
  // a channel session by now.
  void stop() override {
    asio::post(executor_, [self = this->shared_from_this()] {
      self->stopping_ = true;
      // Idle, or still in its TLS handshake (no request yet, the agent retries): end it.
      // Only a request being answered is drained.
      if (self->reading_ || self->handshaking_) beast::get_lowest_layer(self->stream_).cancel();
    });
  }

 private:
  auto& lowest() { return beast::get_lowest_layer(stream_); }

  void start() {
    beast::error_code ec;
    if constexpr (kPort == Port::kAdmin) {
      // The kernel's word on who is at the other end (the admin API's only credential).
      ucred cred{};
      socklen_t len = sizeof cred;
      if (::getsockopt(lowest().socket().native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        peer_ = cred;
        remote_ = "unix pid " + std::to_string(cred.pid);
      }
    } else {
      auto ep = lowest().socket().remote_endpoint(ec);
      if (!ec) remote_ = ep.address().to_string();
      auto local = lowest().socket().local_endpoint(ec);
      if (!ec) local_port_ = local.port();
    }
    if (!shared_.tracker.add(this->weak_from_this())) return;
    if constexpr (kTls) {
      lowest().expires_after(shared_.options.handshake_timeout);
      handshaking_ = true;
      stream_.async_handshake(ssl::stream_base::server,
                              beast::bind_front_handler(&HttpSession::on_handshake, this->shared_from_this()));
    } else {
      do_read();
    }
  }

  void on_handshake(beast::error_code ec) {
    handshaking_ = false;
    if (ec) {
      // Not TLS, a timeout, or a peer that gave up: this connection only.
      spdlog::debug("TLS handshake with {} failed: {}", remote_, ec.message());
      return;
    }
    if constexpr (kTls) {
      peer_key_ = peer_key_fingerprint(stream_.native_handle());
      if (shared_.metrics) {
        shared_.metrics->tls_handshakes_total.fetch_add(1);
        if (SSL_session_reused(stream_.native_handle())) shared_.metrics->tls_resumptions_total.fetch_add(1);
      }
    }
    do_read();
  }

  void do_read() {
    if (stopping_) return do_close();
    parser_.emplace();
    parser_->body_limit(protocol::kMaxRequestBodyBytes);
    parser_->header_limit(kHeaderLimit);
    lowest().expires_after(shared_.options.read_timeout);
    reading_ = true;
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    reading_ = false;
    if (ec == http::error::end_of_stream) return do_close();
    if (ec == http::error::body_limit) return reply_and_close(413, "request body too large");
    if (ec == http::error::header_limit) return reply_and_close(431, "request headers too large");
    if (ec) {
      // A parse error from the HTTP parser (not a transport error): answer 400.
      if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
          ec != http::error::partial_message) {
        return reply_and_close(400, "malformed HTTP request");
      }
      spdlog::debug("connection from {} ended: {}", remote_, ec.message());
      return;  // timeout, reset, truncated TLS: drop
    }
    auto& req = parser_->get();
    if constexpr (kTls) {
      if (websocket::is_upgrade(req)) {
        if (server::Service::is_channel_target(req.target()) && req.method() == http::verb::get) {
          start_channel_session(shared_, std::move(stream_), parser_->release(), std::move(slot_), peer_key_);
          return;
        }
        return reply_and_close(404, "no WebSocket endpoint here");
      }
    }
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    protocol::HttpRequest request{std::string(req.method_string()), std::string(req.target()),
                                  std::move(req.body()), remote_};
    // A header sent twice counts as absent (the admin checks then refuse).
    auto single = [&req](http::field f) {
      return req.count(f) == 1 ? std::string(req[f]) : std::string();
    };
    request.content_type = single(http::field::content_type);
    request.host = single(http::field::host);
    request.has_origin = req.count(http::field::origin) > 0;
    request.peer_key = peer_key_;
    request.local_port = local_port_;
    if (peer_) {
      request.peer_pid = peer_->pid;
      request.peer_uid = peer_->uid;
      request.peer_gid = peer_->gid;
    }
    // Keeps run() going until the answer is written, even during shutdown.
    auto guard = std::make_shared<asio::executor_work_guard<typename Stream::executor_type>>(stream_.get_executor());
    auto done = [self = this->shared_from_this(), guard](protocol::HttpResponse resp) {
      asio::post(self->stream_.get_executor(),
                 [self, guard, resp = std::move(resp)]() mutable { self->write(std::move(resp)); });
    };
    if constexpr (kPort == Port::kAgent) {
      shared_.service.handle_agent(std::move(request), std::move(done));
    } else if constexpr (kPort == Port::kAdmin) {
      shared_.service.handle_admin(std::move(request), std::move(done));
    } else {
      shared_.service.handle_metrics(std::move(request), std::move(done));
    }
  }

  // For requests not read to the end (413, 431, 400): after the answer, the rest of
  // what the client sends is read and discarded for a moment before closing, so the
  // client's kernel does not reset the connection and drop the answer (lingering close).
  void reply_and_close(int status, std::string_view why) {
    spdlog::debug("refusing request from {}: {} {}", remote_, status, why);
    keep_alive_ = false;
    drain_before_close_ = true;
    write(protocol::error_response(status, why));
  }

  void drain() {
    drain_buf_.resize(16 * 1024);
    stream_.async_read_some(asio::buffer(drain_buf_), [self = this->shared_from_this()](beast::error_code ec, size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kMaxDrainBytes) return self->do_close();
      self->drain();
    });
  }

  void write(protocol::HttpResponse r) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), version_);
    res->set(http::field::server, "certkeeper");
    res->set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) res->set(name, value);
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive_ && !stopping_);
    res->prepare_payload();
    lowest().expires_after(shared_.options.read_timeout);
    http::async_write(stream_, *res, [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
      if (ec) return;
      if (res->need_eof()) {
        if (self->drain_before_close_) {
          self->lowest().expires_after(kDrainTimeout);
          return self->drain();
        }
        return self->do_close();
      }
      self->do_read();
    });
  }

  void do_close() {
    if constexpr (kTls) {
      lowest().expires_after(kCloseTimeout);
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  Shared& shared_;
  Stream stream_;
  typename Stream::executor_type executor_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_ = "?";
  uint16_t local_port_ = 0;
  std::optional<ucred> peer_;
  ConnectionCounter::Slot slot_;  // agent port: this connection's place under the caps
  std::string peer_key_;          // agent port: the client key's fingerprint, "" for none
  unsigned version_ = 11;
  bool keep_alive_ = false, reading_ = false, handshaking_ = false, stopping_ = false, drain_before_close_ = false;
  std::string drain_buf_;
  size_t drained_ = 0;
};

template <class Protocol>
class Listener final : public std::enable_shared_from_this<Listener<Protocol>> {
  using Acceptor = typename Protocol::acceptor;
  using Socket = typename Protocol::socket;

 public:
  using OnAccept = std::function<void(Socket)>;
  Listener(asio::io_context& ioc, OnAccept on_accept)
      : ioc_(ioc), acceptor_(asio::make_strand(ioc)), retry_(acceptor_.get_executor()), on_accept_(std::move(on_accept)) {}

  Status bind(const typename Protocol::endpoint& ep, const std::string& shown, bool reuse_port = false) {
    beast::error_code ec;
    acceptor_.open(ep.protocol(), ec);
    if constexpr (std::is_same_v<Protocol, tcp>) {
      if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
      using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
      if (!ec && reuse_port) acceptor_.set_option(ReusePort(true), ec);
    }
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return make_error(ErrorKind::kUnavailable, "cannot listen on " + shown + ": " + ec.message());
    return ok_status();
  }
  typename Protocol::endpoint local() const { return acceptor_.local_endpoint(); }
  void start() {
    asio::dispatch(acceptor_.get_executor(), [self = this->shared_from_this()] { self->do_accept(); });
  }
  void stop() {
    asio::post(acceptor_.get_executor(), [self = this->shared_from_this()] {
      beast::error_code ec;
      self->acceptor_.close(ec);
      self->retry_.cancel();
    });
  }

 private:
  void do_accept() {
    acceptor_.async_accept(asio::make_strand(ioc_),
                           beast::bind_front_handler(&Listener::on_accept, this->shared_from_this()));
  }
  void on_accept(beast::error_code ec, Socket socket) {
    if (!acceptor_.is_open() || ec == asio::error::operation_aborted) return;
    if (ec) {
      // E.g. out of descriptors: back off briefly instead of spinning, then keep going.
      spdlog::warn("accept failed: {}", ec.message());
      retry_.expires_after(std::chrono::milliseconds(100));
      retry_.async_wait([self = this->shared_from_this()](beast::error_code wait_ec) {
        if (!wait_ec && self->acceptor_.is_open()) self->do_accept();
      });
      return;
    }
    on_accept_(std::move(socket));
    do_accept();
  }

  asio::io_context& ioc_;
  Acceptor acceptor_;
  asio::steady_timer retry_;
  OnAccept on_accept_;
};

using TcpListener = Listener<tcp>;
using UnixListener = Listener<asio::local::stream_protocol>;

Result<tcp::endpoint> tcp_endpoint(const std::string& host, uint16_t port) {
  beast::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return make_error(ErrorKind::kInvalidArgument, "not an IP address: " + host);
  return tcp::endpoint(addr, port);
}

// Binds the admin socket: a stale socket from a crash is replaced, anything else at
// that path is left alone; then 0660, group = the admin group.
Status bind_admin_socket(UnixListener& listener, const std::string& path, std::optional<gid_t> gid) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return make_error(ErrorKind::kConflict, "cannot listen on unix:" + path + ": something else is at that path");
    }
    ::unlink(path.c_str());
  }
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return make_error(ErrorKind::kInvalidArgument, "admin socket path too long: " + path);
  }
  // Created 0660 by bind itself (umask), not widened and narrowed by path afterwards;
  // the group is set without following a symlink swapped in at that path.
  const mode_t old_umask = ::umask(0117);
  Status bound = listener.bind(asio::local::stream_protocol::endpoint(path), "unix:" + path);
  ::umask(old_umask);
  CK_RETURN_IF_ERROR(bound);
  struct stat bound_st {};
  const bool has_group = gid && ::lstat(path.c_str(), &bound_st) == 0 && bound_st.st_gid == *gid;  // no chown needed
  if (gid && !has_group && ::lchown(path.c_str(), static_cast<uid_t>(-1), *gid) != 0) {
    spdlog::warn("admin socket {}: cannot give it to the admin group: {}", path, std::strerror(errno));
  }
  return ok_status();
}

std::string format_endpoint(const tcp::endpoint& ep) {
  std::string host = ep.address().to_string();
  if (ep.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

}  // namespace
}  // namespace detail

Result<std::pair<std::string, uint16_t>> parse_host_port(const std::string& text) {
  auto bad = [&] { return make_error(ErrorKind::kInvalidArgument, "expected HOST:PORT, got \"" + text + "\""); };
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad();
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port > 65535 || port_text.empty()) return bad();
  if (host == "localhost") host = "127.0.0.1";
  return std::make_pair(host, static_cast<uint16_t>(port));
}

struct Server::Impl {
  Impl(const ServerOptions& options, server::Service& service, server::Metrics* metrics, ck::console::Console* console)
      : shared{service, options, {}, metrics, {}, console}, ssl_ctx(ssl::context::tls_server), ioc(std::max(1, options.threads)) {}

  // Declared before the io_context: they outlive any session its queued handlers hold.
  Shared shared;
  ssl::context ssl_ctx;
  asio::io_context ioc;
  std::shared_ptr<TcpListener> agent, metrics, console;
  std::shared_ptr<UnixListener> admin;
  std::string admin_path;
  ino_t admin_inode = 0;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false, finished = false;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::create(const ServerOptions& options, const TlsIdentity& tls,
                                               server::Service& service, server::Metrics* metrics,
                                               ck::console::Console* console) {
  auto impl = std::make_unique<Impl>(options, service, metrics, console);
  // TLS 1.2+ only; the key is handed over as an EVP_PKEY, never as text in logs.
  SSL_CTX* ctx = impl->ssl_ctx.native_handle();
  impl->ssl_ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                            ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // An idle channel keeps no record buffers (about 34 KiB per connection otherwise).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  // Agents present a self-signed certificate of their own key (DESIGN.md §5): asked for,
  // not required (agents from before identities have none), never chain-verified —
  // the handshake proves possession, and the key is what binds to an agent id.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  // No chain to build for a self-signed agent certificate: skip X509_verify_cert (in
  // OpenSSL 3.0 it costs more per handshake than the signatures). The handshake's
  // CertificateVerify still proves the peer holds the key; that is checked apart.
  SSL_CTX_set_cert_verify_callback(ctx, [](X509_STORE_CTX*, void*) { return 1; }, nullptr);
  // With client certificates requested, OpenSSL refuses resumption without a session
  // id context: set one (resumed sessions keep the peer's certificate).
  static const unsigned char kSessionContext[] = "certkeeper-agents";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  // Tickets under keys every worker shares (rotating every 12 h), not OpenSSL's own
  // random per-process keys.
  if (!impl->shared.options.ticket_keys) {
    CK_ASSIGN_OR_RETURN(impl->shared.options.ticket_keys, TicketKeys::generate());
  }
  CK_RETURN_IF_ERROR(impl->shared.options.ticket_keys->install(ctx));
  beast::error_code ec;
  impl->ssl_ctx.use_certificate_chain(asio::buffer(tls.cert_pem), ec);
  if (ec) return make_error(ErrorKind::kCrypto, "TLS certificate: " + ec.message());
  if (SSL_CTX_use_PrivateKey(ctx, tls.key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1)
    return make_error(ErrorKind::kCrypto, "TLS private key does not fit the TLS certificate");

  CK_ASSIGN_OR_RETURN(tcp::endpoint metrics_ep, tcp_endpoint(options.metrics_host, options.metrics_port));
  if (!metrics_ep.address().is_loopback()) {
    return make_error(ErrorKind::kInvalidArgument,
                      "the metrics listener must use a loopback address (got " + options.metrics_host + ")");
  }
  CK_ASSIGN_OR_RETURN(tcp::endpoint console_ep, tcp_endpoint(options.console_host, options.console_port));
  if (console && !console_ep.address().is_loopback()) {
    return make_error(ErrorKind::kInvalidArgument,
                      "the console listener must use a loopback address (got " + options.console_host +
                          "; for remote use, an SSH tunnel or a TLS reverse proxy: docs/console.md)");
  }
  CK_ASSIGN_OR_RETURN(tcp::endpoint agent_ep, tcp_endpoint(options.agent_host, options.agent_port));
  Impl* raw = impl.get();
  impl->agent = std::make_shared<TcpListener>(impl->ioc, [raw](tcp::socket s) {
    beast::error_code ec;
    s.set_option(tcp::no_delay(true), ec);  // answers leave at once (small, request/response)
    auto peer = s.remote_endpoint(ec);
    auto slot = raw->shared.connections.acquire(ec ? std::string("?") : peer.address().to_string(), raw->shared.options,
                                                raw->shared.metrics);
    if (!slot) {
      s.close(ec);  // over a cap: the descriptor is back at once
      return;
    }
    std::make_shared<HttpSession<Port::kAgent>>(raw->shared, std::move(s), raw->ssl_ctx, std::move(slot))->run();
  });
  impl->metrics = std::make_shared<TcpListener>(impl->ioc, [raw](tcp::socket s) {
    std::make_shared<HttpSession<Port::kMetrics>>(raw->shared, std::move(s))->run();
  });
  impl->console = std::make_shared<TcpListener>(impl->ioc, [raw](tcp::socket s) {
    // Every local user can reach this port: a cap keeps them from holding the
    // server's descriptors (idle connections go at --read-timeout).
    if (raw->shared.console_connections.fetch_add(1) >= kMaxConsoleConnections) {
      raw->shared.console_connections.fetch_sub(1);
      if (raw->shared.metrics) raw->shared.metrics->console_connections_refused_total.fetch_add(1);
      beast::error_code ec;
      s.close(ec);
      return;
    }
    std::shared_ptr<void> slot(static_cast<void*>(raw),
                               [raw](void*) { raw->shared.console_connections.fetch_sub(1); });
    start_console_session(raw->shared, std::move(s), std::move(slot));
  });
  impl->admin = std::make_shared<UnixListener>(impl->ioc, [raw](asio::local::stream_protocol::socket s) {
    std::make_shared<HttpSession<Port::kAdmin>>(raw->shared, std::move(s))->run();
  });
  CK_RETURN_IF_ERROR(impl->agent->bind(agent_ep, options.agent_host + ":" + std::to_string(options.agent_port),
                                       options.reuse_port));
  if (!options.admin_and_metrics) {
    impl->metrics.reset();
    impl->admin.reset();
    impl->console.reset();
    return std::unique_ptr<Server>(new Server(std::move(impl)));
  }
  CK_RETURN_IF_ERROR(
      impl->metrics->bind(metrics_ep, options.metrics_host + ":" + std::to_string(options.metrics_port)));
  if (console) {
    CK_RETURN_IF_ERROR(
        impl->console->bind(console_ep, options.console_host + ":" + std::to_string(options.console_port)));
  } else {
    impl->console.reset();
  }
  CK_RETURN_IF_ERROR(bind_admin_socket(*impl->admin, options.admin_socket, options.admin_socket_gid));
  impl->admin_path = options.admin_socket;
  struct stat st {};
  if (::lstat(options.admin_socket.c_str(), &st) == 0) impl->admin_inode = st.st_ino;
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

std::string Server::agent_endpoint() const { return format_endpoint(impl_->agent->local()); }
std::string Server::admin_endpoint() const { return impl_->admin ? "unix:" + impl_->admin_path : ""; }
std::string Server::metrics_endpoint() const { return impl_->metrics ? format_endpoint(impl_->metrics->local()) : ""; }
std::string Server::console_endpoint() const { return impl_->console ? format_endpoint(impl_->console->local()) : ""; }

void Server::post(std::function<void()> fn) { asio::post(impl_->ioc, std::move(fn)); }

void Server::run() {
  Impl& s = *impl_;
  s.agent->start();
  if (s.metrics) s.metrics->start();
  if (s.admin) s.admin->start();
  if (s.console) s.console->start();
  // Cuts connections still open `shutdown_grace` after shutdown() began.
  std::thread watchdog([&s] {
    std::unique_lock<std::mutex> lock(s.mu);
    s.cv.wait(lock, [&] { return s.stopping || s.finished; });
    if (s.finished) return;
    if (!s.cv.wait_for(lock, s.shared.options.shutdown_grace, [&] { return s.finished; })) {
      spdlog::warn("shutdown: connections still open after the grace period; closing them");
      s.ioc.stop();
    }
  });
  std::vector<std::thread> threads;
  for (int i = 1; i < std::max(1, s.shared.options.threads); ++i) threads.emplace_back([&s] { s.ioc.run(); });
  s.ioc.run();
  for (auto& t : threads) t.join();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.finished = true;
  }
  s.cv.notify_all();
  watchdog.join();
  // A clean stop leaves no stale socket behind (only ours: another instance may have
  // taken the path since).
  struct stat st {};
  if (s.admin && ::lstat(s.admin_path.c_str(), &st) == 0 && st.st_ino == s.admin_inode) ::unlink(s.admin_path.c_str());
}

void Server::shutdown() {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.stopping) return;
    s.stopping = true;
  }
  s.cv.notify_all();
  s.agent->stop();
  if (s.metrics) s.metrics->stop();
  if (s.admin) s.admin->stop();
  if (s.console) s.console->stop();
  s.shared.tracker.stop_all();
}

}  // namespace ck::net
