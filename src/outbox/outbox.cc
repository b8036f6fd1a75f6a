#include "outbox/outbox.h"

#include <chrono>

#include "crypto/encoding.h"

namespace ck::outbox {

Message new_message(std::string command, boost::json::object args, std::string audience, int64_t now,
                    int64_t lifetime_seconds) {
  Message m;
  m.jti = crypto::to_hex(crypto::random_bytes(16));
  m.command = std::move(command);
  m.args = std::move(args);
  m.audience = std::move(audience);
  m.iat = now;
  m.exp = now + lifetime_seconds;
  return m;
}

Error too_many_pending(const std::string& audience) {
  return make_error(ErrorKind::kBusy, std::to_string(kMaxPendingPerAudience) + " messages for " +
                                          (audience == kBroadcast ? std::string("every agent") : audience) +
                                          " are still pending; wait until they expire (an hour after they were sent)");
}

int64_t initial_seq() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace ck::outbox
