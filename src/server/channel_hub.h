// Open agent channels (GET /v1/channel WebSockets) by agent id. Each entry is a
// Channel: the sink the net layer implements plus what delivery needs to keep per
// channel — the fingerprint the agent pins (from the channel's own hellos only: a
// check-in, on another connection, does not change it), the highest message seq
// already pushed or acknowledged, and the certificate whose rotation path was pushed.
// One channel per agent: a new one replaces (and closes) the old. The hub never
// touches sockets.
// Thread-safety: the hub is thread-safe; a Channel's fields are guarded by its `mu`,
// which delivery holds while it signs and pushes, so frames to one agent leave in
// seq order.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ck::server {

class ChannelSink {
 public:
  virtual ~ChannelSink() = default;
  // Queues one text frame for sending. Thread-safe; never blocks.
  virtual void push(std::string frame) = 0;
  // Closes the channel (normal closure). Thread-safe.
  virtual void close() = 0;
};

struct Channel {
  explicit Channel(std::shared_ptr<ChannelSink> s, std::string key = {}) : sink(std::move(s)), peer_key(std::move(key)) {}
  const std::shared_ptr<ChannelSink> sink;
  const std::string peer_key;  // the client key its TLS peer presented ("" for none)
  std::mutex mu;
  std::string pinned;            // guarded by mu
  int64_t delivered_seq = 0;     // guarded by mu: pushed here or acknowledged by the agent
  std::string rotation_sent_to;  // guarded by mu: current fingerprint whose path was pushed
  // guarded by mu: after a rotation path was pushed, messages (which would be signed
  // with the key the agent is leaving) wait until its hello names the new pin, or until
  // this time (unix seconds) when it did not follow.
  int64_t hold_messages_until = 0;
  int64_t pin_report_second = 0;    // guarded by mu: rate limit of pin reports
  int pin_reports_this_second = 0;  // guarded by mu
  std::string reported_pin;     // guarded by mu: the pin last sent to the registry
};

class ChannelHub {
 public:
  using Entry = std::pair<std::string, std::shared_ptr<Channel>>;

  // Registers `channel` for `agent_id`. Returns the channel it replaced (already asked
  // to close), if another was live.
  std::shared_ptr<Channel> attach(const std::string& agent_id, std::shared_ptr<Channel> channel);
  // Removes the entry only when it still belongs to `sink`.
  void detach(const std::string& agent_id, const ChannelSink* sink);

  std::shared_ptr<Channel> find(const std::string& agent_id) const;
  std::vector<Entry> all() const;
  size_t size() const;
  // Closes every channel (shutdown).
  void close_all();

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Channel>> live_;
};

}  // namespace ck::server
