#include "agent/agent.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "agent/commands.h"
#include "agent/message_claims.h"
#include "crypto/encoding.h"
#include "crypto/jws.h"

namespace ck::agent {
namespace {

std::string digest_hex(std::string_view bytes) { return crypto::to_hex(crypto::sha256(bytes)); }

std::string kid_of(std::string_view jws) {
  auto kid = crypto::jws_kid(jws);
  return kid.ok() ? std::move(kid).value() : std::string();
}

}  // namespace

Result<std::unique_ptr<Agent>> Agent::open(std::unique_ptr<AgentStateStore> store,
                                           AgentOptions options) {
  if (!options.agent_id.empty() && !protocol::valid_agent_id(options.agent_id)) {
    return make_error(ErrorKind::kInvalidArgument,
                      "agent id must be 1-64 characters of A-Z a-z 0-9 . _ - (and not \"all\")");
  }
  std::unique_ptr<Agent> agent(new Agent(std::move(store), std::move(options)));
  AgentStateStore& st = *agent->store_;
  CK_ASSIGN_OR_RETURN(std::optional<AgentState> saved, st.load_state());
  auto key = st.read_agent_key_if_changed();
  if (!key.ok() && key.error().kind != ErrorKind::kNotFound) return key.error();

  if (!saved) {
    if (!key.ok()) {
      return make_error(ErrorKind::kNotFound, std::string("no ") + kAgentKeyFileName + " in " +
                                                  st.describe() + " (copy it from certmgr -e)");
    }
    const std::string& bytes = **key;
    CK_ASSIGN_OR_RETURN(auto cert, agent->parse_cert(bytes));
    AgentState s;
    s.agent_id = agent->options_.agent_id.empty() ? generate_agent_id() : agent->options_.agent_id;
    s.pinned = std::move(cert);
    s.generation = 0;  // a hand-copied OfcNTCer.dat counts as generation 0
    s.dat_sha256 = digest_hex(bytes);
    CK_RETURN_IF_ERROR(st.save_state(s));
    agent->state_ = std::move(s);
    spdlog::info("agent initialized agent_id={} pinned={} store={}", agent->state_.agent_id,
                 agent->state_.pinned_fingerprint(), st.describe());
    return agent;
  }

  if (!saved->pinned) return make_error(ErrorKind::kCorrupt, "agent state has no pinned certificate");
  agent->state_ = std::move(*saved);
  // Shared like every certificate a fleet's agents hold (a saved state parses its own).
  if (agent->options_.cache) agent->state_.pinned = agent->options_.cache->intern(*agent->state_.pinned);
  if (!agent->options_.agent_id.empty() && agent->options_.agent_id != agent->state_.agent_id) {
    AgentState next = agent->state_;
    next.agent_id = agent->options_.agent_id;
    CK_RETURN_IF_ERROR(agent->commit(std::move(next), false));
  }
  if (!key.ok()) {
    // OfcNTCer.dat vanished: write back what we pin.
    spdlog::warn("{} missing in {}; restoring the pinned certificate", kAgentKeyFileName,
                 st.describe());
    const std::string& pem = agent->state_.pinned->pem();
    CK_RETURN_IF_ERROR(st.write_agent_key(pem));
    if (agent->state_.dat_sha256 != digest_hex(pem)) {
      AgentState next = agent->state_;
      next.dat_sha256 = digest_hex(pem);
      CK_RETURN_IF_ERROR(agent->commit(std::move(next), false));
    }
    return agent;
  }
  // The file may have been copied by hand while we were stopped.
  CK_RETURN_IF_ERROR(agent->reconcile_key(**key));
  return agent;
}

Result<std::shared_ptr<const crypto::Certificate>> Agent::parse_cert(std::string_view bytes) {
  if (options_.cache) return options_.cache->parse(bytes);
  CK_ASSIGN_OR_RETURN(crypto::Certificate cert, crypto::Certificate::parse(bytes));
  return std::make_shared<const crypto::Certificate>(std::move(cert));
}

std::shared_ptr<const crypto::Certificate> Agent::intern(crypto::Certificate cert) {
  if (options_.cache) return options_.cache->intern(std::move(cert));
  return std::make_shared<const crypto::Certificate>(std::move(cert));
}

Status Agent::commit(AgentState next, bool pin_changed) {
  std::string pem;
  if (pin_changed) {
    pem = next.pinned->pem();
    next.previous_dat_sha256 = state_.dat_sha256;
    next.dat_sha256 = digest_hex(pem);
  }
  // State first: if we stop before OfcNTCer.dat is replaced, reconcile_key() sees the
  // previous bytes and finishes the job instead of mistaking them for a hand copy.
  CK_RETURN_IF_ERROR(store_->save_state(next));
  state_ = std::move(next);
  if (pin_changed) CK_RETURN_IF_ERROR(store_->write_agent_key(pem));
  return ok_status();
}

Result<bool> Agent::refresh_agent_key() {
  auto key = store_->read_agent_key_if_changed();
  if (!key.ok()) {
    if (key.error().kind != ErrorKind::kNotFound) return key.error();
    spdlog::warn("{} missing in {}; restoring the pinned certificate", kAgentKeyFileName,
                 store_->describe());
    CK_RETURN_IF_ERROR(store_->write_agent_key(state_.pinned->pem()));
    return false;
  }
  if (!*key) return false;
  return reconcile_key(**key);
}

Result<bool> Agent::reconcile_key(const std::string& bytes) {
  std::string digest = digest_hex(bytes);
  if (digest == state_.dat_sha256) return false;
  if (!state_.previous_dat_sha256.empty() && digest == state_.previous_dat_sha256) {
    spdlog::info("completing an interrupted update of {}", kAgentKeyFileName);
    CK_RETURN_IF_ERROR(store_->write_agent_key(state_.pinned->pem()));
    return false;
  }
  auto cert = parse_cert(bytes);
  if (!cert.ok()) {
    spdlog::warn("ignoring unreadable {} in {}: {}", kAgentKeyFileName, store_->describe(),
                 cert.error().message);
    return false;
  }
  AgentState next = state_;
  next.dat_sha256 = digest;
  next.previous_dat_sha256.clear();
  if ((*cert)->fingerprint() == state_.pinned_fingerprint()) {
    CK_RETURN_IF_ERROR(commit(std::move(next), false));  // same key, other encoding
    return false;
  }
  spdlog::info("picked up a hand-copied {} agent_id={} old={} new={} (generation reset to 0)",
               kAgentKeyFileName, state_.agent_id, state_.pinned_fingerprint(),
               (*cert)->fingerprint());
  next.pinned = std::move(cert).value();
  next.generation = 0;
  CK_RETURN_IF_ERROR(commit(std::move(next), false));
  ++counters_.hand_copies;
  return true;
}

Result<MessageOutcome> Agent::handle_message(std::string_view jws) {
  auto reject = [&](ErrorKind kind, const std::string& why) -> Error {
    ++counters_.messages_rejected;
    spdlog::warn("message rejected agent_id={} reason=\"{}\"", state_.agent_id, why);
    return make_error(kind, "message rejected: " + why);
  };
  if (jws.size() > protocol::kMaxServerFrameBytes) return reject(ErrorKind::kInvalidArgument, "frame too large");
  auto kid = crypto::jws_kid(jws);
  if (!kid.ok()) return reject(ErrorKind::kInvalidArgument, kid.error().message);
  if (kid->empty()) return reject(ErrorKind::kCrypto, "JWS has no kid");
  if (*kid != state_.pinned_fingerprint()) return reject(ErrorKind::kCrypto, "unknown kid " + *kid);
  auto payload = crypto::jws_verify(jws, state_.pinned->public_key());
  if (!payload.ok()) return reject(payload.error().kind, payload.error().message);
  if (const auto* jti = payload->if_contains("jti"); jti && jti->is_string() &&
      std::find(state_.seen_jti.begin(), state_.seen_jti.end(), std::string_view(jti->as_string())) !=
          state_.seen_jti.end()) {
    ++counters_.messages_duplicate;
    spdlog::info("duplicate message ignored agent_id={} jti={}", state_.agent_id,
                  std::string_view(jti->as_string()));
    return make_error(ErrorKind::kConflict, "message rejected: duplicate of an accepted message");
  }
  auto claims = check_command_claims(*payload, state_, now(), options_.max_skew_seconds);
  if (!claims.ok()) return reject(ErrorKind::kCrypto, claims.error().message);
  if (!is_known_command(claims->command)) {
    return reject(ErrorKind::kInvalidArgument, "unknown command \"" + claims->command + "\"");
  }
  // Record seq/jti BEFORE acting: a crash after running the command must not leave
  // it replayable (at most once, never twice).
  AgentState next = state_;
  next.last_seq = claims->seq;
  next.seen_jti.push_back(claims->jti);
  while (next.seen_jti.size() > options_.max_seen_jti) next.seen_jti.pop_front();
  CK_RETURN_IF_ERROR(commit(std::move(next), false));
  auto reply = run_command(*claims, state_.agent_id, now(), *store_);
  if (!reply.ok()) return reject(reply.error().kind, reply.error().message);
  ++counters_.messages_accepted;
  spdlog::info("command accepted agent_id={} command={} seq={} jti={}", state_.agent_id,
               claims->command, claims->seq, claims->jti);
  MessageOutcome out;
  out.command = claims->command;
  out.jti = claims->jti;
  out.seq = claims->seq;
  out.reply = std::move(reply).value();
  return out;
}

Result<crypto::VerifiedRotation> Agent::verify_link(const crypto::SignedRotation& link,
                                                    const AgentState& holder) {
  if (options_.cache) {
    if (auto cached = options_.cache->find_link(link.by_old, link.by_new)) {
      if (cached->from != holder.pinned_fingerprint())
        return make_error(ErrorKind::kCrypto, "rotation statement rejected: from is not the pinned key");
      if (cached->generation <= holder.generation) {
        return make_error(ErrorKind::kCrypto, "rotation statement rejected: generation " +
                                                  std::to_string(cached->generation) +
                                                  " is not newer (rollback)");
      }
      return *cached;
    }
  }
  CK_ASSIGN_OR_RETURN(crypto::VerifiedRotation v,
                      crypto::verify_rotation(link.by_old, link.by_new,
                                              holder.pinned->public_key(), holder.generation));
  if (options_.cache) options_.cache->remember_link(link.by_old, link.by_new, v);
  return v;
}

Status Agent::walk_rotations(const std::vector<protocol::RotationLink>& links, CheckinOutcome& out) {
  AgentState next = state_;
  for (const auto& link : links) {
    // A link to the key already pinned was delivered twice (pushed on the channel and
    // carried by a check-in that crossed it): nothing to do, and no attack to count.
    // (Only the header is read: a malformed link naming the pinned key is skipped here
    // too, and could not have moved the pin either.)
    if (kid_of(link.by_new) == next.pinned_fingerprint()) {
      spdlog::debug("rotation link already followed agent_id={} to={}", state_.agent_id, next.pinned_fingerprint());
      continue;
    }
    auto v = verify_link(crypto::SignedRotation{link.by_old, link.by_new}, next);
    if (!v.ok()) {
      ++out.links_rejected;
      ++counters_.links_rejected;
      spdlog::warn("rotation link rejected agent_id={} reason=\"{}\"", state_.agent_id, v.error().message);
      continue;
    }
    spdlog::info("rotation accepted agent_id={} from={} to={} n={}", state_.agent_id, v->from, v->to,
                 v->generation);
    next.pinned = intern(std::move(v->new_cert));
    next.generation = v->generation;
    ++out.links_accepted;
    ++counters_.links_accepted;
  }
  if (out.links_accepted > 0) {
    CK_RETURN_IF_ERROR(commit(std::move(next), true));
    out.rotated = true;
  }
  return ok_status();
}

Result<CheckinOutcome> Agent::apply_checkin_response(std::string_view body) {
  auto parsed = [&]() -> Result<protocol::CheckinResponse> {
    CK_ASSIGN_OR_RETURN(auto value, protocol::parse_json_body(body, kMaxCheckinResponseBytes));
    return protocol::checkin_response_from_json(value);
  }();
  if (!parsed.ok()) {
    spdlog::warn("check-in response rejected agent_id={} reason=\"{}\"", state_.agent_id,
                 parsed.error().message);
    return parsed.error();
  }
  CheckinOutcome out;
  out.server_current = parsed->current_fingerprint;
  auto handle = [&](const std::string& jws) {
    auto r = handle_message(jws);
    if (!r.ok()) {
      if (r.error().kind == ErrorKind::kIo || r.error().kind == ErrorKind::kPermissionDenied)
        return Status(r.error());
      if (r.error().kind == ErrorKind::kConflict) {
        ++out.messages_duplicate;
        return ok_status();
      }
      ++out.messages_rejected;
      return ok_status();
    }
    ++out.messages_accepted;
    if (r->reply) out.replies.push_back(std::move(*r->reply));
    return ok_status();
  };
  // 1. Messages signed with the key we pin now (a stale agent gets those).
  std::vector<const std::string*> deferred;
  for (const auto& m : parsed->messages) {
    if (kid_of(m) == state_.pinned_fingerprint()) {
      CK_RETURN_IF_ERROR(handle(m));
    } else {
      deferred.push_back(&m);
    }
  }
  // 2. The rotation walk, link by link from the pinned key.
  CK_RETURN_IF_ERROR(walk_rotations(parsed->rotations, out));
  // 3. Messages signed with the key we pin after the walk (others are rejected).
  for (const std::string* m : deferred) CK_RETURN_IF_ERROR(handle(*m));
  out.up_to_date = state_.pinned_fingerprint() == parsed->current_fingerprint;
  return out;
}

Result<CheckinOutcome> Agent::apply_channel_frame(std::string_view frame) {
  auto parsed = [&]() -> Result<protocol::ChannelRotation> {
    CK_ASSIGN_OR_RETURN(auto value, protocol::parse_json_body(frame, protocol::kMaxServerFrameBytes));
    return protocol::channel_rotation_from_json(value);
  }();
  if (!parsed.ok()) {
    spdlog::warn("channel frame rejected agent_id={} reason=\"{}\"", state_.agent_id, parsed.error().message);
    return parsed.error();
  }
  CheckinOutcome out;
  out.server_current = parsed->current_fingerprint;
  CK_RETURN_IF_ERROR(walk_rotations(parsed->rotations, out));
  out.up_to_date = state_.pinned_fingerprint() == parsed->current_fingerprint;
  return out;
}

protocol::CheckinRequest Agent::checkin_request(const HostInfo& host, bool channel_open) const {
  protocol::CheckinRequest r;
  r.agent_id = state_.agent_id;
  r.hostname = host.hostname;
  r.ip = host.ip;
  r.domain = host.domain;
  r.os = host.os;
  r.agent_version = kAgentVersion;
  r.pinned_fingerprint = state_.pinned_fingerprint();
  r.last_seq = state_.last_seq;
  r.channel_open = channel_open;
  return r;
}

protocol::ChannelHello Agent::channel_hello() const {
  return protocol::ChannelHello{state_.agent_id, state_.pinned_fingerprint(), state_.last_seq};
}

}  // namespace ck::agent
