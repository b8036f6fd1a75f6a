// Server counters and the Prometheus text exposition (format 0.0.4) of GET /metrics.
// Counters are atomics: thread-safe, lock-free.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

namespace ck::server {

struct Metrics {
  std::atomic<int64_t> checkins_total{0};         // answered 200
  std::atomic<int64_t> checkins_rejected_total{0};  // 4xx answers on the agent port
  std::atomic<int64_t> checkins_failed_total{0};    // registry commit failed (503)
  std::atomic<int64_t> batches_total{0};
  std::atomic<int64_t> batch_size_sum{0};
  std::atomic<int64_t> batch_size_last{0};
  std::atomic<int64_t> messages_signed_total{0};
  std::atomic<int64_t> messages_pushed_total{0};  // sent live over a channel
  std::atomic<int64_t> rotations_served_total{0};  // check-in answers carrying a path
  std::atomic<int64_t> channel_replies_total{0};   // command replies received on channels
  std::atomic<int64_t> rotations_pushed_total{0};  // rotation paths pushed over channels
  std::atomic<int64_t> pin_reports_total{0};       // new pins reported on channels, recorded
  // Agent connections (the net layer): open now, and refused by each cap.
  std::atomic<int64_t> agent_connections_open{0};
  std::atomic<int64_t> connections_refused_total_cap{0};
  std::atomic<int64_t> connections_refused_per_address{0};
  std::atomic<int64_t> channels_without_hello_total{0};  // closed: no hello in time
  std::atomic<int64_t> tls_handshakes_total{0};          // completed on the agent port
  std::atomic<int64_t> tls_resumptions_total{0};         // ... of which resumed a session
  std::atomic<int64_t> identity_refusals_total{0};        // wrong or missing agent key
  std::atomic<int64_t> registrations_refused_total{0};    // over max_new_agents_per_second

  // Copies a batching writer's totals (it owns them).
  void set_batches(int64_t batches, int64_t size_sum, int64_t size_last) {
    batches_total.store(batches);
    batch_size_sum.store(size_sum);
    batch_size_last.store(size_last);
  }
  void record_batch(int64_t size) {
    batches_total.fetch_add(1);
    batch_size_sum.fetch_add(size);
    batch_size_last.store(size);
  }
};

struct MetricsSnapshot {
  // fingerprint -> (status name, endpoints pinning it); status "unknown" when not stored.
  std::map<std::string, std::pair<std::string, int64_t>> endpoints_by_fingerprint;
  bool endpoints_ok = true;
  std::string current_fingerprint;
  int64_t current_expiry_seconds = 0;
  int64_t channels_connected = 0;
  int64_t messages_queued = 0;
  int64_t cert_reloads = 0;
};

std::string render_prometheus(const Metrics& m, const MetricsSnapshot& s);

}  // namespace ck::server
