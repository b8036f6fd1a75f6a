// BatchingWriter: group commit under concurrency (on a real SQLite registry), and its
// ordering, failure, back-pressure and shutdown rules (on a gated fake registry).
#include "registry/batching_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "store/postgres/pg_test_env.h"

namespace ck::registry {
namespace {

using namespace std::chrono_literals;

Endpoint make(const std::string& id) {
  return Endpoint{id, "h", "127.0.0.1", "d", "linux", "1.0", "fp", 1, 1, 1};
}

Endpoint make_pin_report(const std::string& id) {
  Endpoint e = make(id);
  e.pin_report = true;
  return e;
}

// Counts down to zero; wait() returns false on timeout (a test failure, never a hang).
class Latch {
 public:
  explicit Latch(int n) : n_(n) {}
  void count_down() {
    std::lock_guard lock(mu_);
    if (--n_ == 0) cv_.notify_all();
  }
  bool wait(std::chrono::seconds timeout = 60s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return n_ <= 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_;
};

// upsert_batch blocks while the gate is closed and records what it was given.
class GatedRegistry final : public EndpointRegistry {
 public:
  Status upsert_batch(const std::vector<Endpoint>& endpoints, std::vector<std::string>* refused) override {
    std::unique_lock lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    if (busy_ != 0) {  // nothing is written
      if (busy_ > 0) --busy_;
      return make_error(ErrorKind::kBusy, "store is busy: another certmgr or server is writing it");
    }
    batches_.push_back(endpoints.size());
    for (const auto& e : endpoints) committed_.push_back(e.agent_id);
    if (fail_) return make_error(ErrorKind::kIo, "disk on fire");
    for (const auto& e : endpoints) {
      if (e.agent_id == "bad") return make_error(ErrorKind::kConflict, "constraint failed");
    }
    // "impostor" stands for a row bound to another key: not written, not an error.
    for (const auto& e : endpoints) {
      if (e.agent_id == "impostor" && !e.pin_report && refused) refused->push_back(e.agent_id);
    }
    return ok_status();
  }
  Status for_each_endpoint(const std::function<Status(const Endpoint&)>&) override { return ok_status(); }
  Status set_enrollment(const std::string&, const std::string&) override { return ok_status(); }
  Status forget_key(const std::string&) override { return ok_status(); }
  Status for_each_mismatched(const std::string&,
                             const std::function<Status(const Endpoint&)>&) override {
    return ok_status();
  }
  Result<EndpointPage> query_endpoints(const EndpointQuery&) override { return EndpointPage{}; }
  Result<std::map<std::string, int64_t>> count_by_fingerprint() override {
    return std::map<std::string, int64_t>{};
  }
  Result<std::optional<Endpoint>> find(const std::string&) override {
    return std::optional<Endpoint>();
  }

  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void set_fail() {
    std::lock_guard lock(mu_);
    fail_ = true;
  }
  // The next `times` transactions fail with kBusy (-1: all of them).
  void set_busy(int times) {
    std::lock_guard lock(mu_);
    busy_ = times;
  }
  std::vector<std::string> committed() {
    std::lock_guard lock(mu_);
    return committed_;
  }
  bool wait_entered(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 30s, [&] { return entered_ >= n; });
  }
  std::vector<size_t> batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }
  size_t committed_count() {
    std::lock_guard lock(mu_);
    return committed_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  bool fail_ = false;
  int busy_ = 0;
  int entered_ = 0;
  std::vector<size_t> batches_;
  std::vector<std::string> committed_;
};

// On a real registry of each backend (PostgreSQL: a private schema on the test server).
class BatchingWriterOnBackend : public ::testing::TestWithParam<std::string> {};

TEST_P(BatchingWriterOnBackend, ConcurrentCheckinsShareTransactionsAndAreReadableWhenDone) {
  auto dir = std::filesystem::temp_directory_path() / ("ck-bw-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::unique_ptr<pg::testing::TestSchema> schema;
  std::string url = "sqlite:" + (dir / "ck.db").string();
  if (GetParam() == "postgres") {
    CK_REQUIRE_POSTGRES();
    auto created = pg::testing::TestSchema::create(pg::testing::server_url());
    ASSERT_TRUE(created.ok()) << created.error().message;
    schema = std::move(created).value();
    url = schema->url();
  }
  auto reg = open_endpoint_registry(url);
  ASSERT_TRUE(reg.ok()) << reg.error().message;
  EndpointRegistry& registry = **reg;

  constexpr int kThreads = 8;
  constexpr int kPerThread = 250;
  std::atomic<int> ok{0}, visible{0};
  Latch all_done(kThreads * kPerThread);
  {
    BatchingWriter writer(registry);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
          writer.submit(make(id), [&, id](Status s) {
            if (s.ok()) ++ok;
            // done means committed: a fresh read must see it.
            auto found = registry.find(id);
            if (found.ok() && found->has_value()) ++visible;
            all_done.count_down();
          });
        }
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_TRUE(all_done.wait());
    auto stats = writer.stats();
    EXPECT_EQ(stats.committed, uint64_t{kThreads * kPerThread});
    EXPECT_EQ(stats.failed, 0u);
    EXPECT_EQ(stats.batch_size_sum, uint64_t{kThreads * kPerThread});
    EXPECT_LT(stats.batches, uint64_t{kThreads * kPerThread})
        << "no check-ins shared a transaction";
    EXPECT_GT(stats.max_batch_size, 1u);
    EXPECT_EQ(stats.batch_size_buckets.back(), stats.batches);
    EXPECT_GT(stats.commit_seconds_sum, 0.0);
    EXPECT_EQ(stats.commit_seconds_buckets.back(), stats.batches);
    for (size_t i = 1; i < stats.commit_seconds_buckets.size(); ++i) {
      EXPECT_LE(stats.commit_seconds_buckets[i - 1], stats.commit_seconds_buckets[i]) << "not cumulative at " << i;
    }
  }
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(visible.load(), kThreads * kPerThread);
  auto counts = registry.count_by_fingerprint();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ((*counts)["fp"], kThreads * kPerThread);
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, BatchingWriterOnBackend, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

TEST(BatchingWriter, DoneOnlyAfterCommitAndSubmissionsDuringACommitFormTheNextBatch) {
  GatedRegistry registry;
  BatchingWriter writer(registry);
  std::atomic<int> done{0};
  writer.submit(make("first"), [&](Status s) {
    EXPECT_TRUE(s.ok());
    ++done;
  });
  ASSERT_TRUE(registry.wait_entered(1)) << "an idle writer must commit at once";
  for (int i = 0; i < 5; ++i)
    writer.submit(make("next" + std::to_string(i)), [&](Status) { ++done; });
  EXPECT_EQ(done.load(), 0) << "done ran before the transaction committed";
  EXPECT_EQ(writer.stats().queued, 5u);
  registry.open();
  writer.shutdown();
  EXPECT_EQ(done.load(), 6);
  EXPECT_EQ(registry.batches(), (std::vector<size_t>{1, 5}));
}

TEST(BatchingWriter, FailedTransactionReportsTheErrorToEveryMember) {
  GatedRegistry registry;
  registry.set_fail();
  BatchingWriter writer(registry);
  std::atomic<int> failed{0};
  writer.submit(make("a"),
                [&](Status s) { failed += !s.ok() && s.error().kind == ErrorKind::kIo; });
  ASSERT_TRUE(registry.wait_entered(1));
  writer.submit(make("b"),
                [&](Status s) { failed += !s.ok() && s.error().kind == ErrorKind::kIo; });
  writer.submit(make("c"),
                [&](Status s) { failed += !s.ok() && s.error().kind == ErrorKind::kIo; });
  registry.open();
  writer.shutdown();
  EXPECT_EQ(failed.load(), 3);
  EXPECT_EQ(writer.stats().failed, 3u);
  EXPECT_EQ(writer.stats().committed, 0u);
}

// Another writer holding the SQLite lock past the busy timeout: the batch is tried
// again (a pin report has nobody else to retry it), in order, and nothing fails.
TEST(BatchingWriter, BusyTransactionIsRetriedUntilItCommits) {
  GatedRegistry registry;
  registry.set_busy(3);
  registry.open();
  BatchingWriter writer(registry);
  Latch done(3);
  std::atomic<int> ok{0};
  for (const char* id : {"a", "b", "c"}) {
    writer.submit(make(id), [&](Status s) {
      ok += s.ok();
      done.count_down();
    });
  }
  ASSERT_TRUE(done.wait());
  EXPECT_EQ(ok.load(), 3);
  const auto committed = registry.committed();
  ASSERT_EQ(committed.size(), 3u);
  EXPECT_EQ(committed, (std::vector<std::string>{"a", "b", "c"}));
  const auto stats = writer.stats();
  EXPECT_GE(stats.busy_retries, 3u);
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_EQ(stats.committed, 3u);
}

// ...but not forever: past busy_retry_for each member gets the kBusy error, counted once.
TEST(BatchingWriter, BusyRetriesEndAfterTheirWindow) {
  GatedRegistry registry;
  registry.set_busy(-1);
  registry.open();
  BatchingWriter::Options options;
  options.busy_retry_for = 200ms;
  BatchingWriter writer(registry, options);
  Latch done(2);
  std::atomic<int> busy{0};
  const auto start = std::chrono::steady_clock::now();
  for (const char* id : {"a", "b"}) {
    writer.submit(make(id), [&](Status s) {
      busy += !s.ok() && s.error().kind == ErrorKind::kBusy;
      done.count_down();
    });
  }
  ASSERT_TRUE(done.wait());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  EXPECT_EQ(busy.load(), 2);
  EXPECT_EQ(writer.stats().failed, 2u);
  EXPECT_EQ(writer.stats().committed, 0u);
  EXPECT_GT(writer.stats().busy_retries, 1u);
}

// Shutting down while another writer holds the lock: the retries end a few seconds
// after shutdown() (not at the end of busy_retry_for), each member told kBusy.
TEST(BatchingWriter, ShutdownEndsBusyRetriesWithinSeconds) {
  GatedRegistry registry;
  registry.set_busy(-1);
  registry.open();
  BatchingWriter::Options options;
  options.busy_retry_for = 600s;
  BatchingWriter writer(registry, options);
  std::atomic<int> busy{0};
  writer.submit(make("a"), [&](Status s) { busy += !s.ok() && s.error().kind == ErrorKind::kBusy; });
  ASSERT_TRUE(registry.wait_entered(2));  // retrying
  const auto start = std::chrono::steady_clock::now();
  writer.shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 8s);
  EXPECT_EQ(busy.load(), 1);
  EXPECT_EQ(writer.stats().failed, 1u);
}

TEST(BatchingWriter, OneBadRowFailsAloneNotItsWholeBatch) {
  GatedRegistry registry;
  BatchingWriter writer(registry);
  std::atomic<int> ok{0}, conflict{0};
  auto done = [&](Status s) {
    if (s.ok()) ++ok;
    if (!s.ok() && s.error().kind == ErrorKind::kConflict) ++conflict;
  };
  writer.submit(make("first"), done);
  ASSERT_TRUE(registry.wait_entered(1));
  writer.submit(make("good1"), done);
  writer.submit(make("bad"), done);
  writer.submit(make("good2"), done);
  registry.open();
  writer.shutdown();
  EXPECT_EQ(ok.load(), 3);
  EXPECT_EQ(conflict.load(), 1);
  EXPECT_EQ(registry.batches(), (std::vector<size_t>{1, 3, 1, 1, 1}));
  auto stats = writer.stats();
  EXPECT_EQ(stats.committed, 3u);
  EXPECT_EQ(stats.failed, 1u);
  EXPECT_EQ(stats.retried, 3u);
}

// A row the registry did not write because its agent id is bound to another key:
// that check-in alone gets kPermissionDenied, its batch neighbours are fine, and so is
// a pin report of the same id (the agent's own channel: written).
TEST(BatchingWriter, RowBoundToAnotherKeyIsRefusedAlone) {
  GatedRegistry registry;
  BatchingWriter writer(registry);
  std::atomic<int> ok{0}, denied{0};
  auto done = [&](Status s) {
    if (s.ok()) ++ok;
    if (!s.ok() && s.error().kind == ErrorKind::kPermissionDenied) ++denied;
  };
  writer.submit(make("first"), done);
  ASSERT_TRUE(registry.wait_entered(1));
  writer.submit(make("good1"), done);
  writer.submit(make("impostor"), done);
  writer.submit(make_pin_report("impostor"), done);
  writer.submit(make("good2"), done);
  registry.open();
  writer.shutdown();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(denied.load(), 1);
  EXPECT_EQ(registry.batches(), (std::vector<size_t>{1, 4}));
}

// Two keys for one agent id never share a transaction (the registry decides between
// them one at a time), and nothing of that id overtakes the check-in held back: its pin
// report follows it into the next batch, while other ids go on.
TEST(BatchingWriter, TwoKeysForOneIdGoInTurnAndItsLaterItemsWait) {
  GatedRegistry registry;
  BatchingWriter writer(registry);
  std::atomic<int> ok{0};
  auto done = [&](Status s) { ok += s.ok(); };
  auto with_key = [](const std::string& id, const std::string& key) {
    Endpoint e = make(id);
    e.key_fingerprint = key;
    return e;
  };
  writer.submit(make("first"), done);
  ASSERT_TRUE(registry.wait_entered(1));
  writer.submit(with_key("dup", "key-b"), done);
  writer.submit(with_key("dup", "key-a"), done);
  writer.submit(make_pin_report("dup"), done);
  writer.submit(make("other"), done);
  registry.open();
  writer.shutdown();
  EXPECT_EQ(ok.load(), 5);
  EXPECT_EQ(registry.batches(), (std::vector<size_t>{1, 2, 2}));
  EXPECT_EQ(registry.committed(), (std::vector<std::string>{"first", "dup", "other", "dup", "dup"}));
}

TEST(BatchingWriter, FullQueueAnswersBusyAtOnce) {
  GatedRegistry registry;
  BatchingWriter::Options options;
  options.max_queue = 2;
  BatchingWriter writer(registry, options);
  std::atomic<int> ok{0};
  writer.submit(make("in-flight"), [&](Status s) { ok += s.ok(); });
  ASSERT_TRUE(registry.wait_entered(1));
  writer.submit(make("q1"), [&](Status s) { ok += s.ok(); });
  writer.submit(make("q2"), [&](Status s) { ok += s.ok(); });
  std::optional<Status> rejected;
  writer.submit(make("q3"), [&](Status s) { rejected = s; });
  ASSERT_TRUE(rejected.has_value()) << "a full queue must answer inline, not block";
  ASSERT_FALSE(rejected->ok());
  EXPECT_EQ(rejected->error().kind, ErrorKind::kBusy);
  EXPECT_EQ(writer.stats().rejected, 1u);
  registry.open();
  writer.shutdown();
  EXPECT_EQ(ok.load(), 3);
}

TEST(BatchingWriter, ShutdownDrainsThenRefuses) {
  GatedRegistry registry;
  BatchingWriter::Options options;
  options.max_batch = 4;
  BatchingWriter writer(registry, options);
  std::atomic<int> ok{0};
  writer.submit(make("x"), [&](Status s) { ok += s.ok(); });
  ASSERT_TRUE(registry.wait_entered(1));
  for (int i = 0; i < 10; ++i)
    writer.submit(make("y" + std::to_string(i)), [&](Status s) { ok += s.ok(); });
  auto stopped = std::async(std::launch::async, [&] { writer.shutdown(); });
  registry.open();
  stopped.get();
  EXPECT_EQ(ok.load(), 11);
  EXPECT_EQ(registry.committed_count(), 11u);
  EXPECT_EQ(registry.batches(), (std::vector<size_t>{1, 4, 4, 2}))
      << "max_batch caps a transaction";
  std::optional<Status> late;
  writer.submit(make("late"), [&](Status s) { late = s; });
  ASSERT_TRUE(late.has_value());
  ASSERT_FALSE(late->ok());
  EXPECT_EQ(late->error().kind, ErrorKind::kUnavailable);
}

}  // namespace
}  // namespace ck::registry
