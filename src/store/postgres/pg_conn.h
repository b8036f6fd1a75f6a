// Thin RAII layer over libpq, shared by the PostgreSQL store and registry.
//
// PgConn is one connection (not thread-safe: guard it with a mutex); Rows owns one
// PGresult; PgTransaction is BEGIN ... COMMIT with ROLLBACK on destruction. SQL errors
// become Error values: lock timeouts, serialization failures and deadlocks are
// kBusy, constraint violations kConflict, connection failures kUnavailable.
// Every parameter is sent as text except bytea (binary); results come back as text.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace ck::pg {

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using UniqueConn = std::unique_ptr<PGconn, ConnDeleter>;
using UniqueResult = std::unique_ptr<PGresult, ResultDeleter>;

class Param {
 public:
  static Param text(std::string v) { return Param(std::move(v), false); }
  static Param int64(int64_t v) { return Param(std::to_string(v), false); }
  static Param bytes(std::string v) { return Param(std::move(v), true); }
  static Param null() { return Param(); }
  // A text[] or bigint[] parameter in PostgreSQL's array literal form, for statements
  // that take a whole batch as arrays (unnest): one statement text whatever its size.
  static Param text_array(const std::vector<std::string_view>& values);
  static Param int64_array(const std::vector<int64_t>& values);

  const std::optional<std::string>& value() const { return value_; }
  bool binary() const { return binary_; }

 private:
  Param() = default;
  Param(std::string v, bool binary) : value_(std::move(v)), binary_(binary) {}
  std::optional<std::string> value_;
  bool binary_ = false;
};

class Rows {
 public:
  explicit Rows(UniqueResult r) : r_(std::move(r)) {}
  int size() const { return PQntuples(r_.get()); }
  bool is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string text(int row, int col) const;
  int64_t int64(int row, int col) const;
  // A bytea column (text form "\x...") decoded.
  Result<std::string> bytea(int row, int col) const;
  // Rows affected by INSERT/UPDATE/DELETE.
  int64_t affected() const;

 private:
  UniqueResult r_;
};

class PgConn {
 public:
  // `url`: a libpq connection URI or keyword string ("postgresql://user@host:port/db?...").
  static Result<PgConn> connect(const std::string& url);

  // One statement, with $1.. parameters.
  Result<Rows> exec(const std::string& sql, const std::vector<Param>& params = {});
  // exec() for a statement outside any transaction that is safe to run twice (a read):
  // when the server dropped the connection, reconnects and runs it once more.
  Result<Rows> exec_autocommit_retry(const std::string& sql, const std::vector<Param>& params = {});
  // The same, through exec_prepared().
  Result<Rows> exec_prepared_autocommit_retry(const std::string& sql, const std::vector<Param>& params);
  // exec() of a statement this connection runs again and again (a check-in's point
  // read, a group commit's upsert): parsed and planned once per connection, then only
  // bound and run (PostgreSQL spent 158 us of CPU per check-in planning them). At most
  // kMaxPrepared texts are kept; others run as exec() does. Statement names are unique
  // to the connection's session, so a pooler that hands a statement to another backend
  // (pgbouncer's transaction mode) can only miss it, never find another client's
  // statement of that name: the first miss turns preparing off for this connection for
  // good, and answers kBusy inside a transaction (retry it), or runs the statement
  // unprepared outside one.
  Result<Rows> exec_prepared(const std::string& sql, const std::vector<Param>& params = {});
  static constexpr size_t kMaxPrepared = 64;
  // Several statements separated by ';', no parameters (schema scripts).
  Status exec_script(const std::string& sql);
  // Reconnects when the server dropped the connection (e.g. after a restart).
  Status ensure_connected();
  bool in_transaction() const;
  // "name" quoted as an SQL identifier.
  std::string quote_identifier(const std::string& name) const;
  PGconn* get() const { return conn_.get(); }
  const std::string& url() const { return url_; }

 private:
  PgConn(UniqueConn c, std::string url) : conn_(std::move(c)), url_(std::move(url)) { new_session(); }
  UniqueConn conn_;
  std::string url_;
  void new_session();  // after (re)connecting: no statement is prepared there yet
  // run(), and once more after reconnecting when the server had dropped the connection.
  template <class Run>
  Result<Rows> retry_after_drop(Run run);
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
  std::string statement_prefix_;  // random per session: names never shared with others
  bool prepare_off_ = false;  // a pooler lost a statement: never again on this connection
};

// BEGIN (with `begin_sql`, e.g. "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") ...
// COMMIT; ROLLBACK when destroyed uncommitted.
class PgTransaction {
 public:
  static Result<PgTransaction> begin(PgConn& conn, const std::string& begin_sql = "BEGIN");
  PgTransaction(PgTransaction&& o) noexcept : conn_(o.conn_) { o.conn_ = nullptr; }
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;
  ~PgTransaction();
  Status commit();

 private:
  explicit PgTransaction(PgConn* conn) : conn_(conn) {}
  PgConn* conn_;
};

// Runs an idempotent schema script (CREATE ... IF NOT EXISTS) in one transaction,
// retrying when a concurrent first-time opener races it.
Status apply_schema(PgConn& conn, const std::string& sql);

// NOTIFY `channel` inside the current transaction (delivered at commit). An engine
// without NOTIFY (CockroachDB, YugabyteDB) is not an error: a savepoint keeps the
// transaction, and listeners also poll. Errors: only the savepoint's own.
Status notify_best_effort(PgConn& conn, const std::string& channel);

// The Error for a failed result (or a null one: the connection broke).
Error pg_error(const PGresult* res, PGconn* conn, const std::string& what);

// `url` without its secrets, for messages and location(): the URI's ":password" and
// its "password" / "sslpassword" query parameters (names also percent-encoded), or the
// same keys of a "key=value" connection string. Other text is kept as is.
std::string redact_url(const std::string& url);

// `url` with libpq option `-csearch_path=<schema>` added (tests use one schema each).
std::string url_with_search_path(const std::string& url, const std::string& schema);

}  // namespace ck::pg
