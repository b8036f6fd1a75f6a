#include "agent/checkin_wire.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <boost/json.hpp>

namespace ck::agent {
namespace json = boost::json;

HostInfo local_host_info() {
  HostInfo h;
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) == 0) h.hostname = buf;
  auto dot = h.hostname.find('.');
  if (dot != std::string::npos) {
    h.domain = h.hostname.substr(dot + 1);
    h.hostname.resize(dot);
  }
  struct utsname u{};
  if (::uname(&u) == 0) h.os = std::string(u.sysname) + " " + u.release;
  return h;
}

std::string serialize_checkin_request(const CheckinRequest& r) {
  json::object o{{"agent_id", r.agent_id},
                 {"hostname", r.host.hostname},
                 {"ip", r.host.ip},
                 {"domain", r.host.domain},
                 {"os", r.host.os},
                 {"agent_version", r.agent_version},
                 {"pinned_fingerprint", r.pinned_fingerprint},
                 {"last_seq", r.last_seq}};
  return json::serialize(o);
}

Result<CheckinResponse> parse_checkin_response(std::string_view body) {
  auto bad = [](const std::string& why) {
    return make_error(ErrorKind::kInvalidArgument, "malformed check-in response: " + why);
  };
  if (body.size() > kMaxCheckinResponseBytes) return bad("too large");
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return bad("not a JSON object");
  const json::object& o = v.as_object();
  CheckinResponse r;
  const json::value* cur = o.if_contains("current_fingerprint");
  if (!cur || !cur->is_string()) return bad("missing current_fingerprint");
  r.current_fingerprint = std::string(cur->as_string());
  if (const json::value* rots = o.if_contains("rotations"); rots && !rots->is_null()) {
    if (!rots->is_array() || rots->as_array().size() > kMaxRotationsPerResponse) return bad("bad rotations");
    for (const auto& link : rots->as_array()) {
      const json::object* l = link.if_object();
      const json::value* by_old = l ? l->if_contains("by_old") : nullptr;
      const json::value* by_new = l ? l->if_contains("by_new") : nullptr;
      if (!by_old || !by_new || !by_old->is_string() || !by_new->is_string()) return bad("bad rotation link");
      r.rotations.push_back({std::string(by_old->as_string()), std::string(by_new->as_string())});
    }
  }
  if (const json::value* msgs = o.if_contains("messages"); msgs && !msgs->is_null()) {
    if (!msgs->is_array() || msgs->as_array().size() > kMaxMessagesPerResponse) return bad("bad messages");
    for (const auto& m : msgs->as_array()) {
      // A message may come as a bare JWS string or as {"jws": JWS}.
      if (m.is_string()) {
        r.messages.emplace_back(m.as_string());
      } else if (const json::object* mo = m.if_object(); mo && mo->if_contains("jws") &&
                                                         mo->at("jws").is_string()) {
        r.messages.emplace_back(mo->at("jws").as_string());
      } else {
        return bad("bad message entry");
      }
    }
  }
  return r;
}

}  // namespace ck::agent
