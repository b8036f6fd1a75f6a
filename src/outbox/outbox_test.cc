// Outbox contract tests over memory, SQLite and PostgreSQL (CK_TEST_POSTGRES_URL).
#include "outbox/outbox.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <algorithm>
#include <atomic>
#include <thread>

#include "store/cert_store.h"
#include "store/postgres/pg_test_env.h"
#include "support/process.h"

namespace ck::outbox {
namespace {

class OutboxTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = ck::testing::temp_dir();
    if (GetParam() == "memory") {
      outbox_ = make_memory_outbox(1000);
      return;
    }
    if (GetParam() == "postgres") {
      CK_REQUIRE_POSTGRES();
      auto schema = pg::testing::TestSchema::create(pg::testing::server_url());
      ASSERT_TRUE(schema.ok()) << schema.error().message;
      schema_ = std::move(schema).value();
      url_ = schema_->url();
    } else {
      url_ = "sqlite:" + dir_ + "/ck.db";
    }
    store::StoreOptions so;
    so.key_file = dir_ + "/kek";
    auto store = store::open_cert_store(url_, so);  // the outbox lives in the store's database
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
    auto o = open_outbox(url_);
    ASSERT_TRUE(o.ok()) << o.error().message;
    outbox_ = std::move(o).value();
  }
  void TearDown() override {
    outbox_.reset();
    store_.reset();
    schema_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_, url_;
  std::unique_ptr<pg::testing::TestSchema> schema_;
  std::unique_ptr<store::CertStore> store_;
  std::unique_ptr<Outbox> outbox_;
};

TEST_P(OutboxTest, AddAssignsIncreasingSeqAndSinceReturnsInOrder) {
  auto first = outbox_->last_seq();
  ASSERT_TRUE(first.ok()) << first.error().message;
  std::vector<int64_t> seqs;
  for (int i = 0; i < 5; ++i) {
    auto m = outbox_->add(new_message("ping", {{"i", i}}, i % 2 ? "agent-1" : "all", 100, 3600));
    ASSERT_TRUE(m.ok()) << m.error().message;
    seqs.push_back(m->seq);
  }
  for (size_t i = 1; i < seqs.size(); ++i) EXPECT_GT(seqs[i], seqs[i - 1]);
  EXPECT_GT(seqs.front(), *first);
  EXPECT_EQ(*outbox_->last_seq(), seqs.back());

  auto all = outbox_->since(0, 100);
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[1].audience, "agent-1");
  EXPECT_EQ((*all)[1].args.at("i").as_int64(), 1);
  EXPECT_EQ((*all)[4].command, "ping");
  auto tail = outbox_->since(seqs[2], 100);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 2u);
  EXPECT_EQ((*tail)[0].seq, seqs[3]);
  auto limited = outbox_->since(0, 100, 2);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->size(), 2u);
}

// The database backends only: durability and other processes' connections.
class DurableOutboxTest : public OutboxTest {};

TEST_P(DurableOutboxTest, SeqFollowsTheClockAboveTheOldClockBasedSequenceNumbers) {
  // Agents hold last_seq values from the earlier clock-based counter (microseconds,
  // handed out at most a few messages ahead of the clock): every new seq is above the
  // clock at the time it is made.
  const int64_t before = initial_seq();
  auto m = outbox_->add(new_message("ping", {}, "all", 100, 3600));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_GE(m->seq, before);
  EXPECT_LE(m->seq, initial_seq());
}

TEST_P(OutboxTest, PendingMessagesPerAudienceAreBounded) {
  for (int64_t i = 0; i < kMaxPendingPerAudience; ++i) {
    ASSERT_TRUE(outbox_->add(new_message("ping", {}, "busy-agent", 100, 3600)).ok()) << i;
  }
  auto refused = outbox_->add(new_message("ping", {}, "busy-agent", 100, 3600));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kBusy);
  EXPECT_NE(refused.error().message.find("busy-agent"), std::string::npos);
  EXPECT_TRUE(outbox_->add(new_message("ping", {}, "other-agent", 100, 3600)).ok());
  // Once they expired, there is room again.
  EXPECT_TRUE(outbox_->add(new_message("ping", {}, "busy-agent", 3700, 3600)).ok());
}

TEST_P(OutboxTest, ExpiredMessagesAreNotReturnedAndArePruned) {
  ASSERT_TRUE(outbox_->add(new_message("ping", {}, "all", 100, 10)).ok());
  ASSERT_TRUE(outbox_->add(new_message("ping", {}, "all", 100, 1000)).ok());
  EXPECT_EQ(outbox_->since(0, 105)->size(), 2u);
  EXPECT_EQ(outbox_->since(0, 110)->size(), 1u);  // exp is exclusive
  auto pruned = outbox_->prune(110);
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  EXPECT_EQ(*pruned, 1);
  EXPECT_EQ(outbox_->since(0, 0)->size(), 1u);
}

TEST_P(OutboxTest, DuplicateJtiIsAConflictAndLeavesNothing) {
  Message m = new_message("ping", {}, "a", 100, 100);
  ASSERT_TRUE(outbox_->add(m).ok());
  int64_t before = *outbox_->last_seq();
  auto again = outbox_->add(m);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ErrorKind::kConflict);
  EXPECT_EQ(outbox_->since(0, 0)->size(), 1u);
  // The failed add rolled back its counter step as well.
  EXPECT_EQ(*outbox_->last_seq(), before);
}

TEST_P(DurableOutboxTest, SurvivesReopening) {
  auto m = outbox_->add(new_message("set-policy", {{"scan_interval", 600}}, "agent-9", 100, 3600));
  ASSERT_TRUE(m.ok());
  outbox_.reset();
  auto reopened = open_outbox(url_);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  auto got = (*reopened)->since(0, 100);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].jti, m->jti);
  EXPECT_EQ((*got)[0].seq, m->seq);
  EXPECT_EQ((*got)[0].args.at("scan_interval").as_int64(), 600);
  EXPECT_EQ(*(*reopened)->last_seq(), m->seq);
}

// Writers on connections of their own, a reader polling meanwhile: whatever the reader
// saw at any moment is a prefix of the final outbox (having seen N, it has seen every
// message below N), which is what lets servers read "everything after N".
TEST_P(DurableOutboxTest, ConcurrentWritersCommitInSeqOrder) {
  std::atomic<bool> writing{true}, reading{false};
  std::vector<std::vector<int64_t>> snapshots;
  std::thread reader([&] {
    auto own = open_outbox(url_);
    reading = true;
    if (!own.ok()) return;
    while (writing) {
      auto got = (*own)->since(0, 100);
      if (!got.ok()) continue;
      std::vector<int64_t> seqs;
      for (const auto& m : *got) seqs.push_back(m.seq);
      snapshots.push_back(std::move(seqs));
    }
  });
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  while (!reading) std::this_thread::yield();
  for (int t = 0; t < 3; ++t) {
    writers.emplace_back([&] {
      auto own = open_outbox(url_);
      if (!own.ok()) {
        ++failures;
        return;
      }
      for (int i = 0; i < 10; ++i) {
        if (!(*own)->add(new_message("ping", {}, "agent-" + std::to_string(i), 100, 3600)).ok()) ++failures;
      }
    });
  }
  for (auto& t : writers) t.join();
  writing = false;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  auto final_list = outbox_->since(0, 100);
  ASSERT_TRUE(final_list.ok());
  ASSERT_EQ(final_list->size(), 30u);
  std::vector<int64_t> all;
  for (const auto& m : *final_list) all.push_back(m.seq);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  EXPECT_EQ(std::set<int64_t>(all.begin(), all.end()).size(), 30u);
  EXPECT_FALSE(snapshots.empty());
  for (const auto& seen : snapshots) {
    ASSERT_LE(seen.size(), all.size());
    EXPECT_TRUE(std::equal(seen.begin(), seen.end(), all.begin())) << "a reader saw a gap below a visible seq";
  }
}

TEST(OutboxOpenTest, RefusesAFileThatIsNotAStore) {
  std::string dir = ck::testing::temp_dir();
  auto o = open_outbox("sqlite:" + dir + "/missing.db");
  ASSERT_FALSE(o.ok());
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, OutboxTest, ::testing::Values("memory", "sqlite", "postgres"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Backends, DurableOutboxTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ck::outbox
