// Agent: the socket-free agent state machine (DESIGN.md §4–5, issue #5).
//
// It pins the certificate in OfcNTCer.dat, verifies every server-initiated message
// (JWS, kid = pinned fingerprint) and its claims (typ, aud, exp, iat, jti, seq), runs
// the few known commands, and follows rotation statements link by link. Every check
// fails closed, and a rejected input never changes the persisted state (the store's
// files stay byte-identical). Accepted inputs are persisted before they count:
// state first, then OfcNTCer.dat, so a crash in between is recovered on the next start.
//
// Thread-safety: none; drive one Agent from one strand/thread.
#pragma once

#include <boost/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/agent_state.h"
#include "agent/agent_state_store.h"
#include "agent/cert_cache.h"
#include "agent/checkin_wire.h"
#include "common/clock.h"
#include "common/result.h"
#include "protocol/wire.h"

namespace ck::agent {

struct AgentOptions {
  // Requested id; empty keeps the saved one or generates one on first start.
  std::string agent_id;
  const Clock* clock = nullptr;  // default: system clock
  int64_t max_skew_seconds = 120;
  size_t max_seen_jti = 512;
  // Shared parsed certificates and verified links (fleet); null = private.
  std::shared_ptr<CertCache> cache;
};

struct MessageOutcome {
  std::string command;
  std::string jti;
  int64_t seq = 0;
  std::optional<boost::json::object> reply;  // to send back over the channel
};

struct CheckinOutcome {
  int messages_accepted = 0;
  int messages_rejected = 0;
  int messages_duplicate = 0;
  int links_accepted = 0;
  int links_rejected = 0;
  bool rotated = false;
  bool up_to_date = false;  // pinned == the server's current fingerprint afterwards
  std::string server_current;  // the current fingerprint the server reported
  std::vector<boost::json::object> replies;
};

struct AgentCounters {
  uint64_t messages_accepted = 0;
  uint64_t messages_rejected = 0;
  // Verified messages whose jti was already accepted (the same message delivered by
  // both the channel and a check-in, or replayed): ignored without a state change.
  uint64_t messages_duplicate = 0;
  uint64_t links_accepted = 0;
  uint64_t links_rejected = 0;
  uint64_t hand_copies = 0;
};

class Agent {
 public:
  // Loads the state (or starts one from OfcNTCer.dat with generation 0).
  // Errors: kNotFound when there is neither state nor OfcNTCer.dat, kCorrupt, kIo.
  static Result<std::unique_ptr<Agent>> open(std::unique_ptr<AgentStateStore> store,
                                             AgentOptions options);

  const std::string& agent_id() const { return state_.agent_id; }
  const std::string& pinned_fingerprint() const { return state_.pinned_fingerprint(); }
  int64_t generation() const { return state_.generation; }
  int64_t last_seq() const { return state_.last_seq; }
  const AgentState& state() const { return state_; }
  const AgentCounters& counters() const { return counters_; }
  AgentStateStore& store() { return *store_; }

  // Picks up an OfcNTCer.dat copied by hand (content changed and is not ours):
  // re-pins it with generation 0. Returns true when the pin changed. A file that does
  // not parse is logged and ignored (the old pin stays).
  Result<bool> refresh_agent_key();

  // One server-initiated message (a WebSocket frame or a check-in entry).
  // Errors: kCrypto / kInvalidArgument for rejected messages, kConflict for a verified
  // duplicate of an accepted message (state unchanged in all three), kIo.
  Result<MessageOutcome> handle_message(std::string_view jws);

  // A check-in answer: messages signed by the pinned key, then the rotation walk,
  // then messages signed by the new key. Errors only for a malformed body or I/O.
  Result<CheckinOutcome> apply_checkin_response(std::string_view body);

  // A typed channel frame (protocol::is_typed_frame): key deployment, the rotation
  // path from the pinned key, walked and verified exactly as in a check-in answer.
  // Errors only for a malformed frame or I/O; rejected links are counted.
  Result<CheckinOutcome> apply_channel_frame(std::string_view frame);

  // `channel_open`: this agent holds a channel, so its messages come there.
  protocol::CheckinRequest checkin_request(const HostInfo& host, bool channel_open = false) const;
  // The channel hello: agent id, pin and last accepted seq.
  protocol::ChannelHello channel_hello() const;

 private:
  Agent(std::unique_ptr<AgentStateStore> store, AgentOptions options)
      : store_(std::move(store)), options_(std::move(options)) {}
  int64_t now() const { return (options_.clock ? *options_.clock : system_clock()).now(); }
  Result<std::shared_ptr<const crypto::Certificate>> parse_cert(std::string_view bytes);
  std::shared_ptr<const crypto::Certificate> intern(crypto::Certificate cert);
  Result<crypto::VerifiedRotation> verify_link(const crypto::SignedRotation& link,
                                               const AgentState& holder);
  // Compares OfcNTCer.dat's bytes with what we pin; see refresh_agent_key().
  Result<bool> reconcile_key(const std::string& bytes);
  // Walks `links` from the pinned key; commits when at least one was accepted.
  Status walk_rotations(const std::vector<protocol::RotationLink>& links, CheckinOutcome& out);
  // Persists `next` (state, then OfcNTCer.dat when the pin changed) and adopts it.
  Status commit(AgentState next, bool pin_changed);

  std::unique_ptr<AgentStateStore> store_;
  AgentOptions options_;
  AgentState state_;
  AgentCounters counters_;
};

}  // namespace ck::agent
