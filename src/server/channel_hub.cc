#include "server/channel_hub.h"

namespace ck::server {

std::shared_ptr<Channel> ChannelHub::attach(const std::string& agent_id, std::shared_ptr<Channel> channel) {
  std::shared_ptr<Channel> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = live_[agent_id];
    if (slot && slot->sink != channel->sink) old = std::move(slot);
    slot = std::move(channel);
  }
  if (old) old->sink->close();
  return old;
}

void ChannelHub::detach(const std::string& agent_id, const ChannelSink* sink) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(agent_id);
  if (it != live_.end() && it->second->sink.get() == sink) live_.erase(it);
}

std::shared_ptr<Channel> ChannelHub::find(const std::string& agent_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(agent_id);
  return it == live_.end() ? nullptr : it->second;
}

std::vector<ChannelHub::Entry> ChannelHub::all() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {live_.begin(), live_.end()};
}

size_t ChannelHub::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_.size();
}

void ChannelHub::close_all() {
  std::unordered_map<std::string, std::shared_ptr<Channel>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all.swap(live_);
  }
  for (auto& [id, ch] : all) ch->sink->close();
}

}  // namespace ck::server
