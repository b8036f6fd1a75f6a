#include "protocol/message_queue.h"

#include <gtest/gtest.h>

namespace ck::protocol {
namespace {

PendingCommand cmd(const std::string& jti, int64_t exp = 100) {
  PendingCommand c;
  c.cmd = "ping";
  c.jti = jti;
  c.exp = exp;
  return c;
}

TEST(MessageQueue, PerAgentFifoBoundedAndExpiring) {
  MessageQueue q(2);
  EXPECT_TRUE(q.enqueue("a", cmd("1")));
  EXPECT_TRUE(q.enqueue("a", cmd("2", 5)));
  EXPECT_TRUE(q.enqueue("a", cmd("3")));  // drops "1"
  EXPECT_TRUE(q.enqueue("b", cmd("4")));
  EXPECT_EQ(q.total_queued(), 3u);
  auto got = q.take("a", 10);  // "2" expired at 5
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].jti, "3");
  EXPECT_TRUE(q.take("a", 10).empty());
  EXPECT_EQ(q.total_queued(), 1u);
  q.put_back("a", {cmd("5")});
  EXPECT_EQ(q.queued_for("a"), 1u);
}

TEST(MessageQueue, BroadcastsOncePerAgent) {
  MessageQueue q;
  int64_t id = q.add_broadcast(cmd("b1"));
  q.mark_broadcast_seen("live", id);
  EXPECT_TRUE(q.take("live", 10).empty());
  auto got = q.take("offline", 10);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].jti, "b1");
  EXPECT_TRUE(q.take("offline", 10).empty());
  q.put_back("offline", got);
  EXPECT_EQ(q.take("offline", 10).size(), 1u);
}

TEST(MessageQueue, BroadcastMarkedSeenForLiveAgentsAtOnce) {
  MessageQueue q;
  q.add_broadcast(cmd("b1"), {"live-1", "live-2"});
  EXPECT_TRUE(q.take("live-1", 10).empty());
  EXPECT_TRUE(q.take("live-2", 10).empty());
  EXPECT_EQ(q.take("other", 10).size(), 1u);
}

// Any agent id can check in, so the per-agent broadcast cursors must not grow forever:
// they go when the broadcasts they refer to expire, and they are capped meanwhile.
TEST(MessageQueue, BroadcastCursorsAreForgottenWhenBroadcastsExpire) {
  MessageQueue q;
  q.add_broadcast(cmd("b1", 100), {"live"});
  for (int i = 0; i < 50; ++i) EXPECT_EQ(q.take("agent-" + std::to_string(i), 10).size(), 1u);
  EXPECT_EQ(q.broadcast_cursors(), 51u);
  EXPECT_TRUE(q.take("agent-0", 10).empty());  // still once per agent while it lives
  // Expired: nothing left to remember, for anyone.
  EXPECT_TRUE(q.take("agent-0", 100).empty());
  EXPECT_EQ(q.broadcast_cursors(), 0u);
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(q.take("late-" + std::to_string(i), 200).empty());
  EXPECT_EQ(q.broadcast_cursors(), 0u);
  // A new broadcast (issued after the old one expired) prunes as well.
  PendingCommand fresh = cmd("b2", 400);
  fresh.iat = 300;
  q.add_broadcast(fresh);
  EXPECT_EQ(q.take("agent-1", 300).size(), 1u);
  EXPECT_EQ(q.broadcast_cursors(), 1u);
}

TEST(MessageQueue, BroadcastCursorsAreCapped) {
  MessageQueue q(4, 4, /*max_agents=*/3);
  q.add_broadcast(cmd("b1", 100));
  EXPECT_EQ(q.take("a", 10).size(), 1u);
  EXPECT_EQ(q.take("b", 10).size(), 1u);
  EXPECT_EQ(q.take("c", 10).size(), 1u);
  EXPECT_TRUE(q.take("d", 10).empty());  // past the cap: no cursor, no broadcast
  EXPECT_EQ(q.broadcast_cursors(), 3u);
  EXPECT_TRUE(q.take("a", 10).empty());  // the others still get it once only
  EXPECT_TRUE(q.enqueue("d", cmd("own")));
  EXPECT_EQ(q.take("d", 10).size(), 1u);  // its own queue is unaffected
  // Beyond broadcast_limit the oldest broadcast goes, and cursors below it with it.
  MessageQueue small(4, /*broadcast_limit=*/1);
  small.add_broadcast(cmd("x1"));
  EXPECT_EQ(small.take("a", 10).size(), 1u);
  small.add_broadcast(cmd("x2"));
  EXPECT_EQ(small.broadcast_cursors(), 0u);
  EXPECT_EQ(small.take("a", 10).size(), 1u);
}

TEST(MessageQueue, AgentTableBound) {
  MessageQueue q(4, 4, 1);
  EXPECT_TRUE(q.enqueue("a", cmd("1")));
  EXPECT_FALSE(q.enqueue("b", cmd("2")));
}

}  // namespace
}  // namespace ck::protocol
