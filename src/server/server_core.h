// ServerCore: owns every piece of certkeeper-server state (DESIGN.md §2), in
// destruction order, and the delivery loop that wakes on certificate and outbox
// changes. The net layer only sees service() and set_dispatch().
//
//   store -> CertState (keyring snapshot, rotation planner)
//   registry -> BatchingWriter (group commit of check-ins and pin reports)
//   outbox -> OutboxFeed (this server's view), ChannelHub, Metrics, Service
//   ChangeWaker + the delivery thread
//
// The delivery loop: every poll interval, or at once when woken (PostgreSQL NOTIFY,
// a message added through this server), it reloads the certificates when the store's
// change counter moved and reads new outbox messages. A new current certificate or a
// broadcast walks every live channel (Service::deliver), paced at `deliveries_per_second`
// so check-ins keep being served while thousands of agents are updated; a message to
// one agent is delivered to that agent only.
//
// Lifecycle: open() -> set_dispatch() -> start() -> ... -> shutdown() (idempotent;
// also run by the destructor): stops the loop, closes the channels, commits what the
// registry writer still holds.
// Thread-safety: service() is thread-safe; open/set_dispatch/start/shutdown from the
// owning thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/result.h"
#include "outbox/outbox.h"
#include "registry/batching_writer.h"
#include "registry/endpoint_registry.h"
#include "server/admin_access.h"
#include "server/agent_identity.h"
#include "server/cert_state.h"
#include "server/change_waker.h"
#include "server/channel_hub.h"
#include "server/metrics.h"
#include "server/outbox_feed.h"
#include "server/service.h"
#include "store/cert_store.h"

namespace ck::server {

struct ServerConfig {
  std::string store_url;  // required
  std::chrono::milliseconds poll_interval{250};
  // Channel deliveries per second during a walk (key deployment, broadcasts).
  int deliveries_per_second = 5000;
  Enrollment enrollment = Enrollment::kAuto;
  int max_new_agents_per_second = 2000;
  // Members of this group may use the admin socket (besides root and the server's user).
  std::string admin_group = "certkeeper";
  // Live channels are checked against the registry this often, so `certmgr agents
  // reject|forget` (and a key bound meanwhile) close channels that no longer speak
  // for their id.
  std::chrono::seconds channel_recheck_interval{30};
  // Expired outbox messages are deleted this long after their expiry.
  std::chrono::seconds prune_after{300};
  const Clock* clock = nullptr;  // default: system clock
  // Where the counters live (certkeeper-server --workers: this worker's slot in shared
  // memory; it must outlive the core). Default: the core's own.
  Metrics* metrics = nullptr;
  // Adds to each /metrics snapshot (--workers: the other workers' figures).
  std::function<void(MetricsSnapshot&)> add_peer_metrics;
};

// The backends, for tests that run a core without a database (in-memory outbox).
struct ServerBackends {
  std::unique_ptr<store::CertStore> store;
  std::unique_ptr<registry::EndpointRegistry> registry;
  std::unique_ptr<outbox::Outbox> outbox;
  std::unique_ptr<ChangeWaker> waker;
};

class ServerCore {
 public:
  // Opens the store (it must hold a current certificate), the registry and the outbox
  // named by config.store_url. Errors: kNotFound (no store / no current certificate),
  // kPermissionDenied, kUnavailable, ...; messages name what failed.
  static Result<std::unique_ptr<ServerCore>> open(const ServerConfig& config);
  // The same over given backends.
  static Result<std::unique_ptr<ServerCore>> create(const ServerConfig& config, ServerBackends backends);
  ~ServerCore();

  Service& service() { return *service_; }
  CertState& certs() { return *certs_; }
  ChannelHub& hub() { return hub_; }
  Metrics& metrics() { return *metrics_; }
  // The registry writer's statistics now (thread-safe).
  registry::BatchingWriter::Stats writer_stats() const { return writer_->stats(); }
  OutboxFeed& feed() { return *feed_; }

  // Where Service posts check-in answers (the net layer's pool). Before start().
  void set_dispatch(std::function<void(std::function<void()>)> dispatch) { dispatch_ = std::move(dispatch); }

  // Starts the delivery loop.
  void start();
  // One pass of the loop, on the calling thread (tests drive the core with it).
  void tick();
  void shutdown();

 private:
  ServerCore(const ServerConfig& config, ServerBackends backends);
  void run();
  // Delivers to every live channel, paced. Returns early when stopping.
  void walk_all();
  // Closes live channels whose id no longer accepts their key (one registry scan).
  void recheck_channels();
  // Sleeps `d` unless shutdown() begins.
  bool pause(std::chrono::milliseconds d);

  const ServerConfig config_;
  const Clock& clock_;
  // Declaration order is destruction order in reverse: the loop and the service go
  // first, the writer commits what it holds, the databases close last.
  std::unique_ptr<store::CertStore> store_;
  std::unique_ptr<registry::EndpointRegistry> registry_;
  std::unique_ptr<outbox::Outbox> outbox_;
  std::unique_ptr<ChangeWaker> waker_;
  std::unique_ptr<CertState> certs_;
  std::unique_ptr<registry::BatchingWriter> writer_;
  std::unique_ptr<OutboxFeed> feed_;
  ChannelHub hub_;
  Metrics own_metrics_;
  Metrics* metrics_;  // config_.metrics or &own_metrics_
  AdminAccess admin_access_;
  std::unique_ptr<AgentIdentities> identities_;
  std::function<void(std::function<void()>)> dispatch_;
  std::unique_ptr<Service> service_;

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // guarded by stop_mu_
  std::atomic<bool> stop_flag_{false};
  std::chrono::steady_clock::time_point last_prune_{};
  std::chrono::steady_clock::time_point last_recheck_{};
  int64_t delivered_up_to_ = 0;  // the loop has handed out every message up to this seq
  std::thread thread_;
  bool shut_down_ = false;
};

}  // namespace ck::server
