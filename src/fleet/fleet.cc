#include "fleet/fleet.h"

#include "agent/client_identity.h"

#include <unistd.h>

#include <cstdio>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "agent/file_state_store.h"
#include "agent/memory_state_store.h"
#include "common/file_util.h"

namespace ck::fleet {

Result<std::unique_ptr<Fleet>> Fleet::create(boost::asio::io_context& io, FleetOptions options,
                                             std::shared_ptr<boost::asio::ssl::context> ctx,
                                             std::shared_ptr<ServerTrust> trust,
                                             std::shared_ptr<const ServerTarget> server) {
  if (options.agents < 1) return make_error(ErrorKind::kInvalidArgument, "need at least one agent");
  std::unique_ptr<Fleet> fleet(new Fleet());
  auto cache = std::make_shared<agent::CertCache>();
  auto key = std::make_shared<const std::string>(options.agent_key);
  fleet->offline_count_ = static_cast<int>(options.offline_fraction * options.agents);
  auto shared = fleet->shared_;
  if (options.max_inflight > 0) options.runner.gate = std::make_shared<CheckinGate>(options.max_inflight);
  std::vector<std::shared_ptr<const ServerTarget>> targets;  // one per source address
  for (const auto& ip : options.source_ips) {
    auto t = std::make_shared<ServerTarget>(*server);
    t->source = ip;
    targets.push_back(std::move(t));
  }
  for (int i = 0; i < options.agents; ++i) {
    char id[80];
    std::snprintf(id, sizeof id, "%s%06d", options.id_prefix.c_str(), options.first_index + i);
    std::unique_ptr<agent::AgentStateStore> store;
    if (options.state_root.empty()) {
      store = std::make_unique<agent::MemoryStateStore>(key);
    } else {
      std::string dir = options.state_root + "/" + id;
      CK_ASSIGN_OR_RETURN(auto fs, agent::FileStateStore::open(dir));
      if (::access(fs->path(agent::kAgentKeyFileName).c_str(), F_OK) != 0 &&
          ::access(fs->path("agent_state.json").c_str(), F_OK) != 0) {
        CK_RETURN_IF_ERROR(write_file_atomic(fs->path(agent::kAgentKeyFileName), *key, 0644));
      }
      store = std::move(fs);
    }
    agent::AgentOptions ao;
    ao.agent_id = id;
    ao.cache = cache;
    ao.max_seen_jti = options.max_seen_jti;
    auto a = agent::Agent::open(std::move(store), ao);
    if (!a.ok()) return a.error().with_context(id);
    // Each simulated agent has a key of its own, as a real one does: kept in its folder
    // (made once), or in memory for --memory fleets.
    auto identity = options.state_root.empty()
                        ? agent::make_client_identity(id)
                        : agent::load_or_create_client_identity(options.state_root + "/" + id + "/" +
                                                                    agent::kClientKeyFileName,
                                                                id);
    if (!identity.ok()) return identity.error().with_context(id);
    RunnerOptions runner_options = options.runner;
    runner_options.identity = std::move(identity).value();
    const auto& target = targets.empty() ? server : targets[static_cast<size_t>(options.first_index + i) % targets.size()];
    auto runner = std::make_shared<AgentRunner>(io, ctx, trust, target, std::move(a).value(), runner_options);
    runner->on_checkin = [shared](const CheckinEvent& ev) {
      if (!ev.ok) {
        ++shared->failed;
        return;
      }
      if (!ev.via_channel) ++shared->ok;  // a rotation pushed on the channel is not a check-in
      std::lock_guard lock(shared->mu);
      if (shared->server_current != ev.server_current) shared->server_current = ev.server_current;
    };
    if (i < fleet->offline_count_) runner->set_online(false);
    fleet->runners_.push_back(std::move(runner));
  }
  return fleet;
}

void Fleet::start() {
  for (auto& r : runners_) r->start();
}

void Fleet::bring_online() {
  for (int i = 0; i < offline_count_; ++i) runners_[i]->set_online(true);
  offline_count_ = 0;
}

void Fleet::stop(std::function<void()> done) {
  shared_->done = std::move(done);
  shared_->stopped = 0;
  const int total = static_cast<int>(runners_.size());
  for (auto& r : runners_) {
    r->on_stopped = [shared = shared_, total] {
      if (++shared->stopped == total && shared->done) shared->done();
    };
    r->stop();
  }
}

FleetProgress Fleet::progress() const {
  FleetProgress p;
  p.agents = static_cast<int>(runners_.size());
  {
    std::lock_guard lock(shared_->mu);
    p.server_current = shared_->server_current;
  }
  p.checkins_ok = shared_->ok;
  p.checkins_failed = shared_->failed;
  // Tallied by certificate (the fleet interns them): no string is copied per agent.
  struct Tally {
    std::shared_ptr<const crypto::Certificate> cert;  // held: read after the runner's lock
    int pinned = 0;
    int reported = 0;  // pins it and reported it
  };
  std::unordered_map<const crypto::Certificate*, Tally> by_cert;
  for (const auto& r : runners_) {
    r->read_snapshot([&](const AgentRunner::Snapshot& s) {
      Tally& t = by_cert[s.pinned.get()];
      if (!t.cert) t.cert = s.pinned;
      ++t.pinned;
      if (s.reported && (s.reported == s.pinned || s.reported->fingerprint() == s.pinned->fingerprint())) ++t.reported;
      p.messages_accepted += s.counters.messages_accepted;
      p.messages_rejected += s.counters.messages_rejected;
      p.messages_duplicate += s.counters.messages_duplicate;
      p.links_accepted += s.counters.links_accepted;
      p.links_rejected += s.counters.links_rejected;
    });
    if (r->online()) ++p.online;
    if (r->channel_open()) ++p.channels_open;
  }
  for (const auto& [ptr, t] : by_cert) {
    const std::string& fp = t.cert->fingerprint();
    p.pinned[fp] += t.pinned;
    if (t.reported > 0) p.reported[fp] += t.reported;
    if (fp == p.server_current) {
      p.pinning_current += t.pinned;
      p.reported_current += t.reported;
    }
  }
  return p;
}

}  // namespace ck::fleet
