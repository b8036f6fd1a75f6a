// Server-initiated commands waiting for delivery: per-agent queues (bounded; the
// oldest is dropped when full) and a bounded list of broadcasts ("to": "all") with a
// per-agent cursor so each agent gets each broadcast once. Entries are unsigned:
// the signature (key choice, seq, "aud" = the agent's id) is made at delivery time,
// for the key the agent pins then. Expired entries are dropped when taken.
//
// Memory is bounded: broadcasts are forgotten once expired (or beyond
// `broadcast_limit`), cursors only exist while a broadcast does, and at most
// `max_agents` agents have a queue or a cursor (any agent id can check in, so cursors
// made by check-ins are capped: past the cap, further agents get no broadcast until
// older ones expire). In memory only. Thread-safe.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace ck::protocol {

struct PendingCommand {
  std::string cmd;
  boost::json::object args;
  int64_t iat = 0;
  int64_t exp = 0;
  std::string jti;
  int64_t broadcast_id = 0;  // > 0 for broadcasts
};

class MessageQueue {
 public:
  explicit MessageQueue(size_t per_agent_limit = 64, size_t broadcast_limit = 64, size_t max_agents = 1 << 20)
      : per_agent_limit_(per_agent_limit), broadcast_limit_(broadcast_limit), max_agents_(max_agents) {}

  // Queues `cmd` for `agent_id`. False when the queue table is full (too many agents).
  bool enqueue(const std::string& agent_id, PendingCommand cmd);

  // Adds a broadcast and, in the same step, marks it seen for `delivered_live` (the
  // agents it is about to be pushed to), so a concurrent check-in of one of them does
  // not take it a second time. Returns its id (1, 2, ...).
  int64_t add_broadcast(PendingCommand cmd, const std::vector<std::string>& delivered_live = {});
  // Records that `agent_id` has received broadcast `id` (live push).
  void mark_broadcast_seen(const std::string& agent_id, int64_t id);

  // Removes and returns everything due for `agent_id` not expired at `now`: its own
  // queue, then broadcasts it has not seen. Marks those broadcasts seen.
  std::vector<PendingCommand> take(const std::string& agent_id, int64_t now);
  // Puts commands taken but not delivered back at the front (e.g. signing failed).
  void put_back(const std::string& agent_id, std::vector<PendingCommand> cmds);

  size_t queued_for(const std::string& agent_id) const;
  size_t total_queued() const;
  // Agents with a broadcast cursor (tests, metrics).
  size_t broadcast_cursors() const;

 private:
  // Drops expired broadcasts (and, beyond them, the cursors that no longer matter).
  void prune_broadcasts_locked(int64_t now);
  // Forgets cursors equivalent to "none": below the oldest broadcast kept.
  void forget_old_cursors_locked();

  const size_t per_agent_limit_, broadcast_limit_, max_agents_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::deque<PendingCommand>> queues_;
  size_t total_ = 0;
  std::deque<PendingCommand> broadcasts_;
  int64_t next_broadcast_ = 1;
  std::unordered_map<std::string, int64_t> broadcast_seen_;
  bool cursor_cap_warned_ = false;
};

}  // namespace ck::protocol
