// One HTTPS request per call (Boost.Beast over asio::ssl): connect, TLS handshake,
// trust check (client_tls.h), write, read with a body limit, all under one deadline.
// Completion runs on `executor` (give each agent its own strand).
// Thread-safety: the function is; each request is one self-owned async operation.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "agent/transport/tls_session.h"
#include "agent/transport/tls.h"
#include "agent/transport/url.h"

namespace ck::transport {

struct HttpReply {
  int status = 0;
  std::string body;
  std::string local_ip;  // our address on the connection
};

struct HttpsRequest {
  std::string method = "POST";
  std::string target;  // full path, e.g. "/v1/checkin"
  // Builds the body once the connection is up (it may use our local address).
  std::function<std::string(const std::string& local_ip)> body;
  std::chrono::milliseconds timeout{30000};
  size_t body_limit = 8u << 20;
  // The agent's key, presented in the handshake (null: none).
  std::shared_ptr<const agent::ClientIdentity> identity;
  // Where this agent's TLS session with the server is kept (null: no resumption).
  std::shared_ptr<TlsSessionSlot> session;
};

// Errors: kUnavailable (connect/timeout/IO), kCrypto (TLS or pin refused).
void async_https(boost::asio::any_io_executor executor, std::shared_ptr<boost::asio::ssl::context> ctx,
                 std::shared_ptr<ServerTrust> trust, std::shared_ptr<const ServerTarget> server, HttpsRequest request,
                 std::function<void(Result<HttpReply>)> done);

}  // namespace ck::transport
