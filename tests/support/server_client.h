// Test support for the server integration tests: a small blocking HTTPS / HTTP /
// WebSocket client (Beast over OpenSSL) with socket timeouts, raw TCP helpers, and
// starting the real certkeeper-server on 127.0.0.1 port 0. Only for tests; talks
// to 127.0.0.1 only. Not thread-safe per object; separate objects in separate threads
// are fine.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/process.h"

namespace ck::testing {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// "listening on 127.0.0.1:43121 (agents)" -> {127.0.0.1, 43121} (also metrics, console).
std::optional<HostPort> parse_listening_line(const std::string& line);

struct HttpReply {
  int status = 0;  // 0: no answer (connection failed, closed or timed out)
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string error;
};

// One request per connection. tls: HTTPS without certificate verification (tests).
HttpReply http_request(const HostPort& to, bool tls, const std::string& method, const std::string& target,
                       const std::string& body = "", std::chrono::milliseconds timeout = std::chrono::seconds(10),
                       const std::string& content_type = "application/json");

// One request over the server's admin Unix socket (as certmgr sends it).
HttpReply admin_request(const std::string& socket_path, const std::string& method, const std::string& target,
                        const std::string& body = "", const std::string& content_type = "application/json",
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Opens a TCP connection, writes `bytes`, then reads until EOF or `timeout`.
// Returns what was read and whether the peer closed the connection.
struct RawResult {
  std::string data;
  bool closed_by_peer = false;
  bool connected = false;
};
RawResult raw_tcp(const HostPort& to, const std::string& bytes, std::chrono::milliseconds timeout);
// The same over a Unix socket.
RawResult raw_unix(const std::string& socket_path, const std::string& bytes, std::chrono::milliseconds timeout);

// A TLS WebSocket to /v1/channel.
class ChannelClient {
 public:
  ChannelClient();
  ~ChannelClient();
  bool connect(const HostPort& to, std::chrono::milliseconds timeout, std::string* error = nullptr);
  bool send_text(const std::string& text);
  // Next text frame, or nullopt on timeout/close.
  std::optional<std::string> read(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The real server with a temp SQLite store.
class ServerUnderTest {
 public:
  // `store_url` must already hold a current certificate (unless testing refusal).
  ServerUnderTest(const std::string& store_url, const std::string& state_dir,
                  const std::vector<std::string>& extra_args = {},
                  const std::map<std::string, std::string>& env = {});
  bool started() const { return agents_.port != 0 && metrics_.port != 0 && !admin_socket_.empty(); }
  const HostPort& agents() const { return agents_; }
  const HostPort& metrics() const { return metrics_; }
  // The web console's listener ("listening on HOST:PORT (console)").
  const HostPort& console() const { return console_; }
  // The admin socket's path (from "listening on unix:PATH (admin)").
  const std::string& admin_socket() const { return admin_socket_; }
  ChildProcess& process() { return *child_; }

 private:
  std::unique_ptr<ChildProcess> child_;
  HostPort agents_, metrics_, console_;
  std::string admin_socket_;
};

}  // namespace ck::testing
