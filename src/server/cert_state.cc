#include "server/cert_state.h"

#include <spdlog/spdlog.h>

namespace ck::server {

Status CertState::load() {
  CK_ASSIGN_OR_RETURN(auto ring, store::load_keyring(store_));
  install(std::move(ring));
  return ok_status();
}

Result<bool> CertState::poll() {
  CK_ASSIGN_OR_RETURN(int64_t counter, store_.change_counter());
  auto old = snapshot();
  if (old && old->change_counter == counter) {
    warn_if_expiring(old->current(), /*force=*/false);
    return false;
  }
  auto ring = store::load_keyring(store_);
  if (!ring.ok()) {
    spdlog::error("certificate reload failed, keeping the previous snapshot: {}", ring.error().message);
    return ring.error();
  }
  install(std::move(ring).value());
  if (old && old->current_fingerprint != snapshot()->current_fingerprint) {
    spdlog::info("certificate change noticed: current={} previous={}", snapshot()->current_fingerprint,
                 old->current_fingerprint);
  }
  return true;
}

void CertState::install(std::shared_ptr<const store::Keyring> ring) {
  const store::CertRecord& cur = ring->current();
  const bool first = !snapshot();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ring_ = ring;
  }
  if (!first) reloads_.fetch_add(1);
  spdlog::info("certificates loaded: current={} generation={} certificates={} rotations={}", cur.fingerprint,
               cur.generation, ring->certs.size(), ring->rotations.size());
  warn_if_expiring(cur, /*force=*/true);
}

void CertState::warn_if_expiring(const store::CertRecord& cur, bool force) {
  const int64_t now = clock_->now();
  const int64_t left = cur.not_after - now;
  if (left >= kExpiryWarningSeconds) return;
  if (!force && now - last_warned_.load() < 24 * 3600) return;  // once a day
  last_warned_.store(now);
  if (left < 0) {
    spdlog::warn("the current authentication certificate {} expired {} days ago; run `certmgr -c` to replace it",
                 cur.fingerprint, -left / 86400);
  } else {
    spdlog::warn("the current authentication certificate {} expires in {} days ({}); run `certmgr -c` to replace it",
                 cur.fingerprint, left / 86400, format_rfc3339(cur.not_after));
  }
}

std::shared_ptr<const store::Keyring> CertState::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ring_;
}

Result<store::RotationPlan> CertState::plan(const store::Keyring& ring, const std::string& pinned) {
  return chain_.plan(ring, pinned);
}

int64_t CertState::seconds_until_expiry() const {
  auto ring = snapshot();
  return ring ? ring->current().not_after - clock_->now() : 0;
}

}  // namespace ck::server
