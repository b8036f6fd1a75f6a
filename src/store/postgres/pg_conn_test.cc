#include "store/postgres/pg_conn.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/postgres/pg_test_env.h"

namespace ck::pg {
namespace {

int64_t prepared_count(PgConn& conn) {
  auto rows = conn.exec("SELECT count(*) FROM pg_prepared_statements");
  EXPECT_TRUE(rows.ok()) << rows.error().message;
  return rows.ok() ? rows->int64(0, 0) : -1;
}

TEST(PgConn, ARepeatedStatementIsPreparedOnceAndRunsWithEachCallsParameters) {
  CK_REQUIRE_POSTGRES();
  auto conn = PgConn::connect(testing::server_url());
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  for (auto [word, upper] : {std::pair{"first", "FIRST"}, {"second", "SECOND"}, {"third", "THIRD"}}) {
    auto rows = conn->exec_prepared("SELECT upper($1::text)", {Param::text(word)});
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    EXPECT_EQ(rows->text(0, 0), upper);
  }
  EXPECT_EQ(prepared_count(*conn), 1);
  auto other = conn->exec_prepared("SELECT $1::bigint + 1", {Param::int64(41)});
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_EQ(other->int64(0, 0), 42);
  EXPECT_EQ(prepared_count(*conn), 2);
}

TEST(PgConn, ArrayParametersCarryEveryValueAsItIs) {
  CK_REQUIRE_POSTGRES();
  auto conn = PgConn::connect(testing::server_url());
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  const std::vector<std::string_view> texts = {"a,b", "\"q\"", "back\\slash", "NULL", "", "{x}", " s ", "\u00e9"};
  auto rows = conn->exec("SELECT v FROM unnest($1::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n",
                         {Param::text_array(texts)});
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), static_cast<int>(texts.size()));
  for (int i = 0; i < rows->size(); ++i) {
    EXPECT_FALSE(rows->is_null(i, 0)) << i;
    EXPECT_EQ(rows->text(i, 0), texts[static_cast<size_t>(i)]) << i;
  }
  const std::vector<int64_t> numbers = {0, -1, 9223372036854775807LL, -9223372036854775807LL - 1};
  auto ints = conn->exec("SELECT v FROM unnest($1::bigint[]) WITH ORDINALITY AS t(v, n) ORDER BY n",
                         {Param::int64_array(numbers)});
  ASSERT_TRUE(ints.ok()) << ints.error().message;
  ASSERT_EQ(ints->size(), 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ints->int64(i, 0), numbers[static_cast<size_t>(i)]) << i;
  auto empty = conn->exec("SELECT count(*) FROM unnest($1::text[])", {Param::text_array({})});
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_EQ(empty->int64(0, 0), 0);
}

TEST(PgConn, StatementNamesAreNotSharedBetweenSessions) {
  CK_REQUIRE_POSTGRES();
  auto one = PgConn::connect(testing::server_url());
  auto two = PgConn::connect(testing::server_url());
  ASSERT_TRUE(one.ok() && two.ok());
  ASSERT_TRUE(one->exec_prepared("SELECT 1 + $1::int", {Param::int64(1)}).ok());
  ASSERT_TRUE(two->exec_prepared("SELECT 2 + $1::int", {Param::int64(1)}).ok());
  auto name = [](PgConn& c) {
    auto r = c.exec("SELECT name FROM pg_prepared_statements");
    return r.ok() && r->size() == 1 ? r->text(0, 0) : std::string("?");
  };
  EXPECT_NE(name(*one), "?");
  EXPECT_NE(name(*one), name(*two));
}

// What a connection pooler in transaction mode looks like from here: the backend that
// answers does not have the statement.
TEST(PgConn, AStatementLostByThePoolerRunsUnpreparedOutsideATransactionAndIsBusyInsideOne) {
  CK_REQUIRE_POSTGRES();
  auto conn = PgConn::connect(testing::server_url());
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  ASSERT_TRUE(conn->exec_prepared("SELECT $1::text", {Param::text("a")}).ok());
  ASSERT_TRUE(conn->exec("DEALLOCATE ALL").ok());
  auto again = conn->exec_prepared("SELECT $1::text", {Param::text("b")});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->text(0, 0), "b");
  EXPECT_EQ(prepared_count(*conn), 0);  // preparing is off for this connection now
  ASSERT_TRUE(conn->exec_prepared("SELECT $1::text || 'x'", {Param::text("c")}).ok());
  EXPECT_EQ(prepared_count(*conn), 0);

  auto in_txn = PgConn::connect(testing::server_url());
  ASSERT_TRUE(in_txn.ok()) << in_txn.error().message;
  ASSERT_TRUE(in_txn->exec_prepared("SELECT $1::text", {Param::text("a")}).ok());
  ASSERT_TRUE(in_txn->exec("DEALLOCATE ALL").ok());
  {
    auto txn = PgTransaction::begin(*in_txn);
    ASSERT_TRUE(txn.ok()) << txn.error().message;
    auto lost = in_txn->exec_prepared("SELECT $1::text", {Param::text("b")});
    ASSERT_FALSE(lost.ok());
    EXPECT_EQ(lost.error().kind, ErrorKind::kBusy) << lost.error().message;
  }  // rolled back
  auto txn = PgTransaction::begin(*in_txn);
  ASSERT_TRUE(txn.ok()) << txn.error().message;
  auto retried = in_txn->exec_prepared("SELECT $1::text", {Param::text("c")});
  ASSERT_TRUE(retried.ok()) << retried.error().message;
  EXPECT_EQ(retried->text(0, 0), "c");
  EXPECT_TRUE(txn->commit().ok());
}

TEST(PgConn, AReconnectPreparesAgain) {
  CK_REQUIRE_POSTGRES();
  const std::string app = "ck_reprepare_" + std::to_string(::getpid());
  auto conn = PgConn::connect(testing::server_url() + (testing::server_url().find('?') == std::string::npos ? "?" : "&") +
                              "application_name=" + app);
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  ASSERT_TRUE(conn->exec_prepared_autocommit_retry("SELECT $1::text", {Param::text("a")}).ok());
  auto admin = PgConn::connect(testing::server_url());
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE(admin->exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                          {Param::text(app)})
                  .ok());
  auto after = conn->exec_prepared_autocommit_retry("SELECT $1::text", {Param::text("b")});
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(after->text(0, 0), "b");
  EXPECT_EQ(prepared_count(*conn), 1);  // prepared again on the new session, not run unprepared
}

}  // namespace
}  // namespace ck::pg
