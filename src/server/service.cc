#include "server/service.h"

#include <pwd.h>
#include <spdlog/spdlog.h>

#include <vector>

#include "server/commands.h"

namespace ck::server {
namespace json = boost::json;
using namespace protocol;  // NOLINT: the wire contract's names, throughout this file

namespace {

HttpResponse json_response(const json::object& o) {
  HttpResponse r;
  r.body = json::serialize(o);
  return r;
}

std::vector<RotationLink> wire_links(const std::vector<crypto::SignedRotation>& links) {
  std::vector<RotationLink> out;
  out.reserve(links.size());
  for (const auto& link : links) out.push_back({link.by_old, link.by_new});
  return out;
}

}  // namespace

Service::Service(ServiceDeps deps) : deps_(std::move(deps)) {
  if (!deps_.clock) deps_.clock = &system_clock();
}

bool Service::is_channel_target(std::string_view target) { return target_path(target) == kChannelPath; }

void Service::handle_agent(HttpRequest req, Done done) {
  const std::string_view path = target_path(req.target);
  HttpResponse refusal;
  if (path == kCheckinPath) {
    if (req.method == "POST") return checkin(std::move(req), std::move(done));
    refusal = method_not_allowed("POST");
  } else if (path == kChannelPath) {
    if (req.method == "GET") {
      refusal = error_response(426, "this endpoint needs a WebSocket upgrade");
      refusal.headers.emplace_back("Upgrade", "websocket");
    } else {
      refusal = method_not_allowed("GET");
    }
  } else {
    refusal = error_response(404, "no such endpoint");
  }
  deps_.metrics->checkins_rejected_total.fetch_add(1);
  done(std::move(refusal));
}

void Service::checkin(HttpRequest req, Done done) {
  auto reject = [&](int status, const std::string& why) {
    deps_.metrics->checkins_rejected_total.fetch_add(1);
    spdlog::debug("check-in refused: status={} remote={} reason={}", status, req.remote, why);
    done(error_response(status, why));
  };
  if (req.body.size() > kMaxRequestBodyBytes) return reject(413, "request body too large");
  auto value = parse_json_body(req.body);
  if (!value.ok()) return reject(400, value.error().message);
  auto parsed = checkin_request_from_json(*value);
  if (!parsed.ok()) return reject(422, parsed.error().message);

  auto creq = std::make_shared<const CheckinRequest>(std::move(parsed).value());
  // Agent identity: only the holder of the key bound to this id is served as it.
  IdentityVerdict verdict = IdentityVerdict::kKeyless;
  if (req.peer_key == kUnusableClientKey) {
    deps_.metrics->identity_refusals_total.fetch_add(1);
    return reject(401, "the client key is not a type certkeeper accepts (ECDSA P-256, Ed25519, RSA >= 2048)");
  }
  if (deps_.identities) {
    auto checked = deps_.identities->check(creq->agent_id, req.peer_key);
    if (!checked.ok()) {
      HttpResponse busy = error_response(503, "the registry is unavailable; retry later");
      busy.headers.emplace_back("Retry-After", "1");
      return done(std::move(busy));
    }
    verdict = *checked;
  }
  switch (verdict) {
    case IdentityVerdict::kOtherKey:
      deps_.metrics->identity_refusals_total.fetch_add(1);
      spdlog::warn("check-in refused: agent {} is bound to another key (remote={}, key={})", creq->agent_id,
                   req.remote, req.peer_key.empty() ? "none" : req.peer_key.substr(0, 16));
      return reject(401, "this agent id is bound to another key (after a reinstall: certmgr agents forget " +
                             creq->agent_id + ")");
    case IdentityVerdict::kPending:
      return reject(403, "waiting for approval: certmgr agents accept " + creq->agent_id);
    case IdentityVerdict::kRejected:
      return reject(403, "this agent was rejected by the administrator");
    case IdentityVerdict::kNoKey:
      return reject(403, "this agent id needs a client key (certkeeper-agent presents one)");
    case IdentityVerdict::kNew:
    case IdentityVerdict::kNewKeyless:
      if (!admit_new_agent()) {
        deps_.metrics->registrations_refused_total.fetch_add(1);
        HttpResponse busy = error_response(503, "too many new agents at once; retry later");
        busy.headers.emplace_back("Retry-After", "5");
        return done(std::move(busy));
      }
      break;
    default:
      break;
  }
  registry::Endpoint e;
  e.key_fingerprint = req.peer_key;
  if (verdict == IdentityVerdict::kNew && deps_.identities) e.enrollment = deps_.identities->new_binding_enrollment();
  const bool awaits_approval = verdict == IdentityVerdict::kNew && e.enrollment == registry::kEnrollmentPending;
  const bool binds_key = verdict == IdentityVerdict::kNew;
  const std::string key = req.peer_key;
  e.agent_id = creq->agent_id;
  e.hostname = creq->hostname;
  e.ip_address = creq->ip.empty() ? req.remote : creq->ip;
  e.domain = creq->domain;
  e.os = creq->os;
  e.agent_version = creq->agent_version;
  e.pinned_fingerprint = creq->pinned_fingerprint;
  e.last_seq = creq->last_seq;
  e.first_seen = e.last_seen = now();
  deps_.submit(std::move(e), [this, creq, awaits_approval, binds_key, key, done = std::move(done)](Status committed) {
    auto answer = [this, creq, awaits_approval, binds_key, key, committed, done]() {
      if (!committed.ok() && committed.error().kind == ErrorKind::kPermissionDenied) {
        // Another key won the binding (another connection or server, at the same time).
        deps_.metrics->identity_refusals_total.fetch_add(1);
        return done(error_response(401, "this agent id is bound to another key"));
      }
      if (committed.ok() && binds_key) {
        // A channel attached for this id before the key bound it (keyless) no longer
        // speaks for it.
        if (auto ch = deps_.hub->find(creq->agent_id); ch && ch->peer_key != key) ch->sink->close();
      }
      if (committed.ok() && awaits_approval) {
        spdlog::info("agent {} enrolled, waiting for approval (certmgr agents accept {})", creq->agent_id,
                     creq->agent_id);
        return done(error_response(403, "waiting for approval: certmgr agents accept " + creq->agent_id));
      }
      if (!committed.ok()) {
        deps_.metrics->checkins_failed_total.fetch_add(1);
        spdlog::error("check-in not recorded: agent={} error={}", creq->agent_id, committed.error().message);
        HttpResponse busy = error_response(503, "the registry is unavailable or busy; retry later");
        busy.headers.emplace_back("Retry-After", "1");
        done(std::move(busy));
        return;
      }
      done(checkin_answer(*creq));
    };
    if (deps_.dispatch) {
      deps_.dispatch(std::move(answer));
    } else {
      answer();
    }
  });
}

HttpResponse Service::checkin_answer(const protocol::CheckinRequest& req) {
  auto ring = deps_.certs->snapshot();
  auto plan = deps_.certs->plan(*ring, req.pinned_fingerprint);
  if (!plan.ok()) {
    spdlog::error("rotation path for {} failed: {}", req.pinned_fingerprint, plan.error().message);
    return error_response(500, "internal error");
  }
  protocol::CheckinResponse resp;
  resp.current_fingerprint = ring->current_fingerprint;
  // The key a live channel pins changes only by that channel's own hellos: a check-in
  // is a separate connection that proves nothing about the channel's peer, so it must
  // not redirect what the channel's messages are signed with (agents send a new hello
  // after they follow a rotation).
  if (plan->trust == store::PinnedTrust::kStale) {
    resp.rotations = wire_links(plan->links);
    deps_.metrics->rotations_served_total.fetch_add(1);
  }
  // An agent with an open channel gets its messages there, in seq order from one
  // server; carrying them here too could let an older one arrive after a newer one.
  // Messages stay in the outbox until the agent reports a last_seq at or above them.
  if (plan->trust != store::PinnedTrust::kUntrusted && !req.channel_open) {
    // Bounded by bytes: the rest (in seq order) comes with the next check-in.
    resp.messages = sign_for(req.agent_id, *plan->signing_key, deps_.feed->pending_for(req.agent_id, req.last_seq),
                             kMaxCheckinAnswerMessageBytes);
  }
  deps_.metrics->checkins_total.fetch_add(1);
  return json_response(to_json(resp));
}

std::vector<std::string> Service::sign_for(const std::string& agent_id, const crypto::PrivateKey& key,
                                           const std::vector<outbox::Message>& msgs, size_t max_bytes) {
  std::vector<std::string> out;
  size_t bytes = 0;
  for (const auto& m : msgs) {
    if (bytes >= max_bytes) break;
    auto jws = sign_message(key, m, agent_id);
    if (!jws.ok()) {
      spdlog::error("signing message {} for {} failed: {}", m.seq, agent_id, jws.error().message);
      break;
    }
    bytes += jws->size();
    out.push_back(std::move(jws).value());
    deps_.metrics->messages_signed_total.fetch_add(1);
  }
  return out;
}

Delivered Service::deliver(const std::string& agent_id, Channel& ch) {
  Delivered out;
  std::lock_guard lock(ch.mu);
  auto ring = deps_.certs->snapshot();
  auto plan = deps_.certs->plan(*ring, ch.pinned);
  if (!plan.ok()) {
    spdlog::error("rotation path for {} failed: {}", ch.pinned, plan.error().message);
    return out;
  }
  if (plan->trust == store::PinnedTrust::kUntrusted) return out;
  const bool rotation_due =
      plan->trust == store::PinnedTrust::kStale && ch.rotation_sent_to != ring->current_fingerprint;
  // Messages are signed with the pinned key while the store holds it, else with the
  // current key. In the first case they must arrive before the rotation (afterwards
  // the agent no longer accepts that key), in the second after it.
  const bool signs_with_pinned = plan->signing_key->fingerprint() == ch.pinned;
  auto push_rotation = [&] {
    ch.sink->push(rotation_frame(ring, ch.pinned, *plan));
    ch.rotation_sent_to = ring->current_fingerprint;
    deps_.metrics->rotations_pushed_total.fetch_add(1);
    out.rotation = true;
  };
  if (rotation_due && !signs_with_pinned) push_rotation();
  if (ch.hold_messages_until <= now()) {
    auto pending = deps_.feed->pending_for(agent_id, ch.delivered_seq);
    if (pending.size() > kMaxPushPerDelivery) pending.resize(kMaxPushPerDelivery);
    auto signed_msgs = sign_for(agent_id, *plan->signing_key, pending);
    for (size_t i = 0; i < signed_msgs.size(); ++i) {
      ch.sink->push(std::move(signed_msgs[i]));
      ch.delivered_seq = pending[i].seq;
      ++out.messages;
    }
    deps_.metrics->messages_pushed_total.fetch_add(out.messages);
  }
  if (rotation_due && signs_with_pinned) {
    push_rotation();
    // What comes next would be signed with the key the agent is leaving: hold it until
    // the agent's hello names its new pin (or it evidently did not follow).
    ch.hold_messages_until = now() + kHoldAfterRotationSeconds;
  }
  return out;
}

std::string Service::rotation_frame(const std::shared_ptr<const store::Keyring>& ring, const std::string& pinned,
                                    const store::RotationPlan& plan) {
  std::lock_guard lock(frame_mu_);
  if (frame_ring_.lock() != ring || frame_pinned_ != pinned) {
    protocol::ChannelRotation frame;
    frame.current_fingerprint = ring->current_fingerprint;
    frame.rotations = wire_links(plan.links);
    frame_ = json::serialize(to_json(frame));
    frame_ring_ = ring;
    frame_pinned_ = pinned;
  }
  return frame_;
}

void Service::maybe_report_pin(const std::string& agent_id, Channel& ch) {
  std::string pinned;
  {
    std::lock_guard lock(ch.mu);
    if (ch.reported_pin == ch.pinned) return;
    // A few reports per channel per second at most: a client flipping its pin cannot
    // flood the registry writer (an honest agent reports once per rotation).
    if (ch.pin_report_second != now()) {
      ch.pin_report_second = now();
      ch.pin_reports_this_second = 0;
    }
    if (++ch.pin_reports_this_second > kMaxPinReportsPerSecond) return;
    ch.reported_pin = ch.pinned;
    pinned = ch.pinned;
  }
  report_pin(agent_id, pinned);
}

bool Service::admit_new_agent() {
  if (deps_.max_new_agents_per_second <= 0) return true;
  std::lock_guard lock(registrations_mu_);
  if (registrations_second_ != now()) {
    registrations_second_ = now();
    registrations_this_second_ = 0;
  }
  return ++registrations_this_second_ <= deps_.max_new_agents_per_second;
}

void Service::report_pin(const std::string& agent_id, const std::string& pinned) {
  if (!deps_.submit) return;
  registry::Endpoint e;
  e.agent_id = agent_id;
  e.pinned_fingerprint = pinned;
  e.last_seen = now();
  e.pin_report = true;
  deps_.submit(std::move(e), [this, agent_id](Status committed) {
    if (committed.ok()) {
      deps_.metrics->pin_reports_total.fetch_add(1);
    } else {
      spdlog::warn("pin report of agent {} not recorded: {}", agent_id, committed.error().message);
    }
  });
}

namespace {

// The account name of `uid`, or "uid N" when it has none.
std::string user_name(uid_t uid) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found) return pw.pw_name;
  return "uid " + std::to_string(uid);
}

}  // namespace

void Service::handle_admin(HttpRequest req, Done done) {
  const std::string_view path = target_path(req.target);
  if (path == kAdminMessagesPath) {
    if (req.method != "POST") return done(method_not_allowed("POST"));
    if (auto refusal = admin_refusal(req)) return done(std::move(*refusal));
    return done(admin_message(req));
  }
  if (path == kAdminConsoleTokenPath) {
    if (req.method != "POST") return done(method_not_allowed("POST"));
    if (auto refusal = admin_refusal(req)) return done(std::move(*refusal));
    if (!console_login_) return done(error_response(404, "this server does not serve the web console"));
    const std::string user = user_name(static_cast<uid_t>(req.peer_uid));
    spdlog::info("audit: console login link issued to {} uid={} pid={}", user, req.peer_uid, req.peer_pid);
    return done(console_login_(user));
  }
  done(error_response(404, "no such endpoint"));
}

void Service::handle_metrics(HttpRequest req, Done done) {
  if (target_path(req.target) != kMetricsPath) return done(error_response(404, "no such endpoint"));
  done(req.method == "GET" ? metrics() : method_not_allowed("GET"));
}

HttpResponse Service::metrics() {
  MetricsSnapshot s;
  if (deps_.refresh_metrics) deps_.refresh_metrics(s);
  auto ring = deps_.certs->snapshot();
  s.current_fingerprint = ring->current_fingerprint;
  s.current_expiry_seconds = deps_.certs->seconds_until_expiry();
  s.channels_connected = static_cast<int64_t>(deps_.hub->size());
  s.messages_queued = static_cast<int64_t>(deps_.feed->size());
  s.cert_reloads = deps_.certs->reloads();
  if (deps_.count_by_fingerprint) {
    auto counts = deps_.count_by_fingerprint();
    if (counts.ok()) {
      for (const auto& [fp, n] : *counts) {
        const store::CertRecord* rec = ring->find(fp);
        s.endpoints_by_fingerprint[fp] = {rec ? store::status_name(rec->status) : "unknown", n};
      }
    } else {
      s.endpoints_ok = false;
      spdlog::warn("metrics: endpoint count failed: {}", counts.error().message);
    }
  }
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = render_prometheus(*deps_.metrics, s);
  return r;
}

// The kernel vouches for the peer of the admin socket (SO_PEERCRED). The browser
// checks stay as a second line: no web page should ever reach this socket, but a
// local web proxy or SSRF bug that forwards requests would send Origin or no JSON.
std::optional<HttpResponse> Service::admin_refusal(const HttpRequest& req) {
  std::optional<HttpResponse> refusal;
  PeerCredentials peer{static_cast<pid_t>(req.peer_pid), static_cast<uid_t>(req.peer_uid),
                       static_cast<gid_t>(req.peer_gid)};
  std::optional<std::string> denied =
      deps_.admin_access ? deps_.admin_access->refusal(peer) : std::optional<std::string>("no admin access configured");
  if (denied) {
    refusal = error_response(403, "permission denied: " + *denied + " (run as root, the server's user, or a member "
                                                                    "of the admin group)");
  } else if (req.has_origin) {
    refusal = error_response(403, "requests from web pages (with an Origin header) are not accepted here");
  } else if (!is_json_content_type(req.content_type)) {
    refusal = error_response(415, "Content-Type must be application/json");
  }
  if (refusal) {
    spdlog::warn("audit: admin request refused: status={} pid={} uid={} gid={} reason=\"{}\"", refusal->status,
                 req.peer_pid, req.peer_uid, req.peer_gid, denied ? *denied : refusal->body.substr(0, 120));
  }
  return refusal;
}

Result<outbox::Message> Service::issue(const protocol::AdminMessageRequest& m, const std::string& issued_by) {
  CK_ASSIGN_OR_RETURN(auto checked, protocol::admin_message_request_from_json(to_json(m)));
  auto msg = outbox::new_message(checked.command, checked.args, checked.to, now(), protocol::kMessageLifetimeSeconds);
  msg.issued_by = issued_by;
  CK_ASSIGN_OR_RETURN(outbox::Message added, deps_.outbox->add(std::move(msg)));
  // Visible to this server's check-ins at once; the loop pushes it to channels.
  if (auto r = deps_.feed->refresh(); !r.ok()) spdlog::warn("outbox read failed: {}", r.error().message);
  spdlog::info("message queued: cmd={} to={} seq={} jti={} by={}", added.command, added.audience, added.seq,
               added.jti, added.issued_by);
  if (deps_.wake) deps_.wake();
  return added;
}

HttpResponse Service::admin_message(const HttpRequest& req) {
  if (req.body.size() > protocol::kMaxRequestBodyBytes) return error_response(413, "request body too large");
  auto value = protocol::parse_json_body(req.body);
  if (!value.ok()) return error_response(400, value.error().message);
  auto parsed = protocol::admin_message_request_from_json(*value);
  if (!parsed.ok()) return error_response(422, parsed.error().message);
  auto added = issue(*parsed, "admin-api uid " + std::to_string(req.peer_uid));
  if (!added.ok()) {
    spdlog::error("message not queued: {}", added.error().message);
    HttpResponse busy = error_response(503, "the outbox is unavailable: " + added.error().message);
    busy.headers.emplace_back("Retry-After", "1");
    return busy;
  }
  protocol::AdminMessageResponse out{added->seq, added->jti, added->exp};
  return json_response(to_json(out));
}

Result<std::string> Service::channel_frame(std::string_view frame, const std::shared_ptr<ChannelSink>& sink,
                                           std::string_view bound_agent_id, const std::string& peer_key) {
  CK_ASSIGN_OR_RETURN(auto value, protocol::parse_json_body(frame, protocol::kMaxAgentFrameBytes));
  CK_ASSIGN_OR_RETURN(protocol::ChannelHello hello, protocol::channel_hello_from_json(value));
  if (!bound_agent_id.empty() && hello.agent_id != bound_agent_id) {
    // One connection cannot walk through agent ids collecting their messages.
    return make_error(ErrorKind::kInvalidArgument, "a channel cannot change its agent id");
  }
  if (const json::value* type = value.as_object().if_contains("type");
      type && type->is_string() && type->as_string() == "reply") {
    deps_.metrics->channel_replies_total.fetch_add(1);
    if (spdlog::should_log(spdlog::level::info)) {  // the arguments cost a serialization per reply
      const json::value* jti = value.as_object().if_contains("jti");
      const json::value* result = value.as_object().if_contains("result");
      spdlog::info("reply from agent {}: jti={} result={}", hello.agent_id,
                   jti && jti->is_string() ? std::string(jti->as_string()) : "?",
                   result ? json::serialize(*result).substr(0, 200) : "");
    }
    // A reply names the agent, but only hellos move its pin and what it has accepted.
    if (!bound_agent_id.empty()) return hello.agent_id;
  }
  std::shared_ptr<Channel> ch = deps_.hub->find(hello.agent_id);
  if (!ch || ch->sink != sink) {
    if (!bound_agent_id.empty()) {
      // This channel was replaced by a newer one of the same agent: it gets nothing.
      return hello.agent_id;
    }
    if (deps_.identities) {
      // The channel speaks for the id only with the key its check-ins bound.
      CK_ASSIGN_OR_RETURN(IdentityVerdict verdict, deps_.identities->check(hello.agent_id, peer_key));
      if (peer_key == kUnusableClientKey ||
          (verdict != IdentityVerdict::kBound && verdict != IdentityVerdict::kKeyless &&
           verdict != IdentityVerdict::kNewKeyless)) {
        deps_.metrics->identity_refusals_total.fetch_add(1);
        spdlog::warn("channel refused: agent {} with key {} ({})", hello.agent_id,
                     peer_key.empty() ? "none" : peer_key.substr(0, 16),
                     verdict == IdentityVerdict::kNew ? "not checked in with it yet" : "not its bound key");
        return make_error(ErrorKind::kPermissionDenied, "this channel may not speak for agent " + hello.agent_id);
      }
    }
    ch = std::make_shared<Channel>(sink, peer_key);
    {
      std::lock_guard lock(ch->mu);
      ch->pinned = hello.pinned_fingerprint;
      ch->delivered_seq = hello.last_seq;
      ch->reported_pin = "";  // not reported yet
    }
    if (auto replaced = deps_.hub->attach(hello.agent_id, ch)) {
      // Agents have no per-agent credential yet (docs/server.md): a reconnecting agent
      // and an impostor look the same. Make the takeover visible.
      spdlog::warn("channel for agent {} replaced by another connection; if the agent did not reconnect, someone "
                   "may be impersonating it",
                   hello.agent_id);
    }
    spdlog::debug("channel open: agent={} pinned={} last_seq={}", hello.agent_id, hello.pinned_fingerprint,
                  hello.last_seq);
  } else {
    std::lock_guard lock(ch->mu);
    if (ch->pinned != hello.pinned_fingerprint) {
      // The agent followed a rotation pushed here (or picked up a hand copy). What it
      // has not accepted is offered again, signed for its new key.
      ch->pinned = hello.pinned_fingerprint;
      ch->delivered_seq = hello.last_seq;
      ch->hold_messages_until = 0;
    } else {
      ch->delivered_seq = std::max(ch->delivered_seq, hello.last_seq);
    }
  }
  // Record the pin now, so `certmgr -l` does not wait for the next check-in: at the
  // first hello (the agent may have rotated while it was away) and at every change.
  maybe_report_pin(hello.agent_id, *ch);
  deliver(hello.agent_id, *ch);
  return hello.agent_id;
}

void Service::channel_closed(const std::string& agent_id, const ChannelSink* sink) {
  deps_.hub->detach(agent_id, sink);
}

}  // namespace ck::server
