// SQLite backend of the Outbox: table `outbox` in the store's own database file
// (schema version 2), the counter in the store's `meta` table (key 'outbox_seq').
// One connection of its own, behind a mutex. Adds run in BEGIN IMMEDIATE, so they
// are serialized with every other writer of the file (certmgr, other servers).
#include <mutex>

#include "outbox/message_row.h"
#include "common/fault_point.h"
#include "outbox/outbox.h"
#include "store/sqlite/sqlite_db.h"

namespace ck::outbox {
namespace {

// Migration 1 -> 2. Idempotent; the store's own schema (meta) must exist.
constexpr const char* kMigration = R"sql(
CREATE TABLE IF NOT EXISTS outbox(
  seq       INTEGER PRIMARY KEY,
  jti       TEXT NOT NULL UNIQUE,
  command   TEXT NOT NULL,
  args      TEXT NOT NULL,
  audience  TEXT NOT NULL,
  iat       INTEGER NOT NULL,
  exp       INTEGER NOT NULL,
  issued_by TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_by_exp ON outbox(exp);
CREATE INDEX IF NOT EXISTS outbox_by_audience ON outbox(audience, exp);
UPDATE meta SET value = 2 WHERE key = 'schema_version' AND value < 2;
)sql";

class SqliteOutbox final : public Outbox {
 public:
  explicit SqliteOutbox(sqlite::SqliteDb db) : db_(std::move(db)) {}

  Status migrate() {
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(auto txn, sqlite::WriteTransaction::begin(db_, true));
    CK_ASSIGN_OR_RETURN(auto has_meta,
                        db_.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"));
    CK_ASSIGN_OR_RETURN(bool row, has_meta.step());
    if (!row) return make_error(ErrorKind::kNotFound, db_.path() + " is not a certkeeper store");
    CK_RETURN_IF_ERROR(db_.exec(kMigration));
    CK_ASSIGN_OR_RETURN(auto counter, db_.prepare("INSERT OR IGNORE INTO meta(key, value) VALUES ('outbox_seq', ?1)"));
    counter.bind(1, initial_seq());
    CK_RETURN_IF_ERROR(counter.run());
    return txn.commit();
  }

  Result<Message> add(Message m) override {
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(auto txn, sqlite::WriteTransaction::begin(db_, true));
    CK_ASSIGN_OR_RETURN(auto pending, db_.prepare("SELECT count(*) FROM outbox WHERE audience = ?1 AND exp > ?2"));
    pending.bind(1, m.audience).bind(2, m.iat);
    CK_ASSIGN_OR_RETURN(bool counted, pending.step());
    if (counted && pending.int64(0) >= kMaxPendingPerAudience) return too_many_pending(m.audience);
    CK_ASSIGN_OR_RETURN(auto step, db_.prepare("UPDATE meta SET value = max(value + 1, ?1) WHERE key = 'outbox_seq'"));
    step.bind(1, initial_seq());
    CK_RETURN_IF_ERROR(step.run());
    CK_ASSIGN_OR_RETURN(m.seq, counter_locked());
    CK_ASSIGN_OR_RETURN(auto ins, db_.prepare(std::string("INSERT INTO outbox(") + kMessageColumns +
                                              ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
    ins.bind(1, m.seq).bind(2, m.jti).bind(3, m.command).bind(4, serialize_args(m.args)).bind(5, m.audience)
        .bind(6, m.iat).bind(7, m.exp).bind(8, m.issued_by);
    Status s = ins.run();
    if (!s.ok() && s.error().kind == ErrorKind::kConflict)
      return make_error(ErrorKind::kConflict, "message " + m.jti + " is already in the outbox");
    CK_RETURN_IF_ERROR(s);
    fault_point("outbox.add.before_commit");
    CK_RETURN_IF_ERROR(txn.commit());
    fault_point("outbox.add.committed");
    return m;
  }

  Result<std::vector<Message>> since(int64_t after, int64_t now, size_t limit) override {
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare(std::string("SELECT ") + kMessageColumns +
                                               " FROM outbox WHERE seq > ?1 AND exp > ?2 ORDER BY seq LIMIT ?3"));
    stmt.bind(1, after).bind(2, now).bind(3, static_cast<int64_t>(limit));
    std::vector<Message> out;
    for (;;) {
      CK_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) break;
      Message m;
      m.seq = stmt.int64(0);
      m.jti = stmt.text(1);
      m.command = stmt.text(2);
      CK_ASSIGN_OR_RETURN(m.args, parse_args(stmt.text(3)));
      m.audience = stmt.text(4);
      m.iat = stmt.int64(5);
      m.exp = stmt.int64(6);
      m.issued_by = stmt.text(7);
      out.push_back(std::move(m));
    }
    return out;
  }

  Result<int64_t> last_seq() override {
    std::lock_guard lock(mu_);
    return counter_locked();
  }

  Result<int64_t> prune(int64_t before) override {
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare("DELETE FROM outbox WHERE exp <= ?1"));
    stmt.bind(1, before);
    CK_RETURN_IF_ERROR(stmt.run());
    return static_cast<int64_t>(sqlite3_changes(db_.handle()));
  }

  std::string location() const override { return "sqlite:" + db_.path(); }

 private:
  Result<int64_t> counter_locked() {
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare("SELECT value FROM meta WHERE key = 'outbox_seq'"));
    CK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) return make_error(ErrorKind::kCorrupt, "outbox counter missing in " + db_.path());
    return stmt.int64(0);
  }

  std::mutex mu_;
  sqlite::SqliteDb db_;
};

}  // namespace

Result<std::unique_ptr<Outbox>> open_sqlite_outbox(const std::string& path) {
  sqlite::SqliteDb::Options options;
  options.create = false;
  auto db = sqlite::SqliteDb::open(path, options);
  if (!db.ok()) return db.error().with_context("outbox");
  CK_RETURN_IF_ERROR(db->exec("PRAGMA journal_mode = WAL"));
  CK_RETURN_IF_ERROR(db->exec("PRAGMA synchronous = FULL"));
  auto outbox = std::make_unique<SqliteOutbox>(std::move(db).value());
  CK_RETURN_IF_ERROR(outbox->migrate());
  return std::unique_ptr<Outbox>(std::move(outbox));
}

}  // namespace ck::outbox
