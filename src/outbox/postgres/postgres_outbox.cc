// PostgreSQL backend of the Outbox: table `outbox` and a one-row counter table in the
// store's database (first schema of the search_path). add() takes the counter row's
// lock (UPDATE ... RETURNING) and holds it to COMMIT, so adds commit in seq order
// across every server and certmgr; the same transaction sends NOTIFY on
// kNotifyChannel (delivered at commit) to wake the servers. Plain SQL that
// PostgreSQL-compatible distributed engines also run; where NOTIFY is missing it is
// skipped (a savepoint keeps the transaction) and servers poll last_seq().
#include <mutex>

#include "outbox/message_row.h"
#include "common/fault_point.h"
#include "outbox/outbox.h"
#include "store/postgres/pg_conn.h"

namespace ck::outbox {
namespace {

using pg::Param;

// Migration 1 -> 2 (the store's meta table exists; schema_version moves to 2).
constexpr const char* kMigration = R"sql(
CREATE TABLE IF NOT EXISTS outbox(
  seq       BIGINT PRIMARY KEY,
  jti       TEXT NOT NULL UNIQUE,
  command   TEXT NOT NULL,
  args      TEXT NOT NULL,
  audience  TEXT NOT NULL,
  iat       BIGINT NOT NULL,
  exp       BIGINT NOT NULL,
  issued_by TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_by_exp ON outbox(exp);
CREATE INDEX IF NOT EXISTS outbox_by_audience ON outbox(audience, exp);
CREATE TABLE IF NOT EXISTS outbox_counter(
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  last BIGINT NOT NULL);
)sql";

class PostgresOutbox final : public Outbox {
 public:
  explicit PostgresOutbox(pg::PgConn conn) : conn_(std::move(conn)) {}

  Status migrate() {
    std::lock_guard lock(mu_);
    CK_RETURN_IF_ERROR(pg::apply_schema(conn_, kMigration));
    CK_ASSIGN_OR_RETURN(auto txn, pg::PgTransaction::begin(conn_));
    CK_RETURN_IF_ERROR(conn_.exec("INSERT INTO outbox_counter(id, last) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
                                  {Param::int64(initial_seq())}));
    CK_RETURN_IF_ERROR(conn_.exec("UPDATE meta SET value = 2 WHERE key = 'schema_version' AND value < 2"));
    return txn.commit();
  }

  Result<Message> add(Message m) override {
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(auto txn, pg::PgTransaction::begin(conn_));
    // The counter row's lock first: it serializes adds (also the count below).
    CK_ASSIGN_OR_RETURN(pg::Rows counter,
                        conn_.exec("UPDATE outbox_counter SET last = GREATEST(last + 1, $1) WHERE id = 1 RETURNING last",
                                   {Param::int64(initial_seq())}));
    CK_ASSIGN_OR_RETURN(pg::Rows pending, conn_.exec("SELECT count(*) FROM outbox WHERE audience = $1 AND exp > $2",
                                                     {Param::text(m.audience), Param::int64(m.iat)}));
    if (pending.int64(0, 0) >= kMaxPendingPerAudience) return too_many_pending(m.audience);
    if (counter.size() != 1) return make_error(ErrorKind::kCorrupt, "outbox counter missing");
    m.seq = counter.int64(0, 0);
    auto ins = conn_.exec(std::string("INSERT INTO outbox(") + kMessageColumns +
                              ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                          {Param::int64(m.seq), Param::text(m.jti), Param::text(m.command),
                           Param::text(serialize_args(m.args)), Param::text(m.audience), Param::int64(m.iat),
                           Param::int64(m.exp), Param::text(m.issued_by)});
    if (!ins.ok() && ins.error().kind == ErrorKind::kConflict)
      return make_error(ErrorKind::kConflict, "message " + m.jti + " is already in the outbox");
    if (!ins.ok()) return ins.error();
    CK_RETURN_IF_ERROR(pg::notify_best_effort(conn_, std::string(kNotifyChannel)));
    fault_point("outbox.add.before_commit");
    CK_RETURN_IF_ERROR(txn.commit());
    fault_point("outbox.add.committed");
    return m;
  }

  Result<std::vector<Message>> since(int64_t after, int64_t now, size_t limit) override {
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(pg::Rows rows,
                        conn_.exec_autocommit_retry(std::string("SELECT ") + kMessageColumns +
                                                        " FROM outbox WHERE seq > $1 AND exp > $2 ORDER BY seq LIMIT $3",
                                                    {Param::int64(after), Param::int64(now),
                                                     Param::int64(static_cast<int64_t>(limit))}));
    std::vector<Message> out;
    for (int i = 0; i < rows.size(); ++i) {
      Message m;
      m.seq = rows.int64(i, 0);
      m.jti = rows.text(i, 1);
      m.command = rows.text(i, 2);
      CK_ASSIGN_OR_RETURN(m.args, parse_args(rows.text(i, 3)));
      m.audience = rows.text(i, 4);
      m.iat = rows.int64(i, 5);
      m.exp = rows.int64(i, 6);
      m.issued_by = rows.text(i, 7);
      out.push_back(std::move(m));
    }
    return out;
  }

  Result<int64_t> last_seq() override {
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(pg::Rows rows, conn_.exec_autocommit_retry("SELECT last FROM outbox_counter WHERE id = 1"));
    if (rows.size() != 1) return make_error(ErrorKind::kCorrupt, "outbox counter missing");
    return rows.int64(0, 0);
  }

  Result<int64_t> prune(int64_t before) override {
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(pg::Rows rows,
                        conn_.exec_autocommit_retry("DELETE FROM outbox WHERE exp <= $1", {Param::int64(before)}));
    return rows.affected();
  }

  std::string location() const override { return pg::redact_url(conn_.url()); }

 private:
  std::mutex mu_;
  pg::PgConn conn_;
};

}  // namespace

Result<std::unique_ptr<Outbox>> open_postgres_outbox(const std::string& url) {
  auto conn = pg::PgConn::connect(url);
  if (!conn.ok()) return conn.error().with_context("outbox");
  auto outbox = std::make_unique<PostgresOutbox>(std::move(conn).value());
  CK_RETURN_IF_ERROR(outbox->migrate());
  return std::unique_ptr<Outbox>(std::move(outbox));
}

}  // namespace ck::outbox
