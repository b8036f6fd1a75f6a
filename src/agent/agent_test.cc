// Agent state machine: start-up, commands, persistence, hand copies.
#include "agent/agent.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "agent/agent_test_util.h"
#include "agent/file_state_store.h"
#include "agent/memory_state_store.h"

namespace ck::agent {
namespace {
using namespace ck::agent::testing;
namespace json = boost::json;

constexpr int64_t kNow = 1'800'000'000;

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir();
    server_ = std::make_unique<KeyCert>(make_key_cert(kNow - 100));
    spit(dir_ + "/OfcNTCer.dat", server_->cert.pem());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Agent> open(const std::string& id = "agent-1") {
    auto store = FileStateStore::open(dir_);
    EXPECT_TRUE(store.ok());
    AgentOptions o;
    o.agent_id = id;
    o.clock = &clock_;
    auto a = Agent::open(std::move(store).value(), o);
    EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.error().message);
    return a.ok() ? std::move(a).value() : nullptr;
  }

  std::string command(const std::string& name, int64_t seq, json::object args = {}) {
    Command c;
    c.command = name;
    c.args = std::move(args);
    c.aud = "agent-1";
    c.jti = "jti-" + std::to_string(seq);
    c.seq = seq;
    c.iat = clock_.now();
    c.exp = clock_.now() + 300;
    return sign(server_->key, command_payload(c));
  }

  std::string dir_;
  FakeClock clock_{kNow};
  std::unique_ptr<KeyCert> server_;
};

TEST_F(AgentTest, StartsFromPemDatWithGenerationZero) {
  auto a = open();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->agent_id(), "agent-1");
  EXPECT_EQ(a->pinned_fingerprint(), server_->cert.fingerprint());
  EXPECT_EQ(a->generation(), 0);
  EXPECT_EQ(a->last_seq(), 0);
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/agent_state.json"));
  EXPECT_EQ(std::filesystem::status(dir_ + "/agent_state.json").permissions() &
                std::filesystem::perms::others_read,
            std::filesystem::perms::none);
}

TEST_F(AgentTest, StartsFromDerDat) {
  spit(dir_ + "/OfcNTCer.dat", server_->cert.der());
  auto a = open();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->pinned_fingerprint(), server_->cert.fingerprint());
}

TEST_F(AgentTest, GeneratesAnIdOnceAndKeepsIt) {
  std::string id;
  {
    auto a = open("");
    ASSERT_TRUE(a);
    id = a->agent_id();
    EXPECT_TRUE(protocol::valid_agent_id(id));
  }
  auto b = open("");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->agent_id(), id);
}

TEST_F(AgentTest, RefusesBadAgentIdAndMissingDat) {
  auto store = FileStateStore::open(dir_);
  ASSERT_TRUE(store.ok());
  AgentOptions o;
  o.agent_id = "bad id/../x";
  EXPECT_FALSE(Agent::open(std::move(store).value(), o).ok());
  std::filesystem::remove(dir_ + "/OfcNTCer.dat");
  auto store2 = FileStateStore::open(dir_);
  auto r = Agent::open(std::move(store2).value(), AgentOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kNotFound);
}

TEST_F(AgentTest, AgentIdRules) {
  EXPECT_TRUE(protocol::valid_agent_id("A-z_0.9"));
  EXPECT_TRUE(protocol::valid_agent_id(std::string(64, 'a')));
  EXPECT_FALSE(protocol::valid_agent_id(std::string(65, 'a')));
  EXPECT_FALSE(protocol::valid_agent_id(""));
  EXPECT_FALSE(protocol::valid_agent_id("a b"));
  EXPECT_FALSE(protocol::valid_agent_id("a/b"));
  EXPECT_FALSE(protocol::valid_agent_id("all"));
  EXPECT_FALSE(protocol::valid_agent_id("ALL"));  // the one rule, shared with the server
}

TEST_F(AgentTest, PingRepliesAndIsRecorded) {
  auto a = open();
  auto r = a->handle_message(command("ping", 1));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->reply);
  EXPECT_EQ(r->reply->at("type").as_string(), "reply");
  EXPECT_EQ(r->reply->at("jti").as_string(), "jti-1");
  EXPECT_EQ(a->last_seq(), 1);
  EXPECT_NE(slurp(dir_ + "/replies.log").find("\"jti\":\"jti-1\""), std::string::npos);
}

TEST_F(AgentTest, SetPolicyWritesPolicyFile) {
  auto a = open();
  auto r = a->handle_message(command("set-policy", 1, json::object{{"scan_interval", 3600}}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto policy = json::parse(slurp(dir_ + "/policy.json"));
  EXPECT_EQ(policy.at("scan_interval").as_int64(), 3600);
}

TEST_F(AgentTest, RunScanAppendsToScanLog) {
  auto a = open();
  ASSERT_TRUE(a->handle_message(command("run-scan", 1)).ok());
  ASSERT_TRUE(a->handle_message(command("run-scan", 2)).ok());
  std::string log = slurp(dir_ + "/scan.log");
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 2);
  EXPECT_EQ(a->last_seq(), 2);
}

TEST_F(AgentTest, SeqMayJumpForward) {
  auto a = open();
  ASSERT_TRUE(a->handle_message(command("ping", 5)).ok());
  ASSERT_TRUE(a->handle_message(command("ping", 9)).ok());
  EXPECT_EQ(a->last_seq(), 9);
}

TEST_F(AgentTest, DuplicateDeliveryIsIgnoredWithoutStateChange) {
  auto a = open();
  std::string msg = command("run-scan", 1);
  ASSERT_TRUE(a->handle_message(msg).ok());
  auto before = snapshot(dir_);
  auto r = a->handle_message(msg);  // pushed on the channel and again in a check-in
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kConflict);
  EXPECT_EQ(a->counters().messages_duplicate, 1u);
  EXPECT_EQ(snapshot(dir_), before);
  auto c = a->apply_checkin_response(checkin_body(server_->cert.fingerprint(), {}, {msg}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->messages_duplicate, 1);
  EXPECT_EQ(c->messages_rejected, 0);
  EXPECT_EQ(snapshot(dir_), before);
}

TEST_F(AgentTest, StateSurvivesRestart) {
  {
    auto a = open();
    ASSERT_TRUE(a->handle_message(command("ping", 3)).ok());
  }
  auto b = open();
  EXPECT_EQ(b->last_seq(), 3);
  EXPECT_EQ(b->state().seen_jti.size(), 1u);
  auto req = b->checkin_request(HostInfo{"h", "1.2.3.4", "d", "Linux"});
  EXPECT_EQ(req.last_seq, 3);
  EXPECT_EQ(req.pinned_fingerprint, server_->cert.fingerprint());
}

TEST_F(AgentTest, SeenJtiMemoryIsBounded) {
  auto store = FileStateStore::open(dir_);
  AgentOptions o;
  o.agent_id = "agent-1";
  o.clock = &clock_;
  o.max_seen_jti = 4;
  auto a = Agent::open(std::move(store).value(), o);
  ASSERT_TRUE(a.ok());
  for (int i = 1; i <= 10; ++i) ASSERT_TRUE((*a)->handle_message(command("ping", i)).ok());
  EXPECT_EQ((*a)->state().seen_jti.size(), 4u);
  EXPECT_EQ((*a)->state().seen_jti.front(), "jti-7");
}

TEST_F(AgentTest, PicksUpHandCopiedDatWithoutRestart) {
  auto a = open();
  KeyCert other = make_key_cert(kNow);
  // Same key re-encoded as DER: no change of pin.
  spit(dir_ + "/OfcNTCer.dat", server_->cert.der());
  auto same = a->refresh_agent_key();
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(*same);
  EXPECT_EQ(a->pinned_fingerprint(), server_->cert.fingerprint());
  // A different certificate copied by hand: re-pinned with generation 0.
  spit(dir_ + "/OfcNTCer.dat", other.cert.pem());
  auto changed = a->refresh_agent_key();
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  EXPECT_EQ(a->pinned_fingerprint(), other.cert.fingerprint());
  EXPECT_EQ(a->generation(), 0);
  // Unchanged file: nothing to do.
  EXPECT_FALSE(*a->refresh_agent_key());
  // Garbage copied by hand: ignored, old pin kept, state untouched.
  auto before = slurp(dir_ + "/agent_state.json");
  spit(dir_ + "/OfcNTCer.dat", "not a certificate");
  auto garbage = a->refresh_agent_key();
  ASSERT_TRUE(garbage.ok());
  EXPECT_FALSE(*garbage);
  EXPECT_EQ(a->pinned_fingerprint(), other.cert.fingerprint());
  EXPECT_EQ(slurp(dir_ + "/agent_state.json"), before);
}

TEST_F(AgentTest, HandCopyWhileStoppedIsPickedUpAtStart) {
  { open(); }
  KeyCert other = make_key_cert(kNow);
  spit(dir_ + "/OfcNTCer.dat", other.cert.pem());
  auto a = open();
  EXPECT_EQ(a->pinned_fingerprint(), other.cert.fingerprint());
}

TEST_F(AgentTest, RestoresMissingDatFromState) {
  { open(); }
  std::filesystem::remove(dir_ + "/OfcNTCer.dat");
  auto a = open();
  ASSERT_TRUE(a);
  EXPECT_EQ(slurp(dir_ + "/OfcNTCer.dat"), server_->cert.pem());
}

TEST_F(AgentTest, CorruptStateRefusesToStart) {
  { open(); }
  spit(dir_ + "/agent_state.json", "{\"version\":1,");
  auto store = FileStateStore::open(dir_);
  auto r = Agent::open(std::move(store).value(), AgentOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kCorrupt);
}

TEST_F(AgentTest, StateSerializationRoundTrips) {
  auto a = open();
  ASSERT_TRUE(a->handle_message(command("ping", 2)).ok());
  std::string text = serialize_state(a->state());
  auto parsed = parse_state(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(serialize_state(*parsed), text);
}

TEST(MemoryAgentTest, WorksWithSharedCache) {
  FakeClock clock(kNow);
  KeyCert server = make_key_cert(kNow - 10);
  auto key = std::make_shared<const std::string>(server.cert.pem());
  auto cache = std::make_shared<CertCache>();
  std::vector<std::unique_ptr<Agent>> agents;
  for (int i = 0; i < 3; ++i) {
    AgentOptions o;
    o.agent_id = "m" + std::to_string(i);
    o.clock = &clock;
    o.cache = cache;
    auto a = Agent::open(std::make_unique<MemoryStateStore>(key), o);
    ASSERT_TRUE(a.ok());
    agents.push_back(std::move(a).value());
  }
  EXPECT_EQ(&agents[0]->state().pinned->pem(), &agents[2]->state().pinned->pem());
  KeyCert next = make_key_cert(kNow);
  auto link = rotate(server, next, 2, kNow);
  for (auto& a : agents) {
    auto r = a->apply_checkin_response(checkin_body(next.cert.fingerprint(), {link}, {}));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->up_to_date);
    EXPECT_EQ(a->generation(), 2);
  }
  auto& store = static_cast<MemoryStateStore&>(agents[1]->store());
  EXPECT_EQ(*store.agent_key(), next.cert.pem());
  // A hand copy in memory.
  KeyCert manual = make_key_cert(kNow);
  store.replace_agent_key(std::make_shared<const std::string>(manual.cert.pem()));
  auto changed = agents[1]->refresh_agent_key();
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  EXPECT_EQ(agents[1]->generation(), 0);
}

}  // namespace
}  // namespace ck::agent
