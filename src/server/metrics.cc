#include "server/metrics.h"

#include <sstream>

namespace ck::server {
namespace {

void metric(std::ostringstream& out, const char* name, const char* type, const char* help, int64_t value) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << value << '\n';
}

}  // namespace

std::string render_prometheus(const Metrics& m, const MetricsSnapshot& s) {
  std::ostringstream out;
  metric(out, "certkeeper_checkins_total", "counter", "Check-ins answered after their registry commit.",
         m.checkins_total.load());
  metric(out, "certkeeper_checkins_rejected_total", "counter", "Agent requests refused with a 4xx status.",
         m.checkins_rejected_total.load());
  metric(out, "certkeeper_checkins_failed_total", "counter", "Check-ins whose registry commit failed.",
         m.checkins_failed_total.load());
  metric(out, "certkeeper_batches_total", "counter", "Registry group-commit transactions.", m.batches_total.load());
  metric(out, "certkeeper_batch_size_sum", "counter", "Check-ins written by all group commits.",
         m.batch_size_sum.load());
  metric(out, "certkeeper_batch_size_last", "gauge", "Check-ins in the latest group commit.",
         m.batch_size_last.load());
  metric(out, "certkeeper_messages_signed_total", "counter", "Signed server-initiated messages.",
         m.messages_signed_total.load());
  metric(out, "certkeeper_messages_pushed_total", "counter", "Signed messages pushed over open channels.",
         m.messages_pushed_total.load());
  metric(out, "certkeeper_rotations_served_total", "counter", "Check-in answers carrying a rotation path.",
         m.rotations_served_total.load());
  metric(out, "certkeeper_channel_replies_total", "counter", "Command replies received on agent channels.",
         m.channel_replies_total.load());
  metric(out, "certkeeper_rotations_pushed_total", "counter", "Rotation paths pushed over open channels (key deployment).",
         m.rotations_pushed_total.load());
  metric(out, "certkeeper_pin_reports_total", "counter", "New pins reported on channels and recorded in the registry.",
         m.pin_reports_total.load());
  metric(out, "certkeeper_agent_connections", "gauge", "Open connections on the agent port.",
         m.agent_connections_open.load());
  out << "# HELP certkeeper_connections_refused_total Agent connections refused at accept, by the cap that refused "
         "them.\n# TYPE certkeeper_connections_refused_total counter\n"
      << "certkeeper_connections_refused_total{reason=\"max_connections\"} " << m.connections_refused_total_cap.load()
      << "\ncertkeeper_connections_refused_total{reason=\"per_address\"} "
      << m.connections_refused_per_address.load() << '\n';
  metric(out, "certkeeper_channels_without_hello_total", "counter",
         "Channels closed because no hello arrived within the handshake timeout.", m.channels_without_hello_total.load());
  metric(out, "certkeeper_tls_handshakes_total", "counter", "TLS handshakes completed on the agent port.",
         m.tls_handshakes_total.load());
  metric(out, "certkeeper_tls_resumptions_total", "counter",
         "TLS handshakes on the agent port that resumed a session (no certificate signatures).",
         m.tls_resumptions_total.load());
  metric(out, "certkeeper_identity_refusals_total", "counter",
         "Check-ins and channels refused: the agent id is bound to another key.", m.identity_refusals_total.load());
  metric(out, "certkeeper_registrations_refused_total", "counter",
         "New agent keys refused over the registrations-per-second cap.", m.registrations_refused_total.load());
  metric(out, "certkeeper_outbox_messages", "gauge", "Unexpired messages in the outbox (this server's view).",
         s.messages_queued);
  metric(out, "certkeeper_channels_connected", "gauge", "Open agent channels (WebSocket).", s.channels_connected);
  metric(out, "certkeeper_certificate_reloads_total", "counter", "Certificate snapshots reloaded after a change.",
         s.cert_reloads);
  out << "# HELP certkeeper_current_certificate_expiry_seconds Seconds until the current authentication "
         "certificate expires.\n# TYPE certkeeper_current_certificate_expiry_seconds gauge\n"
      << "certkeeper_current_certificate_expiry_seconds{fingerprint=\"" << s.current_fingerprint << "\"} "
      << s.current_expiry_seconds << '\n';
  out << "# HELP certkeeper_endpoints Endpoints by pinned certificate.\n# TYPE certkeeper_endpoints gauge\n";
  for (const auto& [fp, entry] : s.endpoints_by_fingerprint) {
    // Fingerprints come from agents; only hex reaches the registry (validated), but
    // escape anyway.
    std::string safe;
    for (char c : fp) {
      if (c == '"' || c == '\\') safe += '\\';
      if (c == '\n') { safe += "\\n"; continue; }
      safe += c;
    }
    out << "certkeeper_endpoints{fingerprint=\"" << safe << "\",status=\"" << entry.first << "\"} "
        << entry.second << '\n';
  }
  metric(out, "certkeeper_endpoints_scrape_ok", "gauge", "1 when the registry answered the endpoint count.",
         s.endpoints_ok ? 1 : 0);
  return out.str();
}

}  // namespace ck::server
