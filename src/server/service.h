// The server's request handlers and delivery, free of sockets (Beast's
// http_server_async pattern): the net layer turns each HTTP request into an
// HttpRequest and sends back whatever HttpResponse arrives through `done`.
//
//   agent port: POST /v1/checkin — validated (400 not JSON, 413 too large, 422 wrong
//               shape), submitted to the registry's group commit, and answered ONLY
//               after the commit holding it succeeded (503 when it failed), with the
//               current fingerprint, the rotation path when pinned != current, and the
//               outbox messages due for that agent (none when it reports an open
//               channel: those travel there). GET /v1/channel without a WebSocket
//               upgrade: 426. Anything else: 404 / 405.
//   admin socket (Unix, SO_PEERCRED): POST /v1/admin/messages — 403 unless the peer is
//               root, the server's user or in the admin group (logged as an audit
//               line), 403 with an Origin header, 415 unless application/json; the
//               message goes into the durable outbox, like `certmgr send`.
//               POST /v1/admin/console-token — the same checks; a one-time web
//               console login (set_console_login; 404 when no console is served).
//   metrics listener (loopback TCP, read-only): GET /metrics (Prometheus text).
//   channels:   channel_frame() attaches a Channel on the first hello and delivers.
//
// Delivery (DESIGN.md §5): deliver() brings one live channel up to date — the outbox
// messages above what it has (signed with the key it pins, in seq order), then the
// rotation path when it pins a stale key (key deployment; pushed once per current
// certificate). The agent answers a rotation with a hello naming its new pin, which
// is recorded in the registry through the group commit.
//
// Signing (DESIGN.md §4): with the key the agent pins when that key is retired/expired
// and held, else with the current key; agents pinning a revoked or unknown key get no
// messages and no rotations (their messages stay in the outbox).
// Thread-safe: every method may be called from any thread concurrently. `done` may be
// called on another thread (the registry writer's) via ServiceDeps::dispatch.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "outbox/outbox.h"
#include "protocol/http_types.h"
#include "protocol/wire.h"
#include "registry/endpoint_registry.h"
#include "server/admin_access.h"
#include "server/agent_identity.h"
#include "server/cert_state.h"
#include "server/channel_hub.h"
#include "server/metrics.h"
#include "server/outbox_feed.h"

namespace ck::server {

using protocol::HttpRequest;
using protocol::HttpResponse;

struct ServiceDeps {
  // Group commit: calls the callback after the transaction holding `endpoint` ended.
  std::function<void(registry::Endpoint endpoint, std::function<void(Status)> committed)> submit;
  // Endpoints per pinned fingerprint (for /metrics). Optional.
  std::function<Result<std::map<std::string, int64_t>>()> count_by_fingerprint;
  // Called before /metrics is rendered, to copy outside state (the batching writer's
  // stats) into the snapshot. Optional.
  std::function<void(MetricsSnapshot&)> refresh_metrics;
  // Runs `fn` on a worker thread (the server's io pool); inline when empty.
  std::function<void(std::function<void()> fn)> dispatch;
  // Wakes the delivery loop (a message was added here). Optional.
  std::function<void()> wake;
  // Who may use the admin API; null refuses everyone.
  const AdminAccess* admin_access = nullptr;
  // Agent identities (keys bound to agent ids); null: no checks.
  AgentIdentities* identities = nullptr;
  // New agent keys bound per second at most (0: no limit); beyond, 503 + Retry-After.
  int max_new_agents_per_second = 0;
  CertState* certs = nullptr;
  outbox::Outbox* outbox = nullptr;
  OutboxFeed* feed = nullptr;
  ChannelHub* hub = nullptr;
  Metrics* metrics = nullptr;
  const Clock* clock = nullptr;
};

// At most this many messages in one push to a channel (the outbox bounds what is
// pending for one agent well below the channel's frame limit).
inline constexpr size_t kMaxPushPerDelivery = 600;
// After pushing a rotation path, messages signed with the key the agent is leaving
// wait this long for the hello that names its new pin.
inline constexpr int64_t kHoldAfterRotationSeconds = 30;

// Signed messages in one check-in answer stop after this many bytes (the agent takes
// up to 8 MiB per answer); the rest follows with the next check-ins, in seq order.
inline constexpr size_t kMaxCheckinAnswerMessageBytes = 2u << 20;

// Pin reports one channel may send to the registry per second.
inline constexpr int kMaxPinReportsPerSecond = 3;

// What deliver() pushed to one channel.
struct Delivered {
  int messages = 0;
  bool rotation = false;
};

class Service {
 public:
  using Done = std::function<void(HttpResponse)>;

  explicit Service(ServiceDeps deps);

  void handle_agent(HttpRequest req, Done done);
  void handle_admin(HttpRequest req, Done done);
  void handle_metrics(HttpRequest req, Done done);

  // Whether `target` names the WebSocket channel endpoint.
  static bool is_channel_target(std::string_view target);

  // A text frame from an open channel: a hello (or a reply, which carries the same
  // members). The first valid hello attaches `sink`; every hello updates the pin and
  // the acknowledged seq, records a changed pin in the registry, and delivers.
  // `bound_agent_id` is the id of the channel's earlier hellos ("" before the first):
  // a frame naming another id is an error. Attaching over another live channel of the
  // same id replaces it and logs a warning. Returns the agent id; errors
  // (kInvalidArgument) mean the channel should be closed.
  // `peer_key` is the key the channel's TLS peer presented (see HttpRequest): a new
  // channel is attached only for the key bound to the id (kPermissionDenied otherwise).
  Result<std::string> channel_frame(std::string_view frame, const std::shared_ptr<ChannelSink>& sink,
                                    std::string_view bound_agent_id = {}, const std::string& peer_key = {});
  void channel_closed(const std::string& agent_id, const ChannelSink* sink);

  // Brings one live channel up to date (see above). Holds the channel's lock.
  Delivered deliver(const std::string& agent_id, Channel& channel);

  // What POST /v1/admin/console-token answers (the web console's new_login), given who
  // asks (the admin socket peer's user name, or "uid N"). Set before the admin socket
  // serves; unset: 404.
  void set_console_login(std::function<HttpResponse(const std::string& user)> fn) { console_login_ = std::move(fn); }

  // Adds a message to the outbox (the admin API and tests). Errors as Outbox::add,
  // kInvalidArgument for a bad command or audience.
  Result<outbox::Message> issue(const protocol::AdminMessageRequest& m, const std::string& issued_by);

 private:
  void checkin(HttpRequest req, Done done);
  HttpResponse checkin_answer(const protocol::CheckinRequest& req);
  HttpResponse metrics();
  // 403/415 for POST /v1/admin/messages not sent by an administrator's local client.
  std::optional<HttpResponse> admin_refusal(const HttpRequest& req);
  HttpResponse admin_message(const HttpRequest& req);
  // Signs `msgs` for one agent, stopping at the first failure (later seqs must not
  // overtake it).
  std::vector<std::string> sign_for(const std::string& agent_id, const crypto::PrivateKey& key,
                                    const std::vector<outbox::Message>& msgs, size_t max_bytes = SIZE_MAX);
  // Records the pin a channel reports, when it changed (at most once a second).
  void maybe_report_pin(const std::string& agent_id, Channel& ch);
  // Records a pin the agent reported on its channel (group commit, no answer awaited).
  void report_pin(const std::string& agent_id, const std::string& pinned);
  int64_t now() const { return deps_.clock->now(); }
  // Counts one new binding against max_new_agents_per_second; false when over.
  bool admit_new_agent();
  // The rotation frame for channels pinning `pinned`, serialized once per (snapshot,
  // pin): a rotation pushes the same frame to every channel on the old key.
  std::string rotation_frame(const std::shared_ptr<const store::Keyring>& ring, const std::string& pinned,
                             const store::RotationPlan& plan);

  ServiceDeps deps_;
  std::function<HttpResponse(const std::string& user)> console_login_;
  std::mutex registrations_mu_;
  int64_t registrations_second_ = 0;
  int registrations_this_second_ = 0;
  std::mutex frame_mu_;
  // Weak: an old snapshot (its private keys) is not kept alive for the cache's sake.
  std::weak_ptr<const store::Keyring> frame_ring_;  // guarded by frame_mu_, as the two below
  std::string frame_pinned_;
  std::string frame_;
};

}  // namespace ck::server
