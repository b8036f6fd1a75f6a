// The server's view of the certificate store: the current Keyring snapshot (swapped
// atomically on change) plus the rotation planner with its cache of minted links.
// poll() is meant to run every ~250 ms: it reads the store's change counter and
// reloads only when it moved, so a `certmgr -c` is picked up within a second.
// Thread-safe: snapshot()/plan() from any thread, poll() from one thread at a time.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "store/cert_store.h"
#include "store/rotation_chain.h"

namespace ck::server {

inline constexpr int64_t kExpiryWarningSeconds = 30 * 24 * 3600;

class CertState {
 public:
  CertState(store::CertStore& store, const Clock* clock = nullptr)
      : store_(store), clock_(clock ? clock : &system_clock()), chain_(clock_) {}

  // First load. Errors: kNotFound when there is no current certificate.
  Status load();
  // Reloads when the store changed. Returns true when a new snapshot was installed.
  // Keeps the old snapshot (and logs) when the reload fails.
  Result<bool> poll();

  std::shared_ptr<const store::Keyring> snapshot() const;
  // The plan for `pinned` against `ring` (a snapshot from this object).
  Result<store::RotationPlan> plan(const store::Keyring& ring, const std::string& pinned);

  // Seconds until the current certificate's notAfter (negative when past).
  int64_t seconds_until_expiry() const;
  int64_t reloads() const { return reloads_.load(); }

 private:
  void install(std::shared_ptr<const store::Keyring> ring);
  void warn_if_expiring(const store::CertRecord& cur, bool force);

  store::CertStore& store_;
  const Clock* clock_;
  store::RotationChain chain_;
  mutable std::mutex mu_;
  std::shared_ptr<const store::Keyring> ring_;
  std::atomic<int64_t> reloads_{0};
  std::atomic<int64_t> last_warned_{0};
};

}  // namespace ck::server
