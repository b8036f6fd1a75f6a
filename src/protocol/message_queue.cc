#include "protocol/message_queue.h"

#include <spdlog/spdlog.h>

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

void MessageQueue::prune_broadcasts_locked(int64_t now) {
  bool dropped = false;
  // Broadcasts share one lifetime, so the oldest expires first.
  while (!broadcasts_.empty() && broadcasts_.front().exp <= now) {
    broadcasts_.pop_front();
    dropped = true;
  }
  if (dropped) forget_old_cursors_locked();
}

void MessageQueue::forget_old_cursors_locked() {
  if (broadcasts_.empty()) {
    broadcast_seen_.clear();
    cursor_cap_warned_ = false;
    return;
  }
  // A cursor below the oldest kept broadcast offers every kept one, like no cursor.
  const int64_t oldest = broadcasts_.front().broadcast_id;
  std::erase_if(broadcast_seen_, [oldest](const auto& entry) { return entry.second < oldest; });
}

int64_t MessageQueue::add_broadcast(PendingCommand cmd, const std::vector<std::string>& delivered_live) {
  std::lock_guard<std::mutex> lock(mu_);
  prune_broadcasts_locked(cmd.iat);
  cmd.broadcast_id = next_broadcast_++;
  // Agents with an open channel: bounded by the connections, not by the cap.
  for (const auto& agent : delivered_live) {
    int64_t& seen = broadcast_seen_[agent];
    if (cmd.broadcast_id > seen) seen = cmd.broadcast_id;
  }
  broadcasts_.push_back(std::move(cmd));
  if (broadcasts_.size() > broadcast_limit_) {
    broadcasts_.pop_front();
    forget_old_cursors_locked();
  }
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
  prune_broadcasts_locked(now);
  if (!broadcasts_.empty()) {
    auto cursor = broadcast_seen_.find(agent_id);
    if (cursor == broadcast_seen_.end()) {
      if (broadcast_seen_.size() >= max_agents_) {
        if (!cursor_cap_warned_) {
          spdlog::warn("broadcast cursors: {} agents already hold one; further agents get no broadcast until the "
                       "current ones expire",
                       broadcast_seen_.size());
          cursor_cap_warned_ = true;
        }
        return out;
      }
      cursor = broadcast_seen_.emplace(agent_id, 0).first;
    }
    for (const auto& b : broadcasts_) {
      if (b.broadcast_id > cursor->second && b.exp > now) out.push_back(b);
    }
    cursor->second = broadcasts_.back().broadcast_id;
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

size_t MessageQueue::broadcast_cursors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return broadcast_seen_.size();
}

}  // namespace ck::protocol
