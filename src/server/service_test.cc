#include "protocol/service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "crypto/jws.h"
#include "protocol/commands.h"
#include "store/cert_operations.h"

namespace ck::protocol {
namespace {
namespace json = boost::json;

struct FakeSink : ChannelSink {
  std::vector<std::string> frames;
  bool closed = false;
  void push(std::string f) override { frames.push_back(std::move(f)); }
  void close() override { closed = true; }
};

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = (std::filesystem::temp_directory_path() / ("ck-svc-" + std::to_string(::getpid()) + "-" + info->name()))
               .string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store_ = std::move(store::open_cert_store("sqlite:" + dir_ + "/ck.db")).value();
    first_ = generate();
    certs_ = std::make_unique<CertState>(*store_);
    ASSERT_TRUE(certs_->load().ok());
    seq_ = std::move(SeqSource::open(dir_ + "/seq")).value();
    ServiceDeps deps;
    deps.submit = [this](registry::Endpoint e, std::function<void(Status)> cb) {
      submitted_.push_back(e);
      if (defer_) {
        pending_.push_back(std::move(cb));
      } else {
        cb(fail_commit_ ? Status(make_error(ErrorKind::kUnavailable, "db down")) : ok_status());
      }
    };
    deps.count_by_fingerprint = [this]() -> Result<std::map<std::string, int64_t>> {
      std::map<std::string, int64_t> m;
      for (auto& e : submitted_) m[e.pinned_fingerprint]++;
      return m;
    };
    deps.certs = certs_.get();
    deps.seq = seq_.get();
    deps.queue = &queue_;
    deps.hub = &hub_;
    deps.metrics = &metrics_;
    service_ = std::make_unique<Service>(std::move(deps));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string generate() {
    auto r = store::generate_certificate(*store_, {}, store::Context{"tester", nullptr});
    EXPECT_TRUE(r.ok());
    return r->fingerprint;
  }
  crypto::PublicKey public_key(const std::string& fp) {
    auto ring = certs_->snapshot();
    return crypto::Certificate::parse(ring->find(fp)->cert_pem)->public_key();
  }
  std::optional<HttpResponse> agent(std::string method, std::string target, std::string body) {
    std::optional<HttpResponse> out;
    service_->handle_agent(HttpRequest{std::move(method), std::move(target), std::move(body), "127.0.0.1"},
                           [&](HttpResponse r) { out = std::move(r); });
    return out;
  }
  // As certmgr sends it: JSON, Host = the loopback address and port it dialed, no Origin.
  static HttpRequest admin_request(std::string method, std::string target, std::string body = "") {
    HttpRequest req{std::move(method), std::move(target), std::move(body), "127.0.0.1"};
    req.content_type = "application/json";
    req.host = "127.0.0.1:9443";
    req.local_port = 9443;
    return req;
  }
  HttpResponse admin(HttpRequest req) {
    std::optional<HttpResponse> out;
    service_->handle_admin(std::move(req), [&](HttpResponse r) { out = std::move(r); });
    EXPECT_TRUE(out.has_value());
    return *out;
  }
  HttpResponse admin(std::string method, std::string target, std::string body = "") {
    return admin(admin_request(std::move(method), std::move(target), std::move(body)));
  }
  std::string checkin_body(const std::string& id, const std::string& pinned, int64_t last_seq = 0) {
    CheckinRequest r;
    r.agent_id = id;
    r.hostname = "host-" + id;
    r.pinned_fingerprint = pinned;
    r.last_seq = last_seq;
    return json::serialize(to_json(r));
  }
  CheckinResponse checkin_ok(const std::string& id, const std::string& pinned, int64_t last_seq = 0) {
    auto r = agent("POST", "/v1/checkin", checkin_body(id, pinned, last_seq));
    EXPECT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200) << r->body;
    auto parsed = checkin_response_from_json(*parse_json_body(r->body));
    EXPECT_TRUE(parsed.ok());
    return parsed.ok() ? *parsed : CheckinResponse{};
  }

  std::string dir_, first_;
  std::unique_ptr<store::CertStore> store_;
  std::unique_ptr<CertState> certs_;
  std::unique_ptr<SeqSource> seq_;
  MessageQueue queue_;
  ChannelHub hub_;
  Metrics metrics_;
  std::unique_ptr<Service> service_;
  std::vector<registry::Endpoint> submitted_;
  bool defer_ = false, fail_commit_ = false;
  std::vector<std::function<void(Status)>> pending_;
};

TEST_F(ServiceTest, CheckinAnswersCurrentFingerprintAfterCommit) {
  auto resp = checkin_ok("agent-1", first_);
  EXPECT_EQ(resp.current_fingerprint, first_);
  EXPECT_TRUE(resp.rotations.empty());
  EXPECT_TRUE(resp.messages.empty());
  ASSERT_EQ(submitted_.size(), 1u);
  EXPECT_EQ(submitted_[0].agent_id, "agent-1");
  EXPECT_EQ(submitted_[0].hostname, "host-agent-1");
  EXPECT_EQ(submitted_[0].ip_address, "127.0.0.1");  // not reported: the peer address
  EXPECT_EQ(metrics_.checkins_total.load(), 1);
}

TEST_F(ServiceTest, AnswerWaitsForTheCommit) {
  defer_ = true;
  std::optional<HttpResponse> out;
  service_->handle_agent(HttpRequest{"POST", "/v1/checkin", checkin_body("a", first_), ""},
                         [&](HttpResponse resp) { out = std::move(resp); });
  EXPECT_FALSE(out.has_value());  // not answered before the commit
  ASSERT_EQ(pending_.size(), 1u);
  pending_.at(0)(ok_status());
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->status, 200);
}

TEST_F(ServiceTest, FailedCommitIs503) {
  fail_commit_ = true;
  auto r = agent("POST", "/v1/checkin", checkin_body("a", first_));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(metrics_.checkins_total.load(), 0);
}

TEST_F(ServiceTest, BadInputGetsTheRightStatus) {
  EXPECT_EQ(agent("POST", "/v1/checkin", "{not json")->status, 400);
  EXPECT_EQ(agent("POST", "/v1/checkin", "")->status, 400);
  EXPECT_EQ(agent("POST", "/v1/checkin", R"({"agent_id": 1})")->status, 422);
  EXPECT_EQ(agent("POST", "/v1/checkin", "[1,2]")->status, 422);
  EXPECT_EQ(agent("POST", "/v1/checkin", checkin_body("bad id!", first_))->status, 422);
  EXPECT_EQ(agent("POST", "/v1/checkin", std::string(kMaxRequestBodyBytes + 1, ' '))->status, 413);
  EXPECT_EQ(agent("GET", "/nope", "")->status, 404);
  auto r = agent("GET", "/v1/checkin", "");
  EXPECT_EQ(r->status, 405);
  ASSERT_EQ(r->headers.size(), 1u);
  EXPECT_EQ(r->headers[0].second, "POST");
  EXPECT_EQ(agent("GET", "/v1/channel", "")->status, 426);
  EXPECT_EQ(agent("POST", "/v1/channel", "")->status, 405);
  EXPECT_TRUE(submitted_.empty());
  EXPECT_EQ(admin("GET", "/v1/admin/messages").status, 405);
  EXPECT_EQ(admin("POST", "/v1/admin/messages", "{").status, 400);
  EXPECT_EQ(admin("POST", "/v1/admin/messages", R"({"command":"format-disk","to":"all"})").status, 422);
  EXPECT_EQ(admin("GET", "/other").status, 404);
}

TEST_F(ServiceTest, QueuedMessageSignedWithCurrentKey) {
  auto r = admin("POST", "/v1/admin/messages", R"({"command":"set-policy","args":{"level":3},"to":"agent-1"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto out = admin_message_response_from_json(*parse_json_body(r.body));
  EXPECT_EQ(out->delivered, 0);
  EXPECT_EQ(out->queued, 1);
  auto resp = checkin_ok("agent-1", first_, 5);
  ASSERT_EQ(resp.messages.size(), 1u);
  auto payload = crypto::jws_verify(resp.messages[0], public_key(first_));
  ASSERT_TRUE(payload.ok()) << payload.error().message;
  auto p = command_payload_from_json(*payload);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->cmd, "set-policy");
  EXPECT_EQ(p->aud, "agent-1");
  EXPECT_EQ(p->args.at("level").as_int64(), 3);
  EXPECT_GT(p->seq, 5);
  EXPECT_EQ(p->exp - p->iat, kMessageLifetimeSeconds);
  EXPECT_EQ(p->jti.size(), 32u);
  EXPECT_TRUE(checkin_ok("agent-1", first_).messages.empty());  // delivered once
}

TEST_F(ServiceTest, StaleAgentGetsPathAndMessagesSignedWithItsKey) {
  std::string second = generate();
  std::string third = generate();
  ASSERT_TRUE(certs_->poll().ok());
  admin("POST", "/v1/admin/messages", R"({"command":"ping","to":"old"})");
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

TEST_F(ServiceTest, RevokedOrUnknownPinGetsNothing) {
  std::string second = generate();
  ASSERT_TRUE(store::revoke_certificate(*store_, first_, store::Context{"t", nullptr}).ok());
  ASSERT_TRUE(certs_->poll().ok());
  admin("POST", "/v1/admin/messages", R"({"command":"ping","to":"leaky"})");
  auto resp = checkin_ok("leaky", first_);
  EXPECT_EQ(resp.current_fingerprint, second);
  EXPECT_TRUE(resp.rotations.empty());
  EXPECT_TRUE(resp.messages.empty());
  EXPECT_EQ(queue_.queued_for("leaky"), 1u);  // kept for when it is repaired
  auto unknown = checkin_ok("stranger", std::string(64, 'b'));
  EXPECT_TRUE(unknown.rotations.empty());
  EXPECT_TRUE(unknown.messages.empty());
  // After `certmgr -e` + manual copy the agent pins the current key: it gets the message.
  auto repaired = checkin_ok("leaky", second);
  ASSERT_EQ(repaired.messages.size(), 1u);
  EXPECT_TRUE(crypto::jws_verify(repaired.messages[0], public_key(second)).ok());
}

TEST_F(ServiceTest, LiveChannelGetsPushAndQueuedOnHello) {
  admin("POST", "/v1/admin/messages", R"({"command":"run-scan","to":"live"})");
  auto sink = std::make_shared<FakeSink>();
  auto id = service_->channel_hello(json::serialize(to_json(ChannelHello{"live", first_})), sink);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "live");
  ASSERT_EQ(sink->frames.size(), 1u);  // the queued one
  auto r = admin("POST", "/v1/admin/messages", R"({"command":"ping","to":"live"})");
  auto out = admin_message_response_from_json(*parse_json_body(r.body));
  EXPECT_EQ(out->delivered, 1);
  EXPECT_EQ(out->queued, 0);
  ASSERT_EQ(sink->frames.size(), 2u);
  auto p1 = command_payload_from_json(*crypto::jws_verify(sink->frames[0], public_key(first_)));
  auto p2 = command_payload_from_json(*crypto::jws_verify(sink->frames[1], public_key(first_)));
  EXPECT_LT(p1->seq, p2->seq);
  EXPECT_EQ(p2->cmd, "ping");
  // Broadcast: live agent gets it now, an offline registered agent at check-in.
  checkin_ok("offline", first_);
  checkin_ok("live", first_);
  r = admin("POST", "/v1/admin/messages", R"({"command":"ping","to":"all"})");
  out = admin_message_response_from_json(*parse_json_body(r.body));
  EXPECT_EQ(out->delivered, 1);
  EXPECT_EQ(out->queued, 1);  // registered endpoints minus live deliveries
  EXPECT_EQ(sink->frames.size(), 3u);
  EXPECT_EQ(checkin_ok("offline", first_).messages.size(), 1u);
  EXPECT_TRUE(checkin_ok("live", first_).messages.empty());  // already pushed
  // A reply frame (it carries agent_id and pinned_fingerprint) is counted, not re-attached.
  auto reply = service_->channel_hello(
      R"({"type":"reply","jti":"ab","result":"pong","agent_id":"live","pinned_fingerprint":")" + first_ + "\"}",
      sink);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(metrics_.channel_replies_total.load(), 1);
  EXPECT_EQ(sink->frames.size(), 3u);
  service_->channel_closed("live", sink.get());
  EXPECT_EQ(hub_.size(), 0u);
  EXPECT_FALSE(service_->channel_hello("{\"agent_id\":\"x\"}", sink).ok());
}

// CSRF / DNS rebinding: a web page the administrator visits can POST to the loopback
// admin port; the browser then sends Origin, its own Host, and (without a CORS
// preflight) no application/json.
TEST_F(ServiceTest, AdminApiRefusesWhatABrowserCanSend) {
  const std::string body = R"({"command":"ping","to":"victim"})";
  auto with = [&](auto change) {
    HttpRequest req = admin_request("POST", "/v1/admin/messages", body);
    change(req);
    return admin(std::move(req)).status;
  };
  EXPECT_EQ(with([](HttpRequest& r) { r.has_origin = true; }), 403);
  EXPECT_EQ(with([](HttpRequest& r) { r.host = "evil.example:9443"; }), 403);  // rebinding
  EXPECT_EQ(with([](HttpRequest& r) { r.host = "127.0.0.1:80"; }), 403);
  EXPECT_EQ(with([](HttpRequest& r) { r.host = "127.0.0.1"; }), 403);
  EXPECT_EQ(with([](HttpRequest& r) { r.host = ""; }), 403);  // absent or sent twice
  EXPECT_EQ(with([](HttpRequest& r) { r.content_type = "text/plain"; }), 415);
  EXPECT_EQ(with([](HttpRequest& r) { r.content_type = "application/x-www-form-urlencoded"; }), 415);
  EXPECT_EQ(with([](HttpRequest& r) { r.content_type = ""; }), 415);
  EXPECT_EQ(queue_.queued_for("victim"), 0u);
  for (const char* host : {"127.0.0.1:9443", "localhost:9443", "LocalHost:9443", "127.3.2.1:9443", "[::1]:9443"}) {
    EXPECT_EQ(with([&](HttpRequest& r) { r.host = host; }), 200) << host;
  }
  EXPECT_EQ(with([](HttpRequest& r) { r.content_type = "Application/JSON; charset=utf-8"; }), 200);
  EXPECT_EQ(queue_.queued_for("victim"), 6u);
}

TEST(HttpTypes, LoopbackHost) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1:9443", 9443));
  EXPECT_TRUE(is_loopback_host("localhost:1", 1));
  EXPECT_TRUE(is_loopback_host("[::1]:9443", 9443));
  EXPECT_TRUE(is_loopback_host("[::ffff:127.0.0.1]:9443", 9443));
  EXPECT_FALSE(is_loopback_host("127.0.0.1:9444", 9443));
  EXPECT_FALSE(is_loopback_host("127.0.0.1:09443x", 9443));
  EXPECT_FALSE(is_loopback_host("127.0.0.1:", 9443));
  EXPECT_FALSE(is_loopback_host(":9443", 9443));
  EXPECT_FALSE(is_loopback_host("127.0.0.1:0", 0));
  EXPECT_FALSE(is_loopback_host("10.0.0.1:9443", 9443));
  EXPECT_FALSE(is_loopback_host("127.0.0.1.evil.example:9443", 9443));
  EXPECT_FALSE(is_loopback_host("localhost.evil.example:9443", 9443));
  EXPECT_FALSE(is_loopback_host("127.1:9443", 9443));  // dotted quads only
  EXPECT_FALSE(is_loopback_host("[::2]:9443", 9443));
  EXPECT_FALSE(is_loopback_host("::1:9443", 9443));
  EXPECT_TRUE(is_json_content_type("application/json"));
  EXPECT_TRUE(is_json_content_type(" application/json ; charset=utf-8"));
  EXPECT_FALSE(is_json_content_type("application/jsonx"));
  EXPECT_FALSE(is_json_content_type("text/plain; application/json"));
}

// "all" is the broadcast address, never an agent: an agent checking in or opening a
// channel as "all" is refused and collects nothing; a broadcast is signed for each
// agent with "aud" = its own id and a seq of its own.
TEST_F(ServiceTest, BroadcastIsSignedPerAgentAndAllIsNoAgent) {
  checkin_ok("offline", first_);
  auto sink1 = std::make_shared<FakeSink>();
  auto sink2 = std::make_shared<FakeSink>();
  ASSERT_TRUE(service_->channel_hello(json::serialize(to_json(ChannelHello{"live-1", first_})), sink1).ok());
  ASSERT_TRUE(service_->channel_hello(json::serialize(to_json(ChannelHello{"live-2", first_})), sink2).ok());
  auto r = admin("POST", "/v1/admin/messages", R"({"command":"ping","to":"all"})");
  ASSERT_EQ(r.status, 200) << r.body;
  for (const char* id : {"all", "ALL", "All"}) {
    auto refused = agent("POST", "/v1/checkin", checkin_body(id, first_));
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->status, 422) << id;
    auto sink = std::make_shared<FakeSink>();
    const json::object hello{{"agent_id", id}, {"pinned_fingerprint", first_}};
    EXPECT_FALSE(service_->channel_hello(json::serialize(hello), sink).ok());
    EXPECT_TRUE(sink->frames.empty());
  }
  ASSERT_EQ(sink1->frames.size(), 1u);
  ASSERT_EQ(sink2->frames.size(), 1u);
  auto offline = checkin_ok("offline", first_, 7);
  ASSERT_EQ(offline.messages.size(), 1u);
  std::vector<std::pair<std::string, std::string>> got = {
      {"live-1", sink1->frames[0]}, {"live-2", sink2->frames[0]}, {"offline", offline.messages[0]}};
  std::set<int64_t> seqs;
  std::set<std::string> jtis;
  for (const auto& [id, jws] : got) {
    auto p = command_payload_from_json(*crypto::jws_verify(jws, public_key(first_)));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->aud, id);
    EXPECT_EQ(p->cmd, "ping");
    seqs.insert(p->seq);
    jtis.insert(p->jti);
  }
  EXPECT_EQ(seqs.size(), 3u);  // one signature, with its own seq, per agent
  EXPECT_EQ(jtis.size(), 1u);  // the same command
  EXPECT_GT(*seqs.rbegin(), 7);
  // The signer itself refuses a message addressed to "all".
  auto key = certs_->snapshot();
  auto plan = certs_->plan(*key, first_);
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(sign_command(*plan->signing_key, new_command("ping", {}, 1), std::string(kToAll), 1).ok());
}

// Agents have no per-agent credential yet, so a hello for an id with a live channel
// still replaces it (a reconnecting agent looks the same); but a check-in (another
// connection) cannot change the key the live channel's messages are signed with, and
// one channel cannot switch to other agent ids to collect their queued commands.
TEST_F(ServiceTest, CheckinDoesNotRedirectALiveChannelsKey) {
  std::string second = generate();
  ASSERT_TRUE(certs_->poll().ok());
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(service_->channel_hello(json::serialize(to_json(ChannelHello{"victim", second})), sink).ok());
  // Someone else checks in as "victim" claiming the old key (retired, still held).
  checkin_ok("victim", first_);
  ASSERT_EQ(hub_.find("victim")->pinned, second);
  auto r = admin("POST", "/v1/admin/messages", R"({"command":"ping","to":"victim"})");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(sink->frames.size(), 1u);
  EXPECT_TRUE(crypto::jws_verify(sink->frames[0], public_key(second)).ok());
  // The channel's own later hello still updates it (the agent followed a rotation).
  ASSERT_TRUE(
      service_->channel_hello(json::serialize(to_json(ChannelHello{"victim", first_})), sink, "victim").ok());
  EXPECT_EQ(hub_.find("victim")->pinned, first_);
  // A bound channel naming another agent is refused; that agent's queue is untouched.
  admin("POST", "/v1/admin/messages", R"({"command":"ping","to":"other"})");
  EXPECT_FALSE(
      service_->channel_hello(json::serialize(to_json(ChannelHello{"other", second})), sink, "victim").ok());
  EXPECT_EQ(queue_.queued_for("other"), 1u);
  EXPECT_FALSE(hub_.find("other").has_value());
  // Another connection's hello replaces the channel (logged as a warning).
  auto impostor = std::make_shared<FakeSink>();
  ASSERT_TRUE(service_->channel_hello(json::serialize(to_json(ChannelHello{"victim", second})), impostor).ok());
  EXPECT_TRUE(sink->closed);
  EXPECT_EQ(hub_.find("victim")->sink, impostor);
}

TEST_F(ServiceTest, MetricsExposeCounters) {
  checkin_ok("a", first_);
  checkin_ok("b", first_);
  metrics_.record_batch(2);
  auto r = admin("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("certkeeper_checkins_total 2"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("certkeeper_batches_total 1"), std::string::npos);
  EXPECT_NE(r.body.find("certkeeper_batch_size_last 2"), std::string::npos);
  EXPECT_NE(r.body.find("certkeeper_endpoints{fingerprint=\"" + first_ + "\",status=\"current\"} 2"),
            std::string::npos);
  EXPECT_NE(r.body.find("certkeeper_current_certificate_expiry_seconds{fingerprint=\"" + first_ + "\"} "),
            std::string::npos);
  EXPECT_NE(r.body.find("certkeeper_channels_connected 0"), std::string::npos);
}

TEST_F(ServiceTest, ExpiryIsExposedForSoonExpiringCertificates) {
  store::GenerateOptions opts;
  opts.days = 10;
  ASSERT_TRUE(store::generate_certificate(*store_, opts, store::Context{"t", nullptr}).ok());
  ASSERT_TRUE(certs_->poll().ok());  // logs the 30-day warning
  int64_t left = certs_->seconds_until_expiry();
  EXPECT_GT(left, 9 * 86400);
  EXPECT_LE(left, 10 * 86400);
  EXPECT_LT(left, kExpiryWarningSeconds);
  auto r = admin("GET", "/metrics");
  EXPECT_NE(r.body.find("certkeeper_current_certificate_expiry_seconds{fingerprint=\"" +
                        certs_->snapshot()->current_fingerprint + "\"} " + std::to_string(left).substr(0, 3)),
            std::string::npos)
      << r.body;
}

TEST_F(ServiceTest, CertStatePollNoticesChanges) {
  auto unchanged = certs_->poll();
  ASSERT_TRUE(unchanged.ok());
  EXPECT_FALSE(*unchanged);
  std::string second = generate();
  auto changed = certs_->poll();
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  EXPECT_EQ(certs_->snapshot()->current_fingerprint, second);
  EXPECT_EQ(checkin_ok("a", second).current_fingerprint, second);
}

}  // namespace
}  // namespace ck::protocol
