// check_command_claims on its own: the lifetime bound and time checks near the int64 limits.
#include "agent/message_claims.h"

#include <gtest/gtest.h>

#include <limits>

namespace ck::agent {
namespace {
namespace json = boost::json;

constexpr int64_t kNow = 1'800'000'000;
constexpr int64_t kSkew = 120;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

json::object claims(int64_t iat, int64_t exp) {
  return json::object{{"typ", "command"}, {"cmd", "ping"}, {"aud", "agent-1"},
                      {"iat", iat},       {"exp", exp},    {"jti", "j1"},
                      {"seq", 7}};
}

std::string reason(int64_t iat, int64_t exp, int64_t now = kNow) {
  AgentState state;
  state.agent_id = "agent-1";
  auto r = check_command_claims(claims(iat, exp), state, now, kSkew);
  return r.ok() ? "accepted" : r.error().message;
}

bool mentions(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

TEST(MessageClaims, LifetimeIsAtMost24Hours) {
  EXPECT_EQ(reason(kNow, kNow + 3600), "accepted");
  EXPECT_EQ(reason(kNow, kNow + 24 * 3600), "accepted");
  EXPECT_TRUE(mentions(reason(kNow, kNow + 24 * 3600 + 1), "lifetime")) << reason(kNow, kNow + 24 * 3600 + 1);
  EXPECT_TRUE(mentions(reason(kNow - 100, kNow + 365 * 86400), "lifetime"));
}

// Each of these overflowed `exp + skew`, `now + skew` or `exp - iat` in signed arithmetic.
TEST(MessageClaims, TimesNearTheInt64LimitsAreRefusedForTheRightReason) {
  EXPECT_TRUE(mentions(reason(kNow, kMax), "lifetime")) << reason(kNow, kMax);
  EXPECT_TRUE(mentions(reason(kNow, kMax - kSkew / 2), "lifetime")) << reason(kNow, kMax - kSkew / 2);
  EXPECT_TRUE(mentions(reason(kMax - 100, kMax), "issued in the future")) << reason(kMax - 100, kMax);
  EXPECT_TRUE(mentions(reason(kMin, kNow + 60), "lifetime")) << reason(kMin, kNow + 60);
  EXPECT_TRUE(mentions(reason(kMin, kMin + 10), "expired")) << reason(kMin, kMin + 10);
  // A clock at the limit does not wrap either.
  EXPECT_TRUE(mentions(reason(kNow, kNow + 60, kMax), "expired")) << reason(kNow, kNow + 60, kMax);
  EXPECT_EQ(reason(kMax - 60, kMax, kMax - 30), "accepted");
}

TEST(MessageClaims, SkewStillApplies) {
  EXPECT_EQ(reason(kNow - 200, kNow - kSkew), "accepted");
  EXPECT_TRUE(mentions(reason(kNow - 200, kNow - kSkew - 1), "expired"));
  EXPECT_EQ(reason(kNow + kSkew, kNow + kSkew + 60), "accepted");
  EXPECT_TRUE(mentions(reason(kNow + kSkew + 1, kNow + kSkew + 60), "issued in the future"));
}

}  // namespace
}  // namespace ck::agent
