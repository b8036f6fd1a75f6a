#include "server/outbox_feed.h"

#include <gtest/gtest.h>

namespace ck::server {
namespace {

struct FakeClock : Clock {
  int64_t t = 1000;
  int64_t now() const override { return t; }
};

std::vector<int64_t> seqs(const std::vector<outbox::Message>& v) {
  std::vector<int64_t> out;
  for (const auto& m : v) out.push_back(m.seq);
  return out;
}

TEST(OutboxFeed, PendingForMergesBroadcastsAndOwnMessagesInSeqOrder) {
  FakeClock clock;
  auto box = outbox::make_memory_outbox(100);
  OutboxFeed feed(*box, clock);
  ASSERT_TRUE(box->add(outbox::new_message("ping", {}, "a", 1000, 60)).ok());    // 100
  ASSERT_TRUE(box->add(outbox::new_message("ping", {}, "all", 1000, 60)).ok());  // 101
  ASSERT_TRUE(box->add(outbox::new_message("ping", {}, "b", 1000, 60)).ok());    // 102
  ASSERT_TRUE(box->add(outbox::new_message("ping", {}, "a", 1000, 600)).ok());   // 103
  EXPECT_TRUE(feed.pending_for("a", 0).empty());  // not read yet
  auto fresh = feed.refresh();
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(seqs(*fresh), (std::vector<int64_t>{100, 101, 102, 103}));
  EXPECT_EQ(feed.seen_seq(), 103);
  EXPECT_EQ(seqs(feed.pending_for("a", 0)), (std::vector<int64_t>{100, 101, 103}));
  EXPECT_EQ(seqs(feed.pending_for("a", 100)), (std::vector<int64_t>{101, 103}));
  EXPECT_EQ(seqs(feed.pending_for("b", 0)), (std::vector<int64_t>{101, 102}));
  EXPECT_EQ(seqs(feed.pending_for("c", 0)), (std::vector<int64_t>{101}));
  EXPECT_TRUE(feed.pending_for("a", 103).empty());
  EXPECT_TRUE(feed.pending_for("a", int64_t{1} << 62).empty());
  // Nothing new: an empty refresh.
  EXPECT_TRUE(feed.refresh()->empty());
  // Expiry: the 60 s ones go, the 600 s one stays.
  clock.t = 1060;
  EXPECT_EQ(seqs(feed.pending_for("a", 0)), (std::vector<int64_t>{103}));  // filtered at once
  EXPECT_TRUE(feed.refresh()->empty());
  EXPECT_EQ(feed.size(), 1u);
  ASSERT_TRUE(box->add(outbox::new_message("ping", {}, "all", 1060, 60)).ok());  // 104
  EXPECT_EQ(seqs(*feed.refresh()), (std::vector<int64_t>{104}));
  EXPECT_EQ(seqs(feed.pending_for("a", 0)), (std::vector<int64_t>{103, 104}));
}

TEST(OutboxFeed, AMessageThatExpiredBeforeItWasReadIsSkipped) {
  FakeClock clock;
  auto box = outbox::make_memory_outbox(1);
  OutboxFeed feed(*box, clock);
  ASSERT_TRUE(box->add(outbox::new_message("ping", {}, "all", 900, 50)).ok());
  auto fresh = feed.refresh();
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(fresh->empty());
  EXPECT_EQ(feed.seen_seq(), 1);
}

}  // namespace
}  // namespace ck::server
