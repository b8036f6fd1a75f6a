// Internal to src/net (server side): Beast/Asio aliases and the pieces the HTTP and
// WebSocket sessions share. Heavy includes: only server.cc and channel_session.cc
// include this.
#pragma once

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/lean_tls_stream.h"
#include "net/server.h"
#include "server/service.h"

namespace ck::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
// Not beast::ssl_stream: its four 17 KiB buffers per connection would be most of an
// idle agent's memory (see lean_tls_stream.h).
using TlsStream = LeanTlsStream;

// Something shutdown() must wind down. stop() is thread-safe (posts to its strand).
class Stoppable {
 public:
  virtual ~Stoppable() = default;
  virtual void stop() = 0;
};

// Weak references to live sessions, so shutdown can reach them. Thread-safe.
class SessionTracker {
 public:
  // Returns false when shutdown already began (the caller should stop itself).
  bool add(std::weak_ptr<Stoppable> s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    if (sessions_.size() >= next_prune_) {
      std::erase_if(sessions_, [](const auto& w) { return w.expired(); });
      next_prune_ = 2 * sessions_.size() + 64;
    }
    sessions_.push_back(std::move(s));
    return true;
  }
  void stop_all() {
    std::vector<std::weak_ptr<Stoppable>> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      all.swap(sessions_);
    }
    for (auto& w : all) {
      if (auto s = w.lock()) s->stop();
    }
  }
  bool stopping() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  }

 private:
  mutable std::mutex mu_;
  bool stopping_ = false;
  size_t next_prune_ = 64;
  std::vector<std::weak_ptr<Stoppable>> sessions_;
};

// Open agent connections, in total and per peer address, against the configured
// caps (a flood from one address, or of idle connections, cannot take every
// descriptor). Thread-safe.
class ConnectionCounter {
 public:
  // A held slot; released when the last copy goes (the session that owns it ends).
  using Slot = std::shared_ptr<void>;

  // A slot for a connection from `address`, or null when a cap is reached (counted
  // in `metrics`).
  Slot acquire(const std::string& address, const ServerOptions& options, server::Metrics* metrics) {
    std::lock_guard<std::mutex> lock(mu_);
    if (options.max_connections > 0 && total_ >= options.max_connections) {
      if (metrics) metrics->connections_refused_total_cap.fetch_add(1);
      return nullptr;
    }
    size_t& mine = per_address_[address];
    if (options.max_connections_per_address > 0 && mine >= options.max_connections_per_address) {
      if (metrics) metrics->connections_refused_per_address.fetch_add(1);
      if (mine == 0) per_address_.erase(address);
      return nullptr;
    }
    ++mine;
    ++total_;
    if (metrics) metrics->agent_connections_open.store(static_cast<int64_t>(total_));
    return Slot(static_cast<void*>(this), [this, address, metrics](void*) { release(address, metrics); });
  }

 private:
  void release(const std::string& address, server::Metrics* metrics) {
    std::lock_guard<std::mutex> lock(mu_);
    --total_;
    if (auto it = per_address_.find(address); it != per_address_.end() && --it->second == 0) per_address_.erase(it);
    if (metrics) metrics->agent_connections_open.store(static_cast<int64_t>(total_));
  }

  std::mutex mu_;
  size_t total_ = 0;
  std::unordered_map<std::string, size_t> per_address_;
};

struct Shared {
  server::Service& service;
  ServerOptions options;
  SessionTracker tracker;
  server::Metrics* metrics = nullptr;
  ConnectionCounter connections;
  ck::console::Console* console = nullptr;
  std::atomic<size_t> console_connections{0};  // open on the console listener
};

// At most this many open web console connections; more are closed at accept.
inline constexpr size_t kMaxConsoleConnections = 64;

// Serves one web console connection (console_session.cc); `slot` (its place under
// kMaxConsoleConnections) goes with it.
void start_console_session(Shared& shared, tcp::socket&& socket, std::shared_ptr<void> slot);

// Takes over an upgraded agent connection as a /v1/channel WebSocket; `slot` (its
// place under the connection caps) goes with it.
void start_channel_session(Shared& shared, TlsStream&& stream, http::request<http::string_body> req,
                           ConnectionCounter::Slot slot, std::string peer_key);

}  // namespace ck::net::detail
