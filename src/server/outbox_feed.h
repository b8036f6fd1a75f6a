// OutboxFeed: this server's in-memory view of the unexpired outbox, refreshed from the
// database when its counter moves (every server has one; the outbox is the truth).
// pending_for() answers "what is due for this agent above the seq it has accepted"
// without a database read, so check-ins and channel hellos stay cheap.
//
// Memory is bounded by the outbox itself: messages leave the view when they expire,
// and at most kMaxCached are kept (the oldest go first, with a warning).
// Thread-safety: every method from any thread (refreshes are serialized; readers take
// an immutable snapshot).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "outbox/outbox.h"

namespace ck::server {

class OutboxFeed {
 public:
  static constexpr size_t kMaxCached = 100000;

  OutboxFeed(outbox::Outbox& outbox, const Clock& clock) : outbox_(outbox), clock_(clock) {}

  // Reads what was added since the last refresh and drops what expired. Returns the
  // new messages (seq ascending). Errors leave the view as it was.
  Result<std::vector<outbox::Message>> refresh();

  // Unexpired messages in the view with seq > `after` (whatever refreshed them).
  std::vector<outbox::Message> since(int64_t after) const;

  // Unexpired messages addressed to `agent_id` (or broadcast) with seq > `after`,
  // by seq ascending.
  std::vector<outbox::Message> pending_for(std::string_view agent_id, int64_t after) const;

  size_t size() const;
  // The highest seq this view has read (0 before the first refresh).
  int64_t seen_seq() const;

 private:
  struct View {
    std::vector<outbox::Message> all;  // by seq
    std::unordered_map<std::string, std::vector<size_t>> by_agent;  // indexes into all
    std::vector<size_t> broadcasts;
  };
  static std::shared_ptr<const View> index(std::vector<outbox::Message> all);
  std::shared_ptr<const View> view() const;

  outbox::Outbox& outbox_;
  const Clock& clock_;
  std::mutex refresh_mu_;  // one refresh at a time
  mutable std::mutex mu_;
  std::shared_ptr<const View> view_ = std::make_shared<View>();
  int64_t seen_ = 0;
};

}  // namespace ck::server
