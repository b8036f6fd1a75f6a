// The console's overview (GET /api/overview and the `overview` events of
// /api/events): the current certificate, every certificate in the store with how many
// endpoints pin it, and the fleet's totals. Built from the server's keyring snapshot
// and the registry's count_by_fingerprint.
//
// OverviewFeed keeps the latest overview, recomputed every `period` on a thread of its
// own (not on an I/O thread) while someone looks — a request or an event stream in
// the last 10 s — and idle otherwise. `version` moves only when the content changes
// (the countdown and generated_at do not count), which is what the event stream
// watches. Thread-safe.
#pragma once

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/result.h"
#include "store/rotation_chain.h"

namespace ck::console {

// The overview document (shape: docs/console.md).
boost::json::object overview_json(const store::Keyring& ring, const std::map<std::string, int64_t>& counts,
                                  int64_t now);

struct OverviewSources {
  std::function<std::shared_ptr<const store::Keyring>()> snapshot;
  std::function<Result<std::map<std::string, int64_t>>()> count_by_fingerprint;
  const Clock* clock = nullptr;
};

class OverviewFeed {
 public:
  struct Current {
    std::string json;
    uint64_t version = 0;
  };

  explicit OverviewFeed(OverviewSources sources, std::chrono::milliseconds period = std::chrono::milliseconds(500));
  ~OverviewFeed();
  OverviewFeed(const OverviewFeed&) = delete;
  OverviewFeed& operator=(const OverviewFeed&) = delete;

  // The latest overview, at most about a second old (computed here when the thread
  // was idle). Errors: the registry's.
  Result<Current> current();
  // Ends the thread (also done by the destructor).
  void stop();

 private:
  void run();
  Status refresh();

  const OverviewSources sources_;
  const std::chrono::milliseconds period_;
  std::mutex refresh_mu_;  // one computation at a time
  std::mutex mu_;
  std::condition_variable cv_;
  Current current_;                                  // guarded by mu_
  std::string content_;                              // guarded by mu_: what `version` tracks
  std::chrono::steady_clock::time_point computed_;   // guarded by mu_
  std::chrono::steady_clock::time_point last_wanted_;  // guarded by mu_
  bool stopping_ = false;                            // guarded by mu_
  std::thread thread_;
};

}  // namespace ck::console
