// Server counters and the Prometheus text exposition (format 0.0.4) of GET /metrics.
// Names follow https://prometheus.io/docs/practices/naming/: counters end in _total,
// units are base units named in the metric (seconds), histograms have _bucket/_sum/_count.
// Every metric is described in docs/metrics.md (a test keeps the two in step).
// Counters are atomics: thread-safe, lock-free.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "registry/batching_writer.h"

namespace ck::server {

struct Metrics {
  std::atomic<int64_t> checkins_total{0};           // answered 200
  std::atomic<int64_t> checkins_rejected_total{0};  // 4xx answers on the agent port
  std::atomic<int64_t> checkins_failed_total{0};    // registry commit failed or writer busy (503)
  std::atomic<int64_t> messages_signed_total{0};
  std::atomic<int64_t> messages_pushed_total{0};   // sent live over a channel
  std::atomic<int64_t> rotations_served_total{0};  // check-in answers carrying a path
  std::atomic<int64_t> channel_replies_total{0};   // command replies received on channels
  std::atomic<int64_t> rotations_pushed_total{0};  // rotation paths pushed over channels
  std::atomic<int64_t> pin_reports_total{0};       // new pins reported on channels, recorded
  // Agent connections (the net layer): open now, and refused by each cap.
  std::atomic<int64_t> agent_connections_open{0};
  std::atomic<int64_t> connections_refused_total_cap{0};
  std::atomic<int64_t> connections_refused_per_address{0};
  std::atomic<int64_t> console_connections_refused_total{0};  // over the console listener's cap
  std::atomic<int64_t> channels_without_hello_total{0};  // closed: no hello in time
  std::atomic<int64_t> tls_handshakes_total{0};          // completed on the agent port
  std::atomic<int64_t> tls_resumptions_total{0};         // ... of which resumed a session
  std::atomic<int64_t> identity_refusals_total{0};       // wrong or missing agent key
  std::atomic<int64_t> registrations_refused_total{0};   // over max_new_agents_per_second
  // When these counters began (Unix time, seconds): process_start_time_seconds, so that
  // a restart (counters back to 0) is visible. Under --workers the supervisor makes
  // the slots before forking: its start, which a worker's restart does not move.
  const double start_time_seconds =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
};

// A server process's figures kept in its own objects rather than in Metrics.
struct WorkerFigures {
  int64_t channels_connected = 0;          // gauge
  int64_t cert_reloads = 0;                // counter
  registry::BatchingWriter::Stats writer;  // counters, histograms and the queued gauge
};

// Adds `more` into `into`, field by field (gauges too; max_batch_size takes the larger):
// the sum over workers.
void add_figures(WorkerFigures& into, const WorkerFigures& more);

// `base` (what a worker's slot held when this process took it, server/shared_metrics.h)
// plus `own` (this process's figures, which began at 0): counters and histograms add,
// gauges are `own` alone.
WorkerFigures figures_since_start(const WorkerFigures& base, const WorkerFigures& own);

// State read at scrape time, outside the counters.
struct MetricsSnapshot {
  // fingerprint -> (status name, endpoints pinning it); status "unknown" when not stored.
  std::map<std::string, std::pair<std::string, int64_t>> endpoints_by_fingerprint;
  bool endpoints_ok = true;
  std::string current_fingerprint;
  int64_t current_expiry_seconds = 0;
  int64_t channels_connected = 0;
  int64_t messages_queued = 0;
  int64_t cert_reloads = 0;
  // The group-commit writer's totals and histograms (it owns them).
  registry::BatchingWriter::Stats writer;
  // Under certkeeper-server --workers (server/shared_metrics.h): the other workers'
  // counters and their last published figures, added to this process's own. Empty
  // for a single server.
  std::vector<const Metrics*> peer_counters;
  WorkerFigures peers;
  // What this worker's slot held when it started (its predecessors' published figures;
  // 0 for a single server): its own figures above are rendered on top of it, so a
  // restart of the rendering worker does not set its counters back.
  WorkerFigures base;
};

// The exposition of `m` and `s`, each counter and gauge summed with s.peer_counters and
// s.peers, and s's own figures counted from s.base (figures_since_start; store-level
// figures are `s`'s alone).
std::string render_prometheus(const Metrics& m, const MetricsSnapshot& s);

// A label value as the text format wants it: \ " and newline escaped.
std::string escape_label_value(std::string_view value);

// The version in certkeeper_build_info (the CMake project version).
std::string_view build_version();

}  // namespace ck::server
