// EndpointRegistry contract tests, run against SQLite and PostgreSQL (the latter on
// the server named by CK_TEST_POSTGRES_URL, one private schema per test).
#include "registry/endpoint_registry.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <unistd.h>

#include <atomic>
#include <map>
#include <random>
#include <filesystem>
#include <thread>

#include "registry/sqlite/sqlite_endpoint_registry.h"
#include "store/postgres/pg_conn.h"
#include "store/sqlite/sqlite_db.h"
#include "store/postgres/pg_test_env.h"
#include "support/process.h"

namespace ck::registry {
namespace {


Endpoint make(const std::string& id, const std::string& fp, int64_t seen) {
  return Endpoint{id, "host-" + id, "10.0.0.1", "corp.example", "linux", "1.0", fp, 7, seen, seen};
}

// `e` as presented with the client key `key` (SHA-256 hex of its SPKI).
Endpoint keyed(Endpoint e, const std::string& key) {
  e.key_fingerprint = key;
  return e;
}

// What a channel's hello reports: only the pin, and when.
Endpoint pin_report(const std::string& id, const std::string& fp, int64_t at) {
  Endpoint e;
  e.agent_id = id;
  e.pinned_fingerprint = fp;
  e.last_seen = at;
  e.pin_report = true;
  return e;
}

class RegistryTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") {
      CK_REQUIRE_POSTGRES();
      auto schema = pg::testing::TestSchema::create(pg::testing::server_url());
      ASSERT_TRUE(schema.ok()) << schema.error().message;
      schema_ = std::move(schema).value();
      url_ = schema_->url();
    } else {
      dir_ = ck::testing::temp_dir();
      url_ = "sqlite:" + dir_ + "/ck.db";
    }
    auto r = open_endpoint_registry(url_);
    ASSERT_TRUE(r.ok()) << r.error().message;
    registry_ = std::move(r).value();
  }
  void TearDown() override {
    registry_.reset();
    schema_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::vector<Endpoint> mismatched(const std::string& current) {
    std::vector<Endpoint> out;
    Status s = registry_->for_each_mismatched(current, [&](const Endpoint& e) {
      out.push_back(e);
      return ok_status();
    });
    EXPECT_TRUE(s.ok()) << s.error().message;
    return out;
  }

  std::string dir_, url_;
  std::unique_ptr<pg::testing::TestSchema> schema_;
  std::unique_ptr<EndpointRegistry> registry_;
};

TEST_P(RegistryTest, UpsertInsertsThenUpdatesKeepingFirstSeen) {
  ASSERT_TRUE(registry_->upsert_batch({make("a1", "fp1", 100)}).ok());
  Endpoint later = make("a1", "fp2", 200);
  later.hostname = "renamed";
  later.last_seq = 42;
  later.first_seen = 200;  // what a check-in without memory of the agent would send
  ASSERT_TRUE(registry_->upsert_batch({later}).ok());
  auto found = registry_->find("a1");
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  const Endpoint& e = **found;
  EXPECT_EQ(e.hostname, "renamed");
  EXPECT_EQ(e.pinned_fingerprint, "fp2");
  EXPECT_EQ(e.ip_address, "10.0.0.1");
  EXPECT_EQ(e.domain, "corp.example");
  EXPECT_EQ(e.os, "linux");
  EXPECT_EQ(e.agent_version, "1.0");
  EXPECT_EQ(e.last_seq, 42);
  EXPECT_EQ(e.first_seen, 100);
  EXPECT_EQ(e.last_seen, 200);
}

TEST_P(RegistryTest, FindUnknownIsEmpty) {
  auto found = registry_->find("nobody");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
}

TEST_P(RegistryTest, BatchIsOneTransaction) {
  ASSERT_TRUE(registry_->upsert_batch({make("keep", "fp1", 1)}).ok());
  // The second row breaks the agent-id constraint: nothing of the batch may remain.
  Status s =
      registry_->upsert_batch({make("b1", "fp1", 5), make("", "fp1", 5), make("keep", "fp9", 5)});
  ASSERT_FALSE(s.ok());
  EXPECT_FALSE(registry_->find("b1")->has_value());
  EXPECT_EQ((*registry_->find("keep"))->pinned_fingerprint, "fp1");
}

// What agents send is theirs to choose: it is stored as sent, whatever it holds (the
// PostgreSQL registry passes a batch as array literals).
TEST_P(RegistryTest, ABigBatchOfAwkwardTextIsStoredAsSent) {
  const std::vector<std::string> awkward = {"a,b", "\"quoted\"", "back\\slash", "NULL", "", "{brace}",
                                            " spaced ", "\u00e9t\u00e9", "tab\there", "'single'"};
  std::vector<Endpoint> batch;
  for (int i = 0; i < 1200; ++i) {
    Endpoint e = make("awk-" + std::to_string(i), "fp1", 100 + i);
    e.hostname = awkward[static_cast<size_t>(i) % awkward.size()];
    e.os = awkward[static_cast<size_t>(i + 3) % awkward.size()];
    e.last_seq = -5 + i;
    batch.push_back(e);
  }
  ASSERT_TRUE(registry_->upsert_batch(batch).ok());
  // Pin reports and check-ins in one batch.
  Endpoint pin = pin_report("awk-7", "fp2", 5000);
  Endpoint again = make("awk-8", "fp3", 6000);
  again.hostname = "x\",\"y";
  ASSERT_TRUE(registry_->upsert_batch({pin, again}).ok());
  for (int i : {0, 1, 2, 3, 4, 5, 6, 9, 1199}) {
    auto e = registry_->find("awk-" + std::to_string(i));
    ASSERT_TRUE(e.ok() && e->has_value()) << i;
    EXPECT_EQ((*e)->hostname, awkward[static_cast<size_t>(i) % awkward.size()]) << i;
    EXPECT_EQ((*e)->os, awkward[static_cast<size_t>(i + 3) % awkward.size()]) << i;
    EXPECT_EQ((*e)->last_seq, -5 + i) << i;
    EXPECT_EQ((*e)->last_seen, 100 + i) << i;
  }
  auto pinned = registry_->find("awk-7");
  ASSERT_TRUE(pinned.ok() && pinned->has_value());
  EXPECT_EQ((*pinned)->pinned_fingerprint, "fp2");
  EXPECT_EQ((*pinned)->last_seen, 5000);
  EXPECT_EQ((*pinned)->hostname, awkward[7]);
  auto rewritten = registry_->find("awk-8");
  ASSERT_TRUE(rewritten.ok() && rewritten->has_value());
  EXPECT_EQ((*rewritten)->hostname, "x\",\"y");
  EXPECT_EQ((*rewritten)->pinned_fingerprint, "fp3");
  EXPECT_EQ(registry_->count_by_fingerprint()->at("fp1"), 1198);
}

TEST_P(RegistryTest, DuplicatesInOneBatchLastWins) {
  Endpoint second = make("dup", "fp2", 20);
  second.hostname = "second";
  ASSERT_TRUE(registry_->upsert_batch({make("dup", "fp1", 10), second}).ok());
  auto e = registry_->find("dup");
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_EQ((*e)->hostname, "second");
  EXPECT_EQ((*e)->pinned_fingerprint, "fp2");
  EXPECT_EQ((*e)->first_seen, 10);
  EXPECT_EQ(registry_->count_by_fingerprint()->size(), 1u);
}

// A channel's pin report can reach the writer before the agent's first check-in, in
// the same batch: the report (which carries no first_seen) must not leave the new row
// with first_seen 0.
TEST_P(RegistryTest, APinReportBeforeTheFirstCheckinInOneBatchKeepsItsFirstSeen) {
  ASSERT_TRUE(registry_->upsert_batch({pin_report("early", "fp-reported", 40), make("early", "fp1", 30)}).ok());
  auto e = registry_->find("early");
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_EQ((*e)->first_seen, 30);
  EXPECT_EQ((*e)->last_seen, 30);
  EXPECT_EQ((*e)->pinned_fingerprint, "fp1");  // the check-in came later
  EXPECT_EQ((*e)->hostname, "host-early");
}

// An impostor's check-in (another key) in the same batch as the agent's own pin report,
// in either order: the check-in is refused, the pin report is written (on SQLite each
// runs on its own; PostgreSQL merges a batch per id and must keep them apart).
TEST_P(RegistryTest, APinReportIsWrittenBesideARefusedCheckinOfTheSameId) {
  const std::string key(64, 'a'), other(64, 'b');
  ASSERT_TRUE(registry_->upsert_batch({keyed(make("v", "fp-old", 10), key)}).ok());
  Endpoint impostor = keyed(make("v", "fp-impostor", 20), other);
  impostor.hostname = "impostor";
  for (bool report_first : {true, false}) {
    SCOPED_TRACE(report_first ? "pin report first" : "check-in first");
    const std::string fp = report_first ? "fp-new-1" : "fp-new-2";
    const int64_t at = report_first ? 30 : 40;
    std::vector<std::string> refused;
    auto batch = report_first ? std::vector<Endpoint>{pin_report("v", fp, at), impostor}
                              : std::vector<Endpoint>{impostor, pin_report("v", fp, at)};
    ASSERT_TRUE(registry_->upsert_batch(batch, &refused).ok());
    EXPECT_EQ(std::set<std::string>(refused.begin(), refused.end()), std::set<std::string>{"v"});
    auto e = registry_->find("v");
    ASSERT_TRUE(e.ok() && e->has_value());
    EXPECT_EQ((*e)->pinned_fingerprint, fp);
    EXPECT_EQ((*e)->last_seen, at);
    EXPECT_EQ((*e)->hostname, "host-v");
    EXPECT_EQ((*e)->key_fingerprint, key);
    EXPECT_EQ((*e)->first_seen, 10);
  }
}

// The same with the impostor's check-ins between several pin reports: the last pin
// stands, last_seen is the latest report's.
TEST_P(RegistryTest, PinReportsAroundRefusedCheckinsLeaveTheLastPin) {
  const std::string key(64, 'a'), other(64, 'b');
  ASSERT_TRUE(registry_->upsert_batch({keyed(make("w", "fp0", 10), key)}).ok());
  const Endpoint impostor = keyed(make("w", "fp-impostor", 20), other);
  Endpoint impostor2 = impostor;
  impostor2.last_seen = 25;
  std::vector<std::string> refused;
  ASSERT_TRUE(registry_
                  ->upsert_batch({pin_report("w", "p1", 50), impostor, pin_report("w", "p2", 30), impostor2,
                                  pin_report("w", "p3", 40)},
                                 &refused)
                  .ok());
  EXPECT_EQ(std::set<std::string>(refused.begin(), refused.end()), std::set<std::string>{"w"});
  auto e = registry_->find("w");
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_EQ((*e)->pinned_fingerprint, "p3");
  EXPECT_EQ((*e)->last_seen, 50);
  EXPECT_EQ((*e)->key_fingerprint, key);
}

// Pin reports around check-ins of the same id keep the order they came in: the last
// word on the pin is whichever came last.
TEST_P(RegistryTest, PinReportsAndCheckinsOfOneIdApplyInBatchOrder) {
  ASSERT_TRUE(registry_->upsert_batch({make("o", "fp0", 5)}).ok());
  ASSERT_TRUE(
      registry_->upsert_batch({pin_report("o", "p1", 6), make("o", "c1", 7), pin_report("o", "p2", 8), make("o", "c2", 9)})
          .ok());
  EXPECT_EQ((*registry_->find("o"))->pinned_fingerprint, "c2");
  ASSERT_TRUE(
      registry_->upsert_batch({make("o", "c3", 10), pin_report("o", "p3", 11), make("o", "c4", 12), pin_report("o", "p4", 13)})
          .ok());
  auto e = registry_->find("o");
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_EQ((*e)->pinned_fingerprint, "p4");
  EXPECT_EQ((*e)->last_seen, 13);
  EXPECT_EQ((*e)->first_seen, 5);
}

TEST_P(RegistryTest, MismatchedAreFilteredAndOrderedByAgentId) {
  ASSERT_TRUE(registry_
                  ->upsert_batch({make("c", "old", 1), make("a", "cur", 1), make("b", "", 1),
                                  make("e", "revoked", 1), make("d", "cur", 1)})
                  .ok());
  auto rows = mismatched("cur");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].agent_id, "b");
  EXPECT_EQ(rows[0].pinned_fingerprint, "");
  EXPECT_EQ(rows[1].agent_id, "c");
  EXPECT_EQ(rows[1].hostname, "host-c");
  EXPECT_EQ(rows[2].agent_id, "e");
  EXPECT_EQ(mismatched("nothing-pins-this").size(), 5u);
}

TEST_P(RegistryTest, CallbackErrorStopsTheScan) {
  ASSERT_TRUE(
      registry_->upsert_batch({make("a", "x", 1), make("b", "x", 1), make("c", "x", 1)}).ok());
  int seen = 0;
  Status s = registry_->for_each_mismatched("cur", [&](const Endpoint&) -> Status {
    if (++seen == 2) return make_error(ErrorKind::kIo, "disk full");
    return ok_status();
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kIo);
  EXPECT_EQ(seen, 2);
  // The registry stays usable after an aborted scan.
  EXPECT_TRUE(registry_->upsert_batch({make("d", "x", 1)}).ok());
  EXPECT_EQ(mismatched("cur").size(), 4u);
}

TEST_P(RegistryTest, WritersProceedWhileAScanIsOpen) {
  ASSERT_TRUE(registry_->upsert_batch({make("a", "old", 1), make("b", "old", 1)}).ok());
  int seen = 0;
  Status s = registry_->for_each_mismatched("cur", [&](const Endpoint& e) -> Status {
    ++seen;
    if (e.agent_id == "a") {
      Status w = registry_->upsert_batch({make("zz", "old", 2)});
      EXPECT_TRUE(w.ok()) << w.error().message;
    }
    return ok_status();
  });
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(seen, 2) << "the scan reads one snapshot";
  EXPECT_TRUE(registry_->find("zz")->has_value());
}

// Point reads from several threads at once (the server's I/O threads) each see the
// latest commit: pooled connections and their prepared statements must not keep an
// old read snapshot between calls.
TEST_P(RegistryTest, ConcurrentPointReadsSeeEveryCommit) {
  std::atomic<int64_t> committed{0};
  std::atomic<bool> done{false};
  std::atomic<int> stale{0}, errors{0};
  std::thread writer([&] {
    for (int64_t round = 1; round <= 60; ++round) {
      std::vector<Endpoint> batch;
      for (int i = 0; i < 20; ++i) batch.push_back(make("agent-" + std::to_string(i), "fp", round));
      if (!registry_->upsert_batch(batch).ok()) ++errors;
      committed = round;
    }
    done = true;
  });
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      while (!done) {
        const int64_t before = committed.load();
        auto row = registry_->find("agent-" + std::to_string(t));
        if (!row.ok()) {
          ++errors;
          continue;
        }
        if (before > 0 && (!row->has_value() || (*row)->last_seen < before)) ++stale;
      }
    });
  }
  writer.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(stale.load(), 0) << "a point read returned a row older than a finished commit";
  EXPECT_EQ((*registry_->find("agent-3"))->last_seen, 60);
  EXPECT_FALSE(registry_->find("nobody")->has_value());
}

TEST_P(RegistryTest, TwoServersWritingOverlappingBatchesBothSucceed) {
  // Two registries on one database, as two servers behind a load balancer: batches
  // touching the same agents in opposite orders must neither deadlock nor fail.
  auto other = open_endpoint_registry(url_);
  ASSERT_TRUE(other.ok()) << other.error().message;
  std::vector<Endpoint> forward;
  for (int i = 0; i < 300; ++i) forward.push_back(make("agent-" + std::to_string(i), "fp", i));
  std::vector<Endpoint> backward(forward.rbegin(), forward.rend());
  std::atomic<int> failures{0};
  auto hammer = [&](EndpointRegistry& r, const std::vector<Endpoint>& batch) {
    for (int round = 0; round < 15; ++round) {
      Status s = r.upsert_batch(batch);
      if (!s.ok()) {
        ++failures;
        ADD_FAILURE() << s.error().message;
      }
    }
  };
  std::thread a([&] { hammer(*registry_, forward); });
  std::thread b([&] { hammer(**other, backward); });
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(registry_->count_by_fingerprint()->at("fp"), 300);
}

TEST_P(RegistryTest, CountByFingerprint) {
  ASSERT_TRUE(
      registry_->upsert_batch({make("a", "f1", 1), make("b", "f1", 1), make("c", "f2", 1)}).ok());
  auto counts = registry_->count_by_fingerprint();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"f1", 2}, {"f2", 1}}));
}

// The counts (metrics, the console's overview) follow inserts, check-ins that move the
// pin, pin reports, refused writes and duplicates: always what the rows say.
TEST_P(RegistryTest, CountsFollowEveryWayARowChanges) {
  std::mt19937 rng(7);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const std::vector<std::string> fps = {"f1", "f2", "f3", "f4"};
  auto truth = [&] {
    std::map<std::string, int64_t> t;
    EXPECT_TRUE(registry_->for_each_endpoint([&](const Endpoint& e) {
                  ++t[e.pinned_fingerprint];
                  return ok_status();
                }).ok());
    return t;
  };
  for (int round = 0; round < 120; ++round) {
    std::vector<Endpoint> batch;
    for (int k = 0, n = 1 + pick(8); k < n; ++k) {
      Endpoint e = make("id-" + std::to_string(pick(40)), fps[static_cast<size_t>(pick(4))], 10 + round);
      switch (pick(4)) {
        case 0:  // a pin report: moves only an existing row's pin
          e.pin_report = true;
          break;
        case 1:  // bound to a key: only that key's holder moves it later
          e.key_fingerprint = "key-" + e.agent_id;
          break;
        case 2:  // another key than the row's: refused, if the row has one
          e.key_fingerprint = "intruder";
          break;
        default:
          break;
      }
      batch.push_back(e);
    }
    std::vector<std::string> refused;
    ASSERT_TRUE(registry_->upsert_batch(batch, &refused).ok()) << round;
    auto counts = registry_->count_by_fingerprint();
    ASSERT_TRUE(counts.ok()) << counts.error().message;
    ASSERT_EQ(*counts, truth()) << "after round " << round;
  }
  EXPECT_GT(truth().size(), 1u);
  if (GetParam() == "sqlite") {  // the counts are the triggers' table, not a GROUP BY
    auto file = sqlite::SqliteDb::open(dir_ + "/registry.db", {});
    ASSERT_TRUE(file.ok()) << file.error().message;
    auto rows = file->prepare("SELECT fingerprint, endpoints FROM pin_counts");
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    std::map<std::string, int64_t> table;
    for (;;) {
      auto row = rows->step();
      ASSERT_TRUE(row.ok()) << row.error().message;
      if (!*row) break;
      table[rows->text(0)] = rows->int64(1);
    }
    EXPECT_EQ(table, truth());
  }
}

TEST_P(RegistryTest, HundredThousandEndpointsStreamInOrder) {
  constexpr int kCount = 100000;
  std::vector<Endpoint> batch;
  batch.reserve(kCount);
  for (int i = 0; i < kCount; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "agent-%06d", i);
    batch.push_back(make(id, i % 10 == 0 ? "cur" : "old", i));
  }
  ASSERT_TRUE(registry_->upsert_batch(batch).ok());
  int64_t n = 0;
  std::string previous;
  Status s = registry_->for_each_mismatched("cur", [&](const Endpoint& e) -> Status {
    if (e.agent_id <= previous)
      return make_error(ErrorKind::kInternal, "out of order at " + e.agent_id);
    previous = e.agent_id;
    ++n;
    return ok_status();
  });
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(n, kCount - kCount / 10);
  EXPECT_EQ(previous, "agent-099999");
}

// Agent identity in the real SQL: the first key binds; a row bound to a key is written
// only by that key's holder (the others come back in `refused`); forget unbinds; a
// rejected agent stays rejected when a key binds after a forget.
TEST_P(RegistryTest, KeyBindingIsEnforcedByTheUpsert) {
  auto with_key = [](const std::string& id, const std::string& key, const std::string& host) {
    Endpoint e = keyed(make(id, "fp", 1), key);
    e.hostname = host;
    return e;
  };
  const std::string a(64, 'a'), b(64, 'b');
  std::vector<std::string> refused;
  ASSERT_TRUE(registry_->upsert_batch({with_key("id-1", a, "first")}, &refused).ok());
  EXPECT_TRUE(refused.empty());
  ASSERT_TRUE(registry_->upsert_batch({with_key("id-1", b, "impostor"), with_key("id-2", "", "keyless"),
                                       with_key("id-1", "", "keyless-impostor")},
                                      &refused)
                  .ok());
  // id-1 came twice with the wrong key: refused once (PostgreSQL dedupes) or twice.
  EXPECT_EQ(std::set<std::string>(refused.begin(), refused.end()), std::set<std::string>{"id-1"});
  auto row = registry_->find("id-1");
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->key_fingerprint, a);
  EXPECT_EQ((*row)->hostname, "first");
  EXPECT_EQ((*registry_->find("id-2"))->key_fingerprint, "");
  refused.clear();
  ASSERT_TRUE(registry_->upsert_batch({with_key("id-1", a, "again")}, &refused).ok());
  EXPECT_TRUE(refused.empty());
  EXPECT_EQ((*registry_->find("id-1"))->hostname, "again");
  // forget: the next key binds, and the enrollment it brings applies ...
  ASSERT_TRUE(registry_->forget_key("id-1").ok());
  EXPECT_EQ((*registry_->find("id-1"))->enrollment, kEnrollmentPending);
  ASSERT_TRUE(registry_->upsert_batch({with_key("id-1", b, "reinstalled")}, &refused).ok());
  EXPECT_TRUE(refused.empty());
  EXPECT_EQ((*registry_->find("id-1"))->key_fingerprint, b);
  EXPECT_EQ((*registry_->find("id-1"))->enrollment, kEnrollmentAccepted);
  // ... except over a rejection.
  ASSERT_TRUE(registry_->set_enrollment("id-1", kEnrollmentRejected).ok());
  ASSERT_TRUE(registry_->forget_key("id-1").ok());
  ASSERT_TRUE(registry_->set_enrollment("id-1", kEnrollmentRejected).ok());
  ASSERT_TRUE(registry_->upsert_batch({with_key("id-1", a, "back")}, &refused).ok());
  EXPECT_EQ((*registry_->find("id-1"))->enrollment, kEnrollmentRejected);
  EXPECT_EQ(registry_->set_enrollment("nobody", kEnrollmentAccepted).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(registry_->forget_key("nobody").error().kind, ErrorKind::kNotFound);
  int listed = 0;
  ASSERT_TRUE(registry_->for_each_endpoint([&](const Endpoint&) { return ++listed, ok_status(); }).ok());
  EXPECT_EQ(listed, 2);
}

// The console's straggler pages: filter, count, search, sort and page in SQL.
TEST_P(RegistryTest, QueryEndpointsPagesSearchesAndSorts) {
  std::vector<Endpoint> rows;
  for (int i = 0; i < 30; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "agent-%02d", i);
    Endpoint e = make(id, i % 3 == 0 ? "cur" : (i % 3 == 1 ? "old1" : "old2"), 1000 + (i * 7) % 30);
    e.hostname = i == 17 ? "Mail-Server.corp" : "ws-" + std::to_string(29 - i);
    rows.push_back(e);
  }
  ASSERT_TRUE(registry_->upsert_batch(rows).ok());

  EndpointQuery q;
  q.not_pinning = "cur";
  q.limit = 7;
  auto page = registry_->query_endpoints(q);
  ASSERT_TRUE(page.ok()) << page.error().message;
  EXPECT_EQ(page->total, 20);
  ASSERT_EQ(page->rows.size(), 7u);
  EXPECT_EQ(page->rows[0].agent_id, "agent-01");
  EXPECT_EQ(page->rows[1].agent_id, "agent-02");
  EXPECT_EQ(page->rows[2].agent_id, "agent-04");
  // The pages together are exactly the for_each_mismatched rows, in order.
  std::vector<std::string> paged;
  for (q.offset = 0; q.offset < 40; q.offset += q.limit) {
    auto p = registry_->query_endpoints(q);
    ASSERT_TRUE(p.ok());
    for (const auto& e : p->rows) paged.push_back(e.agent_id);
  }
  std::vector<std::string> streamed;
  for (const auto& e : mismatched("cur")) streamed.push_back(e.agent_id);
  EXPECT_EQ(paged, streamed);

  // Past the end: no rows, same total.
  q.offset = 100;
  page = registry_->query_endpoints(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 20);
  EXPECT_TRUE(page->rows.empty());

  // Search: case-insensitive substring of agent_id or hostname.
  q = EndpointQuery{};
  q.not_pinning = "cur";
  q.search = "MAIL-server";
  page = registry_->query_endpoints(q);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->total, 1);
  EXPECT_EQ(page->rows[0].agent_id, "agent-17");
  q.search = "AGENT-1";
  page = registry_->query_endpoints(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 7);  // agent-10..19 without 12, 15, 18 (current)
  q.search = "%";             // no LIKE wildcards: a literal character
  page = registry_->query_endpoints(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 0);

  // Sorts, both directions, ties by agent_id.
  q = EndpointQuery{};
  q.not_pinning = "cur";
  q.sort = EndpointSort::kHostname;
  q.limit = 100;
  page = registry_->query_endpoints(q);
  ASSERT_TRUE(page.ok());
  for (size_t i = 1; i < page->rows.size(); ++i) EXPECT_LE(page->rows[i - 1].hostname, page->rows[i].hostname);
  q.sort = EndpointSort::kLastSeen;
  q.descending = true;
  page = registry_->query_endpoints(q);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->rows.size(), 20u);
  for (size_t i = 1; i < page->rows.size(); ++i) {
    const auto& a = page->rows[i - 1];
    const auto& b = page->rows[i];
    EXPECT_TRUE(a.last_seen > b.last_seen || (a.last_seen == b.last_seen && a.agent_id > b.agent_id))
        << a.agent_id << " before " << b.agent_id;
  }
  q.sort = EndpointSort::kPinned;
  q.descending = false;
  page = registry_->query_endpoints(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->rows.front().pinned_fingerprint, "old1");
  EXPECT_EQ(page->rows.back().pinned_fingerprint, "old2");
  q.sort = EndpointSort::kAgentId;
  q.descending = true;
  page = registry_->query_endpoints(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->rows.front().agent_id, "agent-29");

  // Without not_pinning: every endpoint (the agents page).
  q = EndpointQuery{};
  q.limit = 0;
  page = registry_->query_endpoints(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 30);
  EXPECT_TRUE(page->rows.empty());

  q.offset = -1;
  page = registry_->query_endpoints(q);
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.error().kind, ErrorKind::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Backends, RegistryTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

TEST(PostgresRegistry, ReconnectsAfterTheServerDropsTheConnection) {
  CK_REQUIRE_POSTGRES();
  auto schema = pg::testing::TestSchema::create(pg::testing::server_url());
  ASSERT_TRUE(schema.ok()) << schema.error().message;
  // Connections named uniquely for this test, so only they are killed.
  const std::string app = "ck_" + (*schema)->name();
  auto reg = open_endpoint_registry((*schema)->url() + "&application_name=" + app);
  ASSERT_TRUE(reg.ok()) << reg.error().message;
  ASSERT_TRUE((*reg)->upsert_batch({make("before", "fp", 1)}).ok());
  auto admin = pg::PgConn::connect((*schema)->url());
  ASSERT_TRUE(admin.ok());
  auto kill = [&] {
    auto killed = admin->exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        {pg::Param::text(app)});
    ASSERT_TRUE(killed.ok()) << killed.error().message;
    ASSERT_GE(killed->size(), 1);  // the writer's connection, and the point reader's once used
  };
  kill();
  // A read outside a transaction reconnects and runs again.
  auto found = (*reg)->find("before");
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_TRUE(found->has_value());
  kill();
  // A write transaction reconnects before it begins.
  Status s = (*reg)->upsert_batch({make("after", "fp", 2)});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE((*reg)->find("after")->has_value());
  kill();
  auto counts = (*reg)->count_by_fingerprint();
  ASSERT_TRUE(counts.ok()) << counts.error().message;
  EXPECT_EQ(counts->at("fp"), 2);
}

// A batch whose parameters would pass one statement's size (several MiB of long,
// escaped fields) goes as several statements of one transaction, each row once.
TEST(PostgresRegistry, ABatchLargerThanOneStatementIsWrittenWhole) {
  CK_REQUIRE_POSTGRES();
  auto schema = pg::testing::TestSchema::create(pg::testing::server_url());
  ASSERT_TRUE(schema.ok()) << schema.error().message;
  auto reg = open_endpoint_registry((*schema)->url());
  ASSERT_TRUE(reg.ok()) << reg.error().message;
  const std::string long_text = std::string(120, '"') + std::string(120, '\\') + "end";
  std::vector<Endpoint> batch;
  for (int i = 0; i < 4000; ++i) {
    Endpoint e = make("big-" + std::to_string(i), i < 3000 ? "fpA" : "fpB", i);
    e.hostname = e.domain = e.os = e.agent_version = long_text + std::to_string(i);
    batch.push_back(std::move(e));
  }
  std::vector<std::string> refused;
  ASSERT_TRUE((*reg)->upsert_batch(batch, &refused).ok());
  EXPECT_TRUE(refused.empty());
  EXPECT_EQ(*(*reg)->count_by_fingerprint(), (std::map<std::string, int64_t>{{"fpA", 3000}, {"fpB", 1000}}));
  for (int i : {0, 1999, 3999}) {
    auto e = (*reg)->find("big-" + std::to_string(i));
    ASSERT_TRUE(e.ok() && e->has_value()) << i;
    EXPECT_EQ((*e)->hostname, long_text + std::to_string(i));
  }
  // The same as pin reports: several UPDATE statements, one transaction.
  for (auto& e : batch) {
    e.pin_report = true;
    e.pinned_fingerprint = "fpC";
  }
  ASSERT_TRUE((*reg)->upsert_batch(batch).ok());
  EXPECT_EQ(*(*reg)->count_by_fingerprint(), (std::map<std::string, int64_t>{{"fpC", 4000}}));
}

TEST(RegistryFactory, SqliteRegistryLivesBesideTheStore) {
  auto dir = std::filesystem::temp_directory_path() / ("ck-reg-path-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto r = open_endpoint_registry("sqlite:" + (dir / "sub" / "ck.db").string());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(std::filesystem::exists(dir / "sub" / "registry.db"));
  EXPECT_EQ(sqlite_registry_path("/x/ck.db"), "/x/registry.db");
  r = open_endpoint_registry("sqlite:");
  EXPECT_FALSE(r.ok());
  std::filesystem::remove_all(dir);
}

TEST(SqliteRegistry, ReadOnlyOpenReadsButRefusesWrites) {
  auto dir = std::filesystem::temp_directory_path() / ("ck-reg-ro-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const std::string path = (dir / "registry.db").string();
  EXPECT_FALSE(open_sqlite_endpoint_registry(path, /*read_only=*/true).ok())
      << "nothing to read yet";
  {
    auto writer = open_sqlite_endpoint_registry(path);
    ASSERT_TRUE(writer.ok()) << writer.error().message;
    ASSERT_TRUE((*writer)->upsert_batch({make("a", "old", 1), make("b", "cur", 1)}).ok());
  }
  auto reader = open_sqlite_endpoint_registry(path, /*read_only=*/true);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  std::vector<std::string> ids;
  Status s = (*reader)->for_each_mismatched("cur", [&](const Endpoint& e) {
    ids.push_back(e.agent_id);
    return ok_status();
  });
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(ids, std::vector<std::string>{"a"});
  EXPECT_EQ((*reader)->count_by_fingerprint()->at("cur"), 1);
  Status w = (*reader)->upsert_batch({make("c", "cur", 2)});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::kPermissionDenied);
  std::filesystem::remove_all(dir);
}

// A registry from before pin_counts (schema 1: an index on pinned_fingerprint) is read
// as it is by a reader, and recounted once by the first writer, which drops the index.
TEST(SqliteRegistry, ASchemaOneRegistryIsReadAsItIsAndRecountedByItsFirstWriter) {
  auto dir = std::filesystem::temp_directory_path() / ("ck-reg-v1-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "registry.db").string();
  {
    auto old = sqlite::SqliteDb::open(path, {});
    ASSERT_TRUE(old.ok()) << old.error().message;
    ASSERT_TRUE(old->exec(R"sql(
      PRAGMA journal_mode = WAL;
      CREATE TABLE endpoints(agent_id TEXT PRIMARY KEY, hostname TEXT NOT NULL, ip_address TEXT NOT NULL,
        domain TEXT NOT NULL, os TEXT NOT NULL, agent_version TEXT NOT NULL, pinned_fingerprint TEXT NOT NULL,
        last_seq INTEGER NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
        key_fingerprint TEXT NOT NULL DEFAULT '', enrollment TEXT NOT NULL DEFAULT 'accepted') WITHOUT ROWID;
      CREATE INDEX endpoints_by_fingerprint ON endpoints(pinned_fingerprint);
      INSERT INTO endpoints VALUES ('a', 'h', 'i', 'd', 'o', 'v', 'old', 0, 1, 1, '', 'accepted'),
                                   ('b', 'h', 'i', 'd', 'o', 'v', 'old', 0, 1, 1, '', 'accepted'),
                                   ('c', 'h', 'i', 'd', 'o', 'v', 'cur', 0, 1, 1, '', 'accepted');
      PRAGMA user_version = 1;)sql")
                    .ok());
  }
  const std::map<std::string, int64_t> expected{{"old", 2}, {"cur", 1}};
  {
    auto reader = open_sqlite_endpoint_registry(path, /*read_only=*/true);
    ASSERT_TRUE(reader.ok()) << reader.error().message;
    auto counts = (*reader)->count_by_fingerprint();
    ASSERT_TRUE(counts.ok()) << counts.error().message;
    EXPECT_EQ(*counts, expected);
  }
  auto index_and_version = [&path]() -> std::pair<int64_t, int64_t> {
    auto check = sqlite::SqliteDb::open(path, {});
    if (!check.ok()) return {-1, -1};
    auto schema = check->prepare(
        "SELECT (SELECT count(*) FROM sqlite_schema WHERE name = 'endpoints_by_fingerprint'), "
        "(SELECT user_version FROM pragma_user_version)");
    if (!schema.ok() || !schema->step().ok()) return {-1, -1};
    return {schema->int64(0), schema->int64(1)};
  };
  {
    auto writer = open_sqlite_endpoint_registry(path);
    ASSERT_TRUE(writer.ok()) << writer.error().message;
    auto counts = (*writer)->count_by_fingerprint();
    ASSERT_TRUE(counts.ok()) << counts.error().message;
    EXPECT_EQ(*counts, expected);
    Endpoint moved;
    moved.agent_id = "a";
    moved.pinned_fingerprint = "cur";
    moved.last_seen = 2;
    moved.pin_report = true;
    ASSERT_TRUE((*writer)->upsert_batch({moved}).ok());
    counts = (*writer)->count_by_fingerprint();
    ASSERT_TRUE(counts.ok()) << counts.error().message;
    EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"old", 1}, {"cur", 2}}));
  }
  EXPECT_EQ(index_and_version(), (std::pair<int64_t, int64_t>{0, 2})) << "the index is dropped";
  // A certkeeper from before schema 2 opens the file and recreates its index; the next
  // writer drops it again (the counts stayed right: the triggers are in the file).
  {
    auto old = sqlite::SqliteDb::open(path, {});
    ASSERT_TRUE(old.ok());
    ASSERT_TRUE(old->exec("CREATE INDEX IF NOT EXISTS endpoints_by_fingerprint ON endpoints(pinned_fingerprint);"
                          "UPDATE endpoints SET pinned_fingerprint = 'cur' WHERE agent_id = 'b'")
                    .ok());
  }
  EXPECT_EQ(index_and_version(), (std::pair<int64_t, int64_t>{1, 2}));
  {
    auto writer = open_sqlite_endpoint_registry(path);
    ASSERT_TRUE(writer.ok()) << writer.error().message;
    auto counts = (*writer)->count_by_fingerprint();
    ASSERT_TRUE(counts.ok()) << counts.error().message;
    EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"cur", 3}}));
  }
  EXPECT_EQ(index_and_version(), (std::pair<int64_t, int64_t>{0, 2}));
  std::filesystem::remove_all(dir);
}

TEST(RegistryFactory, UnreachablePostgresIsUnavailable) {
  // Port 1 on loopback: nothing listens there.
  auto r = open_endpoint_registry("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kUnavailable);
}

}  // namespace
}  // namespace ck::registry
