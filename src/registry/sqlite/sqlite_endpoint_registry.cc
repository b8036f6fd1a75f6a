#include "registry/sqlite/sqlite_endpoint_registry.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>

#include "common/file_util.h"
#include "store/sqlite/sqlite_db.h"

namespace ck::registry {
namespace {

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
  last_seen          INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS endpoints_by_fingerprint ON endpoints(pinned_fingerprint);
)sql";

constexpr const char* kColumns =
    "agent_id, hostname, ip_address, domain, os, agent_version, pinned_fingerprint, last_seq, "
    "first_seen, last_seen";

constexpr const char* kUpsert =
    "INSERT INTO endpoints(agent_id, hostname, ip_address, domain, os, agent_version, "
    "pinned_fingerprint, last_seq, first_seen, last_seen) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
    "ON CONFLICT(agent_id) DO UPDATE SET hostname = excluded.hostname, "
    "ip_address = excluded.ip_address, domain = excluded.domain, os = excluded.os, "
    "agent_version = excluded.agent_version, pinned_fingerprint = excluded.pinned_fingerprint, "
    "last_seq = excluded.last_seq, last_seen = excluded.last_seen";

constexpr const char* kUpdatePin =
    "UPDATE endpoints SET pinned_fingerprint = ?2, last_seen = max(last_seen, ?3) WHERE agent_id = ?1";

Endpoint to_endpoint(const sqlite::Stmt& s) {
  return Endpoint{s.text(0), s.text(1), s.text(2),  s.text(3),  s.text(4),
                  s.text(5), s.text(6), s.int64(7), s.int64(8), s.int64(9)};
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
  return db;
}

class SqliteEndpointRegistry final : public EndpointRegistry {
 public:
  SqliteEndpointRegistry(sqlite::SqliteDb db, bool read_only)
      : db_(std::move(db)), read_only_(read_only) {}

  Status upsert_batch(const std::vector<Endpoint>& endpoints) override {
    if (endpoints.empty()) return ok_status();
    if (read_only_) {
      return make_error(ErrorKind::kPermissionDenied,
                        "permission denied: " + db_.path() + " (the registry is read-only here)");
    }
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(auto txn, sqlite::WriteTransaction::begin(db_, /*immediate=*/true));
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare(kUpsert));
    CK_ASSIGN_OR_RETURN(auto pin, db_.prepare(kUpdatePin));
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
          .bind(10, e.last_seen);
      CK_RETURN_IF_ERROR(stmt.run());
      CK_RETURN_IF_ERROR(stmt.reset());
    }
    return txn.commit();
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

  Result<std::map<std::string, int64_t>> count_by_fingerprint() override {
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare("SELECT pinned_fingerprint, count(*) FROM endpoints "
                                               "GROUP BY pinned_fingerprint"));
    std::map<std::string, int64_t> out;
    for (;;) {
      CK_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) return out;
      out[stmt.text(0)] = stmt.int64(1);
    }
  }

  Result<std::optional<Endpoint>> find(const std::string& agent_id) override {
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare(std::string("SELECT ") + kColumns +
                                               " FROM endpoints WHERE agent_id = ?1"));
    stmt.bind(1, agent_id);
    CK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) return std::optional<Endpoint>();
    return std::optional<Endpoint>(to_endpoint(stmt));
  }

 private:
  std::mutex mu_;
  sqlite::SqliteDb db_;
  const bool read_only_;
};

}  // namespace

Result<std::unique_ptr<EndpointRegistry>> open_sqlite_endpoint_registry(const std::string& path,
                                                                        bool read_only) {
  bool exists = std::filesystem::exists(path);
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
  {
    CK_ASSIGN_OR_RETURN(auto txn, sqlite::WriteTransaction::begin(db, true));
    CK_RETURN_IF_ERROR(db.exec(kSchema));
    CK_RETURN_IF_ERROR(txn.commit());
  }
  return std::unique_ptr<EndpointRegistry>(new SqliteEndpointRegistry(std::move(db), false));
}

}  // namespace ck::registry
