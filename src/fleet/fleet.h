// Fleet: N simulated agents in one process on one io_context (certkeeper-fleet).
// Each agent has its own state — a folder under state_root, or memory — and its own
// AgentRunner (strand). Parsed certificates and verified rotation links are shared
// through one agent::CertCache. A share of the fleet can start offline and be
// brought online later, to exercise catching up through missed replacements.
//
// Thread-safety: create/start/bring_online/stop from one controlling thread;
// progress() from any thread.
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "agent/transport/runner.h"

namespace ck::fleet {

using transport::AgentRunner;
using transport::CheckinEvent;
using transport::CheckinGate;
using transport::RunnerOptions;
using transport::ServerTarget;
using transport::ServerTrust;


struct FleetOptions {
  int agents = 1;
  std::string id_prefix = "fleet-";
  std::string state_root;  // empty: in-memory state
  std::string agent_key;   // bytes of the initial OfcNTCer.dat
  double offline_fraction = 0;
  RunnerOptions runner;
  size_t max_seen_jti = 64;
  int max_inflight = 256;  // check-ins in flight at once across the fleet (0: unbounded)
  int first_index = 0;     // agent ids start at PREFIX<first_index> (fleet --processes)
  // Agent i connects from source_ips[i % size] (empty: the kernel's choice).
  std::vector<boost::asio::ip::address> source_ips;
};

struct FleetProgress {
  int agents = 0;
  int online = 0;
  int channels_open = 0;
  std::string server_current;         // last current_fingerprint the server reported
  int pinning_current = 0;            // agents whose pin == server_current
  int reported_current = 0;           // ... and that told the server so in a check-in
  std::map<std::string, int> reported;  // fingerprint last reported -> agents
  std::map<std::string, int> pinned;  // fingerprint -> agents
  uint64_t checkins_ok = 0, checkins_failed = 0;
  uint64_t messages_accepted = 0, messages_rejected = 0, messages_duplicate = 0;
  uint64_t links_accepted = 0, links_rejected = 0;
};

class Fleet {
 public:
  static Result<std::unique_ptr<Fleet>> create(boost::asio::io_context& io, FleetOptions options,
                                               std::shared_ptr<boost::asio::ssl::context> ctx,
                                               std::shared_ptr<ServerTrust> trust,
                                               std::shared_ptr<const ServerTarget> server);

  void start();
  // Brings the offline share online (idempotent).
  void bring_online();
  // Stops every runner; `done` runs once all stopped (on an io thread).
  void stop(std::function<void()> done);
  FleetProgress progress() const;
  int size() const { return static_cast<int>(runners_.size()); }

 private:
  Fleet() = default;
  std::vector<std::shared_ptr<AgentRunner>> runners_;
  int offline_count_ = 0;
  struct Shared {
    std::atomic<uint64_t> ok{0}, failed{0};
    std::mutex mu;
    std::string server_current;
    std::atomic<int> stopped{0};
    std::function<void()> done;
  };
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
};

}  // namespace ck::fleet
