// AgentRunner: drives one agent::Agent over the network — periodic check-ins with
// jitter (POST /v1/checkin), the WebSocket channel for pushed messages (reconnected
// with backoff), replies sent back over the channel, and a re-read of OfcNTCer.dat
// every cycle so a hand copy is picked up without restart.
//
// Thread-safety: all work runs on the runner's strand; start/stop/set_online and the
// snapshot accessors may be called from any thread. Many runners share one
// io_context (the fleet simulator runs thousands on a few threads).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "agent/agent.h"
#include "agent/transport/channel.h"
#include "agent/transport/gate.h"
#include "agent/transport/https.h"
#include "agent/transport/tls.h"
#include "agent/transport/url.h"

namespace ck::transport {

struct RunnerOptions {
  std::chrono::milliseconds checkin_interval{60000};
  double jitter = 0.2;  // each wait is interval * (1 ± jitter)
  // First check-in after a random delay in [0, first_delay_max) (spreads a fleet).
  std::chrono::milliseconds first_delay_max{0};
  bool channel = true;
  bool once = false;  // one check-in, then stop (no channel)
  std::chrono::milliseconds timeout{30000};
  agent::HostInfo host;
  // Shared bound on check-ins in flight (fleet); null = unbounded.
  std::shared_ptr<CheckinGate> gate;
  // The agent's own key, presented in every handshake (null: none).
  std::shared_ptr<const agent::ClientIdentity> identity;
};

// What one check-in did; passed to the on_checkin observer.
// Also passed for a rotation pushed on the channel (via_channel).
struct CheckinEvent {
  bool ok = false;
  bool via_channel = false;
  std::string error;
  std::string server_current;  // current_fingerprint the server reported
  agent::CheckinOutcome outcome;
};

class AgentRunner : public std::enable_shared_from_this<AgentRunner> {
 public:
  AgentRunner(boost::asio::io_context& io, std::shared_ptr<boost::asio::ssl::context> ctx,
              std::shared_ptr<ServerTrust> trust, std::shared_ptr<const ServerTarget> server,
              std::unique_ptr<agent::Agent> agent, RunnerOptions options);

  // Observers, set before start(); called on the runner's strand.
  std::function<void(const CheckinEvent&)> on_checkin;
  std::function<void()> on_stopped;

  void start();
  void stop();
  // An offline runner neither checks in nor keeps a channel (fleet --offline-fraction).
  void set_online(bool online);

  // What a progress walk reads, safe from any thread. Certificates are shared (the
  // fleet interns them), so a walk over 100,000 runners copies no strings.
  struct Snapshot {
    std::shared_ptr<const crypto::Certificate> pinned;
    // The pin last reported to the server (check-in, or the channel hello after a
    // pushed rotation); null until the first report.
    std::shared_ptr<const crypto::Certificate> reported;
    agent::AgentCounters counters;
  };
  // Calls `read(const Snapshot&)` under the snapshot lock: keep it short.
  template <class Read>
  void read_snapshot(Read&& read) const {
    std::lock_guard lock(snapshot_mu_);
    read(static_cast<const Snapshot&>(snapshot_));
  }
  std::string pinned_fingerprint() const;
  std::string agent_id() const { return agent_id_; }
  bool online() const { return online_.load(); }
  bool channel_open() const { return channel_open_.load(); }

 private:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  void schedule_checkin(std::chrono::milliseconds delay);
  void checkin();
  void send_checkin();
  void on_checkin_reply(Result<HttpReply> reply);
  void open_channel();
  void on_channel_frame(std::string frame);
  void on_channel_closed(Error why);
  void send_replies(const std::vector<boost::json::object>& replies);
  void publish();
  void mark_reported(std::shared_ptr<const crypto::Certificate> pin);
  std::chrono::milliseconds jittered(std::chrono::milliseconds base);
  std::string hello() const;

  Strand strand_;
  std::shared_ptr<boost::asio::ssl::context> ctx_;
  std::shared_ptr<ServerTrust> trust_;
  // This agent's TLS session with the server, resumed on its next connection.
  std::shared_ptr<TlsSessionSlot> tls_session_ = std::make_shared<TlsSessionSlot>();
  std::shared_ptr<const ServerTarget> server_;
  std::unique_ptr<agent::Agent> agent_;
  RunnerOptions options_;
  boost::asio::steady_timer checkin_timer_;
  boost::asio::steady_timer channel_timer_;
  std::shared_ptr<ChannelClient> channel_;
  std::chrono::milliseconds channel_backoff_{1000};
  // After a failed check-in, the next comes sooner than a whole interval: 2 s, doubling
  // up to the interval (jittered), back to the interval after a success.
  std::chrono::milliseconds checkin_backoff_{2000};
  std::minstd_rand rng_;
  std::string local_ip_;
  bool stopped_ = false;
  bool checkin_in_flight_ = false;
  const std::string agent_id_;
  std::atomic<bool> online_{true};
  std::atomic<bool> channel_open_{false};
  mutable std::mutex snapshot_mu_;
  Snapshot snapshot_;
  std::shared_ptr<const crypto::Certificate> sent_pin_;  // in the check-in now in flight (strand only)
  std::string channel_hello_pin_;  // the pin in the hello that opened the channel (strand only)
};

}  // namespace ck::transport
