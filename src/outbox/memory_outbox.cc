// The in-memory Outbox (unit tests of the server core): same contract, no durability.
#include <algorithm>
#include <mutex>

#include "outbox/message_row.h"
#include "outbox/outbox.h"

namespace ck::outbox {
namespace {

class MemoryOutbox final : public Outbox {
 public:
  explicit MemoryOutbox(int64_t first_seq) : last_(first_seq - 1) {}

  Result<Message> add(Message m) override {
    std::lock_guard lock(mu_);
    for (const auto& x : messages_) {
      if (x.jti == m.jti) return make_error(ErrorKind::kConflict, "message " + m.jti + " is already in the outbox");
    }
    int64_t pending = 0;
    for (const auto& x : messages_) pending += (x.audience == m.audience && x.exp > m.iat) ? 1 : 0;
    if (pending >= kMaxPendingPerAudience) return too_many_pending(m.audience);
    m.seq = ++last_;
    messages_.push_back(m);
    return m;
  }

  Result<std::vector<Message>> since(int64_t after, int64_t now, size_t limit) override {
    std::lock_guard lock(mu_);
    std::vector<Message> out;
    for (const auto& m : messages_) {
      if (out.size() >= limit) break;
      if (m.seq > after && m.exp > now) out.push_back(m);
    }
    return out;
  }

  Result<int64_t> last_seq() override {
    std::lock_guard lock(mu_);
    return last_;
  }

  Result<int64_t> prune(int64_t before) override {
    std::lock_guard lock(mu_);
    return static_cast<int64_t>(std::erase_if(messages_, [before](const Message& m) { return m.exp <= before; }));
  }

  std::string location() const override { return "memory:"; }

 private:
  std::mutex mu_;
  int64_t last_;
  std::vector<Message> messages_;  // by seq ascending
};

}  // namespace

std::unique_ptr<Outbox> make_memory_outbox(int64_t first_seq) { return std::make_unique<MemoryOutbox>(first_seq); }

}  // namespace ck::outbox
