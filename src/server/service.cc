#include "protocol/service.h"

#include <spdlog/spdlog.h>

#include "protocol/commands.h"

namespace ck::protocol {
namespace json = boost::json;

namespace {

HttpResponse json_response(const json::object& o) {
  HttpResponse r;
  r.body = json::serialize(o);
  return r;
}

int64_t seq_floor(int64_t last_seq) { return last_seq < (int64_t{1} << 52) ? last_seq + 1 : 0; }

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
  registry::Endpoint e;
  e.agent_id = creq->agent_id;
  e.hostname = creq->hostname;
  e.ip_address = creq->ip.empty() ? req.remote : creq->ip;
  e.domain = creq->domain;
  e.os = creq->os;
  e.agent_version = creq->agent_version;
  e.pinned_fingerprint = creq->pinned_fingerprint;
  e.last_seq = creq->last_seq;
  e.first_seen = e.last_seen = now();
  deps_.submit(std::move(e), [this, creq, done = std::move(done)](Status committed) {
    auto answer = [this, creq, committed, done]() {
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

HttpResponse Service::checkin_answer(const CheckinRequest& req) {
  auto ring = deps_.certs->snapshot();
  auto plan = deps_.certs->plan(*ring, req.pinned_fingerprint);
  if (!plan.ok()) {
    spdlog::error("rotation path for {} failed: {}", req.pinned_fingerprint, plan.error().message);
    return error_response(500, "internal error");
  }
  CheckinResponse resp;
  resp.current_fingerprint = ring->current_fingerprint;
  // The key a live channel pins changes only by that channel's own hellos: a check-in
  // is a separate connection that proves nothing about the channel's peer, so it must
  // not redirect what the channel's messages are signed with (agents send a new hello
  // after they follow a rotation).
  if (plan->trust == store::PinnedTrust::kStale) {
    for (auto& link : plan->links) resp.rotations.push_back({link.by_old, link.by_new});
    deps_.metrics->rotations_served_total.fetch_add(1);
  }
  if (plan->trust != store::PinnedTrust::kUntrusted) {
    resp.messages = sign_for(req.agent_id, *plan->signing_key, deps_.queue->take(req.agent_id, now()),
                             req.last_seq);
  }
  deps_.metrics->checkins_total.fetch_add(1);
  return json_response(to_json(resp));
}

std::vector<std::string> Service::sign_for(const std::string& agent_id, const crypto::PrivateKey& key,
                                           std::vector<PendingCommand> cmds, int64_t last_seq) {
  std::vector<std::string> out;
  size_t i = 0;
  for (; i < cmds.size(); ++i) {
    auto seq = deps_.seq->next(seq_floor(last_seq));
    if (!seq.ok()) {
      spdlog::error("cannot allocate a message sequence number: {}", seq.error().message);
      break;
    }
    auto jws = sign_command(key, cmds[i], agent_id, *seq);
    if (!jws.ok()) {
      spdlog::error("signing a message for {} failed: {}", agent_id, jws.error().message);
      break;
    }
    out.push_back(std::move(jws).value());
    deps_.metrics->messages_signed_total.fetch_add(1);
  }
  if (i < cmds.size()) {
    deps_.queue->put_back(agent_id, std::vector<PendingCommand>(std::make_move_iterator(cmds.begin() + i),
                                                                std::make_move_iterator(cmds.end())));
  }
  return out;
}

bool Service::push_live(const std::string& agent_id, const ChannelHub::Live& live, const PendingCommand& cmd) {
  auto ring = deps_.certs->snapshot();
  auto plan = deps_.certs->plan(*ring, live.pinned);
  if (!plan.ok() || plan->trust == store::PinnedTrust::kUntrusted) return false;
  auto seq = deps_.seq->next();
  if (!seq.ok()) return false;
  auto jws = sign_command(*plan->signing_key, cmd, agent_id, *seq);
  if (!jws.ok()) return false;
  deps_.metrics->messages_signed_total.fetch_add(1);
  deps_.metrics->messages_pushed_total.fetch_add(1);
  live.sink->push(std::move(jws).value());
  return true;
}

bool Service::trusted(const std::string& pinned) {
  auto ring = deps_.certs->snapshot();
  auto plan = deps_.certs->plan(*ring, pinned);
  return plan.ok() && plan->trust != store::PinnedTrust::kUntrusted;
}

void Service::handle_admin(HttpRequest req, Done done) {
  const std::string_view path = target_path(req.target);
  if (path == kMetricsPath) {
    return done(req.method == "GET" ? metrics() : method_not_allowed("GET"));
  }
  if (path == kAdminMessagesPath) {
    if (req.method != "POST") return done(method_not_allowed("POST"));
    if (auto refusal = admin_refusal(req)) return done(std::move(*refusal));
    return done(admin_message(req));
  }
  done(error_response(404, "no such endpoint"));
}

HttpResponse Service::metrics() {
  if (deps_.refresh_metrics) deps_.refresh_metrics(*deps_.metrics);
  MetricsSnapshot s;
  auto ring = deps_.certs->snapshot();
  s.current_fingerprint = ring->current_fingerprint;
  s.current_expiry_seconds = deps_.certs->seconds_until_expiry();
  s.channels_connected = static_cast<int64_t>(deps_.hub->size());
  s.messages_queued = static_cast<int64_t>(deps_.queue->total_queued());
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

// The admin port is plain HTTP on loopback, so any web page the administrator opens can
// send it requests (CSRF), and a page whose name re-resolves to 127.0.0.1 can even read
// the answers (DNS rebinding). Browsers always send Origin on cross-site POSTs, can
// send application/json cross-site only after a CORS preflight (which this port never
// answers), and send the page's own name in Host; certmgr sends none of these.
std::optional<HttpResponse> Service::admin_refusal(const HttpRequest& req) {
  std::optional<HttpResponse> refusal;
  if (req.has_origin) {
    refusal = error_response(403, "requests from web pages (with an Origin header) are not accepted here");
  } else if (!is_loopback_host(req.host, req.local_port)) {
    refusal = error_response(403, "the Host header must name a loopback address and this port (e.g. 127.0.0.1:" +
                                      std::to_string(req.local_port) + ")");
  } else if (!is_json_content_type(req.content_type)) {
    refusal = error_response(415, "Content-Type must be application/json");
  }
  if (refusal) {
    spdlog::warn("admin request refused: status={} remote={} host=\"{}\" origin={} content_type=\"{}\"",
                 refusal->status, req.remote, req.host.substr(0, 100), req.has_origin,
                 req.content_type.substr(0, 100));
  }
  return refusal;
}

HttpResponse Service::admin_message(const HttpRequest& req) {
  if (req.body.size() > kMaxRequestBodyBytes) return error_response(413, "request body too large");
  auto value = parse_json_body(req.body);
  if (!value.ok()) return error_response(400, value.error().message);
  auto parsed = admin_message_request_from_json(*value);
  if (!parsed.ok()) return error_response(422, parsed.error().message);
  const AdminMessageRequest& m = *parsed;
  PendingCommand cmd = new_command(m.command, m.args, now());
  AdminMessageResponse out;
  if (m.to == kToAll) {
    std::vector<std::pair<std::string, ChannelHub::Live>> reachable;
    std::vector<std::string> reachable_ids;
    for (auto& [agent, live] : deps_.hub->all()) {
      if (!trusted(live.pinned)) continue;
      reachable_ids.push_back(agent);
      reachable.emplace_back(agent, std::move(live));
    }
    cmd.broadcast_id = deps_.queue->add_broadcast(cmd, reachable_ids);
    for (const auto& [agent, live] : reachable) {
      if (push_live(agent, live, cmd)) ++out.delivered;
    }
    int64_t known = 0;
    if (deps_.count_by_fingerprint) {
      if (auto counts = deps_.count_by_fingerprint(); counts.ok()) {
        for (const auto& [fp, n] : *counts) known += n;
      }
    }
    out.queued = std::max<int64_t>(0, known - out.delivered);
  } else {
    auto live = deps_.hub->find(m.to);
    if (live && push_live(m.to, *live, cmd)) {
      out.delivered = 1;
    } else if (deps_.queue->enqueue(m.to, cmd)) {
      out.queued = 1;
    } else {
      return error_response(503, "message queue full");
    }
  }
  spdlog::info("message issued: cmd={} to={} jti={} delivered={} queued={}", m.command, m.to, cmd.jti,
               out.delivered, out.queued);
  return json_response(to_json(out));
}

Result<std::string> Service::channel_hello(std::string_view frame, const std::shared_ptr<ChannelSink>& sink,
                                           std::string_view bound_agent_id) {
  CK_ASSIGN_OR_RETURN(auto value, parse_json_body(frame, kMaxAgentFrameBytes));
  CK_ASSIGN_OR_RETURN(ChannelHello hello, channel_hello_from_json(value));
  if (!bound_agent_id.empty() && hello.agent_id != bound_agent_id) {
    // One connection cannot walk through agent ids collecting their queued commands.
    return make_error(ErrorKind::kInvalidArgument, "a channel cannot change its agent id");
  }
  if (const json::value* type = value.as_object().if_contains("type");
      type && type->is_string() && type->as_string() == "reply") {
    // A command's reply; it also carries agent_id and pinned_fingerprint.
    deps_.metrics->channel_replies_total.fetch_add(1);
    const json::value* jti = value.as_object().if_contains("jti");
    const json::value* result = value.as_object().if_contains("result");
    spdlog::info("reply from agent {}: jti={} result={}", hello.agent_id,
                 jti && jti->is_string() ? std::string(jti->as_string()) : "?",
                 result ? json::serialize(*result).substr(0, 200) : "");
    auto live = deps_.hub->find(hello.agent_id);
    if (live && live->sink == sink) {
      deps_.hub->update_pinned(hello.agent_id, hello.pinned_fingerprint);
      return hello.agent_id;
    }
  }
  if (auto replaced = deps_.hub->attach(hello.agent_id, hello.pinned_fingerprint, sink)) {
    // Agents have no per-agent credential yet (docs/server.md): a reconnecting agent and
    // an impostor look the same. Make the takeover visible.
    spdlog::warn("channel for agent {} replaced by another connection (pinned {} -> {}); if the agent did not "
                 "reconnect, someone may be impersonating it",
                 hello.agent_id, replaced->pinned, hello.pinned_fingerprint);
  }
  auto ring = deps_.certs->snapshot();
  auto plan = deps_.certs->plan(*ring, hello.pinned_fingerprint);
  if (plan.ok() && plan->trust != store::PinnedTrust::kUntrusted) {
    for (auto& jws : sign_for(hello.agent_id, *plan->signing_key, deps_.queue->take(hello.agent_id, now()), 0)) {
      deps_.metrics->messages_pushed_total.fetch_add(1);
      sink->push(std::move(jws));
    }
  }
  spdlog::debug("channel open: agent={} pinned={}", hello.agent_id, hello.pinned_fingerprint);
  return hello.agent_id;
}

void Service::channel_closed(const std::string& agent_id, const ChannelSink* sink) {
  deps_.hub->detach(agent_id, sink);
}

}  // namespace ck::protocol
