// Open agent channels (GET /v1/channel WebSockets) by agent id, with the fingerprint
// each agent pins (from the channel's own hellos only: a check-in, on another
// connection, does not change it). The net layer implements ChannelSink; the hub never
// touches sockets. One channel per agent: a new one replaces (and closes) the old.
// Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ck::protocol {

class ChannelSink {
 public:
  virtual ~ChannelSink() = default;
  // Queues one text frame for sending. Thread-safe; never blocks.
  virtual void push(std::string frame) = 0;
  // Closes the channel (normal closure). Thread-safe.
  virtual void close() = 0;
};

class ChannelHub {
 public:
  struct Live {
    std::shared_ptr<ChannelSink> sink;
    std::string pinned;
  };

  // Returns the channel it replaced (already asked to close), if another was live.
  std::optional<Live> attach(const std::string& agent_id, const std::string& pinned,
                             std::shared_ptr<ChannelSink> sink);
  // Removes the entry only when it still belongs to `sink`.
  void detach(const std::string& agent_id, const ChannelSink* sink);
  void update_pinned(const std::string& agent_id, const std::string& pinned);

  std::optional<Live> find(const std::string& agent_id) const;
  std::vector<std::pair<std::string, Live>> all() const;
  size_t size() const;
  // Closes every channel (shutdown).
  void close_all();

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, Live> live_;
};

}  // namespace ck::protocol
