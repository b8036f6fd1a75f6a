#include "protocol/message_queue.h"

namespace ck::protocol {

bool MessageQueue::enqueue(const std::string& agent_id, PendingCommand cmd) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = queues_.find(agent_id);
  if (it == queues_.end()) {
    if (queues_.size() >= max_agents_) return false;
    it = queues_.emplace(agent_id, std::deque<PendingCommand>()).first;
  }
  if (it->second.size() >= per_agent_limit_) {
    it->second.pop_front();
    --total_;
  }
  it->second.push_back(std::move(cmd));
  ++total_;
  return true;
}

int64_t MessageQueue::add_broadcast(PendingCommand cmd, const std::vector<std::string>& delivered_live) {
  std::lock_guard<std::mutex> lock(mu_);
  cmd.broadcast_id = next_broadcast_++;
  for (const auto& agent : delivered_live) {
    int64_t& seen = broadcast_seen_[agent];
    if (cmd.broadcast_id > seen) seen = cmd.broadcast_id;
  }
  if (broadcasts_.size() >= broadcast_limit_) broadcasts_.pop_front();
  broadcasts_.push_back(std::move(cmd));
  return broadcasts_.back().broadcast_id;
}

void MessageQueue::mark_broadcast_seen(const std::string& agent_id, int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t& seen = broadcast_seen_[agent_id];
  if (id > seen) seen = id;
}

std::vector<PendingCommand> MessageQueue::take(const std::string& agent_id, int64_t now) {
  std::vector<PendingCommand> out;
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = queues_.find(agent_id); it != queues_.end()) {
    total_ -= it->second.size();
    for (auto& c : it->second) {
      if (c.exp > now) out.push_back(std::move(c));
    }
    queues_.erase(it);
  }
  if (!broadcasts_.empty()) {
    int64_t& seen = broadcast_seen_[agent_id];
    for (const auto& b : broadcasts_) {
      if (b.broadcast_id > seen && b.exp > now) out.push_back(b);
    }
    seen = broadcasts_.back().broadcast_id;
  }
  return out;
}

void MessageQueue::put_back(const std::string& agent_id, std::vector<PendingCommand> cmds) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& q = queues_[agent_id];
  for (auto it = cmds.rbegin(); it != cmds.rend(); ++it) {
    if (it->broadcast_id > 0) {
      // Undo "seen" so the broadcast is offered again.
      int64_t& seen = broadcast_seen_[agent_id];
      if (seen >= it->broadcast_id) seen = it->broadcast_id - 1;
      continue;
    }
    q.push_front(std::move(*it));
    ++total_;
  }
  while (q.size() > per_agent_limit_) {
    q.pop_front();
    --total_;
  }
  if (q.empty()) queues_.erase(agent_id);
}

size_t MessageQueue::queued_for(const std::string& agent_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = queues_.find(agent_id);
  return it == queues_.end() ? 0 : it->second.size();
}

size_t MessageQueue::total_queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

}  // namespace ck::protocol
