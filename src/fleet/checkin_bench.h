// certkeeper-fleet --checkin-bench SECONDS: N keep-alive TLS connections, each a
// simulated agent with its own key (presented in the handshake, as real agents do),
// POSTing check-ins back to back. Measures what one server answers, with the same
// client against any HTTPS server (nginx as the reference: it accepts the client
// certificate with ssl_verify_client optional_no_ca, which wrk cannot present).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "agent/transport/tls.h"
#include "agent/transport/url.h"
#include "common/result.h"

namespace ck::fleet {

struct CheckinBenchOptions {
  int connections = 100;
  std::chrono::milliseconds duration{10000};
  std::string id_prefix = "bench-";
  std::string pinned_fingerprint;  // what the simulated agents report holding
};

struct CheckinBenchResult {
  uint64_t requests = 0;   // answered 200
  uint64_t failures = 0;   // other answers, broken connections
  double seconds = 0;
  double p50_ms = 0, p99_ms = 0;
};

// Runs on `io` with `threads` threads; returns when the duration is over.
Result<CheckinBenchResult> run_checkin_bench(const CheckinBenchOptions& options, int threads,
                                             std::shared_ptr<boost::asio::ssl::context> ctx,
                                             std::shared_ptr<transport::ServerTrust> trust,
                                             std::shared_ptr<const transport::ServerTarget> server);

}  // namespace ck::fleet
