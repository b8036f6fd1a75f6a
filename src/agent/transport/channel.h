// The agent's WebSocket channel (GET /v1/channel over TLS, DESIGN.md §5): connect,
// TLS handshake, trust check, upgrade, send the hello frame
// {"agent_id","pinned_fingerprint"}, then deliver every text frame the server pushes
// (one JWS each, at most 256 KiB) to `on_frame`. Frames the agent sends back (replies,
// a new hello after a rotation) are queued and written one at a time.
//
// Thread-safety: all callbacks run on the executor given at construction (a strand);
// send() and close() may be called from anywhere (they post to it).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "agent/transport/tls_session.h"
#include "agent/transport/tls.h"
#include "agent/transport/url.h"

namespace ck::transport {

inline constexpr size_t kMaxChannelFrameBytes = 256 * 1024;

class ChannelClient : public std::enable_shared_from_this<ChannelClient> {
 public:
  struct Callbacks {
    std::function<void()> on_open;                     // after the hello was written
    std::function<void(std::string frame)> on_frame;   // a pushed message
    std::function<void(Error why)> on_closed;          // exactly once
  };

  static std::shared_ptr<ChannelClient> create(boost::asio::any_io_executor executor,
                                               std::shared_ptr<boost::asio::ssl::context> ctx,
                                               std::shared_ptr<ServerTrust> trust,
                                               std::shared_ptr<const ServerTarget> server,
                                               Callbacks callbacks,
                                               std::shared_ptr<const agent::ClientIdentity> identity = nullptr,
                                               std::shared_ptr<TlsSessionSlot> session = nullptr);
  virtual ~ChannelClient() = default;

  // Connects and sends `hello` as the first text frame.
  virtual void start(std::string hello) = 0;
  virtual void send(std::string text) = 0;
  virtual void close() = 0;
};

}  // namespace ck::transport
