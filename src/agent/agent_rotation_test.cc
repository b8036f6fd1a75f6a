// The rotation walk: an agent offline through 1, 2 or 3 replacements catches up in one
// check-in; messages signed with the key it pins are handled before the walk.
#include <gtest/gtest.h>

#include <filesystem>

#include "agent/agent.h"
#include "agent/agent_test_util.h"
#include "agent/file_state_store.h"

namespace ck::agent {
namespace {
using namespace ck::agent::testing;
namespace json = boost::json;

constexpr int64_t kNow = 1'800'000'000;

class AgentRotationTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir();
    for (int i = 0; i < 4; ++i) keys_.push_back(make_key_cert(kNow - 100 + i));
    // Generations: keys_[0] is n=1, keys_[i] is n=i+1.
    for (int i = 1; i < 4; ++i) links_.push_back(rotate(keys_[i - 1], keys_[i], i + 1, kNow));
    spit(dir_ + "/OfcNTCer.dat", keys_[0].cert.pem());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Agent> open() {
    auto store = FileStateStore::open(dir_);
    AgentOptions o;
    o.agent_id = "agent-1";
    o.clock = &clock_;
    auto a = Agent::open(std::move(store).value(), o);
    EXPECT_TRUE(a.ok());
    return std::move(a).value();
  }

  std::string message(const KeyCert& k, int64_t seq) {
    Command c;
    c.command = "run-scan";
    c.aud = "agent-1";
    c.jti = "m" + std::to_string(seq);
    c.seq = seq;
    c.iat = kNow;
    c.exp = kNow + 600;
    return sign(k.key, command_payload(c));
  }

  std::string dir_;
  FakeClock clock_{kNow};
  std::vector<KeyCert> keys_;
  std::vector<crypto::SignedRotation> links_;
};

TEST_P(AgentRotationTest, CatchesUpInOneCheckin) {
  const int k = GetParam();  // replacements missed
  auto agent = open();
  std::vector<crypto::SignedRotation> path(links_.begin(), links_.begin() + k);
  const KeyCert& current = keys_[k];
  // A stale agent gets messages signed with the key it pins, plus the chain.
  auto r = agent->apply_checkin_response(
      checkin_body(current.cert.fingerprint(), path, {message(keys_[0], 1)}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->links_accepted, k);
  EXPECT_EQ(r->links_rejected, 0);
  EXPECT_EQ(r->messages_accepted, 1);
  EXPECT_TRUE(r->rotated);
  EXPECT_TRUE(r->up_to_date);
  EXPECT_EQ(agent->pinned_fingerprint(), current.cert.fingerprint());
  EXPECT_EQ(agent->generation(), k + 1);
  EXPECT_EQ(slurp(dir_ + "/OfcNTCer.dat"), current.cert.pem());
  // The next check-in reports the new fingerprint.
  EXPECT_EQ(agent->checkin_request({}).pinned_fingerprint, current.cert.fingerprint());
  // After a restart it still pins the new key and refuses the old one.
  agent = open();
  EXPECT_EQ(agent->pinned_fingerprint(), current.cert.fingerprint());
  EXPECT_EQ(agent->generation(), k + 1);
  EXPECT_FALSE(agent->handle_message(message(keys_[0], 2)).ok());
  EXPECT_TRUE(agent->handle_message(message(current, 2)).ok());
  // Replaying the same chain is a rollback now.
  auto again = agent->apply_checkin_response(checkin_body(current.cert.fingerprint(), path, {}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->links_accepted, 0);
}

INSTANTIATE_TEST_SUITE_P(Links, AgentRotationTest, ::testing::Values(1, 2, 3));

TEST_F(AgentRotationTest, MessagesSignedWithTheNewKeyAreHandledAfterTheWalk) {
  auto agent = open();
  auto r = agent->apply_checkin_response(checkin_body(
      keys_[1].cert.fingerprint(), {links_[0]}, {message(keys_[0], 1), message(keys_[1], 2)}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->messages_accepted, 2);
  EXPECT_EQ(agent->last_seq(), 2);
}

TEST_F(AgentRotationTest, StopsAtABrokenLinkButKeepsVerifiedProgress) {
  auto agent = open();
  KeyCert evil = make_key_cert(kNow);
  auto r = agent->apply_checkin_response(checkin_body(
      keys_[3].cert.fingerprint(), {links_[0], rotate(evil, keys_[2], 3, kNow)}, {}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->links_accepted, 1);
  EXPECT_EQ(r->links_rejected, 1);
  EXPECT_FALSE(r->up_to_date);
  EXPECT_EQ(agent->pinned_fingerprint(), keys_[1].cert.fingerprint());
  EXPECT_EQ(agent->generation(), 2);
}

TEST_F(AgentRotationTest, DirectStatementFromThePinnedKeySkipsTheMiddle) {
  // The server still holds key 0: it mints 0 -> 3 directly with n = 4.
  auto agent = open();
  auto r = agent->apply_checkin_response(
      checkin_body(keys_[3].cert.fingerprint(), {rotate(keys_[0], keys_[3], 4, kNow)}, {}));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->up_to_date);
  EXPECT_EQ(agent->generation(), 4);
}

TEST_F(AgentRotationTest, InterruptedUpdateOfDatIsCompleted) {
  std::string old_bytes = slurp(dir_ + "/OfcNTCer.dat");
  {
    auto agent = open();
    ASSERT_TRUE(agent->apply_checkin_response(checkin_body(keys_[1].cert.fingerprint(), {links_[0]}, {})).ok());
  }
  // Simulate a crash after the state was saved but before OfcNTCer.dat was replaced.
  spit(dir_ + "/OfcNTCer.dat", old_bytes);
  auto agent = open();
  EXPECT_EQ(agent->pinned_fingerprint(), keys_[1].cert.fingerprint());
  EXPECT_EQ(agent->generation(), 2);
  EXPECT_EQ(slurp(dir_ + "/OfcNTCer.dat"), keys_[1].cert.pem());
}

TEST_F(AgentRotationTest, HandCopyResetsGenerationAndRotationsFollow) {
  auto agent = open();
  ASSERT_TRUE(agent->apply_checkin_response(checkin_body(keys_[2].cert.fingerprint(),
                                                         {links_[0], links_[1]}, {})).ok());
  ASSERT_EQ(agent->generation(), 3);
  // The administrator copies key 3 by hand (e.g. after a revocation).
  spit(dir_ + "/OfcNTCer.dat", keys_[3].cert.pem());
  ASSERT_TRUE(*agent->refresh_agent_key());
  EXPECT_EQ(agent->generation(), 0);
  EXPECT_EQ(agent->pinned_fingerprint(), keys_[3].cert.fingerprint());
}

}  // namespace
}  // namespace ck::agent
