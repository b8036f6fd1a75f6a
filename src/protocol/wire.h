// The agent <-> server wire format (DESIGN.md §4-5), shared by the server, the agent
// and the fleet simulator. Plain structs plus JSON conversion in both directions;
// no sockets, no store. All functions are pure and thread-safe.
//
//   POST /v1/checkin   body CheckinRequest  -> CheckinResponse
//   GET  /v1/channel   WebSocket; the agent's first text frame is a ChannelHello, then
//                      the server pushes signed messages (one JWS compact per text frame)
//   admin (loopback):  GET /metrics, POST /v1/admin/messages AdminMessageRequest
//                      -> AdminMessageResponse
//
// Parsing is strict: wrong JSON types, missing required members, over-long strings or
// a bad agent id give ErrorKind::kInvalidArgument (the server answers 422); text that
// is not JSON also gives kInvalidArgument from parse_json_body (the server answers 400).
#pragma once

#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ck::protocol {

inline constexpr std::string_view kCheckinPath = "/v1/checkin";
inline constexpr std::string_view kChannelPath = "/v1/channel";
inline constexpr std::string_view kMetricsPath = "/metrics";
inline constexpr std::string_view kAdminMessagesPath = "/v1/admin/messages";
// POST, body {}: a one-time web console login -> {"token", "url", "expires_in"}.
inline constexpr std::string_view kAdminConsoleTokenPath = "/v1/admin/console-token";

// Request bodies larger than this are refused (413).
inline constexpr size_t kMaxRequestBodyBytes = 64 * 1024;
// Agent -> server WebSocket frames (the hello) larger than this close the channel.
inline constexpr size_t kMaxAgentFrameBytes = 16 * 1024;
// Server -> agent WebSocket frames (one JWS) are at most this large.
inline constexpr size_t kMaxServerFrameBytes = 256 * 1024;
// Check-in string members (hostname, ip, domain, os, agent_version) at most this long.
inline constexpr size_t kMaxFieldBytes = 255;
inline constexpr size_t kMaxAgentIdBytes = 64;
// A command's args, as JSON, at most this large (the signed message stays small).
inline constexpr size_t kMaxArgsBytes = 16 * 1024;
// A signed message is valid this long after it was issued (payload "exp" - "iat").
inline constexpr int64_t kMessageLifetimeSeconds = 3600;

// 1-64 characters of A-Z a-z 0-9 . _ -, and not the reserved broadcast address "all"
// in any letter case (an agent checking in as "all" must never collect broadcasts).
bool valid_agent_id(std::string_view id);
// 64 lowercase hex digits (SHA-256 of the SPKI).
bool valid_fingerprint(std::string_view fp);

// Parses a request/response body. Errors: kInvalidArgument (not JSON, or > max_bytes).
Result<boost::json::value> parse_json_body(std::string_view body,
                                           size_t max_bytes = kMaxRequestBodyBytes);

// ---- POST /v1/checkin ----------------------------------------------------------
struct CheckinRequest {
  std::string agent_id;            // required, valid_agent_id
  std::string hostname;            // optional, <= kMaxFieldBytes
  std::string ip;                  // optional
  std::string domain;              // optional
  std::string os;                  // optional
  std::string agent_version;       // optional
  std::string pinned_fingerprint;  // required, valid_fingerprint
  int64_t last_seq = 0;            // optional, >= 0: highest message seq the agent accepted
  // optional: the agent holds an open channel, so its messages travel there (in seq
  // order, from one server) and the check-in answer carries none.
  bool channel_open = false;
};

Result<CheckinRequest> checkin_request_from_json(const boost::json::value& v);
boost::json::object to_json(const CheckinRequest& r);

// At most this many links in one rotation path (check-in answer or channel frame).
inline constexpr size_t kMaxRotationLinks = 1024;

// A rotation statement (DESIGN.md §4), both JWS compact.
struct RotationLink {
  std::string by_old;
  std::string by_new;
};

// At most this many messages in one answer (the agent refuses more).
inline constexpr size_t kMaxMessagesPerResponse = 4096;

struct CheckinResponse {
  std::string current_fingerprint;
  std::vector<RotationLink> rotations;  // oldest link first; empty when pinned == current
  std::vector<std::string> messages;    // JWS compact, signed command payloads
};

boost::json::object to_json(const CheckinResponse& r);
Result<CheckinResponse> checkin_response_from_json(const boost::json::value& v);

// ---- GET /v1/channel (WebSocket) ------------------------------------------------
// First text frame from the agent. The agent may send another hello later (e.g. after
// it followed a rotation) to update its pinned fingerprint. Command replies travel the
// same way: {"type":"reply","jti":…,"result":…,"agent_id":…,"pinned_fingerprint":…}
// (the server logs and counts them; they also act as a hello).
// A hello also reports what the agent holds: its pinned fingerprint (after a rotation
// pushed on the channel, the server records the new pin in the registry) and
// "last_seq" (optional, the highest message seq it accepted: the server pushes only
// messages above it).
struct ChannelHello {
  std::string agent_id;
  std::string pinned_fingerprint;
  int64_t last_seq = 0;
};

Result<ChannelHello> channel_hello_from_json(const boost::json::value& v);
boost::json::object to_json(const ChannelHello& h);

// Server -> agent frames are either a JWS compact (a signed message) or a JSON object
// with a "type". Key deployment (DESIGN.md §5) is
//   {"type":"rotation","current_fingerprint":FP,"rotations":[{"by_old","by_new"}…]}
// — the rotation path a check-in would carry, oldest link first, verified the same way.
inline constexpr std::string_view kFrameTypeRotation = "rotation";
struct ChannelRotation {
  std::string current_fingerprint;
  std::vector<RotationLink> rotations;
};
boost::json::object to_json(const ChannelRotation& r);
// Errors: kInvalidArgument (not this shape, or more than kMaxRotationLinks links).
Result<ChannelRotation> channel_rotation_from_json(const boost::json::value& v);
// True when a server frame is a JSON object (a typed frame), not a JWS compact.
bool is_typed_frame(std::string_view frame);

// ---- Signed command payload (the JWS payload of every server-initiated message) ----
//   {"typ":"command","cmd":…,"args":{…},"aud":AGENT_ID,"iat":…,"exp":…,"jti":HEX32,"seq":…}
inline constexpr std::string_view kCommandPing = "ping";
inline constexpr std::string_view kCommandSetPolicy = "set-policy";
inline constexpr std::string_view kCommandRunScan = "run-scan";
bool known_command(std::string_view cmd);

struct CommandPayload {
  std::string cmd;
  boost::json::object args;
  std::string aud;
  int64_t iat = 0;
  int64_t exp = 0;
  std::string jti;  // 32 lowercase hex digits (128 random bits)
  int64_t seq = 0;  // per-agent, strictly increasing
};

boost::json::object to_json(const CommandPayload& p);
// Checks shape only (typ == "command", types); signature/aud/exp/replay are the
// verifier's job.
Result<CommandPayload> command_payload_from_json(const boost::json::value& v);

// ---- POST /v1/admin/messages (admin listener) ---------------------------------
// {"command": "ping"|"set-policy"|"run-scan", "args": {…}, "to": AGENT_ID | "all"}
// "all" (exactly, lowercase) is a broadcast; it is never an agent id, and a broadcast
// is signed separately for each agent, with "aud" = that agent's id.
inline constexpr std::string_view kToAll = "all";

struct AdminMessageRequest {
  std::string command;
  boost::json::object args;  // optional, default {}
  std::string to;            // agent id or "all"
};

Result<AdminMessageRequest> admin_message_request_from_json(const boost::json::value& v);
boost::json::object to_json(const AdminMessageRequest& r);

// {"seq": N, "jti": HEX32, "exp": UNIX}: the message is in the outbox (durable); every
// server pushes it to the agents connected to it and check-ins carry it to the others
// until "exp".
struct AdminMessageResponse {
  int64_t seq = 0;
  std::string jti;
  int64_t exp = 0;
};

boost::json::object to_json(const AdminMessageResponse& r);
Result<AdminMessageResponse> admin_message_response_from_json(const boost::json::value& v);

// {"error": message} — the body of every non-2xx JSON answer.
std::string error_body(std::string_view message);

}  // namespace ck::protocol
