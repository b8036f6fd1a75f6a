// Test doubles for the server core (tests only): a channel sink that records frames,
// and an endpoint registry in memory whose commits can be held or made to fail.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "registry/endpoint_registry.h"
#include "server/channel_hub.h"

namespace ck::server {

struct FakeSink : ChannelSink {
  std::mutex mu;
  std::vector<std::string> frames;
  bool closed = false;
  void push(std::string f) override {
    std::lock_guard lock(mu);
    frames.push_back(std::move(f));
  }
  void close() override {
    std::lock_guard lock(mu);
    closed = true;
  }
  std::vector<std::string> take() {
    std::lock_guard lock(mu);
    return std::exchange(frames, {});
  }
};

// The registry in memory; upserts can be held (gate) or made to fail.
class MemoryRegistry final : public registry::EndpointRegistry {
 public:
  Status upsert_batch(const std::vector<registry::Endpoint>& endpoints, std::vector<std::string>* refused) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !hold_; });
    if (fail_) return make_error(ErrorKind::kUnavailable, "db down");
    for (const auto& e : endpoints) {
      auto it = rows_.find(e.agent_id);
      if (e.pin_report) {
        if (it != rows_.end()) it->second.pinned_fingerprint = e.pinned_fingerprint;
        ++pin_reports_;
      } else if (it == rows_.end()) {
        rows_[e.agent_id] = e;
      } else if (it->second.key_fingerprint.empty() || it->second.key_fingerprint == e.key_fingerprint) {
        // The same rule as the SQL backends: the first key binds, then only its holder writes.
        registry::Endpoint next = e;
        if (!it->second.key_fingerprint.empty() || e.key_fingerprint.empty()) next.enrollment = it->second.enrollment;
        if (next.key_fingerprint.empty()) next.key_fingerprint = it->second.key_fingerprint;
        it->second = next;
      } else if (refused) {
        refused->push_back(e.agent_id);
      }
    }
    cv_.notify_all();
    return ok_status();
  }
  Status for_each_mismatched(const std::string& current, const std::function<Status(const registry::Endpoint&)>& fn) override {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : rows_) {
      if (e.pinned_fingerprint != current) CK_RETURN_IF_ERROR(fn(e));
    }
    return ok_status();
  }
  Status for_each_endpoint(const std::function<Status(const registry::Endpoint&)>& fn) override {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : rows_) CK_RETURN_IF_ERROR(fn(e));
    return ok_status();
  }
  Status set_enrollment(const std::string& id, const std::string& enrollment) override {
    std::lock_guard lock(mu_);
    auto it = rows_.find(id);
    if (it == rows_.end()) return make_error(ErrorKind::kNotFound, "no agent " + id);
    it->second.enrollment = enrollment;
    return ok_status();
  }
  Status forget_key(const std::string& id) override {
    std::lock_guard lock(mu_);
    auto it = rows_.find(id);
    if (it == rows_.end()) return make_error(ErrorKind::kNotFound, "no agent " + id);
    it->second.key_fingerprint.clear();
    it->second.enrollment = registry::kEnrollmentPending;
    return ok_status();
  }
  Result<std::map<std::string, int64_t>> count_by_fingerprint() override {
    std::lock_guard lock(mu_);
    std::map<std::string, int64_t> out;
    for (const auto& [id, e] : rows_) out[e.pinned_fingerprint]++;
    return out;
  }
  Result<registry::EndpointPage> query_endpoints(const registry::EndpointQuery& q) override {
    std::lock_guard lock(mu_);
    registry::EndpointPage page;
    for (const auto& [id, e] : rows_) {
      if (!q.not_pinning.empty() && e.pinned_fingerprint == q.not_pinning) continue;
      if (!q.search.empty() && id.find(q.search) == std::string::npos && e.hostname.find(q.search) == std::string::npos)
        continue;
      if (page.total++ >= q.offset && static_cast<int64_t>(page.rows.size()) < q.limit) page.rows.push_back(e);
    }
    return page;  // agent_id order only: the server tests need no other
  }
  Result<std::optional<registry::Endpoint>> find(const std::string& id) override {
    std::lock_guard lock(mu_);
    auto it = rows_.find(id);
    return it == rows_.end() ? std::optional<registry::Endpoint>() : std::optional<registry::Endpoint>(it->second);
  }
  void set_hold(bool hold) {
    std::lock_guard lock(mu_);
    hold_ = hold;
    cv_.notify_all();
  }
  void set_fail(bool fail) {
    std::lock_guard lock(mu_);
    fail_ = fail;
  }
  int pin_reports() {
    std::lock_guard lock(mu_);
    return pin_reports_;
  }
  // Waits until `id` pins `fp` in the registry.
  bool wait_pinned(const std::string& id, const std::string& fp) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(5), [&] {
      auto it = rows_.find(id);
      return it != rows_.end() && it->second.pinned_fingerprint == fp;
    });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, registry::Endpoint> rows_;
  bool hold_ = false, fail_ = false;
  int pin_reports_ = 0;
};

}  // namespace ck::server
