#include "agent/memory_state_store.h"

namespace ck::agent {

Result<std::optional<std::string>> MemoryStateStore::read_agent_key_if_changed() {
  if (!key_) return make_error(ErrorKind::kNotFound, "no agent key in memory");
  if (!key_changed_) return std::optional<std::string>();
  key_changed_ = false;
  return std::optional<std::string>(*key_);
}

Status MemoryStateStore::write_agent_key(const std::string& bytes) {
  if (!key_ || *key_ != bytes) key_ = std::make_shared<const std::string>(bytes);
  key_changed_ = false;  // our own write is not a hand copy
  return ok_status();
}

}  // namespace ck::agent
