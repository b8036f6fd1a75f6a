// ConsoleAuth on a moved clock: sessions end at idle and absolute expiry and when a
// newer login drops them (alive() sees all three, and does not refresh the idle timer);
// a login link carries who asked for it to the session. And cookie_values: every
// ck_console cookie a browser sends.
#include "console/auth.h"

#include <gtest/gtest.h>

#include "console/http.h"

namespace ck::console {
namespace {

class MovedClock final : public Clock {
 public:
  int64_t now() const override { return t; }
  int64_t t = 1'000'000;
};

AuthLimits small_limits() {
  AuthLimits l;
  l.session_idle_seconds = 60;
  l.session_absolute_seconds = 300;
  l.max_sessions = 3;
  return l;
}

TEST(ConsoleAuthTest, AliveEndsAtIdleExpiryAndDoesNotRefresh) {
  MovedClock clock;
  ConsoleAuth auth(small_limits(), &clock);
  auto created = auth.redeem(auth.issue_token("alice"));
  ASSERT_TRUE(created);
  auto view = auth.session(created->cookie);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->user, "alice");
  EXPECT_EQ(view->id.size(), 32u);  // a SHA-256, not the cookie
  EXPECT_NE(view->id, created->cookie);
  clock.t += 59;
  EXPECT_TRUE(auth.alive(view->id));  // watching...
  clock.t += 1;
  EXPECT_FALSE(auth.alive(view->id));  // ...is not activity
  EXPECT_FALSE(auth.session(created->cookie));
}

TEST(ConsoleAuthTest, AliveEndsAtAbsoluteExpiryDespiteActivity) {
  MovedClock clock;
  ConsoleAuth auth(small_limits(), &clock);
  auto created = auth.redeem(auth.issue_token());
  ASSERT_TRUE(created);
  const std::string id = auth.session(created->cookie)->id;
  EXPECT_EQ(auth.session(created->cookie)->user, "");
  for (int i = 0; i < 5; ++i) {
    clock.t += 50;
    ASSERT_TRUE(auth.session(created->cookie)) << i;
  }
  EXPECT_TRUE(auth.alive(id));
  clock.t += 50;  // 300 s after login
  EXPECT_FALSE(auth.alive(id));
  EXPECT_FALSE(auth.session(created->cookie));
}

TEST(ConsoleAuthTest, AliveEndsWhenANewerLoginDropsTheSession) {
  MovedClock clock;
  ConsoleAuth auth(small_limits(), &clock);
  auto first = auth.redeem(auth.issue_token("alice"));
  ASSERT_TRUE(first);
  const std::string id = auth.session(first->cookie)->id;
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(auth.redeem(auth.issue_token("bob")));
  EXPECT_TRUE(auth.alive(id));  // three sessions: the cap
  auto fourth = auth.redeem(auth.issue_token("bob"));
  ASSERT_TRUE(fourth);
  EXPECT_FALSE(auth.alive(id));
  EXPECT_FALSE(auth.session(first->cookie));
  EXPECT_EQ(auth.session(fourth->cookie)->user, "bob");
  EXPECT_FALSE(auth.alive(""));
}

TEST(CookieValuesTest, EveryValueOfTheNameInOrder) {
  EXPECT_EQ(cookie_values("ck_console=junk; other=1; ck_console=good", "ck_console"),
            (std::vector<std::string>{"junk", "good"}));
  EXPECT_EQ(cookie_value("ck_console=junk; ck_console=good", "ck_console"), "junk");
  EXPECT_TRUE(cookie_values("xck_console=a; ck_consolex=b", "ck_console").empty());
  EXPECT_TRUE(cookie_values("", "ck_console").empty());
  EXPECT_EQ(cookie_values("ck_console=", "ck_console"), (std::vector<std::string>{""}));
}

}  // namespace
}  // namespace ck::console
