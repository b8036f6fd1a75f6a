#include "protocol/wire.h"

#include <optional>

namespace ck::protocol {
namespace json = boost::json;

namespace {

Error invalid(std::string message) { return make_error(ErrorKind::kInvalidArgument, std::move(message)); }

Result<const json::object*> as_object(const json::value& v, const char* what) {
  if (!v.is_object()) return invalid(std::string(what) + " must be a JSON object");
  return &v.as_object();
}

// A string member: required or optional (then "" when absent), at most max_len bytes.
Result<std::string> get_string(const json::object& o, const char* key, bool required, size_t max_len) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) {
    if (required) return invalid(std::string("missing \"") + key + "\"");
    return std::string();
  }
  if (!v->is_string()) return invalid(std::string("\"") + key + "\" must be a string");
  const json::string& s = v->as_string();
  if (s.size() > max_len) {
    return invalid(std::string("\"") + key + "\" is longer than " + std::to_string(max_len) + " bytes");
  }
  return std::string(s.data(), s.size());
}

// A free-text check-in field: these reach the registry, certmgr -l, CSV files, terminals and logs,
// so C0 and C1 control characters (and DEL) are refused. Boost.JSON already refuses invalid UTF-8.
Result<std::string> get_text(const json::object& o, const char* key) {
  CK_ASSIGN_OR_RETURN(std::string s, get_string(o, key, false, kMaxFieldBytes));
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const bool c1 = c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9f;  // U+0080-U+009F
    if (c < 0x20 || c == 0x7f || c1) return invalid(std::string("\"") + key + "\" contains a control character");
  }
  return s;
}

Result<std::optional<int64_t>> get_int(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->as_int64());
  if (v->is_uint64()) {
    if (v->as_uint64() > static_cast<uint64_t>(INT64_MAX))
      return invalid(std::string("\"") + key + "\" is out of range");
    return std::optional<int64_t>(static_cast<int64_t>(v->as_uint64()));
  }
  return invalid(std::string("\"") + key + "\" must be an integer");
}

Result<json::object> get_object(const json::object& o, const char* key, bool required) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) {
    if (required) return invalid(std::string("missing \"") + key + "\"");
    return json::object();
  }
  if (!v->is_object()) return invalid(std::string("\"") + key + "\" must be an object");
  return v->as_object();
}

Result<std::string> get_agent_id(const json::object& o, const char* key) {
  CK_ASSIGN_OR_RETURN(std::string id, get_string(o, key, true, kMaxAgentIdBytes));
  if (!valid_agent_id(id))
    return invalid(std::string("\"") + key + "\" must be 1-64 characters of A-Z a-z 0-9 . _ - (not \"all\")");
  return id;
}

Result<std::string> get_fingerprint(const json::object& o, const char* key) {
  CK_ASSIGN_OR_RETURN(std::string fp, get_string(o, key, true, 64));
  if (!valid_fingerprint(fp)) return invalid(std::string("\"") + key + "\" must be 64 lowercase hex digits");
  return fp;
}

}  // namespace

bool valid_agent_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxAgentIdBytes) return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  // The broadcast address, in any letter case.
  if (id.size() == kToAll.size()) {
    bool reserved = true;
    for (size_t i = 0; i < id.size(); ++i) {
      char lower = (id[i] >= 'A' && id[i] <= 'Z') ? static_cast<char>(id[i] - 'A' + 'a') : id[i];
      if (lower != kToAll[i]) reserved = false;
    }
    if (reserved) return false;
  }
  return true;
}

bool valid_fingerprint(std::string_view fp) {
  if (fp.size() != 64) return false;
  for (char c : fp) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<json::value> parse_json_body(std::string_view body, size_t max_bytes) {
  if (body.size() > max_bytes) return invalid("body larger than " + std::to_string(max_bytes) + " bytes");
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 16;
  json::value v = json::parse(json::string_view(body.data(), body.size()), ec, {}, opts);
  if (ec) return invalid("malformed JSON: " + ec.message());
  return v;
}

// ---- check-in ----
Result<CheckinRequest> checkin_request_from_json(const json::value& v) {
  CK_ASSIGN_OR_RETURN(const json::object* o, as_object(v, "check-in"));
  CheckinRequest r;
  CK_ASSIGN_OR_RETURN(r.agent_id, get_agent_id(*o, "agent_id"));
  CK_ASSIGN_OR_RETURN(r.hostname, get_text(*o, "hostname"));
  CK_ASSIGN_OR_RETURN(r.ip, get_text(*o, "ip"));
  CK_ASSIGN_OR_RETURN(r.domain, get_text(*o, "domain"));
  CK_ASSIGN_OR_RETURN(r.os, get_text(*o, "os"));
  CK_ASSIGN_OR_RETURN(r.agent_version, get_text(*o, "agent_version"));
  CK_ASSIGN_OR_RETURN(r.pinned_fingerprint, get_fingerprint(*o, "pinned_fingerprint"));
  CK_ASSIGN_OR_RETURN(auto last_seq, get_int(*o, "last_seq"));
  if (last_seq && *last_seq < 0) return invalid("\"last_seq\" must not be negative");
  r.last_seq = last_seq.value_or(0);
  if (const json::value* ch = o->if_contains("channel_open"); ch && !ch->is_null()) {
    if (!ch->is_bool()) return invalid("\"channel_open\" must be a boolean");
    r.channel_open = ch->as_bool();
  }
  return r;
}

json::object to_json(const CheckinRequest& r) {
  return json::object{{"agent_id", r.agent_id},
                      {"hostname", r.hostname},
                      {"ip", r.ip},
                      {"domain", r.domain},
                      {"os", r.os},
                      {"agent_version", r.agent_version},
                      {"pinned_fingerprint", r.pinned_fingerprint},
                      {"last_seq", r.last_seq},
                      {"channel_open", r.channel_open}};
}

json::object to_json(const CheckinResponse& r) {
  json::array rotations;
  rotations.reserve(r.rotations.size());
  for (const auto& link : r.rotations) rotations.push_back(json::object{{"by_old", link.by_old}, {"by_new", link.by_new}});
  json::array messages;
  messages.reserve(r.messages.size());
  for (const auto& m : r.messages) messages.push_back(json::string(m));
  return json::object{{"current_fingerprint", r.current_fingerprint},
                      {"rotations", std::move(rotations)},
                      {"messages", std::move(messages)}};
}

Result<CheckinResponse> checkin_response_from_json(const json::value& v) {
  CK_ASSIGN_OR_RETURN(const json::object* o, as_object(v, "check-in response"));
  CheckinResponse r;
  CK_ASSIGN_OR_RETURN(r.current_fingerprint, get_fingerprint(*o, "current_fingerprint"));
  if (const json::value* rot = o->if_contains("rotations"); rot && !rot->is_null()) {
    if (!rot->is_array()) return invalid("\"rotations\" must be an array");
    if (rot->as_array().size() > kMaxRotationLinks) return invalid("too many rotation links");
    for (const json::value& item : rot->as_array()) {
      CK_ASSIGN_OR_RETURN(const json::object* link, as_object(item, "rotation statement"));
      RotationLink l;
      CK_ASSIGN_OR_RETURN(l.by_old, get_string(*link, "by_old", true, kMaxServerFrameBytes));
      CK_ASSIGN_OR_RETURN(l.by_new, get_string(*link, "by_new", true, kMaxServerFrameBytes));
      r.rotations.push_back(std::move(l));
    }
  }
  if (const json::value* msgs = o->if_contains("messages"); msgs && !msgs->is_null()) {
    if (!msgs->is_array()) return invalid("\"messages\" must be an array");
    if (msgs->as_array().size() > kMaxMessagesPerResponse) return invalid("too many messages");
    for (const json::value& item : msgs->as_array()) {
      if (!item.is_string()) return invalid("\"messages\" must hold JWS strings");
      r.messages.emplace_back(item.as_string().data(), item.as_string().size());
    }
  }
  return r;
}

// ---- channel ----
Result<ChannelHello> channel_hello_from_json(const json::value& v) {
  CK_ASSIGN_OR_RETURN(const json::object* o, as_object(v, "channel hello"));
  ChannelHello h;
  CK_ASSIGN_OR_RETURN(h.agent_id, get_agent_id(*o, "agent_id"));
  CK_ASSIGN_OR_RETURN(h.pinned_fingerprint, get_fingerprint(*o, "pinned_fingerprint"));
  CK_ASSIGN_OR_RETURN(auto last_seq, get_int(*o, "last_seq"));
  if (last_seq && *last_seq < 0) return invalid("\"last_seq\" must not be negative");
  h.last_seq = last_seq.value_or(0);
  return h;
}

json::object to_json(const ChannelHello& h) {
  return json::object{{"agent_id", h.agent_id}, {"pinned_fingerprint", h.pinned_fingerprint}, {"last_seq", h.last_seq}};
}

json::object to_json(const ChannelRotation& r) {
  json::array rotations;
  rotations.reserve(r.rotations.size());
  for (const auto& link : r.rotations) rotations.push_back(json::object{{"by_old", link.by_old}, {"by_new", link.by_new}});
  return json::object{{"type", kFrameTypeRotation},
                      {"current_fingerprint", r.current_fingerprint},
                      {"rotations", std::move(rotations)}};
}

Result<ChannelRotation> channel_rotation_from_json(const json::value& v) {
  CK_ASSIGN_OR_RETURN(const json::object* o, as_object(v, "channel frame"));
  CK_ASSIGN_OR_RETURN(std::string type, get_string(*o, "type", true, 32));
  if (type != kFrameTypeRotation) return invalid("unknown channel frame type \"" + type + "\"");
  ChannelRotation r;
  CK_ASSIGN_OR_RETURN(r.current_fingerprint, get_fingerprint(*o, "current_fingerprint"));
  const json::value* rot = o->if_contains("rotations");
  if (!rot || !rot->is_array()) return invalid("\"rotations\" must be an array");
  if (rot->as_array().size() > kMaxRotationLinks) return invalid("too many rotation links");
  for (const json::value& item : rot->as_array()) {
    CK_ASSIGN_OR_RETURN(const json::object* link, as_object(item, "rotation statement"));
    RotationLink l;
    CK_ASSIGN_OR_RETURN(l.by_old, get_string(*link, "by_old", true, kMaxServerFrameBytes));
    CK_ASSIGN_OR_RETURN(l.by_new, get_string(*link, "by_new", true, kMaxServerFrameBytes));
    r.rotations.push_back(std::move(l));
  }
  return r;
}

bool is_typed_frame(std::string_view frame) {
  size_t i = frame.find_first_not_of(" \t\r\n");
  return i != std::string_view::npos && frame[i] == '{';
}

// ---- commands ----
bool known_command(std::string_view cmd) {
  return cmd == kCommandPing || cmd == kCommandSetPolicy || cmd == kCommandRunScan;
}

json::object to_json(const CommandPayload& p) {
  return json::object{{"typ", "command"}, {"cmd", p.cmd}, {"args", p.args}, {"aud", p.aud},
                      {"iat", p.iat},     {"exp", p.exp}, {"jti", p.jti},   {"seq", p.seq}};
}

Result<CommandPayload> command_payload_from_json(const json::value& v) {
  CK_ASSIGN_OR_RETURN(const json::object* o, as_object(v, "command payload"));
  CK_ASSIGN_OR_RETURN(std::string typ, get_string(*o, "typ", true, 32));
  if (typ != "command") return invalid("\"typ\" is not \"command\"");
  CommandPayload p;
  CK_ASSIGN_OR_RETURN(p.cmd, get_string(*o, "cmd", true, 64));
  CK_ASSIGN_OR_RETURN(p.args, get_object(*o, "args", false));
  CK_ASSIGN_OR_RETURN(p.aud, get_string(*o, "aud", true, kMaxAgentIdBytes));
  CK_ASSIGN_OR_RETURN(p.jti, get_string(*o, "jti", true, 64));
  CK_ASSIGN_OR_RETURN(auto iat, get_int(*o, "iat"));
  CK_ASSIGN_OR_RETURN(auto exp, get_int(*o, "exp"));
  CK_ASSIGN_OR_RETURN(auto seq, get_int(*o, "seq"));
  if (!iat || !exp || !seq) return invalid("missing \"iat\", \"exp\" or \"seq\"");
  p.iat = *iat;
  p.exp = *exp;
  p.seq = *seq;
  return p;
}

// ---- admin ----
Result<AdminMessageRequest> admin_message_request_from_json(const json::value& v) {
  CK_ASSIGN_OR_RETURN(const json::object* o, as_object(v, "admin message"));
  AdminMessageRequest r;
  CK_ASSIGN_OR_RETURN(r.command, get_string(*o, "command", true, 64));
  if (!known_command(r.command)) return invalid("unknown command \"" + r.command + "\" (ping|set-policy|run-scan)");
  CK_ASSIGN_OR_RETURN(r.args, get_object(*o, "args", false));
  if (json::serialize(r.args).size() > kMaxArgsBytes)
    return invalid("\"args\" larger than " + std::to_string(kMaxArgsBytes) + " bytes");
  CK_ASSIGN_OR_RETURN(r.to, get_string(*o, "to", true, kMaxAgentIdBytes));
  if (r.to != kToAll && !valid_agent_id(r.to)) return invalid("\"to\" must be an agent id or \"all\"");
  return r;
}

json::object to_json(const AdminMessageRequest& r) {
  return json::object{{"command", r.command}, {"args", r.args}, {"to", r.to}};
}

json::object to_json(const AdminMessageResponse& r) {
  return json::object{{"seq", r.seq}, {"jti", r.jti}, {"exp", r.exp}};
}

Result<AdminMessageResponse> admin_message_response_from_json(const json::value& v) {
  CK_ASSIGN_OR_RETURN(const json::object* o, as_object(v, "admin message response"));
  AdminMessageResponse r;
  CK_ASSIGN_OR_RETURN(auto seq, get_int(*o, "seq"));
  CK_ASSIGN_OR_RETURN(auto exp, get_int(*o, "exp"));
  if (!seq || !exp) return invalid("missing \"seq\" or \"exp\"");
  CK_ASSIGN_OR_RETURN(r.jti, get_string(*o, "jti", true, 64));
  r.seq = *seq;
  r.exp = *exp;
  return r;
}

std::string error_body(std::string_view message) {
  return json::serialize(json::object{{"error", json::string_view(message.data(), message.size())}});
}

}  // namespace ck::protocol
