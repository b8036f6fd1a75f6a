// The server's request handlers, free of sockets (Beast's http_server_async pattern):
// the net layer turns each HTTP request into an HttpRequest and sends back whatever
// HttpResponse arrives through `done`.
//
//   agent port: POST /v1/checkin — validated (400 not JSON, 413 too large, 422 wrong
//               shape), submitted to the registry's group commit, and answered ONLY
//               after the commit holding it succeeded (503 when it failed), with the
//               current fingerprint, the rotation path when pinned != current, and the
//               queued commands signed for that agent. GET /v1/channel without a
//               WebSocket upgrade: 426. Anything else: 404 / 405.
//   admin port: GET /metrics (Prometheus text), POST /v1/admin/messages (403 with an
//               Origin header or a Host that is not loopback:this-port, 415 unless
//               Content-Type is application/json: no browser can drive it).
//   channels:   channel_hello() attaches a ChannelSink and flushes queued commands.
//
// Signing (DESIGN.md §4): with the key the agent pins when that key is retired/expired
// and held, else with the current key; agents pinning a revoked or unknown key get no
// messages and no rotations (their commands stay queued).
// Thread-safe: every method may be called from any thread concurrently. `done` may be
// called on another thread (the registry writer's) via ServiceDeps::dispatch.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "protocol/cert_state.h"
#include "protocol/channel_hub.h"
#include "protocol/http_types.h"
#include "protocol/message_queue.h"
#include "protocol/metrics.h"
#include "protocol/seq_source.h"
#include "protocol/wire.h"
#include "registry/endpoint_registry.h"

namespace ck::protocol {

struct ServiceDeps {
  // Group commit: calls the callback after the transaction holding `endpoint` ended.
  std::function<void(registry::Endpoint endpoint, std::function<void(Status)> committed)> submit;
  // Endpoints per pinned fingerprint (for /metrics and "to": "all" counts).
  std::function<Result<std::map<std::string, int64_t>>()> count_by_fingerprint;
  // Called before /metrics is rendered, to copy outside counters (e.g. the batching
  // writer's) into Metrics. Optional.
  std::function<void(Metrics&)> refresh_metrics;
  // Runs `fn` on a worker thread (the server's io pool); inline when empty.
  std::function<void(std::function<void()> fn)> dispatch;
  CertState* certs = nullptr;
  SeqSource* seq = nullptr;
  MessageQueue* queue = nullptr;
  ChannelHub* hub = nullptr;
  Metrics* metrics = nullptr;
  const Clock* clock = nullptr;
};

class Service {
 public:
  using Done = std::function<void(HttpResponse)>;

  explicit Service(ServiceDeps deps);

  void handle_agent(HttpRequest req, Done done);
  void handle_admin(HttpRequest req, Done done);

  // Whether `target` names the WebSocket channel endpoint.
  static bool is_channel_target(std::string_view target);

  // A text frame from an open channel. The first valid hello attaches `sink` (later
  // hellos update the pinned fingerprint) and pushes queued commands; a reply frame
  // ({"type":"reply",…}) is logged and counted. `bound_agent_id` is the id of the
  // channel's earlier hellos ("" before the first): a frame naming another id is an
  // error. Attaching over another live channel of the same id replaces it and logs a
  // warning. Returns the agent id; errors (kInvalidArgument) mean the channel should
  // be closed.
  Result<std::string> channel_hello(std::string_view frame, const std::shared_ptr<ChannelSink>& sink,
                                    std::string_view bound_agent_id = {});
  void channel_closed(const std::string& agent_id, const ChannelSink* sink);

 private:
  void checkin(HttpRequest req, Done done);
  HttpResponse checkin_answer(const CheckinRequest& req);
  HttpResponse metrics();
  // 403/415 for POST /v1/admin/messages not sent by a local non-browser client.
  std::optional<HttpResponse> admin_refusal(const HttpRequest& req);
  HttpResponse admin_message(const HttpRequest& req);
  // Signs `cmds` for one agent; those that could not be signed are put back.
  std::vector<std::string> sign_for(const std::string& agent_id, const crypto::PrivateKey& key,
                                    std::vector<PendingCommand> cmds, int64_t last_seq);
  // Pushes a command to a live channel when the agent's pinned key allows it.
  bool push_live(const std::string& agent_id, const ChannelHub::Live& live, const PendingCommand& cmd);
  // Whether messages can be signed for an agent pinning `pinned` (not revoked/unknown).
  bool trusted(const std::string& pinned);
  int64_t now() const { return deps_.clock->now(); }

  ServiceDeps deps_;
};

}  // namespace ck::protocol
