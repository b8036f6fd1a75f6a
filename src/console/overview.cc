#include "console/overview.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace ck::console {
namespace json = boost::json;

namespace {
constexpr auto kWantedFor = std::chrono::seconds(10);
constexpr auto kMaxAge = std::chrono::milliseconds(1000);
}  // namespace

json::object overview_json(const store::Keyring& ring, const std::map<std::string, int64_t>& counts, int64_t now) {
  json::object out;
  const store::CertRecord* cur = ring.find(ring.current_fingerprint);
  if (cur) {
    out["current"] = json::object{{"fingerprint", cur->fingerprint},
                                  {"algorithm", cur->algorithm},
                                  {"not_before", format_rfc3339(cur->not_before)},
                                  {"not_after", format_rfc3339(cur->not_after)},
                                  {"expires_in_seconds", cur->not_after - now},
                                  {"exportable", cur->exportable}};
  } else {
    out["current"] = nullptr;
  }
  // The current certificate first, then the others, newest generation first.
  std::vector<const store::CertRecord*> certs;
  for (const auto& [fp, rec] : ring.certs) certs.push_back(&rec);
  std::stable_sort(certs.begin(), certs.end(), [&](const store::CertRecord* a, const store::CertRecord* b) {
    const bool ac = a->fingerprint == ring.current_fingerprint, bc = b->fingerprint == ring.current_fingerprint;
    if (ac != bc) return ac;
    if (a->generation != b->generation) return a->generation > b->generation;
    return a->created_at > b->created_at;
  });
  json::array list;
  for (const store::CertRecord* rec : certs) {
    auto it = counts.find(rec->fingerprint);
    list.push_back(json::object{{"fingerprint", rec->fingerprint},
                                {"status", store::status_name(rec->status)},
                                {"algorithm", rec->algorithm},
                                {"not_after", format_rfc3339(rec->not_after)},
                                {"endpoints", it == counts.end() ? 0 : it->second}});
  }
  out["certificates"] = std::move(list);
  int64_t total = 0, current = 0, unknown = 0;
  for (const auto& [fp, n] : counts) {
    total += n;
    if (fp == ring.current_fingerprint) current += n;
    if (!ring.find(fp)) unknown += n;
  }
  out["endpoints"] = json::object{{"total", total}, {"current", current}, {"behind", total - current}};
  out["unknown_pins"] = unknown;
  out["generated_at"] = format_rfc3339(now);
  return out;
}

OverviewFeed::OverviewFeed(OverviewSources sources, std::chrono::milliseconds period)
    : sources_(std::move(sources)), period_(period) {
  thread_ = std::thread([this] { run(); });
}

OverviewFeed::~OverviewFeed() { stop(); }

void OverviewFeed::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status OverviewFeed::refresh() {
  std::lock_guard one(refresh_mu_);
  const Clock& clock = sources_.clock ? *sources_.clock : system_clock();
  auto ring = sources_.snapshot();
  if (!ring) return make_error(ErrorKind::kUnavailable, "no certificate snapshot yet");
  CK_ASSIGN_OR_RETURN(auto counts, sources_.count_by_fingerprint());
  json::object doc = overview_json(*ring, counts, clock.now());
  std::string full = json::serialize(doc);
  // What the version tracks: everything but the clock-driven members.
  doc.erase("generated_at");
  if (auto* cur = doc.if_contains("current"); cur && cur->is_object()) cur->as_object().erase("expires_in_seconds");
  std::string content = json::serialize(doc);
  std::lock_guard lock(mu_);
  if (content != content_) {
    content_ = std::move(content);
    ++current_.version;
  }
  current_.json = std::move(full);
  computed_ = std::chrono::steady_clock::now();
  return ok_status();
}

Result<OverviewFeed::Current> OverviewFeed::current() {
  {
    std::lock_guard lock(mu_);
    last_wanted_ = std::chrono::steady_clock::now();
    if (current_.version > 0 && last_wanted_ - computed_ <= kMaxAge) return current_;
  }
  cv_.notify_all();  // wake the thread: someone looks again
  CK_RETURN_IF_ERROR(refresh());
  std::lock_guard lock(mu_);
  return current_;
}

void OverviewFeed::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const bool wanted = std::chrono::steady_clock::now() - last_wanted_ < kWantedFor;
    if (wanted) {
      lock.unlock();
      if (Status s = refresh(); !s.ok()) spdlog::warn("console overview: {}", s.error().message);
      lock.lock();
      cv_.wait_for(lock, period_, [&] { return stopping_; });
    } else {
      // Idle until someone asks (current() notifies) or stop.
      cv_.wait_for(lock, std::chrono::seconds(5), [&] {
        return stopping_ || std::chrono::steady_clock::now() - last_wanted_ < kWantedFor;
      });
    }
  }
}

}  // namespace ck::console
