// certkeeper-server's network side: an HTTPS listener for agents (Boost.Beast over
// boost::asio::ssl / OpenSSL 3; POST /v1/checkin, GET /v1/channel WebSocket), the admin
// API on a Unix socket (POST /v1/admin/messages; the peer's credentials, from
// SO_PEERCRED, go with each request), and a read-only plain-HTTP metrics listener that
// must be bound to a loopback address (GET /metrics), and the web console on a
// loopback plain-HTTP listener of its own (src/console; console_session.cc). All request logic lives in
// server::Service; this layer only moves bytes.
//
// Sessions: each connection runs on its own strand with a TLS handshake timeout, a
// read timeout (slow or half-open clients are dropped), a header limit and a body
// limit (413). Bytes that are not TLS end that one connection only. WebSockets keep
// alive with pings and close when idle.
//
// Lifecycle: create() binds both listeners (port 0 picks one; see the *_endpoint()
// accessors), run() serves on `threads` threads and returns after shutdown() once
// every connection has finished: shutdown stops accepting, closes idle connections and
// channels, and lets in-flight requests (including check-ins waiting for their
// registry commit) complete. shutdown() is thread-safe and idempotent.
#pragma once

#include <chrono>
#include <cstdint>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "net/ticket_keys.h"
#include "net/tls_identity.h"
#include "server/service.h"

namespace ck::console {
class Console;
}

namespace ck::net {

struct ServerOptions {
  std::string agent_host = "127.0.0.1";
  uint16_t agent_port = 8443;
  // The admin API's Unix socket (made 0660, group admin_socket_gid when set).
  std::string admin_socket = "./var/server/admin.sock";
  std::optional<gid_t> admin_socket_gid;
  // GET /metrics, read-only, loopback only.
  std::string metrics_host = "127.0.0.1";
  uint16_t metrics_port = 9464;
  int threads = 2;
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds read_timeout{30000};   // per request, from its first byte wait
  std::chrono::milliseconds channel_idle_timeout{60000};  // WebSocket, pings at half
  std::chrono::milliseconds shutdown_grace{10000};  // then remaining connections are cut
  // Caps on open agent connections (0: none): in total, and from one peer address.
  // Beyond them a new connection is closed at once and counted in /metrics.
  size_t max_connections = 0;
  size_t max_connections_per_address = 0;
  // One of several worker processes on one agent port (certkeeper-server --workers):
  // the agent listener sets SO_REUSEPORT so the kernel spreads connections over them.
  bool reuse_port = false;
  // Only one worker serves the admin socket and /metrics; the others leave them out.
  bool admin_and_metrics = true;
  // The web console (plain HTTP, loopback only), served beside the admin socket when
  // create() is given a console.
  std::string console_host = "127.0.0.1";
  uint16_t console_port = 9465;
  // Session-ticket keys (net/ticket_keys.h): one secret for every worker, so a
  // resumption works on any of them. Null: create() makes a secret of its own.
  std::shared_ptr<const TicketKeys> ticket_keys;
};

// "HOST:PORT" (IPv6 hosts in brackets) -> host, port. Errors: kInvalidArgument.
Result<std::pair<std::string, uint16_t>> parse_host_port(const std::string& text);

class Server {
 public:
  // `metrics` (optional) receives the connection counters. `console` (optional, it
  // must outlive the server) is served on options.console_host:console_port.
  static Result<std::unique_ptr<Server>> create(const ServerOptions& options, const TlsIdentity& tls,
                                                server::Service& service, server::Metrics* metrics = nullptr,
                                                console::Console* console = nullptr);
  ~Server();

  // Bound addresses: "HOST:PORT", and "unix:PATH" for the admin socket ("" when not
  // served: admin_and_metrics false).
  std::string agent_endpoint() const;
  std::string admin_endpoint() const;
  std::string metrics_endpoint() const;
  std::string console_endpoint() const;  // "" when no console is served

  // Runs `fn` on the server's thread pool (for server::ServiceDeps::dispatch).
  void post(std::function<void()> fn);

  // Serves until shutdown() has drained all connections.
  void run();
  void shutdown();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ck::net
