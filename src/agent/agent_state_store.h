// AgentStateStore: where an agent keeps its state and the files its commands write.
// Two implementations: FileStateStore (an installation folder: OfcNTCer.dat,
// agent_state.json, policy.json, scan.log, replies.log) and MemoryStateStore (the
// fleet simulator's in-memory agents, and tests).
//
// Contract: every write is all-or-nothing (files are replaced atomically).
// Not thread-safe: one agent uses its store from one strand at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "agent/agent_state.h"
#include "common/result.h"

namespace ck::agent {

inline constexpr const char* kAgentKeyFileName = "OfcNTCer.dat";
inline constexpr size_t kMaxAgentKeyFileBytes = 64 * 1024;

class AgentStateStore {
 public:
  virtual ~AgentStateStore() = default;

  // The saved state, or nullopt before the first save. Errors: kCorrupt, kIo.
  virtual Result<std::optional<AgentState>> load_state() = 0;
  virtual Status save_state(const AgentState& state) = 0;

  // The bytes of OfcNTCer.dat when it may have changed since the previous call
  // (always on the first call), else nullopt. Errors: kNotFound when it is missing.
  virtual Result<std::optional<std::string>> read_agent_key_if_changed() = 0;
  // Replaces OfcNTCer.dat atomically.
  virtual Status write_agent_key(const std::string& bytes) = 0;

  // Command effects.
  virtual Status write_policy(const std::string& json_text) = 0;
  virtual Status append_scan_log(const std::string& line) = 0;
  virtual Status append_reply(const std::string& line) = 0;

  // Human-readable location for logs.
  virtual std::string describe() const = 0;
};

}  // namespace ck::agent
