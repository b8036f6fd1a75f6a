#include "fleet/checkin_bench.h"

#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/client_identity.h"
#include "protocol/wire.h"

namespace ck::fleet {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

struct Totals {
  std::mutex mu;
  std::vector<double> latencies_ms;
  std::atomic<uint64_t> ok{0}, failed{0};
};

// One keep-alive connection: handshake once, then check-in after check-in.
class BenchConnection : public std::enable_shared_from_this<BenchConnection> {
 public:
  BenchConnection(asio::io_context& io, std::shared_ptr<asio::ssl::context> ctx,
                  std::shared_ptr<transport::ServerTrust> trust, std::shared_ptr<const transport::ServerTarget> server,
                  std::shared_ptr<const agent::ClientIdentity> identity, std::string body, Clock::time_point deadline,
                  Totals& totals)
      : ctx_(std::move(ctx)),
        stream_(asio::make_strand(io), *ctx_),
        trust_(std::move(trust)),
        server_(std::move(server)),
        identity_(std::move(identity)),
        deadline_(deadline),
        totals_(totals) {
    request_.method(http::verb::post);
    request_.target(server_->url.prefix + "/v1/checkin");
    request_.version(11);
    request_.set(http::field::host, server_->url.host);
    request_.set(http::field::content_type, "application/json");
    request_.keep_alive(true);
    request_.body() = std::move(body);
    request_.prepare_payload();
  }

  void start() {
    SSL* ssl = stream_.native_handle();
    if (!trust_->prepare(ssl, server_->url.host).ok() || !transport::present_client_identity(ssl, *identity_).ok())
      return fail();
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    beast::get_lowest_layer(stream_).async_connect(server_->endpoints,
                                                   [self = shared_from_this()](beast::error_code ec, auto) {
                                                     if (ec) return self->fail();
                                                     self->stream_.async_handshake(
                                                         asio::ssl::stream_base::client,
                                                         [self](beast::error_code e) {
                                                           if (e || !self->trust_->check_peer(
                                                                          self->stream_.native_handle()).ok())
                                                             return self->fail();
                                                           self->next();
                                                         });
                                                   });
  }

 private:
  void next() {
    if (Clock::now() >= deadline_) return;
    sent_ = Clock::now();
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->fail();
      self->response_ = {};
      http::async_read(self->stream_, self->buffer_, self->response_,
                       [self](beast::error_code e, size_t) { self->on_response(e); });
    });
  }

  void on_response(beast::error_code ec) {
    if (ec) return fail();
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - sent_).count();
    if (response_.result() == http::status::ok) {
      totals_.ok.fetch_add(1);
      latencies_.push_back(ms);
    } else {
      if (totals_.failed.fetch_add(1) == 0)  // the first refusal says why
        std::fprintf(stderr, "checkin-bench: answered %d: %s\n", response_.result_int(), response_.body().c_str());
    }
    if (!response_.keep_alive()) return fail();
    if (Clock::now() >= deadline_) return flush();
    next();
  }

  void fail() {
    totals_.failed.fetch_add(1);
    flush();
  }
  void flush() {
    std::lock_guard lock(totals_.mu);
    totals_.latencies_ms.insert(totals_.latencies_ms.end(), latencies_.begin(), latencies_.end());
    latencies_.clear();
  }

  std::shared_ptr<asio::ssl::context> ctx_;
  // Beast's ssl_stream, as the agent's own check-in client (transport/https.cc): it
  // flattens a request into one TLS record, where asio's stream writes one per buffer.
  beast::ssl_stream<beast::tcp_stream> stream_;
  std::shared_ptr<transport::ServerTrust> trust_;
  std::shared_ptr<const transport::ServerTarget> server_;
  std::shared_ptr<const agent::ClientIdentity> identity_;
  Clock::time_point deadline_;
  Totals& totals_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  beast::flat_buffer buffer_;
  Clock::time_point sent_;
  std::vector<double> latencies_;
};

}  // namespace

Result<CheckinBenchResult> run_checkin_bench(const CheckinBenchOptions& options, int threads,
                                             std::shared_ptr<asio::ssl::context> ctx,
                                             std::shared_ptr<transport::ServerTrust> trust,
                                             std::shared_ptr<const transport::ServerTarget> server) {
  asio::io_context io(threads);
  Totals totals;
  std::vector<std::shared_ptr<const agent::ClientIdentity>> identities;
  std::vector<std::string> bodies;
  for (int i = 0; i < options.connections; ++i) {
    char id[80];
    std::snprintf(id, sizeof id, "%s%06d", options.id_prefix.c_str(), i);
    CK_ASSIGN_OR_RETURN(auto identity, agent::make_client_identity(id));
    identities.push_back(std::move(identity));
    protocol::CheckinRequest req;
    req.agent_id = id;
    req.hostname = id;
    req.os = "linux";
    req.agent_version = "bench";
    req.pinned_fingerprint = options.pinned_fingerprint;
    bodies.push_back(boost::json::serialize(protocol::to_json(req)));
  }
  const auto started = Clock::now();
  const auto deadline = started + options.duration;
  for (int i = 0; i < options.connections; ++i) {
    std::make_shared<BenchConnection>(io, ctx, trust, server, identities[static_cast<size_t>(i)],
                                      bodies[static_cast<size_t>(i)], deadline, totals)
        ->start();
  }
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  CheckinBenchResult r;
  r.seconds = std::chrono::duration<double>(options.duration).count();
  r.requests = totals.ok.load();
  r.failures = totals.failed.load();
  auto& l = totals.latencies_ms;
  if (!l.empty()) {
    auto at = [&l](double q) {
      size_t k = std::min(l.size() - 1, static_cast<size_t>(q * static_cast<double>(l.size())));
      std::nth_element(l.begin(), l.begin() + static_cast<long>(k), l.end());
      return l[k];
    };
    r.p50_ms = at(0.50);
    r.p99_ms = at(0.99);
  }
  return r;
}

}  // namespace ck::fleet
