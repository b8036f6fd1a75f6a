#include "server/outbox_feed.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace ck::server {

std::shared_ptr<const OutboxFeed::View> OutboxFeed::index(std::vector<outbox::Message> all) {
  auto v = std::make_shared<View>();
  v->all = std::move(all);
  for (size_t i = 0; i < v->all.size(); ++i) {
    if (v->all[i].is_broadcast()) {
      v->broadcasts.push_back(i);
    } else {
      v->by_agent[v->all[i].audience].push_back(i);
    }
  }
  return v;
}

std::shared_ptr<const OutboxFeed::View> OutboxFeed::view() const {
  std::lock_guard lock(mu_);
  return view_;
}

Result<std::vector<outbox::Message>> OutboxFeed::refresh() {
  std::lock_guard refreshing(refresh_mu_);
  const int64_t now = clock_.now();
  int64_t seen;
  {
    std::lock_guard lock(mu_);
    seen = seen_;
  }
  CK_ASSIGN_OR_RETURN(int64_t counter, outbox_.last_seq());
  std::vector<outbox::Message> fresh;
  if (counter != seen) {
    // Adds commit in seq order, so everything up to `counter` is visible now.
    for (int64_t after = seen;;) {
      CK_ASSIGN_OR_RETURN(auto batch, outbox_.since(after, now));
      if (batch.empty()) break;
      after = batch.back().seq;
      const bool more = batch.size() >= outbox::kMaxBatch;
      for (auto& m : batch) fresh.push_back(std::move(m));
      if (!more) break;
    }
    seen = std::max(counter, fresh.empty() ? seen : fresh.back().seq);
  }
  auto old = view();
  const bool expired = std::any_of(old->all.begin(), old->all.end(), [now](const auto& m) { return m.exp <= now; });
  if (fresh.empty() && !expired) {
    std::lock_guard lock(mu_);
    seen_ = seen;
    return fresh;
  }
  std::vector<outbox::Message> all;
  all.reserve(old->all.size() + fresh.size());
  for (const auto& m : old->all) {
    if (m.exp > now) all.push_back(m);
  }
  all.insert(all.end(), fresh.begin(), fresh.end());
  if (all.size() > kMaxCached) {
    spdlog::warn("outbox: {} unexpired messages; this server keeps the newest {}", all.size(), kMaxCached);
    all.erase(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(all.size() - kMaxCached));
  }
  auto next = index(std::move(all));
  std::lock_guard lock(mu_);
  view_ = std::move(next);
  seen_ = seen;
  return fresh;
}

std::vector<outbox::Message> OutboxFeed::pending_for(std::string_view agent_id, int64_t after) const {
  auto v = view();
  const int64_t now = clock_.now();
  std::vector<size_t> picks;
  auto take = [&](const std::vector<size_t>& idx) {
    // Indexes are by seq: skip to the first above `after`.
    auto it = std::upper_bound(idx.begin(), idx.end(), after,
                               [&](int64_t a, size_t i) { return a < v->all[i].seq; });
    for (; it != idx.end(); ++it) {
      if (v->all[*it].exp > now) picks.push_back(*it);
    }
  };
  take(v->broadcasts);
  if (auto it = v->by_agent.find(std::string(agent_id)); it != v->by_agent.end()) take(it->second);
  std::sort(picks.begin(), picks.end());
  std::vector<outbox::Message> out;
  out.reserve(picks.size());
  for (size_t i : picks) out.push_back(v->all[i]);
  return out;
}

std::vector<outbox::Message> OutboxFeed::since(int64_t after) const {
  auto v = view();
  const int64_t now = clock_.now();
  std::vector<outbox::Message> out;
  for (const auto& m : v->all) {
    if (m.seq > after && m.exp > now) out.push_back(m);
  }
  return out;
}

size_t OutboxFeed::size() const { return view()->all.size(); }

int64_t OutboxFeed::seen_seq() const {
  std::lock_guard lock(mu_);
  return seen_;
}

}  // namespace ck::server
