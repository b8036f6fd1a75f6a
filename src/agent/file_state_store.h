// FileStateStore: an agent installation folder (DESIGN.md §6, --install-dir):
//   OfcNTCer.dat        the pinned certificate (PEM written; PEM or DER read)
//   agent_state.json    AgentState (0600), replaced atomically
//   policy.json         written by the `set-policy` command
//   scan.log, replies.log  one line per `run-scan` / `ping`
// Not thread-safe.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <string>

#include "agent/agent_state_store.h"

namespace ck::agent {

class FileStateStore final : public AgentStateStore {
 public:
  // Creates `install_dir` if missing.
  static Result<std::unique_ptr<FileStateStore>> open(const std::string& install_dir);

  Result<std::optional<AgentState>> load_state() override;
  Status save_state(const AgentState& state) override;
  Result<std::optional<std::string>> read_agent_key_if_changed() override;
  Status write_agent_key(const std::string& bytes) override;
  Status write_policy(const std::string& json_text) override;
  Status append_scan_log(const std::string& line) override;
  Status append_reply(const std::string& line) override;
  std::string describe() const override { return dir_; }

  std::string path(const char* name) const { return dir_ + "/" + name; }

 private:
  explicit FileStateStore(std::string dir) : dir_(std::move(dir)) {}
  Status append_line(const char* name, const std::string& line);

  std::string dir_;
  bool key_seen_ = false;
  struct stat key_stat_{};
};

}  // namespace ck::agent
