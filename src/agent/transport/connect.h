// Connects a tcp_stream to a ServerTarget, from its source address when it names one.
// Internal to src/agent/transport.
#pragma once

#include <netinet/in.h>

#include <boost/asio/post.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <utility>

#include "agent/transport/url.h"

namespace ck::transport {

// Handler: void(boost::system::error_code, const tcp::endpoint&).
template <class Handler>
void async_connect_target(boost::beast::tcp_stream& stream, const ServerTarget& target, Handler&& handler) {
  if (!target.source) return stream.async_connect(target.endpoints, std::forward<Handler>(handler));
  // The server's first address of the source address's family.
  boost::asio::ip::tcp::endpoint server = target.endpoints.front();
  for (const auto& ep : target.endpoints) {
    if (ep.address().is_v4() == target.source->is_v4()) {
      server = ep;
      break;
    }
  }
  auto& socket = stream.socket();
  boost::system::error_code ec;
  socket.open(server.protocol(), ec);
  // The port is chosen at connect time, per destination: one source address then
  // serves as many connections as the server's address and port allow.
  const int on = 1;
  if (!ec && ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on) != 0)
    ec = boost::system::error_code(errno, boost::system::system_category());
  if (!ec) socket.bind(boost::asio::ip::tcp::endpoint(*target.source, 0), ec);
  if (ec) {
    boost::asio::post(stream.get_executor(),
                      [h = std::forward<Handler>(handler), ec, server]() mutable { h(ec, server); });
    return;
  }
  stream.async_connect(server, [h = std::forward<Handler>(handler), server](boost::system::error_code e) mutable {
    h(e, server);
  });
}

}  // namespace ck::transport
