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

TEST(MessageQueue, AgentTableBound) {
  MessageQueue q(4, 4, 1);
  EXPECT_TRUE(q.enqueue("a", cmd("1")));
  EXPECT_FALSE(q.enqueue("b", cmd("2")));
}

}  // namespace
}  // namespace ck::protocol
