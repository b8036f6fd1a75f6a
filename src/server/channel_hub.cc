#include "protocol/channel_hub.h"

namespace ck::protocol {

std::optional<ChannelHub::Live> ChannelHub::attach(const std::string& agent_id, const std::string& pinned,
                                                   std::shared_ptr<ChannelSink> sink) {
  std::optional<Live> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Live& slot = live_[agent_id];
    if (slot.sink && slot.sink != sink) old = Live{std::move(slot.sink), std::move(slot.pinned)};
    slot.sink = std::move(sink);
    slot.pinned = pinned;
  }
  if (old) old->sink->close();
  return old;
}

void ChannelHub::detach(const std::string& agent_id, const ChannelSink* sink) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(agent_id);
  if (it != live_.end() && it->second.sink.get() == sink) live_.erase(it);
}

void ChannelHub::update_pinned(const std::string& agent_id, const std::string& pinned) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(agent_id);
  if (it != live_.end()) it->second.pinned = pinned;
}

std::optional<ChannelHub::Live> ChannelHub::find(const std::string& agent_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(agent_id);
  if (it == live_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, ChannelHub::Live>> ChannelHub::all() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {live_.begin(), live_.end()};
}

size_t ChannelHub::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_.size();
}

void ChannelHub::close_all() {
  std::unordered_map<std::string, Live> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all.swap(live_);
  }
  for (auto& [id, live] : all) live.sink->close();
}

}  // namespace ck::protocol
