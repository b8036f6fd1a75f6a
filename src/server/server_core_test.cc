// ServerCore and Service without sockets: a SQLite certificate store in a temporary
// folder, an in-memory registry and outbox, the delivery loop driven by tick().
#include "server/server_core.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <atomic>
#include <set>
#include <thread>

#include "crypto/jws.h"
#include "crypto/rotation_statement.h"
#include "server/commands.h"
#include "store/cert_operations.h"
#include "server/test_fakes.h"
#include "support/process.h"

namespace ck::server {
namespace {
namespace json = boost::json;
using namespace protocol;  // NOLINT
using namespace std::chrono_literals;

class ServerCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ck::testing::temp_dir("core");
    {
      auto store = store::open_cert_store("sqlite:" + dir_ + "/ck.db");
      ASSERT_TRUE(store.ok()) << store.error().message;
      store_ = store->get();
      first_ = generate();
    }
    recreate(ServerConfig{});
  }
  // A core over a fresh registry and outbox (the certificate store in dir_) with `config`.
  void recreate(ServerConfig config) {
    core_.reset();
    ServerBackends b;
    auto store = store::open_cert_store("sqlite:" + dir_ + "/ck.db");
    ASSERT_TRUE(store.ok());
    store_ = store->get();
    b.store = std::move(store).value();
    auto registry = std::make_unique<MemoryRegistry>();
    registry_ = registry.get();
    b.registry = std::move(registry);
    b.outbox = outbox::make_memory_outbox(1000);
    outbox_ = b.outbox.get();
    config.store_url = "memory";
    auto core = ServerCore::create(config, std::move(b));
    ASSERT_TRUE(core.ok()) << core.error().message;
    core_ = std::move(core).value();
  }
  // A check-in presenting the client key `key` ("" for none); returns the status.
  int checkin_with_key(const std::string& id, const std::string& key) {
    HttpRequest req{"POST", "/v1/checkin", checkin_body(id, first_), "127.0.0.1"};
    req.peer_key = key;
    auto got = std::make_shared<std::pair<std::mutex, std::optional<HttpResponse>>>();
    auto cv = std::make_shared<std::condition_variable>();
    service().handle_agent(std::move(req), [got, cv](HttpResponse r) {
      std::lock_guard lock(got->first);
      got->second = std::move(r);
      cv->notify_all();
    });
    std::unique_lock lock(got->first);
    cv->wait_for(lock, 5s, [&] { return got->second.has_value(); });
    return got->second ? got->second->status : 0;
  }
  void TearDown() override {
    registry_->set_hold(false);
    core_.reset();
    std::filesystem::remove_all(dir_);
  }

  Service& service() { return core_->service(); }
  std::string generate() {
    auto r = store::generate_certificate(*store_, {}, store::Context{"tester", nullptr});
    EXPECT_TRUE(r.ok());
    return r->fingerprint;
  }
  crypto::PublicKey public_key(const std::string& fp) {
    auto ring = core_->certs().snapshot();
    return crypto::Certificate::parse(ring->find(fp)->cert_pem)->public_key();
  }
  // The answer arrives on the registry writer's thread after the commit.
  std::optional<HttpResponse> agent(std::string method, std::string target, std::string body,
                                    std::chrono::milliseconds wait = 5s) {
    auto got = std::make_shared<std::pair<std::mutex, std::optional<HttpResponse>>>();
    auto cv = std::make_shared<std::condition_variable>();
    service().handle_agent(HttpRequest{std::move(method), std::move(target), std::move(body), "127.0.0.1"},
                           [got, cv](HttpResponse r) {
                             std::lock_guard lock(got->first);
                             got->second = std::move(r);
                             cv->notify_all();
                           });
    std::unique_lock lock(got->first);
    cv->wait_for(lock, wait, [&] { return got->second.has_value(); });
    return got->second;
  }
  // As certmgr sends it over the admin socket: JSON, no Origin, the kernel's word on who.
  static HttpRequest admin_request(std::string method, std::string target, std::string body = "") {
    HttpRequest req{std::move(method), std::move(target), std::move(body), "unix"};
    req.content_type = "application/json";
    req.peer_pid = ::getpid();
    req.peer_uid = ::geteuid();
    req.peer_gid = ::getegid();
    return req;
  }
  HttpResponse metrics_page() {
    std::optional<HttpResponse> out;
    service().handle_metrics(HttpRequest{"GET", "/metrics", "", "127.0.0.1"}, [&](HttpResponse r) { out = std::move(r); });
    EXPECT_TRUE(out.has_value());
    return *out;
  }
  HttpResponse admin(HttpRequest req) {
    std::optional<HttpResponse> out;
    service().handle_admin(std::move(req), [&](HttpResponse r) { out = std::move(r); });
    EXPECT_TRUE(out.has_value());
    return *out;
  }
  HttpResponse admin(std::string method, std::string target, std::string body = "") {
    return admin(admin_request(std::move(method), std::move(target), std::move(body)));
  }
  // Queues through the admin API and runs the delivery loop once, as the wake-up
  // would; returns the message's seq.
  int64_t send(const std::string& json_body) {
    auto r = admin("POST", "/v1/admin/messages", json_body);
    core_->tick();
    EXPECT_EQ(r.status, 200) << r.body;
    auto out = admin_message_response_from_json(*parse_json_body(r.body));
    EXPECT_TRUE(out.ok()) << r.body;
    return out.ok() ? out->seq : -1;
  }
  static std::string checkin_body(const std::string& id, const std::string& pinned, int64_t last_seq = 0,
                                  bool channel_open = false) {
    CheckinRequest r;
    r.agent_id = id;
    r.hostname = "host-" + id;
    r.pinned_fingerprint = pinned;
    r.last_seq = last_seq;
    r.channel_open = channel_open;
    return json::serialize(to_json(r));
  }
  CheckinResponse checkin_ok(const std::string& id, const std::string& pinned, int64_t last_seq = 0,
                             bool channel_open = false) {
    auto r = agent("POST", "/v1/checkin", checkin_body(id, pinned, last_seq, channel_open));
    EXPECT_TRUE(r.has_value());
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    auto parsed = checkin_response_from_json(*parse_json_body(r->body));
    EXPECT_TRUE(parsed.ok());
    return parsed.ok() ? *parsed : CheckinResponse{};
  }
  Result<std::string> hello(const std::string& id, const std::string& pinned, const std::shared_ptr<FakeSink>& sink,
                            int64_t last_seq = 0, std::string_view bound = {}) {
    return service().channel_frame(json::serialize(to_json(ChannelHello{id, pinned, last_seq})), sink, bound);
  }
  CommandPayload payload(const std::string& jws, const std::string& fp) {
    auto verified = crypto::jws_verify(jws, public_key(fp));
    EXPECT_TRUE(verified.ok()) << (verified.ok() ? "" : verified.error().message);
    if (!verified.ok()) return {};
    return *command_payload_from_json(*verified);
  }

  std::string dir_, first_;
  store::CertStore* store_ = nullptr;
  MemoryRegistry* registry_ = nullptr;
  outbox::Outbox* outbox_ = nullptr;
  std::unique_ptr<ServerCore> core_;
};

TEST_F(ServerCoreTest, CheckinIsAnsweredAfterItsCommit) {
  auto resp = checkin_ok("agent-1", first_);
  EXPECT_EQ(resp.current_fingerprint, first_);
  EXPECT_TRUE(resp.rotations.empty());
  EXPECT_TRUE(resp.messages.empty());
  auto row = registry_->find("agent-1");
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->hostname, "host-agent-1");
  EXPECT_EQ((*row)->ip_address, "127.0.0.1");  // not reported: the peer address
  EXPECT_EQ(core_->metrics().checkins_total.load(), 1);

  registry_->set_hold(true);
  EXPECT_FALSE(agent("POST", "/v1/checkin", checkin_body("held", first_), 300ms).has_value());
  registry_->set_hold(false);
  EXPECT_TRUE(registry_->wait_pinned("held", first_));

  registry_->set_fail(true);
  auto failed = agent("POST", "/v1/checkin", checkin_body("a", first_));
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->status, 503);
}

TEST_F(ServerCoreTest, BadInputGetsTheRightStatus) {
  EXPECT_EQ(agent("POST", "/v1/checkin", "{not json")->status, 400);
  EXPECT_EQ(agent("POST", "/v1/checkin", "")->status, 400);
  EXPECT_EQ(agent("POST", "/v1/checkin", R"({"agent_id": 1})")->status, 422);
  EXPECT_EQ(agent("POST", "/v1/checkin", "[1,2]")->status, 422);
  EXPECT_EQ(agent("POST", "/v1/checkin", checkin_body("bad id!", first_))->status, 422);
  EXPECT_EQ(agent("POST", "/v1/checkin", std::string(kMaxRequestBodyBytes + 1, ' '))->status, 413);
  EXPECT_EQ(agent("GET", "/nope", "")->status, 404);
  auto r = agent("GET", "/v1/checkin", "");
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(agent("GET", "/v1/channel", "")->status, 426);
  EXPECT_EQ(admin("GET", "/v1/admin/messages").status, 405);
  EXPECT_EQ(admin("POST", "/v1/admin/messages", "{").status, 400);
  EXPECT_EQ(admin("POST", "/v1/admin/messages", R"({"command":"format-disk","to":"all"})").status, 422);
  EXPECT_EQ(admin("GET", "/other").status, 404);
  EXPECT_TRUE(outbox_->since(0, 0)->empty());
}

TEST_F(ServerCoreTest, OutboxMessageIsCarriedUntilAcknowledged) {
  int64_t seq = send(R"({"command":"set-policy","args":{"level":3},"to":"agent-1"})");
  EXPECT_EQ(*outbox_->last_seq(), seq);
  auto resp = checkin_ok("agent-1", first_);
  ASSERT_EQ(resp.messages.size(), 1u);
  auto p = payload(resp.messages[0], first_);
  EXPECT_EQ(p.cmd, "set-policy");
  EXPECT_EQ(p.aud, "agent-1");
  EXPECT_EQ(p.args.at("level").as_int64(), 3);
  EXPECT_EQ(p.seq, seq);
  EXPECT_EQ(p.exp - p.iat, kMessageLifetimeSeconds);
  EXPECT_EQ(p.jti.size(), 32u);
  // Not acknowledged (the answer may have been lost): carried again, same seq and jti.
  auto again = checkin_ok("agent-1", first_, seq - 1);
  ASSERT_EQ(again.messages.size(), 1u);
  EXPECT_EQ(payload(again.messages[0], first_).jti, p.jti);
  EXPECT_TRUE(checkin_ok("agent-1", first_, seq).messages.empty());  // acknowledged
  EXPECT_TRUE(checkin_ok("agent-2", first_).messages.empty());       // not its message
  // Reported with an open channel: messages travel there instead.
  send(R"({"command":"ping","to":"agent-1"})");
  EXPECT_TRUE(checkin_ok("agent-1", first_, seq, /*channel_open=*/true).messages.empty());
}

TEST_F(ServerCoreTest, StaleAgentGetsPathAndMessagesSignedWithItsKey) {
  generate();
  std::string third = generate();
  core_->tick();
  send(R"({"command":"ping","to":"old"})");
  auto resp = checkin_ok("old", first_);
  EXPECT_EQ(resp.current_fingerprint, third);
  ASSERT_EQ(resp.rotations.size(), 1u);  // direct link, the first key is held
  auto link = crypto::verify_rotation(resp.rotations[0].by_old, resp.rotations[0].by_new, public_key(first_), 0);
  ASSERT_TRUE(link.ok()) << link.error().message;
  EXPECT_EQ(link->to, third);
  ASSERT_EQ(resp.messages.size(), 1u);
  EXPECT_TRUE(crypto::jws_verify(resp.messages[0], public_key(first_)).ok());
  EXPECT_FALSE(crypto::jws_verify(resp.messages[0], public_key(third)).ok());
}

TEST_F(ServerCoreTest, RevokedOrUnknownPinGetsNothingAndTheMessageWaits) {
  std::string second = generate();
  ASSERT_TRUE(store::revoke_certificate(*store_, first_, store::Context{"t", nullptr}).ok());
  core_->tick();
  send(R"({"command":"ping","to":"leaky"})");
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(hello("leaky", first_, sink).ok());
  core_->tick();
  EXPECT_TRUE(sink->take().empty());  // no message, no rotation for a revoked pin
  auto resp = checkin_ok("leaky", first_);
  EXPECT_EQ(resp.current_fingerprint, second);
  EXPECT_TRUE(resp.rotations.empty());
  EXPECT_TRUE(resp.messages.empty());
  auto unknown = checkin_ok("stranger", std::string(64, 'b'));
  EXPECT_TRUE(unknown.rotations.empty());
  EXPECT_TRUE(unknown.messages.empty());
  // After `certmgr -e` + a manual copy the agent pins the current key: it gets the message.
  auto repaired = checkin_ok("leaky", second);
  ASSERT_EQ(repaired.messages.size(), 1u);
  EXPECT_TRUE(crypto::jws_verify(repaired.messages[0], public_key(second)).ok());
}

TEST_F(ServerCoreTest, ChannelGetsPendingOnHelloAndNewMessagesOnce) {
  int64_t s1 = send(R"({"command":"run-scan","to":"live"})");
  auto sink = std::make_shared<FakeSink>();
  auto id = hello("live", first_, sink);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "live");
  auto frames = sink->take();
  ASSERT_EQ(frames.size(), 1u);  // the pending one, flushed by the hello
  EXPECT_EQ(payload(frames[0], first_).seq, s1);
  int64_t s2 = send(R"({"command":"ping","to":"live"})");
  core_->tick();  // the delivery loop notices the outbox moved
  frames = sink->take();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(payload(frames[0], first_).seq, s2);
  core_->tick();
  EXPECT_TRUE(sink->take().empty());  // pushed once
  // A broadcast: the live agent now, the offline one at its check-in.
  checkin_ok("offline", first_);
  int64_t s3 = send(R"({"command":"ping","to":"all"})");
  core_->tick();
  frames = sink->take();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(payload(frames[0], first_).seq, s3);
  auto offline = checkin_ok("offline", first_);
  ASSERT_EQ(offline.messages.size(), 1u);
  EXPECT_EQ(payload(offline.messages[0], first_).seq, s3);
  // A reconnecting agent says what it has: only newer messages come.
  auto sink2 = std::make_shared<FakeSink>();
  ASSERT_TRUE(hello("live", first_, sink2, s2).ok());
  EXPECT_TRUE(sink->closed);  // replaced
  frames = sink2->take();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(payload(frames[0], first_).seq, s3);
  // A reply frame (it carries agent_id and pinned_fingerprint) is counted.
  auto reply = service().channel_frame(
      R"({"type":"reply","jti":"ab","result":"pong","agent_id":"live","pinned_fingerprint":")" + first_ + "\"}",
      sink2, "live");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(core_->metrics().channel_replies_total.load(), 1);
  EXPECT_TRUE(sink2->take().empty());
  service().channel_closed("live", sink2.get());
  EXPECT_EQ(core_->hub().size(), 0u);
  EXPECT_FALSE(service().channel_frame("{\"agent_id\":\"x\"}", sink2).ok());
}

// Key deployment (DESIGN.md §5): a new current certificate is pushed to every live
// channel as the rotation path from the key it pins; the agent's hello with its new pin
// goes to the registry.
TEST_F(ServerCoreTest, NewCertificateIsPushedToLiveChannelsAndTheNewPinRecorded) {
  auto a = std::make_shared<FakeSink>();
  auto b = std::make_shared<FakeSink>();
  checkin_ok("a", first_);
  checkin_ok("b", first_);
  ASSERT_TRUE(hello("a", first_, a).ok());
  ASSERT_TRUE(hello("b", first_, b).ok());
  EXPECT_TRUE(a->take().empty());
  std::string second = generate();
  core_->tick();
  for (auto* sink : {a.get(), b.get()}) {
    auto frames = sink->take();
    ASSERT_EQ(frames.size(), 1u);
    ASSERT_TRUE(is_typed_frame(frames[0]));
    auto rotation = channel_rotation_from_json(*parse_json_body(frames[0], kMaxServerFrameBytes));
    ASSERT_TRUE(rotation.ok()) << rotation.error().message;
    EXPECT_EQ(rotation->current_fingerprint, second);
    ASSERT_EQ(rotation->rotations.size(), 1u);
    auto link = crypto::verify_rotation(rotation->rotations[0].by_old, rotation->rotations[0].by_new,
                                        public_key(first_), 0);
    ASSERT_TRUE(link.ok()) << link.error().message;
    EXPECT_EQ(link->to, second);
  }
  EXPECT_EQ(core_->metrics().rotations_pushed_total.load(), 2);
  core_->tick();
  EXPECT_TRUE(a->take().empty());  // once per certificate
  // "a" followed it and says so on its channel: the registry learns it without a check-in.
  ASSERT_TRUE(hello("a", second, a, 0, "a").ok());
  EXPECT_TRUE(registry_->wait_pinned("a", second));
  auto b_row = registry_->find("b");
  EXPECT_EQ((*b_row)->pinned_fingerprint, first_);
  EXPECT_TRUE(a->take().empty());
  // "b" has not said it followed: a message for it waits (signed with the key it is
  // leaving, it could be refused; see MessagesWaitForThePinHelloAfterAPushedRotation).
  send(R"({"command":"ping","to":"b"})");
  core_->tick();
  EXPECT_TRUE(b->take().empty());
  // A third certificate: "b" (still on the first) gets a fresh path, "a" one from the second.
  std::string third = generate();
  core_->tick();
  auto path_b = channel_rotation_from_json(*parse_json_body(b->take().at(0), kMaxServerFrameBytes));
  auto path_a = channel_rotation_from_json(*parse_json_body(a->take().at(0), kMaxServerFrameBytes));
  ASSERT_TRUE(path_a.ok() && path_b.ok());
  EXPECT_TRUE(crypto::verify_rotation(path_b->rotations[0].by_old, path_b->rotations[0].by_new, public_key(first_), 0).ok());
  EXPECT_TRUE(crypto::verify_rotation(path_a->rotations[0].by_old, path_a->rotations[0].by_new, public_key(second), 0).ok());
}

// A message issued after the rotation path was pushed, before the agent said it
// followed: signing it with the old key would make the agent refuse it, so it waits
// for the hello that names the new pin and is then signed with the new key.
TEST_F(ServerCoreTest, MessagesWaitForThePinHelloAfterAPushedRotation) {
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(hello("a", first_, sink).ok());
  std::string second = generate();
  core_->tick();
  auto frames = sink->take();
  ASSERT_EQ(frames.size(), 1u);
  ASSERT_TRUE(is_typed_frame(frames[0]));
  int64_t seq = send(R"({"command":"ping","to":"a"})");
  EXPECT_TRUE(sink->take().empty());  // held
  ASSERT_TRUE(hello("a", second, sink, 0, "a").ok());
  frames = sink->take();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(payload(frames[0], second).seq, seq);
  // A reply names the agent and a pin, but does not move either.
  const std::string reply = R"({"type":"reply","jti":"ab","result":"pong","agent_id":"a","pinned_fingerprint":")" +
                            first_ + "\"}";
  ASSERT_TRUE(service().channel_frame(reply, sink, "a").ok());
  send(R"({"command":"ping","to":"a"})");
  frames = sink->take();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(crypto::jws_verify(frames[0], public_key(second)).ok());
}

// An agent pinning a retired key the store no longer holds (restored from a backup
// without it): messages are signed with the current key, so the rotation path must
// reach it first.
TEST_F(ServerCoreTest, RotationGoesFirstWhenThePinnedKeyIsNotHeld) {
  std::string second = generate();
  // Drop the first private key, as a restore from a backup without it would.
  ASSERT_TRUE(store_->write([&](store::CertTxn& t) -> Status {
    CK_ASSIGN_OR_RETURN(auto certs, t.list());
    CK_ASSIGN_OR_RETURN(auto rotations, t.rotations());
    std::vector<std::pair<store::CertRecord, std::optional<crypto::PrivateKey>>> keep;
    for (const auto& c : certs) {
      CK_ASSIGN_OR_RETURN(auto key, t.private_key(c.fingerprint));
      keep.emplace_back(c, c.fingerprint == first_ ? std::nullopt : std::move(key));
    }
    CK_RETURN_IF_ERROR(t.delete_all_certificates());
    for (const auto& [c, key] : keep) CK_RETURN_IF_ERROR(t.insert(c, key ? &*key : nullptr));
    for (const auto& r : rotations) CK_RETURN_IF_ERROR(t.insert_rotation(r));
    return ok_status();
  }).ok());
  core_->tick();
  send(R"({"command":"ping","to":"b"})");
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(hello("b", first_, sink).ok());
  auto frames = sink->take();
  ASSERT_EQ(frames.size(), 2u);
  ASSERT_TRUE(is_typed_frame(frames[0]));  // the stored chain first ...
  auto path = channel_rotation_from_json(*parse_json_body(frames[0], kMaxServerFrameBytes));
  ASSERT_TRUE(path.ok());
  EXPECT_TRUE(crypto::verify_rotation(path->rotations[0].by_old, path->rotations[0].by_new, public_key(first_), 0).ok());
  EXPECT_TRUE(crypto::jws_verify(frames[1], public_key(second)).ok());  // ... then the message, current key
}

// Any store write moves the change counter; only a new current certificate walks the
// channels (an audit line from `certmgr send` does not).
TEST_F(ServerCoreTest, OnlyANewCurrentCertificateWalksTheChannels) {
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(hello("a", first_, sink).ok());
  ASSERT_TRUE(store_->write([](store::CertTxn& t) {
    return t.append_audit(store::AuditEntry{1, "tester", "send", "command ping", ""});
  }).ok());
  core_->tick();
  EXPECT_TRUE(sink->take().empty());
  EXPECT_EQ(core_->metrics().rotations_pushed_total.load(), 0);
}

// A client flipping its channel's pin cannot flood the registry writer.
TEST_F(ServerCoreTest, PinReportsAreRateLimitedPerChannel) {
  std::string second = generate();
  core_->tick();
  checkin_ok("flipper", first_);
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(hello("flipper", first_, sink).ok());
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(hello("flipper", i % 2 ? first_ : second, sink, 0, "flipper").ok());
  registry_->set_hold(false);
  std::this_thread::sleep_for(200ms);  // let the writer drain
  EXPECT_LE(registry_->pin_reports(), 2 * kMaxPinReportsPerSecond);
}

// Agent identity (DESIGN.md §5): the first key an id presents is bound to it; another
// key, or none, is refused (401) until `certmgr agents forget`; channels likewise.
TEST_F(ServerCoreTest, AnAgentIdIsBoundToTheFirstKeyItPresents) {
  const std::string key_a(64, 'a'), key_b(64, 'b');
  EXPECT_EQ(checkin_with_key("bound-1", key_a), 200);
  EXPECT_EQ((*registry_->find("bound-1"))->key_fingerprint, key_a);
  EXPECT_EQ(checkin_with_key("bound-1", key_a), 200);
  EXPECT_EQ(checkin_with_key("bound-1", key_b), 401);  // someone else, with its own key
  EXPECT_EQ(checkin_with_key("bound-1", ""), 401);      // or with none
  EXPECT_GE(core_->metrics().identity_refusals_total.load(), 2);
  EXPECT_EQ((*registry_->find("bound-1"))->key_fingerprint, key_a);  // the row is untouched
  // Channels: only the bound key attaches.
  auto sink = std::make_shared<FakeSink>();
  auto refused = service().channel_frame(json::serialize(to_json(ChannelHello{"bound-1", first_, 0})), sink, {}, key_b);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kPermissionDenied);
  EXPECT_EQ(core_->hub().find("bound-1"), nullptr);
  EXPECT_TRUE(service().channel_frame(json::serialize(to_json(ChannelHello{"bound-1", first_, 0})), sink, {}, key_a).ok());
  // A key that never checked in cannot open a channel for a new id either.
  EXPECT_FALSE(
      service().channel_frame(json::serialize(to_json(ChannelHello{"fresh", first_, 0})), sink, {}, key_b).ok());
  // Reinstalled endpoint: `certmgr agents forget` unbinds, the new key binds.
  ASSERT_TRUE(registry_->forget_key("bound-1").ok());
  EXPECT_EQ(checkin_with_key("bound-1", key_b), 200);
  EXPECT_EQ(checkin_with_key("bound-1", key_a), 401);
  // Agents from before identities (no key, never bound) keep working.
  EXPECT_EQ(checkin_with_key("legacy", ""), 200);
  EXPECT_EQ(checkin_with_key("legacy", ""), 200);
}

TEST_F(ServerCoreTest, ManualEnrollmentWaitsForAcceptAndRejectShutsOut) {
  ServerConfig config;
  config.enrollment = Enrollment::kManual;
  recreate(config);
  const std::string key(64, 'c');
  EXPECT_EQ(checkin_with_key("new-1", key), 403);  // enrolled, pending
  EXPECT_EQ((*registry_->find("new-1"))->enrollment, registry::kEnrollmentPending);
  EXPECT_EQ(checkin_with_key("new-1", key), 403);
  ASSERT_TRUE(registry_->set_enrollment("new-1", registry::kEnrollmentAccepted).ok());
  EXPECT_EQ(checkin_with_key("new-1", key), 200);
  ASSERT_TRUE(registry_->set_enrollment("new-1", registry::kEnrollmentRejected).ok());
  EXPECT_EQ(checkin_with_key("new-1", key), 403);
}

// Leaving the key out does not get around enrollment (review: keyless clients).
TEST_F(ServerCoreTest, AClientWithoutAKeyGetsNoWayAroundEnrollment) {
  const std::string key_a(64, 'a');
  // A forgotten id waits for a new key: a keyless client is not it.
  EXPECT_EQ(checkin_with_key("fx", key_a), 200);
  ASSERT_TRUE(registry_->forget_key("fx").ok());
  EXPECT_EQ(checkin_with_key("fx", ""), 403);
  // A rejected legacy (keyless) id stays out, keyless or with a key.
  EXPECT_EQ(checkin_with_key("legacy", ""), 200);
  ASSERT_TRUE(registry_->set_enrollment("legacy", registry::kEnrollmentRejected).ok());
  EXPECT_EQ(checkin_with_key("legacy", ""), 403);
  EXPECT_EQ(checkin_with_key("legacy", key_a), 403);
  // A key type certkeeper never binds is refused, not taken for "no key".
  EXPECT_EQ(checkin_with_key("odd", kUnusableClientKey), 401);
  // A keyless channel opened before the id's key bound is closed when it binds.
  auto sink = std::make_shared<FakeSink>();
  EXPECT_EQ(checkin_with_key("late-key", ""), 200);
  ASSERT_TRUE(service().channel_frame(json::serialize(to_json(ChannelHello{"late-key", first_, 0})), sink).ok());
  ASSERT_TRUE(registry_->forget_key("late-key").ok());
  EXPECT_EQ(checkin_with_key("late-key", key_a), 200);
  EXPECT_TRUE(sink->closed);
  // Manual enrollment: no keyless newcomers at all.
  ServerConfig config;
  config.enrollment = Enrollment::kManual;
  recreate(config);
  EXPECT_EQ(checkin_with_key("newcomer", ""), 403);
  EXPECT_FALSE(registry_->find("newcomer")->has_value());
}

// `certmgr agents reject|forget` reach live channels too: the periodic re-check closes
// those that no longer speak for their id.
TEST_F(ServerCoreTest, RejectAndForgetCloseLiveChannels) {
  ServerConfig config;
  config.channel_recheck_interval = std::chrono::seconds(0);  // every tick
  recreate(config);
  const std::string key_a(64, 'a'), key_b(64, 'b');
  auto channel = [&](const std::string& id, const std::string& key) {
    auto sink = std::make_shared<FakeSink>();
    EXPECT_EQ(checkin_with_key(id, key), 200);
    EXPECT_TRUE(service().channel_frame(json::serialize(to_json(ChannelHello{id, first_, 0})), sink, {}, key).ok());
    return sink;
  };
  auto kept = channel("kept", key_a);
  auto rejected = channel("rejected", key_a);
  auto forgotten = channel("forgotten", key_b);
  core_->tick();
  EXPECT_FALSE(kept->closed || rejected->closed || forgotten->closed);
  ASSERT_TRUE(registry_->set_enrollment("rejected", registry::kEnrollmentRejected).ok());
  ASSERT_TRUE(registry_->forget_key("forgotten").ok());
  core_->tick();
  EXPECT_FALSE(kept->closed);
  EXPECT_TRUE(rejected->closed);
  EXPECT_TRUE(forgotten->closed);
}

TEST_F(ServerCoreTest, NewRegistrationsPerSecondAreCapped) {
  ServerConfig config;
  config.max_new_agents_per_second = 3;
  recreate(config);
  int refused = 0;
  for (int i = 0; i < 10; ++i) {
    refused += checkin_with_key("burst-" + std::to_string(i), std::string(63, 'd') + char('0' + i)) == 503;
  }
  // One second may end mid-burst: at least the 10 - 2 x 3 beyond two seconds' share.
  EXPECT_GE(refused, 4);
  EXPECT_EQ(core_->metrics().registrations_refused_total.load(), refused);
  EXPECT_EQ(checkin_with_key("burst-0", std::string(63, 'd') + '0'), 200);  // known agents are not new
}

// The admin API trusts the kernel's word on the peer (SO_PEERCRED): root, the server's
// user, or the admin group. Others, and anything a browser could send, are refused
// before anything is queued.
TEST_F(ServerCoreTest, AdminApiRefusesOtherUsersAndBrowsers) {
  const std::string body = R"({"command":"ping","to":"victim"})";
  auto with = [&](auto change) {
    HttpRequest req = admin_request("POST", "/v1/admin/messages", body);
    change(req);
    return admin(std::move(req)).status;
  };
  EXPECT_EQ(with([](HttpRequest& r) { r.peer_uid = 4242; r.peer_gid = 4242; }), 403);  // another user
  EXPECT_EQ(with([](HttpRequest& r) { r.peer_uid = -1; }), 403);                         // unknown peer
  EXPECT_EQ(with([](HttpRequest& r) { r.has_origin = true; }), 403);
  EXPECT_EQ(with([](HttpRequest& r) { r.content_type = "text/plain"; }), 415);
  EXPECT_EQ(with([](HttpRequest& r) { r.content_type = "application/x-www-form-urlencoded"; }), 415);
  EXPECT_EQ(with([](HttpRequest& r) { r.content_type = ""; }), 415);
  EXPECT_TRUE(outbox_->since(0, 0)->empty());
  EXPECT_EQ(with([](HttpRequest&) {}), 200);
  EXPECT_EQ(with([](HttpRequest& r) { r.peer_uid = 0; }), 200);  // root
  EXPECT_EQ(with([](HttpRequest& r) { r.content_type = "Application/JSON; charset=utf-8"; }), 200);
  EXPECT_EQ(outbox_->since(0, 0)->size(), 3u);
  // The metrics listener serves /metrics only, read-only.
  EXPECT_EQ(admin("GET", "/metrics").status, 404);
  std::optional<HttpResponse> posted;
  service().handle_metrics(HttpRequest{"POST", "/metrics", "", "127.0.0.1"}, [&](HttpResponse r) { posted = r; });
  EXPECT_EQ(posted->status, 405);
}

TEST(AdminAccess, GroupMembershipCounts) {
  // "nogroup" (65534) exists on Debian; user "nobody" has it as its primary group.
  auto with_group = AdminAccess::for_group("nogroup");
  ASSERT_TRUE(with_group.admin_gid().has_value());
  EXPECT_FALSE(with_group.refusal(PeerCredentials{1, 65534, 65534}).has_value());
  EXPECT_TRUE(with_group.refusal(PeerCredentials{1, 4242, 4242}).has_value());
  auto none = AdminAccess::for_group("no-such-group-here");
  EXPECT_FALSE(none.admin_gid().has_value());
  EXPECT_TRUE(none.refusal(PeerCredentials{1, 65534, 65534}).has_value());
  EXPECT_FALSE(none.refusal(PeerCredentials{1, 0, 0}).has_value());
  EXPECT_FALSE(none.refusal(PeerCredentials{1, ::geteuid(), 4242}).has_value());
}

// "all" is the broadcast address, never an agent; a broadcast is signed for each agent
// with "aud" = its own id, and carries the outbox's seq for everyone.
TEST_F(ServerCoreTest, BroadcastIsSignedPerAgentAndAllIsNoAgent) {
  checkin_ok("offline", first_);
  auto sink1 = std::make_shared<FakeSink>();
  auto sink2 = std::make_shared<FakeSink>();
  ASSERT_TRUE(hello("live-1", first_, sink1).ok());
  ASSERT_TRUE(hello("live-2", first_, sink2).ok());
  int64_t seq = send(R"({"command":"ping","to":"all"})");
  core_->tick();
  for (const char* id : {"all", "ALL", "All"}) {
    auto refused = agent("POST", "/v1/checkin", checkin_body(id, first_));
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->status, 422) << id;
    auto sink = std::make_shared<FakeSink>();
    const json::object h{{"agent_id", id}, {"pinned_fingerprint", first_}};
    EXPECT_FALSE(service().channel_frame(json::serialize(h), sink).ok());
    EXPECT_TRUE(sink->take().empty());
  }
  auto f1 = sink1->take();
  auto f2 = sink2->take();
  ASSERT_EQ(f1.size(), 1u);
  ASSERT_EQ(f2.size(), 1u);
  auto offline = checkin_ok("offline", first_, 7);
  ASSERT_EQ(offline.messages.size(), 1u);
  std::set<std::string> jtis;
  for (const auto& [id, jws] : std::vector<std::pair<std::string, std::string>>{
           {"live-1", f1[0]}, {"live-2", f2[0]}, {"offline", offline.messages[0]}}) {
    auto p = payload(jws, first_);
    EXPECT_EQ(p.aud, id);
    EXPECT_EQ(p.cmd, "ping");
    EXPECT_EQ(p.seq, seq);
    jtis.insert(p.jti);
  }
  EXPECT_EQ(jtis.size(), 1u);  // the same command
  // The signer itself refuses a message addressed to "all", or to someone else.
  auto ring = core_->certs().snapshot();
  auto plan = core_->certs().plan(*ring, first_);
  ASSERT_TRUE(plan.ok());
  auto m = outbox::new_message("ping", {}, "all", 1, 10);
  EXPECT_FALSE(sign_message(*plan->signing_key, m, std::string(kToAll)).ok());
  m.audience = "x";
  EXPECT_FALSE(sign_message(*plan->signing_key, m, "y").ok());
}

// A check-in (another connection) cannot change the key a live channel's messages are
// signed with, and one channel cannot switch to other agent ids.
TEST_F(ServerCoreTest, CheckinDoesNotRedirectALiveChannelsKey) {
  std::string second = generate();
  core_->tick();
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(hello("victim", second, sink).ok());
  checkin_ok("victim", first_, 0, true);  // someone else, claiming the old key
  send(R"({"command":"ping","to":"victim"})");
  core_->tick();
  auto frames = sink->take();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(crypto::jws_verify(frames[0], public_key(second)).ok());
  send(R"({"command":"ping","to":"other"})");
  EXPECT_FALSE(hello("other", second, sink, 0, "victim").ok());
  EXPECT_EQ(core_->hub().find("other"), nullptr);
  // Another connection's hello replaces the channel (logged as a warning).
  auto impostor = std::make_shared<FakeSink>();
  ASSERT_TRUE(hello("victim", second, impostor).ok());
  EXPECT_TRUE(sink->closed);
  EXPECT_EQ(core_->hub().find("victim")->sink, impostor);
}

TEST_F(ServerCoreTest, MetricsExposeCounters) {
  checkin_ok("a", first_);
  checkin_ok("b", first_);
  send(R"({"command":"ping","to":"all"})");
  auto r = metrics_page();
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("certkeeper_checkins_total 2"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("certkeeper_endpoints{fingerprint=\"" + first_ + "\",status=\"current\"} 2"),
            std::string::npos);
  EXPECT_NE(r.body.find("certkeeper_current_certificate_expiry_seconds{fingerprint=\"" + first_ + "\"} "),
            std::string::npos);
  EXPECT_NE(r.body.find("certkeeper_channels_connected 0"), std::string::npos);
  core_->tick();
  EXPECT_NE(metrics_page().body.find("certkeeper_outbox_messages 1"), std::string::npos);
}

TEST_F(ServerCoreTest, CertStatePollNoticesChanges) {
  auto unchanged = core_->certs().poll();
  ASSERT_TRUE(unchanged.ok());
  EXPECT_FALSE(*unchanged);
  std::string second = generate();
  auto changed = core_->certs().poll();
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  EXPECT_EQ(core_->certs().snapshot()->current_fingerprint, second);
  EXPECT_EQ(checkin_ok("a", second).current_fingerprint, second);
}

TEST_F(ServerCoreTest, ShutdownClosesChannelsAndCommitsWhatIsQueued) {
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(hello("a", first_, sink).ok());
  core_->start();
  // A check-in whose commit is held while the shutdown begins: it is committed (and
  // answered) before shutdown() returns.
  registry_->set_hold(true);
  std::atomic<bool> answered{false};
  service().handle_agent(HttpRequest{"POST", "/v1/checkin", checkin_body("late", first_), "127.0.0.1"},
                         [&](HttpResponse r) { answered = r.status == 200; });
  std::thread release([&] {
    std::this_thread::sleep_for(200ms);
    registry_->set_hold(false);
  });
  core_->shutdown();
  release.join();
  EXPECT_TRUE(answered.load());
  EXPECT_TRUE(registry_->wait_pinned("late", first_));
  EXPECT_TRUE(sink->closed);
  EXPECT_EQ(core_->hub().size(), 0u);
}

}  // namespace
}  // namespace ck::server
