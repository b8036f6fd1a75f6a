#include "store/rotation_chain.h"

#include <deque>

namespace ck::store {

const CertRecord* Keyring::find(const std::string& fp) const {
  auto it = certs.find(fp);
  return it == certs.end() ? nullptr : &it->second;
}

const crypto::PrivateKey* Keyring::key(const std::string& fp) const {
  auto it = keys.find(fp);
  return it == keys.end() ? nullptr : &it->second;
}

Result<std::shared_ptr<const Keyring>> load_keyring(CertStore& store) {
  auto ring = std::make_shared<Keyring>();
  // Read the counter first: a change racing with the read is seen again next poll.
  CK_ASSIGN_OR_RETURN(ring->change_counter, store.change_counter());
  Status s = store.read([&](CertTxn& txn) -> Status {
    CK_ASSIGN_OR_RETURN(auto current, txn.current());
    if (!current) {
      return make_error(ErrorKind::kNotFound,
                        "the store has no current certificate (run `certmgr -c` first)");
    }
    ring->current_fingerprint = current->fingerprint;
    CK_ASSIGN_OR_RETURN(auto all, txn.list());
    for (auto& rec : all) {
      if (rec.status != CertStatus::kRevoked && rec.has_private_key) {
        CK_ASSIGN_OR_RETURN(auto key, txn.private_key(rec.fingerprint));
        if (key) ring->keys.emplace(rec.fingerprint, std::move(*key));
      }
      std::string fp = rec.fingerprint;
      ring->certs.emplace(std::move(fp), std::move(rec));
    }
    CK_ASSIGN_OR_RETURN(ring->rotations, txn.rotations());
    return ok_status();
  });
  if (!s.ok()) return s.error();
  if (!ring->find(ring->current_fingerprint) || !ring->key(ring->current_fingerprint)) {
    return make_error(ErrorKind::kNotFound, "the store holds no private key for the current certificate");
  }
  return std::shared_ptr<const Keyring>(std::move(ring));
}

std::optional<std::vector<crypto::SignedRotation>> stored_path(const Keyring& keyring,
                                                               const std::string& pinned) {
  // Breadth-first over (key, generation reached); links need strictly increasing n,
  // the agent's rule. Graphs are tiny (one node per certificate ever current).
  struct Node {
    std::string fp;
    int64_t n;
    std::vector<size_t> via;  // indexes into keyring.rotations
  };
  auto usable_signer = [&](const std::string& fp) {
    const CertRecord* rec = keyring.find(fp);
    return rec && rec->status != CertStatus::kRevoked;
  };
  if (!usable_signer(pinned)) return std::nullopt;
  std::deque<Node> queue{{pinned, 0, {}}};
  std::map<std::string, int64_t> best_n;  // lowest n at which a key was reached
  best_n[pinned] = 0;
  while (!queue.empty()) {
    Node node = std::move(queue.front());
    queue.pop_front();
    if (node.fp == keyring.current_fingerprint) {
      std::vector<crypto::SignedRotation> out;
      for (size_t i : node.via) out.push_back({keyring.rotations[i].by_old, keyring.rotations[i].by_new});
      return out;
    }
    for (size_t i = 0; i < keyring.rotations.size(); ++i) {
      const RotationRecord& r = keyring.rotations[i];
      if (r.from_fingerprint != node.fp || r.generation <= node.n) continue;
      if (!usable_signer(r.from_fingerprint) || !keyring.find(r.to_fingerprint)) continue;
      auto seen = best_n.find(r.to_fingerprint);
      if (seen != best_n.end() && seen->second <= r.generation) continue;
      best_n[r.to_fingerprint] = r.generation;
      Node next{r.to_fingerprint, r.generation, node.via};
      next.via.push_back(i);
      queue.push_back(std::move(next));
    }
  }
  return std::nullopt;
}

Result<RotationPlan> RotationChain::plan(const Keyring& keyring, const std::string& pinned) {
  RotationPlan plan;
  const std::string& current_fp = keyring.current_fingerprint;
  if (pinned == current_fp) {
    plan.trust = PinnedTrust::kCurrent;
    plan.signing_key = keyring.key(current_fp);
    return plan;
  }
  const CertRecord* rec = keyring.find(pinned);
  if (!rec || rec->status == CertStatus::kRevoked || rec->status == CertStatus::kCurrent) return plan;

  const crypto::PrivateKey* pinned_key = keyring.key(pinned);
  if (pinned_key) {
    const CertRecord& cur = keyring.current();
    const crypto::PrivateKey* cur_key = keyring.key(current_fp);
    // A stored direct link is as short as a minted one; prefer it (nothing to sign).
    for (const RotationRecord& r : keyring.rotations) {
      if (r.from_fingerprint == pinned && r.to_fingerprint == current_fp) {
        plan.links.push_back({r.by_old, r.by_new});
        break;
      }
    }
    if (plan.links.empty()) {
      auto cache_key = std::make_pair(pinned, current_fp);
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = minted_.find(cache_key);
        if (it != minted_.end()) plan.links.push_back(it->second);
      }
      if (plan.links.empty()) {
        CK_ASSIGN_OR_RETURN(auto cert, crypto::Certificate::parse(cur.cert_pem));
        CK_ASSIGN_OR_RETURN(auto link, crypto::sign_rotation(*pinned_key, *cur_key, cert, cur.generation,
                                                             clock_->now()));
        std::lock_guard<std::mutex> lock(mu_);
        auto [it, inserted] = minted_.emplace(cache_key, std::move(link));
        plan.links.push_back(it->second);
      }
    }
    plan.trust = PinnedTrust::kStale;
    plan.signing_key = pinned_key;
    return plan;
  }

  auto path = stored_path(keyring, pinned);
  if (!path || path->empty()) return plan;
  plan.trust = PinnedTrust::kStale;
  plan.links = std::move(*path);
  plan.signing_key = keyring.key(current_fp);
  return plan;
}

size_t RotationChain::cached() const {
  std::lock_guard<std::mutex> lock(mu_);
  return minted_.size();
}

}  // namespace ck::store
