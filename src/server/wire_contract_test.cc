// The wire contract in both directions, without sockets: what the server writes is fed
// to the real agent state machine (agent::Agent) and what the agent writes goes back
// into the server (ServerCore + Service). One definition (protocol/wire.h) on both
// sides; this test catches a drift the type system cannot.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "agent/agent.h"
#include "agent/memory_state_store.h"
#include "server/server_core.h"
#include "server/test_fakes.h"
#include "store/cert_operations.h"
#include "support/process.h"

namespace ck::server {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

class WireContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ck::testing::temp_dir("contract");
    ServerBackends b;
    auto store = store::open_cert_store("sqlite:" + dir_ + "/ck.db");
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = store->get();
    b.store = std::move(store).value();
    first_ = generate();
    auto registry = std::make_unique<MemoryRegistry>();
    registry_ = registry.get();
    b.registry = std::move(registry);
    b.outbox = outbox::make_memory_outbox(7000);
    ServerConfig config;
    config.store_url = "memory";
    auto core = ServerCore::create(config, std::move(b));
    ASSERT_TRUE(core.ok()) << core.error().message;
    core_ = std::move(core).value();
    // The agent starts from OfcNTCer.dat as `certmgr -e` writes it.
    auto pem = std::make_shared<const std::string>(core_->certs().snapshot()->current().cert_pem);
    agent::AgentOptions o;
    o.agent_id = "contract-1";
    auto a = agent::Agent::open(std::make_unique<agent::MemoryStateStore>(pem), o);
    ASSERT_TRUE(a.ok()) << a.error().message;
    agent_ = std::move(a).value();
  }
  void TearDown() override {
    core_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string generate() {
    auto r = store::generate_certificate(*store_, {}, store::Context{"tester", nullptr});
    EXPECT_TRUE(r.ok());
    return r->fingerprint;
  }
  // One check-in: the agent's request in, the server's answer back into the agent.
  agent::CheckinOutcome checkin(bool channel_open = false) {
    agent::HostInfo host{"host", "10.0.0.1", "example.test", "Linux"};
    std::string body = json::serialize(protocol::to_json(agent_->checkin_request(host, channel_open)));
    std::mutex mu;
    std::condition_variable cv;
    std::optional<protocol::HttpResponse> answer;
    core_->service().handle_agent(protocol::HttpRequest{"POST", "/v1/checkin", body, "127.0.0.1"},
                                  [&](protocol::HttpResponse r) {
                                    std::lock_guard lock(mu);
                                    answer = std::move(r);
                                    cv.notify_all();
                                  });
    std::unique_lock lock(mu);
    cv.wait_for(lock, 5s, [&] { return answer.has_value(); });
    EXPECT_TRUE(answer.has_value());
    if (!answer) return {};
    EXPECT_EQ(answer->status, 200) << answer->body;
    auto outcome = agent_->apply_checkin_response(answer->body);
    EXPECT_TRUE(outcome.ok()) << outcome.error().message;
    return outcome.ok() ? *outcome : agent::CheckinOutcome{};
  }
  // What the agent's runner sends on its channel.
  Result<std::string> hello(const std::shared_ptr<FakeSink>& sink, std::string_view bound = {}) {
    return core_->service().channel_frame(json::serialize(protocol::to_json(agent_->channel_hello())), sink, bound);
  }
  int64_t send(const std::string& body) {
    auto req = protocol::HttpRequest{"POST", "/v1/admin/messages", body, "unix"};
    req.content_type = "application/json";
    req.peer_uid = ::geteuid();
    req.peer_gid = ::getegid();
    std::optional<protocol::HttpResponse> out;
    core_->service().handle_admin(std::move(req), [&](protocol::HttpResponse r) { out = std::move(r); });
    EXPECT_TRUE(out && out->status == 200);
    core_->tick();
    return out ? protocol::admin_message_response_from_json(*protocol::parse_json_body(out->body))->seq : -1;
  }

  std::string dir_, first_;
  store::CertStore* store_ = nullptr;
  MemoryRegistry* registry_ = nullptr;
  std::unique_ptr<ServerCore> core_;
  std::unique_ptr<agent::Agent> agent_;
};

TEST_F(WireContractTest, CheckinRequestAndAnswerRoundTrip) {
  auto first = checkin();
  EXPECT_TRUE(first.up_to_date);
  EXPECT_EQ(first.server_current, first_);
  auto row = registry_->find("contract-1");
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->hostname, "host");
  EXPECT_EQ((*row)->domain, "example.test");
  EXPECT_EQ((*row)->pinned_fingerprint, first_);
  // A message, then a rotation: the agent accepts both from one answer.
  int64_t seq = send(R"({"command":"set-policy","args":{"scan_interval":600},"to":"contract-1"})");
  std::string second = generate();
  core_->tick();
  auto caught_up = checkin();
  EXPECT_EQ(caught_up.messages_accepted, 1);
  EXPECT_EQ(caught_up.messages_rejected, 0);
  EXPECT_EQ(caught_up.links_accepted, 1);
  EXPECT_TRUE(caught_up.rotated);
  EXPECT_TRUE(caught_up.up_to_date);
  EXPECT_EQ(agent_->pinned_fingerprint(), second);
  EXPECT_EQ(agent_->last_seq(), seq);
  // Its next check-in reports the seq: nothing is carried twice.
  auto quiet = checkin();
  EXPECT_EQ(quiet.messages_accepted + quiet.messages_duplicate + quiet.messages_rejected, 0);
  EXPECT_EQ((*registry_->find("contract-1"))->pinned_fingerprint, second);
}

TEST_F(WireContractTest, ChannelFramesRoundTrip) {
  checkin();
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(hello(sink).ok());
  // A pushed message: the agent accepts it, its reply goes back as a channel frame.
  int64_t seq = send(R"({"command":"ping","to":"contract-1"})");
  auto frames = sink->take();
  ASSERT_EQ(frames.size(), 1u);
  ASSERT_FALSE(protocol::is_typed_frame(frames[0]));
  auto accepted = agent_->handle_message(frames[0]);
  ASSERT_TRUE(accepted.ok()) << accepted.error().message;
  EXPECT_EQ(accepted->seq, seq);
  ASSERT_TRUE(accepted->reply.has_value());
  json::object reply = *accepted->reply;
  reply["pinned_fingerprint"] = agent_->pinned_fingerprint();  // as the runner sends it
  ASSERT_TRUE(core_->service().channel_frame(json::serialize(reply), sink, "contract-1").ok());
  EXPECT_EQ(core_->metrics().channel_replies_total.load(), 1);
  // Key deployment: the pushed rotation frame is followed, the new pin goes back and
  // reaches the registry.
  std::string second = generate();
  core_->tick();
  frames = sink->take();
  ASSERT_EQ(frames.size(), 1u);
  ASSERT_TRUE(protocol::is_typed_frame(frames[0]));
  auto rotated = agent_->apply_channel_frame(frames[0]);
  ASSERT_TRUE(rotated.ok()) << rotated.error().message;
  EXPECT_TRUE(rotated->rotated);
  EXPECT_TRUE(rotated->up_to_date);
  EXPECT_EQ(agent_->pinned_fingerprint(), second);
  ASSERT_TRUE(hello(sink, "contract-1").ok());
  EXPECT_TRUE(registry_->wait_pinned("contract-1", second));
  EXPECT_EQ(registry_->pin_reports(), 2);  // at the first hello, and the new pin
  // A check-in that says the channel is open carries no messages; the channel does.
  int64_t next = send(R"({"command":"ping","to":"all"})");
  auto via_checkin = checkin(/*channel_open=*/true);
  EXPECT_EQ(via_checkin.messages_accepted, 0);
  frames = sink->take();
  ASSERT_EQ(frames.size(), 1u);
  auto pushed = agent_->handle_message(frames[0]);
  ASSERT_TRUE(pushed.ok()) << pushed.error().message;
  EXPECT_EQ(pushed->seq, next);
}

// A frame the agent cannot use changes nothing (the server never sends these; a hostile
// or broken one might).
TEST_F(WireContractTest, AgentRefusesMalformedChannelFramesWithoutAStateChange) {
  const std::string before = agent::serialize_state(agent_->state());
  for (const std::string& frame :
       {std::string(R"({"type":"rotation"})"), std::string(R"({"type":"surprise","rotations":[]})"),
        std::string(R"({"type":"rotation","current_fingerprint":")") + first_ + R"(","rotations":[{"by_old":1}]})",
        std::string("{") + std::string(300000, ' ') + "}"}) {
    EXPECT_FALSE(agent_->apply_channel_frame(frame).ok()) << frame.substr(0, 80);
  }
  // Well-formed, but links that do not verify: refused link by link.
  auto bogus = agent_->apply_channel_frame(R"({"type":"rotation","current_fingerprint":")" + first_ +
                                           R"(","rotations":[{"by_old":"a.b.c","by_new":"d.e.f"}]})");
  ASSERT_TRUE(bogus.ok());
  EXPECT_EQ(bogus->links_rejected, 1);
  EXPECT_FALSE(bogus->rotated);
  EXPECT_EQ(agent::serialize_state(agent_->state()), before);
}

}  // namespace
}  // namespace ck::server
