#include "server/server_core.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_map>

#include "store/postgres/pg_conn.h"

namespace ck::server {

Result<std::unique_ptr<ServerCore>> ServerCore::open(const ServerConfig& config) {
  // For messages: a PostgreSQL URL may carry a password.
  const std::string shown = pg::redact_url(config.store_url);
  store::StoreOptions store_options;
  store_options.create = false;
  if (config.clock) store_options.clock = config.clock;
  ServerBackends b;
  auto store = store::open_cert_store(config.store_url, store_options);
  if (!store.ok()) {
    return store.error().with_context("cannot open the store " + shown + " (create it with `certmgr -c` first)");
  }
  b.store = std::move(store).value();
  auto registry = registry::open_endpoint_registry(config.store_url);
  if (!registry.ok()) return registry.error().with_context("cannot open the endpoint registry");
  b.registry = std::move(registry).value();
  auto outbox = outbox::open_outbox(config.store_url);
  if (!outbox.ok()) return outbox.error().with_context("cannot open the outbox in " + shown);
  b.outbox = std::move(outbox).value();
  CK_ASSIGN_OR_RETURN(b.waker, ChangeWaker::open(config.store_url));
  return create(config, std::move(b));
}

Result<std::unique_ptr<ServerCore>> ServerCore::create(const ServerConfig& config, ServerBackends backends) {
  std::unique_ptr<ServerCore> core(new ServerCore(config, std::move(backends)));
  if (Status s = core->certs_->load(); !s.ok()) {
    if (s.error().kind == ErrorKind::kNotFound) {
      return make_error(ErrorKind::kNotFound, "the store " + core->store_->location() +
                                                  " has no current authentication certificate; run `certmgr -c` first");
    }
    return s.error().with_context("cannot read the certificates in " + core->store_->location());
  }
  if (auto r = core->feed_->refresh(); !r.ok()) return r.error().with_context("cannot read the outbox");
  // What was there before this server started reaches channels through their hellos.
  core->delivered_up_to_ = core->feed_->seen_seq();
  return core;
}

ServerCore::ServerCore(const ServerConfig& config, ServerBackends b)
    : config_(config),
      clock_(config.clock ? *config.clock : system_clock()),
      store_(std::move(b.store)),
      registry_(std::move(b.registry)),
      outbox_(std::move(b.outbox)),
      waker_(std::move(b.waker)),
      metrics_(config.metrics ? config.metrics : &own_metrics_),
      admin_access_(AdminAccess::for_group(config.admin_group)) {
  certs_ = std::make_unique<CertState>(*store_, &clock_);
  writer_ = std::make_unique<registry::BatchingWriter>(*registry_);
  feed_ = std::make_unique<OutboxFeed>(*outbox_, clock_);
  ServiceDeps deps;
  deps.submit = [this](registry::Endpoint e, std::function<void(Status)> done) {
    writer_->submit(std::move(e), std::move(done));
  };
  deps.count_by_fingerprint = [this]() { return registry_->count_by_fingerprint(); };
  deps.refresh_metrics = [this](MetricsSnapshot& s) {
    s.writer = writer_->stats();
    if (config_.add_peer_metrics) config_.add_peer_metrics(s);
  };
  deps.dispatch = [this](std::function<void()> fn) {
    if (dispatch_) {
      dispatch_(std::move(fn));
    } else {
      fn();
    }
  };
  deps.wake = [this] {
    if (waker_) waker_->notify();
  };
  deps.admin_access = &admin_access_;
  identities_ = std::make_unique<AgentIdentities>(
      [this](const std::string& id) { return registry_->find(id); }, config.enrollment);
  deps.identities = identities_.get();
  deps.max_new_agents_per_second = config.max_new_agents_per_second;
  deps.certs = certs_.get();
  deps.outbox = outbox_.get();
  deps.feed = feed_.get();
  deps.hub = &hub_;
  deps.metrics = metrics_;
  deps.clock = &clock_;
  service_ = std::make_unique<Service>(std::move(deps));
}

ServerCore::~ServerCore() { shutdown(); }

void ServerCore::start() {
  thread_ = std::thread([this] { run(); });
}

void ServerCore::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_flag_ = true;
  stop_cv_.notify_all();
  if (waker_) waker_->notify();
  if (thread_.joinable()) thread_.join();
  hub_.close_all();
  writer_->shutdown();  // commits anything still queued
}

bool ServerCore::pause(std::chrono::milliseconds d) {
  std::unique_lock lock(stop_mu_);
  return !stop_cv_.wait_for(lock, d, [this] { return stopping_; });
}

void ServerCore::run() {
  while (!stop_flag_) {
    if (waker_) {
      waker_->wait(config_.poll_interval);
    } else if (!pause(config_.poll_interval)) {
      break;
    }
    if (stop_flag_) break;
    tick();
  }
}

void ServerCore::tick() {
  // Any store write moves the change counter (an audit line, a revocation); only a new
  // current certificate is worth a walk over every channel.
  const std::string before = certs_->snapshot()->current_fingerprint;
  bool cert_changed = false;
  if (auto changed = certs_->poll(); changed.ok() && *changed) {  // errors are logged there
    cert_changed = certs_->snapshot()->current_fingerprint != before;
  }
  // Anyone may have refreshed the view (a message added through this server is
  // visible to check-ins at once); the loop delivers what it has not handed out yet.
  if (auto r = feed_->refresh(); !r.ok()) spdlog::warn("outbox read failed (will retry): {}", r.error().message);
  std::vector<outbox::Message> fresh = feed_->since(delivered_up_to_);
  if (!fresh.empty()) delivered_up_to_ = std::max(delivered_up_to_, fresh.back().seq);
  const bool broadcast = std::any_of(fresh.begin(), fresh.end(), [](const auto& m) { return m.is_broadcast(); });
  if (cert_changed || broadcast) {
    walk_all();
  } else {
    for (const auto& m : fresh) {
      if (auto ch = hub_.find(m.audience)) service_->deliver(m.audience, *ch);
    }
  }
  const auto now = std::chrono::steady_clock::now();
  if (now - last_recheck_ >= config_.channel_recheck_interval) {
    last_recheck_ = now;
    recheck_channels();
  }
  if (now - last_prune_ >= std::chrono::minutes(1)) {
    last_prune_ = now;
    auto pruned = outbox_->prune(clock_.now() - config_.prune_after.count());
    if (!pruned.ok()) {
      spdlog::warn("outbox prune failed: {}", pruned.error().message);
    } else if (*pruned > 0) {
      spdlog::info("outbox: {} expired messages deleted", *pruned);
    }
  }
}

void ServerCore::recheck_channels() {
  auto entries = hub_.all();
  if (entries.empty()) return;
  std::unordered_map<std::string, const ChannelHub::Entry*> live;
  for (const auto& e : entries) live.emplace(e.first, &e);
  std::unordered_map<std::string, registry::Endpoint> rows;
  Status scanned = registry_->for_each_endpoint([&](const registry::Endpoint& row) {
    if (live.count(row.agent_id)) rows.emplace(row.agent_id, row);
    return ok_status();
  });
  if (!scanned.ok()) {
    spdlog::warn("channel identity re-check skipped: {}", scanned.error().message);
    return;
  }
  int closed = 0;
  for (const auto& [id, entry] : live) {
    auto it = rows.find(id);
    auto row = it == rows.end() ? std::optional<registry::Endpoint>() : std::optional<registry::Endpoint>(it->second);
    if (!AgentIdentities::may_speak(identities_->judge(row, entry->second->peer_key))) {
      entry->second->sink->close();
      ++closed;
    }
  }
  if (closed > 0) spdlog::info("closed {} channels whose agent id no longer accepts their key", closed);
}

void ServerCore::walk_all() {
  auto entries = hub_.all();
  if (entries.empty()) return;
  // Slices of 1/20 s: the rate holds without a burst, and shutdown stays prompt.
  constexpr auto kSlice = std::chrono::milliseconds(50);
  const size_t per_slice = std::max<size_t>(1, static_cast<size_t>(config_.deliveries_per_second) / 20);
  const auto started = std::chrono::steady_clock::now();
  size_t rotations = 0, messages = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    Delivered d = service_->deliver(entries[i].first, *entries[i].second);
    rotations += d.rotation ? 1 : 0;
    messages += static_cast<size_t>(d.messages);
    if ((i + 1) % per_slice == 0) {
      auto due = started + kSlice * ((i + 1) / per_slice);
      auto now = std::chrono::steady_clock::now();
      if (due > now && !pause(std::chrono::duration_cast<std::chrono::milliseconds>(due - now))) return;
      if (stop_flag_) return;
    }
  }
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  spdlog::info("delivery walk: channels={} rotation_paths={} messages={} seconds={:.2f}", entries.size(), rotations,
               messages, took);
}

}  // namespace ck::server
