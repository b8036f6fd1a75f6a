#include "agent/agent_state.h"

#include <boost/json.hpp>

#include "crypto/encoding.h"
#include "protocol/wire.h"

namespace ck::agent {
namespace json = boost::json;

const std::string& AgentState::pinned_fingerprint() const {
  static const std::string kNone;
  return pinned ? pinned->fingerprint() : kNone;
}

std::string generate_agent_id() { return "agent-" + crypto::to_hex(crypto::random_bytes(8)); }

std::string serialize_state(const AgentState& s) {
  // boost::json::object keeps insertion order, so the output is stable.
  json::array jtis;
  for (const auto& j : s.seen_jti) jtis.emplace_back(j);
  json::object o;
  o["version"] = 1;
  o["agent_id"] = s.agent_id;
  o["pinned_fingerprint"] = s.pinned_fingerprint();
  o["generation"] = s.generation;
  o["last_seq"] = s.last_seq;
  o["dat_sha256"] = s.dat_sha256;
  o["previous_dat_sha256"] = s.previous_dat_sha256;
  o["pinned_cert"] = s.pinned ? s.pinned->pem() : std::string();
  o["seen_jti"] = std::move(jtis);
  return json::serialize(o) + "\n";
}

Result<AgentState> parse_state(std::string_view text) {
  auto corrupt = [](const std::string& why) {
    return make_error(ErrorKind::kCorrupt, "agent state is corrupt: " + why);
  };
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return corrupt("not a JSON object");
  const json::object& o = v.as_object();
  auto str = [&](const char* k) -> const json::string* {
    const json::value* f = o.if_contains(k);
    return f && f->is_string() ? &f->as_string() : nullptr;
  };
  auto num = [&](const char* k) -> std::optional<int64_t> {
    const json::value* f = o.if_contains(k);
    if (f && f->is_int64()) return f->as_int64();
    if (f && f->is_uint64() && f->as_uint64() <= INT64_MAX) return static_cast<int64_t>(f->as_uint64());
    return std::nullopt;
  };
  auto version = num("version");
  if (!version || *version != 1) return corrupt("unsupported version");
  AgentState s;
  const json::string* id = str("agent_id");
  if (!id || !protocol::valid_agent_id(*id)) return corrupt("bad agent_id");
  s.agent_id = std::string(*id);
  auto gen = num("generation");
  auto seq = num("last_seq");
  if (!gen || !seq || *gen < 0 || *seq < 0) return corrupt("bad generation or last_seq");
  s.generation = *gen;
  s.last_seq = *seq;
  const json::string* dat = str("dat_sha256");
  const json::string* prev = str("previous_dat_sha256");
  if (!dat || !prev) return corrupt("missing file digests");
  s.dat_sha256 = std::string(*dat);
  s.previous_dat_sha256 = std::string(*prev);
  const json::string* pem = str("pinned_cert");
  const json::string* fp = str("pinned_fingerprint");
  if (!pem || !fp) return corrupt("missing pinned certificate");
  if (!pem->empty()) {
    auto cert = crypto::Certificate::parse(std::string_view(pem->data(), pem->size()));
    if (!cert.ok()) return corrupt("pinned certificate: " + cert.error().message);
    if (cert->fingerprint() != std::string_view(*fp)) return corrupt("pinned fingerprint mismatch");
    s.pinned = std::make_shared<const crypto::Certificate>(std::move(cert).value());
  }
  const json::value* jtis = o.if_contains("seen_jti");
  if (!jtis || !jtis->is_array()) return corrupt("missing seen_jti");
  for (const auto& j : jtis->as_array()) {
    if (!j.is_string()) return corrupt("bad seen_jti entry");
    s.seen_jti.emplace_back(j.as_string());
  }
  return s;
}

}  // namespace ck::agent
