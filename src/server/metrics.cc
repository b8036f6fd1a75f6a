#include "server/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>
#include <span>
#include <utility>

#ifndef CK_VERSION
#error "CK_VERSION must be defined (src/server/CMakeLists.txt passes the project version)"
#endif

namespace ck::server {
namespace {

using Label = std::pair<std::string_view, std::string_view>;

// HELP text escapes only \ and newline (the exposition format).
std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(int64_t v) { return std::to_string(v); }
std::string format_value(uint64_t v) { return std::to_string(v); }
// Shortest text that reads back as the same double (Go's ParseFloat reads it).
std::string format_value(double v) { return fmt::format("{}", v); }

// Writes one metric family at a time: HELP, TYPE, then its samples.
class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name, type);
  }
  template <typename V>
  void sample(std::string_view name, std::initializer_list<Label> labels, V value) {
    out_ += name;
    if (labels.size() > 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [key, val] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += fmt::format("{}=\"{}\"", key, escape_label_value(val));
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += format_value(value);
    out_ += '\n';
  }
  template <typename V>
  void counter(std::string_view name, std::string_view help, V value) {
    family(name, "counter", help);
    sample(name, {}, value);
  }
  template <typename V>
  void gauge(std::string_view name, std::string_view help, V value) {
    family(name, "gauge", help);
    sample(name, {}, value);
  }
  // `cumulative[i]` counts observations <= bounds[i]; its last entry (one past the
  // bounds) is +Inf, which is also _count.
  template <typename Bound, typename Sum>
  void histogram(std::string_view name, std::string_view help, std::span<const Bound> bounds,
                 std::span<const uint64_t> cumulative, Sum sum) {
    family(name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    for (size_t i = 0; i < bounds.size(); ++i) {
      const std::string le = format_value(bounds[i]);
      sample(bucket, {{"le", le}}, cumulative[i]);
    }
    sample(bucket, {{"le", "+Inf"}}, cumulative.back());
    sample(std::string(name) + "_sum", {}, sum);
    sample(std::string(name) + "_count", {}, cumulative.back());
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads a counter of Metrics summed over this process and its peers: `m.name.load()`
// as in a single Metrics.
// A counter Metrics gains must be added here too (render_prometheus does not compile
// otherwise).
class Summed {
  // First: the fields below read them.
  const Metrics& own_;
  const std::vector<const Metrics*>& peers_;

 public:
  Summed(const Metrics& own, const std::vector<const Metrics*>& peers) : own_(own), peers_(peers) {}
  struct Field {
    const Summed& s;
    const std::atomic<int64_t> Metrics::*member;
    int64_t load() const {
      int64_t v = (s.own_.*member).load();
      for (const Metrics* p : s.peers_) v += (p->*member).load();
      return v;
    }
  };
#define CK_SUMMED(name) \
  Field name{*this, &Metrics::name};
  CK_SUMMED(checkins_total)
  CK_SUMMED(checkins_rejected_total)
  CK_SUMMED(checkins_failed_total)
  CK_SUMMED(messages_signed_total)
  CK_SUMMED(messages_pushed_total)
  CK_SUMMED(rotations_served_total)
  CK_SUMMED(channel_replies_total)
  CK_SUMMED(rotations_pushed_total)
  CK_SUMMED(pin_reports_total)
  CK_SUMMED(agent_connections_open)
  CK_SUMMED(connections_refused_total_cap)
  CK_SUMMED(connections_refused_per_address)
  CK_SUMMED(console_connections_refused_total)
  CK_SUMMED(channels_without_hello_total)
  CK_SUMMED(tls_handshakes_total)
  CK_SUMMED(tls_resumptions_total)
  CK_SUMMED(identity_refusals_total)
  CK_SUMMED(registrations_refused_total)
#undef CK_SUMMED
  const double start_time_seconds = own_.start_time_seconds;
};

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string_view build_version() { return CK_VERSION; }

void add_figures(WorkerFigures& into, const WorkerFigures& more) {
  into.channels_connected += more.channels_connected;
  into.cert_reloads += more.cert_reloads;
  auto& w = into.writer;
  const auto& x = more.writer;
  w.committed += x.committed;
  w.failed += x.failed;
  w.rejected += x.rejected;
  w.retried += x.retried;
  w.busy_retries += x.busy_retries;
  w.batches += x.batches;
  w.last_batch_size = x.last_batch_size ? x.last_batch_size : w.last_batch_size;
  w.max_batch_size = std::max(w.max_batch_size, x.max_batch_size);
  w.batch_size_sum += x.batch_size_sum;
  for (size_t i = 0; i < w.batch_size_buckets.size(); ++i) w.batch_size_buckets[i] += x.batch_size_buckets[i];
  w.commit_seconds_sum += x.commit_seconds_sum;
  for (size_t i = 0; i < w.commit_seconds_buckets.size(); ++i)
    w.commit_seconds_buckets[i] += x.commit_seconds_buckets[i];
  w.queued += x.queued;
}

WorkerFigures figures_since_start(const WorkerFigures& base, const WorkerFigures& own) {
  WorkerFigures out = base;
  add_figures(out, own);
  // Gauges describe this process only.
  out.channels_connected = own.channels_connected;
  out.writer.queued = own.writer.queued;
  out.writer.last_batch_size = own.writer.last_batch_size;
  return out;
}

std::string render_prometheus(const Metrics& own, const MetricsSnapshot& own_snapshot) {
  // This process's figures (on top of its slot's base) plus the other workers' (none
  // for a single server). The counters of Metrics need no base: a restarted worker's
  // Metrics is its slot's, which kept counting.
  Summed m(own, own_snapshot.peer_counters);
  MetricsSnapshot s = own_snapshot;
  {
    WorkerFigures mine = figures_since_start(s.base, {s.channels_connected, s.cert_reloads, s.writer});
    add_figures(mine, s.peers);
    s.channels_connected = mine.channels_connected;
    s.cert_reloads = mine.cert_reloads;
    s.writer = mine.writer;
  }
  Exposition e;
  e.family("certkeeper_build_info", "gauge",
           "Always 1; the version label names the running certkeeper-server.");
  e.sample("certkeeper_build_info", {{"version", build_version()}}, int64_t{1});
  e.gauge("process_start_time_seconds",
          "Start time of the server process since the Unix epoch, in seconds.",
          m.start_time_seconds);

  // Check-ins on the agent port.
  e.counter("certkeeper_checkins_total", "Check-ins answered 200 after their registry commit.",
            m.checkins_total.load());
  e.counter("certkeeper_checkins_rejected_total", "Agent requests refused with a 4xx status.",
            m.checkins_rejected_total.load());
  e.counter("certkeeper_checkins_failed_total",
            "Check-ins answered 503: the registry commit failed or the writer's queue was full.",
            m.checkins_failed_total.load());
  e.counter("certkeeper_rotations_served_total", "Check-in answers carrying a rotation path.",
            m.rotations_served_total.load());
  e.counter("certkeeper_identity_refusals_total",
            "Check-ins and channels refused: the agent id is bound to another key.",
            m.identity_refusals_total.load());
  e.counter("certkeeper_registrations_refused_total",
            "New agent keys refused over the registrations-per-second cap.",
            m.registrations_refused_total.load());

  // The registry's group-commit writer.
  const auto& w = s.writer;
  e.family("certkeeper_registry_writes_total", "counter",
           "Endpoint rows given to the registry's group-commit writer, by outcome.");
  e.sample("certkeeper_registry_writes_total", {{"result", "committed"}}, w.committed);
  e.sample("certkeeper_registry_writes_total", {{"result", "failed"}}, w.failed);
  e.sample("certkeeper_registry_writes_total", {{"result", "refused"}}, w.rejected);
  e.counter("certkeeper_registry_busy_retries_total",
            "Group-commit transactions tried again: another writer held the registry past the busy timeout.",
            w.busy_retries);
  e.counter("certkeeper_registry_writes_retried_total",
            "Rows written in a transaction of their own after their batch hit a data error.",
            w.retried);
  e.gauge("certkeeper_registry_queued_writes", "Rows waiting for the writer's next transaction.",
          w.queued);
  e.histogram<uint64_t>(
      "certkeeper_registry_batch_size", "Rows per registry group-commit transaction.",
      registry::BatchingWriter::kBatchSizeBounds, w.batch_size_buckets, w.batch_size_sum);
  e.histogram<double>("certkeeper_registry_commit_seconds",
                      "Time one registry group-commit transaction took, in seconds.",
                      registry::BatchingWriter::kCommitSecondsBounds, w.commit_seconds_buckets,
                      w.commit_seconds_sum);

  // Signed messages and channels.
  e.counter("certkeeper_messages_signed_total", "Signed server-initiated messages.",
            m.messages_signed_total.load());
  e.counter("certkeeper_messages_pushed_total", "Signed messages pushed over open channels.",
            m.messages_pushed_total.load());
  e.gauge("certkeeper_outbox_messages", "Unexpired messages in the outbox (this server's view).",
          s.messages_queued);
  e.counter("certkeeper_rotations_pushed_total",
            "Rotation paths pushed over open channels (key deployment).",
            m.rotations_pushed_total.load());
  e.counter("certkeeper_channel_replies_total", "Command replies received on agent channels.",
            m.channel_replies_total.load());
  e.counter("certkeeper_pin_reports_total",
            "New pins reported on channels and recorded in the registry.",
            m.pin_reports_total.load());
  e.gauge("certkeeper_channels_connected", "Open agent channels (WebSocket).",
          s.channels_connected);
  e.counter("certkeeper_channels_without_hello_total",
            "Channels closed because no hello arrived within the handshake timeout.",
            m.channels_without_hello_total.load());

  // Connections and TLS on the agent port.
  e.gauge("certkeeper_agent_connections", "Open connections on the agent port.",
          m.agent_connections_open.load());
  e.family("certkeeper_connections_refused_total", "counter",
           "Agent connections refused at accept, by the cap that refused them.");
  e.sample("certkeeper_connections_refused_total", {{"reason", "max_connections"}},
           m.connections_refused_total_cap.load());
  e.sample("certkeeper_connections_refused_total", {{"reason", "per_address"}},
           m.connections_refused_per_address.load());
  e.counter("certkeeper_console_connections_refused_total",
            "Web console connections closed at accept: 64 were open already.",
            m.console_connections_refused_total.load());
  e.counter("certkeeper_tls_handshakes_total", "TLS handshakes completed on the agent port.",
            m.tls_handshakes_total.load());
  e.counter("certkeeper_tls_resumptions_total",
            "TLS handshakes on the agent port that resumed a session (no certificate signatures).",
            m.tls_resumptions_total.load());

  // Certificates and the endpoints pinning them.
  e.counter("certkeeper_certificate_reloads_total",
            "Certificate snapshots reloaded after a change in the store.", s.cert_reloads);
  e.family("certkeeper_current_certificate_expiry_seconds", "gauge",
           "Seconds until the current authentication certificate expires (negative once expired).");
  e.sample("certkeeper_current_certificate_expiry_seconds",
           {{"fingerprint", s.current_fingerprint}}, s.current_expiry_seconds);
  e.family("certkeeper_endpoints", "gauge",
           "Endpoints by the certificate they pin, with its status in the store.");
  for (const auto& [fp, entry] : s.endpoints_by_fingerprint) {
    // Fingerprints come from agents; only hex reaches the registry (validated), but
    // every label value is escaped anyway.
    e.sample("certkeeper_endpoints", {{"fingerprint", fp}, {"status", entry.first}}, entry.second);
  }
  e.gauge("certkeeper_endpoints_scrape_ok",
          "1 when the registry answered the endpoint count, else 0.",
          int64_t{s.endpoints_ok ? 1 : 0});
  return e.take();
}

}  // namespace ck::server
