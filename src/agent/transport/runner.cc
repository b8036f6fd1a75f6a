#include "agent/transport/runner.h"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "agent/transport/https.h"
#include "protocol/wire.h"

namespace ck::transport {
namespace asio = boost::asio;
namespace json = boost::json;
using std::chrono::milliseconds;

AgentRunner::AgentRunner(asio::io_context& io, std::shared_ptr<asio::ssl::context> ctx,
                         std::shared_ptr<ServerTrust> trust, std::shared_ptr<const ServerTarget> server,
                         std::unique_ptr<agent::Agent> agent, RunnerOptions options)
    : strand_(asio::make_strand(io)),
      ctx_(std::move(ctx)),
      trust_(std::move(trust)),
      server_(std::move(server)),
      agent_(std::move(agent)),
      options_(std::move(options)),
      checkin_timer_(strand_),
      channel_timer_(strand_),
      rng_(static_cast<std::minstd_rand::result_type>(std::random_device{}())),
      agent_id_(agent_->agent_id()) {
  publish();
}

void AgentRunner::start() {
  asio::post(strand_, [self = shared_from_this()] {
    milliseconds first{0};
    if (self->options_.first_delay_max.count() > 0) {
      std::uniform_int_distribution<int64_t> d(0, self->options_.first_delay_max.count() - 1);
      first = milliseconds(d(self->rng_));
    }
    if (self->online_) self->schedule_checkin(first);
  });
}

void AgentRunner::stop() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->stopped_) return;
    self->stopped_ = true;
    self->checkin_timer_.cancel();
    self->channel_timer_.cancel();
    if (self->channel_) self->channel_->close();
    if (!self->checkin_in_flight_ && self->on_stopped) self->on_stopped();
  });
}

void AgentRunner::set_online(bool online) {
  online_ = online;
  asio::post(strand_, [self = shared_from_this(), online] {
    if (self->stopped_) return;
    if (online) {
      if (!self->checkin_in_flight_) self->schedule_checkin(milliseconds(0));
    } else {
      self->checkin_timer_.cancel();
      self->channel_timer_.cancel();
      if (self->channel_) self->channel_->close();
    }
  });
}

std::string AgentRunner::pinned_fingerprint() const {
  std::lock_guard lock(snapshot_mu_);
  return snapshot_.pinned->fingerprint();
}

void AgentRunner::publish() {
  std::lock_guard lock(snapshot_mu_);
  if (snapshot_.pinned != agent_->state().pinned) snapshot_.pinned = agent_->state().pinned;
  snapshot_.counters = agent_->counters();
}

void AgentRunner::mark_reported(std::shared_ptr<const crypto::Certificate> pin) {
  std::lock_guard lock(snapshot_mu_);
  snapshot_.reported = std::move(pin);
}

milliseconds AgentRunner::jittered(milliseconds base) {
  double j = std::clamp(options_.jitter, 0.0, 0.9);
  std::uniform_real_distribution<double> d(1.0 - j, 1.0 + j);
  return milliseconds(static_cast<int64_t>(static_cast<double>(base.count()) * d(rng_)));
}

std::string AgentRunner::hello() const { return json::serialize(protocol::to_json(agent_->channel_hello())); }

void AgentRunner::schedule_checkin(milliseconds delay) {
  checkin_timer_.expires_after(delay);
  checkin_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->checkin();
  });
}

void AgentRunner::checkin() {
  if (stopped_ || !online_ || checkin_in_flight_) return;
  auto refreshed = agent_->refresh_agent_key();
  if (!refreshed.ok()) {
    spdlog::error("agent_id={} cannot read {}: {}", agent_id_, agent::kAgentKeyFileName,
                  refreshed.error().message);
  } else if (*refreshed) {
    publish();
    if (channel_ && channel_open_) channel_->send(hello());
  }
  checkin_in_flight_ = true;
  if (options_.gate) {
    options_.gate->acquire(strand_, [self = shared_from_this()] { self->send_checkin(); });
  } else {
    send_checkin();
  }
}

void AgentRunner::send_checkin() {
  if (stopped_) {
    // Stopped while waiting for a slot: give it back and finish.
    if (options_.gate) options_.gate->release();
    checkin_in_flight_ = false;
    if (on_stopped) on_stopped();
    return;
  }
  HttpsRequest req;
  req.target = "/v1/checkin";
  req.timeout = options_.timeout;
  req.body_limit = agent::kMaxCheckinResponseBytes;
  req.identity = options_.identity;
  req.session = tls_session_;
  req.body = [self = shared_from_this()](const std::string& local_ip) {
    agent::HostInfo host = self->options_.host;
    if (host.ip.empty()) host.ip = local_ip;
    self->sent_pin_ = self->agent_->state().pinned;
    const bool channel_open = self->channel_ && self->channel_open_;
    return json::serialize(protocol::to_json(self->agent_->checkin_request(host, channel_open)));
  };
  async_https(strand_, ctx_, trust_, server_, std::move(req),
              [self = shared_from_this()](Result<HttpReply> r) { self->on_checkin_reply(std::move(r)); });
}

void AgentRunner::on_checkin_reply(Result<HttpReply> reply) {
  checkin_in_flight_ = false;
  if (options_.gate) options_.gate->release();
  CheckinEvent ev;
  if (!reply.ok()) {
    ev.error = reply.error().message;
  } else if (reply->status != 200) {
    ev.error = "server answered " + std::to_string(reply->status) + ": " + reply->body.substr(0, 200);
  } else {
    auto outcome = agent_->apply_checkin_response(reply->body);
    if (!outcome.ok()) {
      ev.error = outcome.error().message;
    } else {
      ev.ok = true;
      ev.outcome = std::move(outcome).value();
      ev.server_current = ev.outcome.server_current;
      mark_reported(sent_pin_);
    }
  }
  publish();
  if (!ev.ok) {
    spdlog::warn("check-in failed agent_id={} error=\"{}\"", agent_id_, ev.error);
  } else {
    spdlog::debug("check-in ok agent_id={} pinned={} accepted={} rejected={} links={}", agent_id_,
                  agent_->pinned_fingerprint(), ev.outcome.messages_accepted,
                  ev.outcome.messages_rejected, ev.outcome.links_accepted);
    if (channel_ && channel_open_) {
      if (ev.outcome.rotated) channel_->send(hello());
      send_replies(ev.outcome.replies);
    }
  }
  if (on_checkin) on_checkin(ev);
  if (stopped_) {
    if (on_stopped) on_stopped();
    return;
  }
  if (options_.once) {
    stopped_ = true;
    if (on_stopped) on_stopped();
    return;
  }
  if (!online_) return;
  if (ev.ok && options_.channel && !channel_) open_channel();
  // After a rotation, report the new fingerprint soon (DESIGN.md §5); also when the pin
  // moved (a pushed rotation) while this check-in, carrying the old one, was in flight.
  auto next = options_.checkin_interval;
  if (ev.ok && (ev.outcome.rotated || !sent_pin_ || sent_pin_->fingerprint() != agent_->pinned_fingerprint()))
    next = std::min(next, milliseconds(2000));
  if (ev.ok) {
    checkin_backoff_ = milliseconds(2000);
  } else {
    next = std::min(next, checkin_backoff_);
    checkin_backoff_ = std::min(checkin_backoff_ * 2, options_.checkin_interval);
  }
  schedule_checkin(jittered(next));
}

void AgentRunner::send_replies(const std::vector<json::object>& replies) {
  for (auto reply : replies) {
    // Carries agent_id and pinned_fingerprint, so a server reading every frame as a
    // hello still understands it.
    reply["pinned_fingerprint"] = agent_->pinned_fingerprint();
    channel_->send(json::serialize(reply));
  }
}

void AgentRunner::open_channel() {
  ChannelClient::Callbacks cb;
  // Weak: the runner owns the channel, so a strong capture would be a cycle that keeps
  // both alive after a stop that races the channel's close (LeakSanitizer saw it in the
  // fleet). The runner's own pending operations keep it alive while it works.
  std::weak_ptr<AgentRunner> weak = weak_from_this();
  cb.on_open = [weak] {
    auto self = weak.lock();
    if (!self) return;
    self->channel_open_ = true;
    self->channel_backoff_ = milliseconds(1000);
    spdlog::debug("channel open agent_id={}", self->agent_id_);
    // A check-in may have moved the pin while the channel was connecting: the hello
    // that opened it is stale, and the server signs by what the channel says.
    if (self->agent_->pinned_fingerprint() != self->channel_hello_pin_) self->channel_->send(self->hello());
  };
  cb.on_frame = [weak](std::string frame) {
    if (auto self = weak.lock()) self->on_channel_frame(std::move(frame));
  };
  cb.on_closed = [weak](Error why) {
    if (auto self = weak.lock()) self->on_channel_closed(std::move(why));
  };
  channel_ = ChannelClient::create(strand_, ctx_, trust_, server_, std::move(cb), options_.identity, tls_session_);
  channel_hello_pin_ = agent_->pinned_fingerprint();
  channel_->start(hello());
}

void AgentRunner::on_channel_frame(std::string frame) {
  if (!protocol::is_typed_frame(frame)) {
    auto r = agent_->handle_message(frame);
    if (r.ok() && r->reply && channel_) send_replies({*r->reply});
    publish();
    return;
  }
  // Key deployment: the rotation path pushed by the server.
  auto outcome = agent_->apply_channel_frame(frame);
  publish();
  if (!outcome.ok()) return;
  if (outcome->rotated) {
    // The new pin, reported on the channel: the server records it in the registry.
    if (channel_ && channel_open_) channel_->send(hello());
    mark_reported(agent_->state().pinned);
  }
  if (on_checkin) {
    CheckinEvent ev;
    ev.ok = true;
    ev.via_channel = true;
    ev.server_current = outcome->server_current;
    ev.outcome = std::move(outcome).value();
    on_checkin(ev);
  }
}

void AgentRunner::on_channel_closed(Error why) {
  channel_open_ = false;
  channel_.reset();
  if (stopped_ || !online_) return;
  spdlog::info("channel closed agent_id={} reason=\"{}\"; reconnecting", agent_id_, why.message);
  channel_timer_.expires_after(jittered(channel_backoff_));
  channel_backoff_ = std::min(channel_backoff_ * 2, milliseconds(30000));
  channel_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec && !self->stopped_ && self->online_ && !self->channel_) self->open_channel();
  });
}

}  // namespace ck::transport
