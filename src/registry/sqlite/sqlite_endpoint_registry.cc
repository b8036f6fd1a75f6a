#include "registry/sqlite/sqlite_endpoint_registry.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <optional>
#include <vector>

#include "common/file_util.h"
#include "registry/endpoint_query_sql.h"
#include "registry/idle_pool.h"
#include "registry/upsert_rule.h"
#include "store/sqlite/sqlite_db.h"

namespace ck::registry {
namespace {

// Raised whenever kSchema or kIdentityColumns change (PRAGMA user_version).
// 2: pin_counts and its triggers replace the index on pinned_fingerprint.
constexpr int64_t kSchemaVersion = 2;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS endpoints(
  agent_id           TEXT PRIMARY KEY CHECK (length(agent_id) BETWEEN 1 AND 64),
  hostname           TEXT NOT NULL,
  ip_address         TEXT NOT NULL,
  domain             TEXT NOT NULL,
  os                 TEXT NOT NULL,
  agent_version      TEXT NOT NULL,
  pinned_fingerprint TEXT NOT NULL,
  last_seq           INTEGER NOT NULL,
  first_seen         INTEGER NOT NULL,
  last_seen          INTEGER NOT NULL,
  key_fingerprint    TEXT NOT NULL DEFAULT '',
  enrollment         TEXT NOT NULL DEFAULT 'accepted') WITHOUT ROWID;
-- How many endpoints pin each fingerprint (metrics, the console's overview), kept by
-- the triggers below in the same transaction as the rows. An index on
-- pinned_fingerprint answered that before, but every pin report then rewrote two index
-- pages besides its row: 100,000 pin reports took 2.3 times as long
-- (bench/registry_bench, BM_PinReportsAfterRotation).
CREATE TABLE IF NOT EXISTS pin_counts(
  fingerprint TEXT PRIMARY KEY,
  endpoints   INTEGER NOT NULL) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS pin_counts_on_insert AFTER INSERT ON endpoints BEGIN
  INSERT INTO pin_counts VALUES (new.pinned_fingerprint, 1)
    ON CONFLICT (fingerprint) DO UPDATE SET endpoints = endpoints + 1;
END;
CREATE TRIGGER IF NOT EXISTS pin_counts_on_update AFTER UPDATE OF pinned_fingerprint ON endpoints
WHEN old.pinned_fingerprint IS NOT new.pinned_fingerprint BEGIN
  UPDATE pin_counts SET endpoints = endpoints - 1 WHERE fingerprint = old.pinned_fingerprint;
  DELETE FROM pin_counts WHERE fingerprint = old.pinned_fingerprint AND endpoints <= 0;
  INSERT INTO pin_counts VALUES (new.pinned_fingerprint, 1)
    ON CONFLICT (fingerprint) DO UPDATE SET endpoints = endpoints + 1;
END;
CREATE TRIGGER IF NOT EXISTS pin_counts_on_delete AFTER DELETE ON endpoints BEGIN
  UPDATE pin_counts SET endpoints = endpoints - 1 WHERE fingerprint = old.pinned_fingerprint;
  DELETE FROM pin_counts WHERE fingerprint = old.pinned_fingerprint AND endpoints <= 0;
END;
)sql";

// Schema 1 -> 2 (and a fresh file, trivially): the counts from the rows themselves,
// read through the old index while it is still there.
constexpr const char* kRecountPins = R"sql(
DELETE FROM pin_counts;
INSERT INTO pin_counts SELECT pinned_fingerprint, count(*) FROM endpoints GROUP BY pinned_fingerprint;
DROP INDEX IF EXISTS endpoints_by_fingerprint;
)sql";
// (Nothing may write endpoints with REPLACE: its implicit delete fires no trigger, and
// the counts would drift.)

// Whether the file has this table or index.
Result<bool> has_schema_object(sqlite::SqliteDb& db, const char* type, const char* name) {
  CK_ASSIGN_OR_RETURN(auto probe, db.prepare("SELECT 1 FROM sqlite_schema WHERE type = ?1 AND name = ?2"));
  probe.bind(1, type).bind(2, name);
  return probe.step();
}

// Registries made before agent identities get the two columns (idempotent).
constexpr const char* kIdentityColumns[][2] = {
    {"key_fingerprint", "ALTER TABLE endpoints ADD COLUMN key_fingerprint TEXT NOT NULL DEFAULT ''"},
    {"enrollment", "ALTER TABLE endpoints ADD COLUMN enrollment TEXT NOT NULL DEFAULT 'accepted'"}};

constexpr const char* kColumns =
    "agent_id, hostname, ip_address, domain, os, agent_version, pinned_fingerprint, last_seq, "
    "first_seen, last_seen, key_fingerprint, enrollment";

// Only the key holder (or the first key, on a row with none) writes the row (upsert_rule.h).
constexpr const char* kUpsert =
    "INSERT INTO endpoints(agent_id, hostname, ip_address, domain, os, agent_version, "
    "pinned_fingerprint, last_seq, first_seen, last_seen, key_fingerprint, enrollment) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
    CK_REGISTRY_ON_CONFLICT_UPDATE;

constexpr const char* kUpdatePin =
    "UPDATE endpoints SET pinned_fingerprint = ?2, last_seen = max(last_seen, ?3) WHERE agent_id = ?1";

Endpoint to_endpoint(const sqlite::Stmt& s) {
  Endpoint e{s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5), s.text(6), s.int64(7), s.int64(8), s.int64(9)};
  e.key_fingerprint = s.text(10);
  e.enrollment = s.text(11);
  return e;
}

enum class Mode {
  kWriter,    // creates the file when missing
  kScan,      // a second connection to an existing file, for one scan
  kReadOnly,  // a user who may read the registry but not write it (certmgr -l)
};

// Scans open read-write when they can, not SQLITE_OPEN_READONLY: a read-only WAL
// reader needs the -shm file to exist already, which a fresh registry does not ensure.
Result<sqlite::SqliteDb> open_db(const std::string& path, Mode mode) {
  sqlite::SqliteDb::Options options;
  options.create = mode == Mode::kWriter;
  options.read_only = mode == Mode::kReadOnly;
  CK_ASSIGN_OR_RETURN(sqlite::SqliteDb db, sqlite::SqliteDb::open(path, options));
  if (mode == Mode::kReadOnly) return db;
  CK_RETURN_IF_ERROR(db.exec("PRAGMA journal_mode = WAL"));
  // FULL: a committed batch survives power loss (every answered check-in is durable).
  CK_RETURN_IF_ERROR(db.exec("PRAGMA synchronous = FULL"));
  // After a burst (100,000 pin reports from several workers) the WAL file keeps its
  // high-water size (423 MiB measured) unless told to shrink back when it restarts.
  CK_RETURN_IF_ERROR(db.exec("PRAGMA journal_size_limit = 67108864"));
  return db;
}

// A point-read connection with its SELECT prepared once (parsing it cost more than
// running it).
struct PointReader {
  sqlite::SqliteDb db;
  sqlite::Stmt find;  // declared after db: finalized before its connection closes
};

Result<std::unique_ptr<PointReader>> open_point_reader(const std::string& path, bool read_only) {
  CK_ASSIGN_OR_RETURN(sqlite::SqliteDb db, open_db(path, read_only ? Mode::kReadOnly : Mode::kScan));
  CK_ASSIGN_OR_RETURN(sqlite::Stmt find,
                      db.prepare(std::string("SELECT ") + kColumns + " FROM endpoints WHERE agent_id = ?1"));
  return std::make_unique<PointReader>(PointReader{std::move(db), std::move(find)});
}

class SqliteEndpointRegistry final : public EndpointRegistry {
 public:
  SqliteEndpointRegistry(sqlite::SqliteDb db, bool read_only)
      : db_(std::move(db)),
        read_only_(read_only),
        point_readers_([path = db_.path(), read_only] { return open_point_reader(path, read_only); }) {}

  Status upsert_batch(const std::vector<Endpoint>& endpoints, std::vector<std::string>* refused) override {
    if (endpoints.empty()) return ok_status();
    if (read_only_) {
      return make_error(ErrorKind::kPermissionDenied,
                        "permission denied: " + db_.path() + " (the registry is read-only here)");
    }
    std::lock_guard lock(mu_);
    // Prepared once per connection: parsing the upsert cost more than running it.
    if (!upsert_) {
      CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare(kUpsert));
      CK_ASSIGN_OR_RETURN(auto pin, db_.prepare(kUpdatePin));
      upsert_.emplace(std::move(stmt));
      update_pin_.emplace(std::move(pin));
    }
    sqlite::Stmt& stmt = *upsert_;
    sqlite::Stmt& pin = *update_pin_;
    // A failed step leaves its statement unreset; start clean either way.
    CK_RETURN_IF_ERROR(stmt.reset());
    CK_RETURN_IF_ERROR(pin.reset());
    CK_ASSIGN_OR_RETURN(auto txn, sqlite::WriteTransaction::begin(db_, /*immediate=*/true));
    for (const Endpoint& e : endpoints) {
      if (e.pin_report) {
        pin.bind(1, e.agent_id).bind(2, e.pinned_fingerprint).bind(3, e.last_seen);
        CK_RETURN_IF_ERROR(pin.run());
        CK_RETURN_IF_ERROR(pin.reset());
        continue;
      }
      stmt.bind(1, e.agent_id)
          .bind(2, e.hostname)
          .bind(3, e.ip_address)
          .bind(4, e.domain)
          .bind(5, e.os)
          .bind(6, e.agent_version)
          .bind(7, e.pinned_fingerprint)
          .bind(8, e.last_seq)
          .bind(9, e.first_seen)
          .bind(10, e.last_seen)
          .bind(11, e.key_fingerprint)
          .bind(12, e.enrollment);
      CK_RETURN_IF_ERROR(stmt.run());
      if (sqlite3_changes(db_.handle()) == 0 && refused) refused->push_back(e.agent_id);
      CK_RETURN_IF_ERROR(stmt.reset());
    }
    return txn.commit();
  }

  Status for_each_endpoint(const std::function<Status(const Endpoint&)>& fn) override {
    CK_ASSIGN_OR_RETURN(sqlite::SqliteDb reader,
                        open_db(db_.path(), read_only_ ? Mode::kReadOnly : Mode::kScan));
    CK_ASSIGN_OR_RETURN(auto txn, sqlite::WriteTransaction::begin(reader, /*immediate=*/false));
    CK_ASSIGN_OR_RETURN(auto stmt, reader.prepare(std::string("SELECT ") + kColumns + " FROM endpoints ORDER BY agent_id"));
    for (;;) {
      CK_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) break;
      CK_RETURN_IF_ERROR(fn(to_endpoint(stmt)));
    }
    return ok_status();
  }

  Status set_enrollment(const std::string& agent_id, const std::string& enrollment) override {
    return update_one("UPDATE endpoints SET enrollment = ?2 WHERE agent_id = ?1", agent_id, enrollment);
  }

  Status forget_key(const std::string& agent_id) override {
    return update_one("UPDATE endpoints SET key_fingerprint = '', enrollment = ?2 WHERE agent_id = ?1", agent_id,
                      kEnrollmentPending);
  }

  Status for_each_mismatched(const std::string& current_fingerprint,
                             const std::function<Status(const Endpoint&)>& fn) override {
    // A connection of its own: the scan holds a read snapshot, not the writers' mutex.
    CK_ASSIGN_OR_RETURN(sqlite::SqliteDb reader,
                        open_db(db_.path(), read_only_ ? Mode::kReadOnly : Mode::kScan));
    CK_ASSIGN_OR_RETURN(auto txn, sqlite::WriteTransaction::begin(reader, /*immediate=*/false));
    CK_ASSIGN_OR_RETURN(auto stmt, reader.prepare(std::string("SELECT ") + kColumns +
                                                  " FROM endpoints WHERE pinned_fingerprint <> ?1"
                                                  " ORDER BY agent_id"));
    stmt.bind(1, current_fingerprint);
    for (;;) {
      CK_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) return ok_status();  // the transaction was read-only: rollback is fine
      CK_RETURN_IF_ERROR(fn(to_endpoint(stmt)));
    }
  }

  // The console's pages: a connection of their own, so a slow page (a search over a
  // million rows) never delays the point reads check-ins wait for.
  Result<EndpointPage> query_endpoints(const EndpointQuery& query) override {
    if (query.offset < 0 || query.limit < 0) return make_error(ErrorKind::kInvalidArgument, "negative offset or limit");
    const EndpointQuerySql sql = endpoint_query_sql(query, "?", "instr");
    std::lock_guard lock(query_mu_);
    if (!query_reader_) {
      CK_ASSIGN_OR_RETURN(sqlite::SqliteDb r, open_db(db_.path(), read_only_ ? Mode::kReadOnly : Mode::kScan));
      query_reader_.emplace(std::move(r));
    }
    sqlite::SqliteDb& db = *query_reader_;
    // One snapshot for the count and the page.
    CK_ASSIGN_OR_RETURN(auto txn, sqlite::WriteTransaction::begin(db, /*immediate=*/false));
    EndpointPage page;
    {
      CK_ASSIGN_OR_RETURN(auto count, db.prepare("SELECT count(*) FROM endpoints" + sql.where));
      for (size_t i = 0; i < sql.params.size(); ++i) count.bind(static_cast<int>(i + 1), sql.params[i]);
      CK_ASSIGN_OR_RETURN(bool row, count.step());
      page.total = row ? count.int64(0) : 0;
    }
    if (query.limit == 0) return page;
    CK_ASSIGN_OR_RETURN(auto stmt, db.prepare(std::string("SELECT ") + kColumns + " FROM endpoints" + sql.where +
                                              sql.order_limit));
    for (size_t i = 0; i < sql.params.size(); ++i) stmt.bind(static_cast<int>(i + 1), sql.params[i]);
    for (;;) {
      CK_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) return page;  // the transaction was read-only: rollback is fine
      page.rows.push_back(to_endpoint(stmt));
    }
  }

  Result<std::map<std::string, int64_t>> count_by_fingerprint() override {
    std::lock_guard lock(mu_);
    // A registry this process may only read can be older than pin_counts (schema 1);
    // a writer migrated it when it opened.
    bool counted = true;
    if (read_only_) {
      CK_ASSIGN_OR_RETURN(counted, has_schema_object(db_, "table", "pin_counts"));
    }
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare(counted ? "SELECT fingerprint, endpoints FROM pin_counts"
                                                       : "SELECT pinned_fingerprint, count(*) FROM endpoints "
                                                         "GROUP BY pinned_fingerprint"));
    std::map<std::string, int64_t> out;
    for (;;) {
      CK_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) return out;
      out[stmt.text(0)] = stmt.int64(1);
    }
  }

  // Point reads (the server checks an agent's identity at every check-in) use a
  // connection of their own: in WAL mode they never wait for the writer's commit.
  // Each concurrent caller (an I/O thread) takes a connection of its own from a small
  // pool: one shared connection made the I/O threads queue behind each other.
  Result<std::optional<Endpoint>> find(const std::string& agent_id) override {
    CK_ASSIGN_OR_RETURN(std::unique_ptr<PointReader> reader, point_readers_.take());
    sqlite::Stmt& stmt = reader->find;
    stmt.bind(1, agent_id);
    Result<bool> row = stmt.step();
    if (!row.ok()) return row.error();  // the connection is dropped, not pooled
    std::optional<Endpoint> found;
    if (*row) found = to_endpoint(stmt);
    CK_RETURN_IF_ERROR(stmt.reset());  // ends the read transaction
    point_readers_.give_back(std::move(reader));
    return found;
  }

 private:
  Status update_one(const char* sql, const std::string& agent_id, const std::string& value) {
    if (read_only_) {
      return make_error(ErrorKind::kPermissionDenied,
                        "permission denied: " + db_.path() + " (the registry is read-only here)");
    }
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare(sql));
    stmt.bind(1, agent_id).bind(2, value);
    CK_RETURN_IF_ERROR(stmt.run());
    if (sqlite3_changes(db_.handle()) == 0) return make_error(ErrorKind::kNotFound, "no agent " + agent_id);
    return ok_status();
  }

  std::mutex mu_;
  sqlite::SqliteDb db_;
  std::optional<sqlite::Stmt> upsert_, update_pin_;  // guarded by mu_, prepared on first use
  const bool read_only_;
  IdlePool<PointReader> point_readers_;  // after db_ and read_only_, which open them
  std::mutex query_mu_;
  std::optional<sqlite::SqliteDb> query_reader_;  // guarded by query_mu_
};

}  // namespace

Result<std::unique_ptr<EndpointRegistry>> open_sqlite_endpoint_registry(const std::string& path,
                                                                        bool read_only) {
  std::error_code ec;
  bool exists = std::filesystem::exists(path, ec);
  if (ec) {
    return make_error(ec == std::errc::permission_denied ? ErrorKind::kPermissionDenied : ErrorKind::kIo,
                      "cannot open the registry " + path + ": " + ec.message());
  }
  if (!read_only && exists &&
      (::access(path.c_str(), W_OK) != 0 || ::access(parent_directory(path).c_str(), W_OK) != 0)) {
    read_only = true;  // e.g. an auditor running certmgr -l: reading is all it needs
  }
  if (read_only) {
    if (!exists) return make_error(ErrorKind::kNotFound, "registry " + path + " does not exist");
    CK_ASSIGN_OR_RETURN(sqlite::SqliteDb db, open_db(path, Mode::kReadOnly));
    return std::unique_ptr<EndpointRegistry>(new SqliteEndpointRegistry(std::move(db), true));
  }
  if (!exists) CK_RETURN_IF_ERROR(ensure_directory(parent_directory(path), 0700));
  CK_ASSIGN_OR_RETURN(sqlite::SqliteDb db, open_db(path, Mode::kWriter));
  if (!exists) ::chmod(path.c_str(), 0600);
  // A registry already at this schema needs no write lock to be opened: under a busy
  // server (group commits back to back) certmgr status/-l would otherwise queue for it.
  auto is_current = [&db]() -> Result<bool> {
    CK_ASSIGN_OR_RETURN(auto version, db.prepare("PRAGMA user_version"));
    CK_ASSIGN_OR_RETURN(bool has_version, version.step());
    if (!has_version || version.int64(0) < kSchemaVersion) return false;
    // A certkeeper from before schema 2 that opened the file again recreated the index;
    // the triggers kept the counts right, but every pin report pays for it until it goes.
    CK_ASSIGN_OR_RETURN(bool old_index, has_schema_object(db, "index", "endpoints_by_fingerprint"));
    return !old_index;
  };
  CK_ASSIGN_OR_RETURN(bool current, is_current());
  if (!current) {
    CK_ASSIGN_OR_RETURN(auto txn, sqlite::WriteTransaction::begin(db, true));
    // Another opener (a --workers sibling) may have migrated it while we waited.
    CK_ASSIGN_OR_RETURN(bool migrated, is_current());
    if (!migrated) {
      CK_RETURN_IF_ERROR(db.exec(kSchema));
      for (const auto& [column, alter] : kIdentityColumns) {
        CK_ASSIGN_OR_RETURN(auto has, db.prepare("SELECT 1 FROM pragma_table_info('endpoints') WHERE name = ?1"));
        has.bind(1, column);
        CK_ASSIGN_OR_RETURN(bool present, has.step());
        if (!present) CK_RETURN_IF_ERROR(db.exec(alter));
      }
      CK_RETURN_IF_ERROR(db.exec(kRecountPins));
      CK_RETURN_IF_ERROR(db.exec("PRAGMA user_version = " + std::to_string(kSchemaVersion)));
    }
    CK_RETURN_IF_ERROR(txn.commit());
  }
  return std::unique_ptr<EndpointRegistry>(new SqliteEndpointRegistry(std::move(db), false));
}

}  // namespace ck::registry
