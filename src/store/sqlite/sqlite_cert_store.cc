#include "store/sqlite/sqlite_cert_store.h"
#include "common/fault_point.h"

#include <sys/stat.h>
#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>

#include "common/file_util.h"
#include "store/key_protector.h"
#include "store/sqlite/sqlite_db.h"

namespace ck::store {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', 1), ('change_counter', 0);
CREATE TABLE IF NOT EXISTS certificates(
  fingerprint TEXT PRIMARY KEY,
  algorithm   TEXT NOT NULL,
  subject     TEXT NOT NULL,
  not_before  INTEGER NOT NULL,
  not_after   INTEGER NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('current', 'retired', 'revoked')),
  exportable  INTEGER NOT NULL,
  generation  INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  cert_pem    TEXT NOT NULL,
  sealed_key  BLOB);
CREATE UNIQUE INDEX IF NOT EXISTS certificates_one_current
  ON certificates(status) WHERE status = 'current';
CREATE TABLE IF NOT EXISTS rotations(
  generation  INTEGER PRIMARY KEY,
  from_fp     TEXT NOT NULL,
  to_fp       TEXT NOT NULL,
  by_old      TEXT NOT NULL,
  by_new      TEXT NOT NULL,
  created_at  INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit(
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  at           INTEGER NOT NULL,
  actor        TEXT NOT NULL,
  action       TEXT NOT NULL,
  detail       TEXT NOT NULL,
  fingerprints TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql";

constexpr const char* kCertColumns =
    "fingerprint, algorithm, subject, not_before, not_after, status, exportable, generation, "
    "created_at, cert_pem, sealed_key IS NOT NULL";

class SqliteCertTxn final : public CertTxn {
 public:
  SqliteCertTxn(sqlite::SqliteDb& db, const KeyProtector& keys, const Clock& clock)
      : db_(db), keys_(keys), clock_(clock) {}

  Result<std::optional<CertRecord>> current() override {
    return one(std::string("SELECT ") + kCertColumns + " FROM certificates WHERE status = 'current'", "");
  }
  Result<std::vector<CertRecord>> list() override {
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare(std::string("SELECT ") + kCertColumns +
                                               " FROM certificates ORDER BY generation = 0, "
                                               "generation, created_at, fingerprint"));
    std::vector<CertRecord> out;
    for (;;) {
      CK_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) break;
      CK_ASSIGN_OR_RETURN(CertRecord r, to_record(stmt));
      out.push_back(std::move(r));
    }
    return out;
  }
  Result<std::optional<CertRecord>> find(const std::string& fp) override {
    return one(std::string("SELECT ") + kCertColumns + " FROM certificates WHERE fingerprint = ?1", fp);
  }
  Result<std::optional<crypto::PrivateKey>> private_key(const std::string& fp) override {
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare("SELECT sealed_key FROM certificates WHERE fingerprint = ?1"));
    stmt.bind(1, fp);
    CK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row || stmt.is_null(0)) return std::optional<crypto::PrivateKey>();
    CK_ASSIGN_OR_RETURN(crypto::PrivateKey key, keys_.unseal(stmt.text(0)));
    if (key.fingerprint() != fp) return make_error(ErrorKind::kCorrupt, "stored key does not match certificate " + fp);
    return std::optional<crypto::PrivateKey>(std::move(key));
  }
  Result<std::vector<RotationRecord>> rotations() override {
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare("SELECT generation, from_fp, to_fp, by_old, by_new, created_at "
                                               "FROM rotations ORDER BY generation"));
    std::vector<RotationRecord> out;
    for (;;) {
      CK_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) break;
      out.push_back(RotationRecord{stmt.int64(0), stmt.text(1), stmt.text(2), stmt.text(3), stmt.text(4),
                                   stmt.int64(5)});
    }
    return out;
  }
  Result<int64_t> max_generation() override {
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare("SELECT coalesce(max(generation), 0) FROM certificates"));
    CK_ASSIGN_OR_RETURN(bool row, stmt.step());
    (void)row;
    return stmt.int64(0);
  }
  Result<std::vector<AuditEntry>> audit_log(const AuditQuery& query) override {
    // The newest `limit` matching rows by the primary key, then put back in order.
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare(
        "SELECT at, actor, action, detail, fingerprints FROM ("
        "SELECT id, at, actor, action, detail, fingerprints FROM audit WHERE at >= ?1 "
        "ORDER BY id DESC LIMIT ?2) ORDER BY id"));
    stmt.bind(1, query.since);
    stmt.bind(2, query.limit > 0 ? query.limit : int64_t{-1});  // SQLite: -1 is no limit
    std::vector<AuditEntry> out;
    for (;;) {
      CK_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) break;
      out.push_back(AuditEntry{stmt.int64(0), stmt.text(1), stmt.text(2), stmt.text(3), stmt.text(4)});
    }
    return out;
  }

  Status insert(const CertRecord& r, const crypto::PrivateKey* key) override {
    std::optional<std::string> sealed;
    if (key) {
      CK_ASSIGN_OR_RETURN(std::string s, keys_.seal(*key));
      sealed = std::move(s);
    }
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare(
        "INSERT INTO certificates(fingerprint, algorithm, subject, not_before, not_after, status, "
        "exportable, generation, created_at, cert_pem, sealed_key) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
    stmt.bind(1, r.fingerprint).bind(2, r.algorithm).bind(3, r.subject).bind(4, r.not_before)
        .bind(5, r.not_after).bind(6, stored_status(r.status)).bind(7, int64_t{r.exportable})
        .bind(8, r.generation).bind(9, r.created_at).bind(10, r.cert_pem);
    if (sealed) stmt.bind_blob(11, *sealed); else stmt.bind_null(11);
    Status s = stmt.run();
    if (!s.ok() && s.error().kind == ErrorKind::kConflict)
      return make_error(ErrorKind::kConflict, "certificate " + r.fingerprint + " is already in the store");
    return s;
  }
  Status set_status(const std::string& fp, CertStatus status) override {
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare("UPDATE certificates SET status = ?2 WHERE fingerprint = ?1"));
    stmt.bind(1, fp).bind(2, stored_status(status));
    return stmt.run();
  }
  Status set_generation(const std::string& fp, int64_t generation) override {
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare("UPDATE certificates SET generation = ?2 WHERE fingerprint = ?1"));
    stmt.bind(1, fp).bind(2, generation);
    return stmt.run();
  }
  Status erase_private_key(const std::string& fp) override {
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare(
        "UPDATE certificates SET sealed_key = NULL, exportable = 0 WHERE fingerprint = ?1"));
    stmt.bind(1, fp);
    return stmt.run();
  }
  Status insert_rotation(const RotationRecord& r) override {
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare(
        "INSERT INTO rotations(generation, from_fp, to_fp, by_old, by_new, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    stmt.bind(1, r.generation).bind(2, r.from_fingerprint).bind(3, r.to_fingerprint).bind(4, r.by_old)
        .bind(5, r.by_new).bind(6, r.created_at);
    return stmt.run();
  }
  Status delete_all_certificates() override {
    CK_RETURN_IF_ERROR(db_.exec("DELETE FROM rotations"));
    return db_.exec("DELETE FROM certificates");
  }
  Status append_audit(const AuditEntry& e) override {
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare(
        "INSERT INTO audit(at, actor, action, detail, fingerprints) VALUES (?1, ?2, ?3, ?4, ?5)"));
    stmt.bind(1, e.at).bind(2, e.actor).bind(3, e.action).bind(4, e.detail).bind(5, e.fingerprints);
    return stmt.run();
  }

 private:
  // "expired" is derived from not_after, never stored.
  static const char* stored_status(CertStatus s) {
    return s == CertStatus::kExpired ? "retired" : status_name(s);
  }

  Result<CertRecord> to_record(const sqlite::Stmt& s) {
    CertRecord r;
    r.fingerprint = s.text(0);
    r.algorithm = s.text(1);
    r.subject = s.text(2);
    r.not_before = s.int64(3);
    r.not_after = s.int64(4);
    CK_ASSIGN_OR_RETURN(r.status, parse_status(s.text(5)));
    if (r.status == CertStatus::kRetired && r.not_after < clock_.now()) r.status = CertStatus::kExpired;
    r.exportable = s.int64(6) != 0;
    r.generation = s.int64(7);
    r.created_at = s.int64(8);
    r.cert_pem = s.text(9);
    r.has_private_key = s.int64(10) != 0;
    return r;
  }

  Result<std::optional<CertRecord>> one(const std::string& sql, const std::string& arg) {
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare(sql));
    if (!arg.empty()) stmt.bind(1, arg);
    CK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) return std::optional<CertRecord>();
    CK_ASSIGN_OR_RETURN(CertRecord r, to_record(stmt));
    return std::optional<CertRecord>(std::move(r));
  }

  sqlite::SqliteDb& db_;
  const KeyProtector& keys_;
  const Clock& clock_;
};

class SqliteCertStore final : public CertStore {
 public:
  SqliteCertStore(sqlite::SqliteDb db, KeyProtector keys, const Clock& clock)
      : db_(std::move(db)), keys_(std::move(keys)), clock_(clock) {}

  Status read(const TxnFn& fn) override {
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(auto txn, sqlite::WriteTransaction::begin(db_, /*immediate=*/false));
    SqliteCertTxn t(db_, keys_, clock_);
    return fn(t);  // the destructor rolls back: nothing to keep
  }

  Status write(const TxnFn& fn) override {
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(auto txn, sqlite::WriteTransaction::begin(db_, /*immediate=*/true));
    SqliteCertTxn t(db_, keys_, clock_);
    CK_RETURN_IF_ERROR(fn(t));
    CK_RETURN_IF_ERROR(db_.exec("UPDATE meta SET value = value + 1 WHERE key = 'change_counter'"));
    fault_point("store.write.before_commit");
    CK_RETURN_IF_ERROR(txn.commit());
    fault_point("store.write.committed");
    return ok_status();
  }

  Result<int64_t> change_counter() override {
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(auto stmt, db_.prepare("SELECT value FROM meta WHERE key = 'change_counter'"));
    CK_ASSIGN_OR_RETURN(bool row, stmt.step());
    return row ? stmt.int64(0) : int64_t{0};
  }

  std::string location() const override { return "sqlite:" + db_.path(); }
  std::string backup_dir() const override { return data_dir() + "/backups"; }
  std::string data_dir() const override { return parent_directory(db_.path()); }

 private:
  std::mutex mu_;
  sqlite::SqliteDb db_;
  KeyProtector keys_;
  const Clock& clock_;
};

Status check_writable(const std::string& path) {
  const std::string dir = parent_directory(path);
  bool exists = ::access(path.c_str(), F_OK) == 0;
  // WAL needs to create -wal/-shm files beside the database, so the folder must be writable too.
  if ((exists && ::access(path.c_str(), W_OK) != 0) || ::access(dir.c_str(), W_OK) != 0) {
    return make_error(ErrorKind::kPermissionDenied,
                      "permission denied: " + path + " (run as the certkeeper administrator)");
  }
  // Root can write anywhere, but what it creates there (keys, backups) would be root's and
  // unreadable by the server, which runs as the folder's owner: act as that user instead.
  struct stat st;
  if (::geteuid() == 0 && ::stat(dir.c_str(), &st) == 0 && st.st_uid != 0) {
    const passwd* owner = ::getpwuid(st.st_uid);
    const std::string name = owner ? owner->pw_name : std::to_string(st.st_uid);
    return make_error(ErrorKind::kPermissionDenied, "permission denied: " + dir + " belongs to " + name +
                                                        " (run as the certkeeper administrator: sudo -u " + name +
                                                        " certmgr ...)");
  }
  return ok_status();
}

}  // namespace

Status check_sqlite_store_writable(const std::string& path) {
  if (::access(parent_directory(path).c_str(), F_OK) != 0) return ok_status();
  return check_writable(path);
}

Result<std::unique_ptr<CertStore>> open_sqlite_cert_store(const std::string& path,
                                                          const StoreOptions& options) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(path, ec);
  if (ec == std::errc::permission_denied) {
    // A folder this user may not enter (installed: /var/lib/certkeeper is 0750 certkeeper).
    return make_error(ErrorKind::kPermissionDenied,
                      "permission denied: " + path + " (run as the certkeeper administrator)");
  }
  if (ec) return make_error(ErrorKind::kIo, "cannot open the store " + path + ": " + ec.message());
  if (!exists && !options.create) {
    return make_error(ErrorKind::kNotFound, "store " + path + " does not exist");
  }
  if (!exists) CK_RETURN_IF_ERROR(ensure_directory(parent_directory(path), 0700));
  if (options.require_write || !exists) CK_RETURN_IF_ERROR(check_writable(path));

  CK_ASSIGN_OR_RETURN(KeyProtector keys,
                      KeyProtector::open(options.key_file.empty() ? key_file_path(path + ".kek")
                                                                  : options.key_file,
                                         options.create));
  sqlite::SqliteDb::Options db_options;
  db_options.create = options.create;
  db_options.busy_timeout_ms = options.busy_timeout_ms;
  CK_ASSIGN_OR_RETURN(sqlite::SqliteDb db, sqlite::SqliteDb::open(path, db_options));
  if (!exists) ::chmod(path.c_str(), 0600);
  CK_RETURN_IF_ERROR(db.exec("PRAGMA journal_mode = WAL"));
  CK_RETURN_IF_ERROR(db.exec("PRAGMA synchronous = FULL"));
  CK_RETURN_IF_ERROR(db.exec("PRAGMA foreign_keys = ON"));
  if (!exists || options.require_write || options.create) {
    // Schema creation is idempotent; IMMEDIATE so two first-time openers do not race.
    // Readers of an existing store skip it, so they need no write access.
    CK_ASSIGN_OR_RETURN(auto txn, sqlite::WriteTransaction::begin(db, true));
    CK_RETURN_IF_ERROR(db.exec(kSchema));
    CK_RETURN_IF_ERROR(txn.commit());
  }
  const Clock& clock = options.clock ? *options.clock : system_clock();
  return std::unique_ptr<CertStore>(new SqliteCertStore(std::move(db), std::move(keys), clock));
}

}  // namespace ck::store
