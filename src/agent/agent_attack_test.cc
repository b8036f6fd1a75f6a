// Every attack of issue #5 is rejected and leaves the install folder byte-identical.
#include <gtest/gtest.h>

#include <filesystem>

#include "agent/agent.h"
#include "agent/agent_test_util.h"
#include "agent/file_state_store.h"
#include "crypto/encoding.h"
#include "crypto/signature.h"

namespace ck::agent {
namespace {
using namespace ck::agent::testing;
namespace json = boost::json;

constexpr int64_t kNow = 1'800'000'000;

class AgentAttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir();
    a_ = std::make_unique<KeyCert>(make_key_cert(kNow - 100));
    b_ = std::make_unique<KeyCert>(make_key_cert(kNow - 50));
    c_ = std::make_unique<KeyCert>(make_key_cert(kNow - 10));
    evil_ = std::make_unique<KeyCert>(make_key_cert(kNow));
    spit(dir_ + "/OfcNTCer.dat", a_->cert.pem());
    agent_ = open();
    // A little history: one accepted command (seq 5) and one accepted rotation A->B (n=2).
    ASSERT_TRUE(agent_->handle_message(sign(a_->key, payload(5, "j5"))).ok());
    auto r = agent_->apply_checkin_response(
        checkin_body(b_->cert.fingerprint(), {rotate(*a_, *b_, 2, kNow)}, {}));
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(agent_->pinned_fingerprint(), b_->cert.fingerprint());
    ASSERT_EQ(agent_->generation(), 2);
    before_ = snapshot(dir_);
  }
  void TearDown() override {
    // Whatever the attack, nothing on disk moved and the agent still works.
    EXPECT_EQ(snapshot(dir_), before_);
    EXPECT_EQ(agent_->pinned_fingerprint(), b_->cert.fingerprint());
    EXPECT_EQ(agent_->generation(), 2);
    EXPECT_EQ(agent_->last_seq(), 5);
    auto ok = agent_->handle_message(sign(b_->key, payload(6, "j6")));
    EXPECT_TRUE(ok.ok()) << ok.error().message;
    agent_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<Agent> open() {
    auto store = FileStateStore::open(dir_);
    AgentOptions o;
    o.agent_id = "agent-1";
    o.clock = &clock_;
    auto a = Agent::open(std::move(store).value(), o);
    EXPECT_TRUE(a.ok());
    return std::move(a).value();
  }

  json::object payload(int64_t seq, const std::string& jti, const std::string& aud = "agent-1") {
    Command c;
    c.aud = aud;
    c.jti = jti;
    c.seq = seq;
    c.iat = clock_.now();
    c.exp = clock_.now() + 300;
    return command_payload(c);
  }

  void expect_rejected(const std::string& jws) {
    auto r = agent_->handle_message(jws);
    EXPECT_FALSE(r.ok());
    // Also inside a check-in answer.
    auto c = agent_->apply_checkin_response(checkin_body(b_->cert.fingerprint(), {}, {jws}));
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->messages_accepted, 0);
    EXPECT_EQ(c->messages_rejected + c->messages_duplicate, 1);
  }

  void expect_link_rejected(const crypto::SignedRotation& link) {
    auto r = agent_->apply_checkin_response(checkin_body(c_->cert.fingerprint(), {link}, {}));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->links_accepted, 0);
    EXPECT_EQ(r->links_rejected, 1);
    EXPECT_FALSE(r->up_to_date);
  }

  std::string dir_;
  FakeClock clock_{kNow};
  std::unique_ptr<KeyCert> a_, b_, c_, evil_;
  std::unique_ptr<Agent> agent_;
  std::map<std::string, std::string> before_;
};

TEST_F(AgentAttackTest, BadSignature) {
  std::string jws = sign(b_->key, payload(6, "x"));
  std::string forged = sign(b_->key, payload(7, "y"));
  // The payload of one message with the signature of another.
  auto p1 = jws.rfind('.');
  auto p2 = forged.rfind('.');
  expect_rejected(jws.substr(0, p1) + forged.substr(p2));
  // A flipped byte in the signature.
  std::string flipped = jws;
  flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
  expect_rejected(flipped);
}

TEST_F(AgentAttackTest, ForgedKidNamingThePinnedKey) {
  // Signed by an attacker's key but claiming the pinned key's kid.
  json::object header{{"alg", "ES256"}, {"kid", b_->cert.fingerprint()}};
  std::string input = crypto::base64url_encode(json::serialize(header)) + "." +
                      crypto::base64url_encode(json::serialize(payload(6, "x")));
  std::string real = sign(evil_->key, payload(6, "x"));
  expect_rejected(input + real.substr(real.rfind('.')));
}

TEST_F(AgentAttackTest, UnknownKid) { expect_rejected(sign(evil_->key, payload(6, "x"))); }

TEST_F(AgentAttackTest, OldKeyAfterRotation) { expect_rejected(sign(a_->key, payload(6, "x"))); }

TEST_F(AgentAttackTest, MissingKid) {
  json::object header{{"alg", "ES256"}};
  std::string input = crypto::base64url_encode(json::serialize(header)) + "." +
                      crypto::base64url_encode(json::serialize(payload(6, "x")));
  auto sig = crypto::sign(b_->key, input);
  ASSERT_TRUE(sig.ok());
  expect_rejected(input + "." + crypto::base64url_encode(*sig));
}

TEST_F(AgentAttackTest, AlgorithmConfusion) {
  json::object header{{"alg", "none"}, {"kid", b_->cert.fingerprint()}};
  expect_rejected(crypto::base64url_encode(json::serialize(header)) + "." +
                  crypto::base64url_encode(json::serialize(payload(6, "x"))) + ".");
}

TEST_F(AgentAttackTest, MessageForAnotherAgent) {
  expect_rejected(sign(b_->key, payload(6, "x", "agent-2")));
  // "all" names no agent: a broadcast is signed per agent, so this is a replay vector.
  expect_rejected(sign(b_->key, payload(6, "x", "all")));
  auto p = payload(6, "x");
  p.erase("aud");
  expect_rejected(sign(b_->key, p));
}

TEST_F(AgentAttackTest, Expired) {
  auto p = payload(6, "x");
  p["iat"] = kNow - 4000;
  p["exp"] = kNow - 3600;
  expect_rejected(sign(b_->key, p));
}

TEST_F(AgentAttackTest, IssuedInTheFuture) {
  auto p = payload(6, "x");
  p["iat"] = kNow + 3600;
  p["exp"] = kNow + 7200;
  expect_rejected(sign(b_->key, p));
}

// A validly signed message that stays valid for more than a day is refused, however far
// its exp (no overflow at INT64_MAX).
TEST_F(AgentAttackTest, LifetimeLongerThanADay) {
  const std::initializer_list<int64_t> far_exps = {kNow + 24 * 3600 + 1, kNow + 10 * 365 * 86400, INT64_MAX - 60,
                                                    INT64_MAX};
  for (int64_t exp : far_exps) {
    auto p = payload(6, "x");
    p["exp"] = exp;
    expect_rejected(sign(b_->key, p));
  }
}

TEST_F(AgentAttackTest, MissingClaims) {
  for (const char* claim : {"exp", "iat", "jti", "seq", "cmd", "typ"}) {
    auto p = payload(6, "x");
    p.erase(claim);
    expect_rejected(sign(b_->key, p));
  }
  auto p = payload(6, "x");
  p["typ"] = "rotation";
  expect_rejected(sign(b_->key, p));
}

TEST_F(AgentAttackTest, ReplayedSeqAndJti) {
  expect_rejected(sign(b_->key, payload(5, "new-jti")));   // same seq
  expect_rejected(sign(b_->key, payload(4, "older")));     // reordered
  expect_rejected(sign(b_->key, payload(99, "j5")));       // seen jti
}


TEST_F(AgentAttackTest, ReplayAcrossRestart) {
  std::string first = sign(a_->key, payload(5, "j5"));
  agent_ = open();
  EXPECT_EQ(agent_->last_seq(), 5);
  // The exact message accepted before the restart, and a re-signed one with the same seq.
  EXPECT_FALSE(agent_->handle_message(first).ok());
  expect_rejected(sign(b_->key, payload(5, "j5")));
}

TEST_F(AgentAttackTest, UnknownCommand) {
  auto p = payload(6, "x");
  p["cmd"] = "rm -rf /";
  expect_rejected(sign(b_->key, p));
  p["args"] = "not an object";
  p["cmd"] = "set-policy";
  expect_rejected(sign(b_->key, p));
}

TEST_F(AgentAttackTest, MalformedJws) {
  for (std::string bad : {"", ".", "..", "a.b", "a.b.c.d", "!!!.@@@.###", "e30.e30.",
                          "eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.AAAA"}) {
    expect_rejected(bad);
  }
  // Valid signature over a payload that is not JSON.
  json::object header{{"alg", "ES256"}, {"kid", b_->cert.fingerprint()}};
  std::string input = crypto::base64url_encode(json::serialize(header)) + "." +
                      crypto::base64url_encode("[1,2,3]");
  auto sig = crypto::sign(b_->key, input);
  expect_rejected(input + "." + crypto::base64url_encode(*sig));
}

TEST_F(AgentAttackTest, OversizedFrame) {
  auto p = payload(6, "x");
  p["args"] = json::object{{"blob", std::string(300 * 1024, 'a')}};
  EXPECT_FALSE(agent_->handle_message(sign(b_->key, p)).ok());
  EXPECT_FALSE(agent_->handle_message(std::string(protocol::kMaxServerFrameBytes + 1, 'a')).ok());
}

TEST_F(AgentAttackTest, MalformedCheckinResponse) {
  for (std::string bad : {"", "null", "[]", "{", "{\"current_fingerprint\":1}",
                          "{\"current_fingerprint\":\"x\",\"rotations\":{}}",
                          "{\"current_fingerprint\":\"x\",\"rotations\":[{\"by_old\":1}]}",
                          "{\"current_fingerprint\":\"x\",\"messages\":[1]}"}) {
    EXPECT_FALSE(agent_->apply_checkin_response(bad).ok()) << bad;
  }
  EXPECT_FALSE(agent_->apply_checkin_response(std::string(kMaxCheckinResponseBytes + 1, ' ')).ok());
}

TEST_F(AgentAttackTest, RotationFromAKeyWeDoNotPin) {
  expect_link_rejected(rotate(*a_, *c_, 3, kNow));      // from the old key
  expect_link_rejected(rotate(*evil_, *c_, 3, kNow));   // from a stranger
}

TEST_F(AgentAttackTest, RotationWhoseSignaturesDisagree) {
  auto good = rotate(*b_, *c_, 3, kNow);
  auto other = rotate(*b_, *c_, 4, kNow);  // same keys, different payload
  expect_link_rejected({good.by_old, other.by_new});
  // by_new signed by a key that is not the one in the certificate.
  auto evil = rotate(*b_, *evil_, 3, kNow);
  expect_link_rejected({good.by_old, evil.by_new});
  // by_old replaced by a signature of the new key (no old-key endorsement).
  expect_link_rejected({good.by_new, good.by_new});
}

TEST_F(AgentAttackTest, RotationRollback) {
  expect_link_rejected(rotate(*b_, *c_, 2, kNow));  // not newer than held 2
  expect_link_rejected(rotate(*b_, *c_, 1, kNow));  // older
  expect_link_rejected(rotate(*b_, *a_, 1, kNow));  // back to the old key
}

TEST_F(AgentAttackTest, RotationWithTamperedCertificate) {
  // Payload names C's fingerprint but carries the attacker's certificate.
  json::object p{{"typ", "rotation"}, {"from", b_->cert.fingerprint()}, {"to", c_->cert.fingerprint()},
                 {"cert", evil_->cert.pem()}, {"iat", kNow}, {"n", 3}};
  expect_link_rejected({sign(b_->key, p), sign(evil_->key, p)});
}

TEST_F(AgentAttackTest, MessageWithBadLinkDoesNotMoveState) {
  // A valid-looking response mixing a bad link and a replayed message.
  auto r = agent_->apply_checkin_response(checkin_body(
      c_->cert.fingerprint(), {rotate(*evil_, *c_, 9, kNow)}, {sign(b_->key, payload(5, "j5"))}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->links_accepted, 0);
  EXPECT_EQ(r->messages_accepted, 0);
}

}  // namespace
}  // namespace ck::agent
