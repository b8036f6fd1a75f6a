// AgentState: everything an agent must remember between runs — its id, the pinned
// authentication certificate, the generation it holds, the last accepted message
// sequence number and a bounded memory of accepted `jti`s (DESIGN.md §4–5).
// Plain value type; not thread-safe (one owner).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "crypto/x509.h"

namespace ck::agent {

struct AgentState {
  std::string agent_id;
  // The pinned certificate (the content of OfcNTCer.dat). Shared, immutable.
  std::shared_ptr<const crypto::Certificate> pinned;
  // Generation of the pinned certificate; 0 for a hand-copied OfcNTCer.dat.
  int64_t generation = 0;
  // Highest accepted message `seq`; only larger ones are accepted.
  int64_t last_seq = 0;
  // Accepted `jti`s, oldest first, at most AgentOptions::max_seen_jti.
  std::deque<std::string> seen_jti;
  // SHA-256 (hex) of the OfcNTCer.dat bytes that correspond to `pinned`, and of the
  // bytes before our last rewrite (to recover from a crash between the two writes).
  std::string dat_sha256;
  std::string previous_dat_sha256;

  const std::string& pinned_fingerprint() const;
};

// A fresh random id ("agent-" + 16 hex digits).
std::string generate_agent_id();

// Stable JSON form (fixed key order, so equal states serialize to equal bytes).
std::string serialize_state(const AgentState& state);
// Parses serialize_state()'s output. Errors: kCorrupt.
Result<AgentState> parse_state(std::string_view text);

}  // namespace ck::agent
