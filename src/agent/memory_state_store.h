// MemoryStateStore: an AgentStateStore that lives in memory (fleet simulator, tests).
// The agent key "file" is a shared immutable byte string, so 100,000 agents that pin
// the same certificate share one copy. Not thread-safe (one strand per agent).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "agent/agent_state_store.h"

namespace ck::agent {

class MemoryStateStore final : public AgentStateStore {
 public:
  explicit MemoryStateStore(std::shared_ptr<const std::string> agent_key)
      : key_(std::move(agent_key)) {}

  Result<std::optional<AgentState>> load_state() override { return state_; }
  Status save_state(const AgentState& state) override {
    state_ = state;
    ++saves_;
    return ok_status();
  }
  Result<std::optional<std::string>> read_agent_key_if_changed() override;
  Status write_agent_key(const std::string& bytes) override;
  Status write_policy(const std::string& json_text) override {
    policy_ = json_text;
    return ok_status();
  }
  Status append_scan_log(const std::string&) override {
    ++scans_;
    return ok_status();
  }
  Status append_reply(const std::string&) override {
    ++replies_;
    return ok_status();
  }
  std::string describe() const override { return "memory"; }

  // A "hand copy" of OfcNTCer.dat: the agent picks it up at its next refresh.
  void replace_agent_key(std::shared_ptr<const std::string> bytes) {
    key_ = std::move(bytes);
    key_changed_ = true;
  }

  const std::optional<AgentState>& state() const { return state_; }
  const std::shared_ptr<const std::string>& agent_key() const { return key_; }
  const std::string& policy() const { return policy_; }
  int scans() const { return scans_; }
  int replies() const { return replies_; }
  int saves() const { return saves_; }

 private:
  std::optional<AgentState> state_;
  std::shared_ptr<const std::string> key_;
  bool key_changed_ = true;  // the first read sees it
  std::string policy_;
  int scans_ = 0, replies_ = 0, saves_ = 0;
};

}  // namespace ck::agent
