// PostgreSQL backend of CertStore (scale-out: several servers share one database).
//
// Same contract as the SQLite store (cert_store.h):
// - Tables live in the first schema of the connection's search_path (set it with
//   "?options=-csearch_path%3Dmyschema" in the URL); created when missing.
// - write(): READ COMMITTED transaction that first locks the `change_counter` row of
//   `meta` (SELECT ... FOR UPDATE under SET LOCAL lock_timeout = busy_timeout_ms, or
//   NOWAIT when it is 0), so writers are serialized across processes and servers; a
//   writer that cannot get the row in time gets kBusy "store is busy". Every commit
//   bumps change_counter, which change_counter() reads (cheap, pollable), and sends
//   NOTIFY certkeeper_store (servers LISTEN to notice at once).
// - read(): REPEATABLE READ READ ONLY snapshot.
// - The audit table is append-only: BEFORE UPDATE/DELETE/TRUNCATE triggers raise.
// - Private keys are sealed with the same KeyProtector as the SQLite store. The
//   key-encryption key is NOT in the database: it is read from
//   StoreOptions::key_file, else $CERTKEEPER_STORE_KEY_FILE, else
//   ./var/certkeeper-pg.kek (created 0600 when `create` is set). Every server sharing
//   the database must be given the same KEK file: opening checks the KEK against a
//   stored key (kCrypto when it does not open it) and never creates a new KEK for a
//   database that already holds sealed keys (kNotFound, "copy that file here"). data_dir() is the
//   KEK's folder; backups go to <data_dir>/backups.
// - Thread-safety: one connection behind a mutex; a CertTxn is used only by the
//   thread running the callback. A dropped connection is re-established on the next
//   transaction.
// SQL is kept to what CockroachDB/YugabyteDB also run (the audit triggers excepted
// on engines without PL/pgSQL triggers).
#include <filesystem>
#include <mutex>
#include <optional>
#include <vector>

#include "common/file_util.h"
#include "common/fault_point.h"
#include "store/cert_store.h"
#include "store/key_protector.h"
#include "store/postgres/pg_conn.h"

namespace ck::store {
namespace {

constexpr const char* kDefaultKekFile = "./var/certkeeper-pg.kek";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(
  key   TEXT PRIMARY KEY,
  value BIGINT NOT NULL);
INSERT INTO meta(key, value) VALUES ('schema_version', 1), ('change_counter', 0)
  ON CONFLICT (key) DO NOTHING;
CREATE TABLE IF NOT EXISTS certificates(
  fingerprint TEXT PRIMARY KEY,
  algorithm   TEXT NOT NULL,
  subject     TEXT NOT NULL,
  not_before  BIGINT NOT NULL,
  not_after   BIGINT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('current', 'retired', 'revoked')),
  exportable  BOOLEAN NOT NULL,
  generation  BIGINT NOT NULL,
  created_at  BIGINT NOT NULL,
  cert_pem    TEXT NOT NULL,
  sealed_key  BYTEA);
CREATE UNIQUE INDEX IF NOT EXISTS certificates_one_current
  ON certificates(status) WHERE status = 'current';
CREATE TABLE IF NOT EXISTS rotations(
  generation  BIGINT PRIMARY KEY,
  from_fp     TEXT NOT NULL,
  to_fp       TEXT NOT NULL,
  by_old      TEXT NOT NULL,
  by_new      TEXT NOT NULL,
  created_at  BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS audit(
  id           BIGSERIAL PRIMARY KEY,
  at           BIGINT NOT NULL,
  actor        TEXT NOT NULL,
  action       TEXT NOT NULL,
  detail       TEXT NOT NULL,
  fingerprints TEXT NOT NULL);
CREATE OR REPLACE FUNCTION ck_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE OR REPLACE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
  FOR EACH ROW EXECUTE FUNCTION ck_audit_append_only();
CREATE OR REPLACE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
  FOR EACH STATEMENT EXECUTE FUNCTION ck_audit_append_only();
)sql";

constexpr const char* kCertColumns =
    "fingerprint, algorithm, subject, not_before, not_after, status, exportable, generation, "
    "created_at, cert_pem, sealed_key IS NOT NULL";

using pg::Param;

class PostgresCertTxn final : public CertTxn {
 public:
  PostgresCertTxn(pg::PgConn& conn, const KeyProtector& keys, const Clock& clock)
      : conn_(conn), keys_(keys), clock_(clock) {}

  Result<std::optional<CertRecord>> current() override {
    return one(
        std::string("SELECT ") + kCertColumns + " FROM certificates WHERE status = 'current'", {});
  }
  Result<std::vector<CertRecord>> list() override {
    CK_ASSIGN_OR_RETURN(pg::Rows rows, conn_.exec(std::string("SELECT ") + kCertColumns +
                                                  " FROM certificates ORDER BY generation = 0, "
                                                  "generation, created_at, fingerprint"));
    std::vector<CertRecord> out;
    for (int i = 0; i < rows.size(); ++i) {
      CK_ASSIGN_OR_RETURN(CertRecord r, to_record(rows, i));
      out.push_back(std::move(r));
    }
    return out;
  }
  Result<std::optional<CertRecord>> find(const std::string& fp) override {
    return one(std::string("SELECT ") + kCertColumns + " FROM certificates WHERE fingerprint = $1",
               {Param::text(fp)});
  }
  Result<std::optional<crypto::PrivateKey>> private_key(const std::string& fp) override {
    CK_ASSIGN_OR_RETURN(pg::Rows rows,
                        conn_.exec("SELECT sealed_key FROM certificates WHERE fingerprint = $1",
                                   {Param::text(fp)}));
    if (rows.size() == 0 || rows.is_null(0, 0)) return std::optional<crypto::PrivateKey>();
    CK_ASSIGN_OR_RETURN(std::string sealed, rows.bytea(0, 0));
    CK_ASSIGN_OR_RETURN(crypto::PrivateKey key, keys_.unseal(sealed));
    if (key.fingerprint() != fp)
      return make_error(ErrorKind::kCorrupt, "stored key does not match certificate " + fp);
    return std::optional<crypto::PrivateKey>(std::move(key));
  }
  Result<std::vector<RotationRecord>> rotations() override {
    CK_ASSIGN_OR_RETURN(pg::Rows rows,
                        conn_.exec("SELECT generation, from_fp, to_fp, by_old, by_new, created_at "
                                   "FROM rotations ORDER BY generation"));
    std::vector<RotationRecord> out;
    for (int i = 0; i < rows.size(); ++i) {
      out.push_back(RotationRecord{rows.int64(i, 0), rows.text(i, 1), rows.text(i, 2),
                                   rows.text(i, 3), rows.text(i, 4), rows.int64(i, 5)});
    }
    return out;
  }
  Result<int64_t> max_generation() override {
    CK_ASSIGN_OR_RETURN(pg::Rows rows,
                        conn_.exec("SELECT coalesce(max(generation), 0) FROM certificates"));
    return rows.int64(0, 0);
  }
  Result<std::vector<AuditEntry>> audit_log(const AuditQuery& query) override {
    // The newest `limit` matching rows by the primary key, then put back in order.
    CK_ASSIGN_OR_RETURN(
        pg::Rows rows,
        conn_.exec("SELECT at, actor, action, detail, fingerprints FROM ("
                   "SELECT id, at, actor, action, detail, fingerprints FROM audit WHERE at >= $1 "
                   "ORDER BY id DESC LIMIT $2) AS newest ORDER BY id",
                   {Param::int64(query.since),
                    query.limit > 0 ? Param::int64(query.limit) : Param::null()}));  // NULL: no limit
    std::vector<AuditEntry> out;
    for (int i = 0; i < rows.size(); ++i) {
      out.push_back(AuditEntry{rows.int64(i, 0), rows.text(i, 1), rows.text(i, 2), rows.text(i, 3),
                               rows.text(i, 4)});
    }
    return out;
  }

  Status insert(const CertRecord& r, const crypto::PrivateKey* key) override {
    Param sealed = Param::null();
    if (key) {
      CK_ASSIGN_OR_RETURN(std::string s, keys_.seal(*key));
      sealed = Param::bytes(std::move(s));
    }
    auto res = conn_.exec(
        "INSERT INTO certificates(fingerprint, algorithm, subject, not_before, not_after, status, "
        "exportable, generation, created_at, cert_pem, sealed_key) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        {Param::text(r.fingerprint), Param::text(r.algorithm), Param::text(r.subject),
         Param::int64(r.not_before), Param::int64(r.not_after),
         Param::text(stored_status(r.status)), Param::text(r.exportable ? "t" : "f"),
         Param::int64(r.generation), Param::int64(r.created_at), Param::text(r.cert_pem), sealed});
    if (!res.ok() && res.error().kind == ErrorKind::kConflict) {
      return make_error(ErrorKind::kConflict,
                        "certificate " + r.fingerprint + " is already in the store");
    }
    if (!res.ok()) return res.error();
    return ok_status();
  }
  Status set_status(const std::string& fp, CertStatus status) override {
    return run("UPDATE certificates SET status = $2 WHERE fingerprint = $1",
               {Param::text(fp), Param::text(stored_status(status))});
  }
  Status set_generation(const std::string& fp, int64_t generation) override {
    return run("UPDATE certificates SET generation = $2 WHERE fingerprint = $1",
               {Param::text(fp), Param::int64(generation)});
  }
  Status erase_private_key(const std::string& fp) override {
    return run("UPDATE certificates SET sealed_key = NULL, exportable = FALSE WHERE fingerprint = $1",
               {Param::text(fp)});
  }
  Status insert_rotation(const RotationRecord& r) override {
    return run(
        "INSERT INTO rotations(generation, from_fp, to_fp, by_old, by_new, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        {Param::int64(r.generation), Param::text(r.from_fingerprint), Param::text(r.to_fingerprint),
         Param::text(r.by_old), Param::text(r.by_new), Param::int64(r.created_at)});
  }
  Status delete_all_certificates() override {
    CK_RETURN_IF_ERROR(run("DELETE FROM rotations", {}));
    return run("DELETE FROM certificates", {});
  }
  Status append_audit(const AuditEntry& e) override {
    return run(
        "INSERT INTO audit(at, actor, action, detail, fingerprints) VALUES ($1, $2, $3, $4, $5)",
        {Param::int64(e.at), Param::text(e.actor), Param::text(e.action), Param::text(e.detail),
         Param::text(e.fingerprints)});
  }

 private:
  // "expired" is derived from not_after, never stored.
  static const char* stored_status(CertStatus s) {
    return s == CertStatus::kExpired ? "retired" : status_name(s);
  }

  Status run(const std::string& sql, const std::vector<Param>& params) {
    CK_RETURN_IF_ERROR(conn_.exec(sql, params));
    return ok_status();
  }

  Result<CertRecord> to_record(const pg::Rows& rows, int i) {
    CertRecord r;
    r.fingerprint = rows.text(i, 0);
    r.algorithm = rows.text(i, 1);
    r.subject = rows.text(i, 2);
    r.not_before = rows.int64(i, 3);
    r.not_after = rows.int64(i, 4);
    CK_ASSIGN_OR_RETURN(r.status, parse_status(rows.text(i, 5)));
    if (r.status == CertStatus::kRetired && r.not_after < clock_.now())
      r.status = CertStatus::kExpired;
    r.exportable = rows.text(i, 6) == "t";
    r.generation = rows.int64(i, 7);
    r.created_at = rows.int64(i, 8);
    r.cert_pem = rows.text(i, 9);
    r.has_private_key = rows.text(i, 10) == "t";
    return r;
  }

  Result<std::optional<CertRecord>> one(const std::string& sql, const std::vector<Param>& params) {
    CK_ASSIGN_OR_RETURN(pg::Rows rows, conn_.exec(sql, params));
    if (rows.size() == 0) return std::optional<CertRecord>();
    CK_ASSIGN_OR_RETURN(CertRecord r, to_record(rows, 0));
    return std::optional<CertRecord>(std::move(r));
  }

  pg::PgConn& conn_;
  const KeyProtector& keys_;
  const Clock& clock_;
};

class PostgresCertStore final : public CertStore {
 public:
  PostgresCertStore(pg::PgConn conn, KeyProtector keys, const Clock& clock, int busy_timeout_ms)
      : conn_(std::move(conn)),
        keys_(std::move(keys)),
        clock_(clock),
        busy_timeout_ms_(busy_timeout_ms) {}

  Status read(const TxnFn& fn) override {
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(auto txn, pg::PgTransaction::begin(
                                      conn_, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    PostgresCertTxn t(conn_, keys_, clock_);
    CK_RETURN_IF_ERROR(fn(t));
    return txn.commit();
  }

  Status write(const TxnFn& fn) override {
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(auto txn,
                        pg::PgTransaction::begin(conn_, "BEGIN ISOLATION LEVEL READ COMMITTED"));
    // The writers' lock: one writer at a time across every process sharing the database.
    if (busy_timeout_ms_ > 0) {
      CK_RETURN_IF_ERROR(
          conn_.exec("SET LOCAL lock_timeout = '" + std::to_string(busy_timeout_ms_) + "ms'"));
    }
    CK_RETURN_IF_ERROR(
        conn_.exec(std::string("SELECT value FROM meta WHERE key = 'change_counter' FOR UPDATE") +
                   (busy_timeout_ms_ > 0 ? "" : " NOWAIT")));
    PostgresCertTxn t(conn_, keys_, clock_);
    CK_RETURN_IF_ERROR(fn(t));
    CK_RETURN_IF_ERROR(
        conn_.exec("UPDATE meta SET value = value + 1 WHERE key = 'change_counter'"));
    // Wakes the servers LISTENing (delivered at commit; they also poll the counter).
    CK_RETURN_IF_ERROR(pg::notify_best_effort(conn_, "certkeeper_store"));
    fault_point("store.write.before_commit");
    CK_RETURN_IF_ERROR(txn.commit());
    fault_point("store.write.committed");
    return ok_status();
  }

  Result<int64_t> change_counter() override {
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(pg::Rows rows, conn_.exec_autocommit_retry(
                                           "SELECT value FROM meta WHERE key = 'change_counter'"));
    return rows.size() ? rows.int64(0, 0) : int64_t{0};
  }

  std::string location() const override { return pg::redact_url(conn_.url()); }
  std::string backup_dir() const override { return data_dir() + "/backups"; }
  std::string data_dir() const override { return parent_directory(keys_.path()); }

 private:
  std::mutex mu_;
  pg::PgConn conn_;
  KeyProtector keys_;
  const Clock& clock_;
  const int busy_timeout_ms_;
};

Result<bool> has_store_tables(pg::PgConn& conn) {
  CK_ASSIGN_OR_RETURN(pg::Rows rows, conn.exec("SELECT count(*) FROM information_schema.tables "
                                               "WHERE table_schema = current_schema() "
                                               "AND table_name IN ('meta', 'certificates')"));
  return rows.int64(0, 0) == 2;
}

struct SealedSample {
  std::string fingerprint;
  std::string sealed;
};

// One sealed key from the store, to check the KEK against; nullopt when none is held.
Result<std::optional<SealedSample>> sealed_sample(pg::PgConn& conn) {
  CK_ASSIGN_OR_RETURN(pg::Rows rows, conn.exec("SELECT fingerprint, sealed_key FROM certificates "
                                               "WHERE sealed_key IS NOT NULL LIMIT 1"));
  if (rows.size() == 0) return std::optional<SealedSample>();
  CK_ASSIGN_OR_RETURN(std::string sealed, rows.bytea(0, 1));
  return std::optional<SealedSample>(SealedSample{rows.text(0, 0), std::move(sealed)});
}

}  // namespace

Result<std::unique_ptr<CertStore>> open_postgres_cert_store(const std::string& url,
                                                            const StoreOptions& options) {
  std::string kek = options.key_file.empty() ? key_file_path(kDefaultKekFile) : options.key_file;
  CK_ASSIGN_OR_RETURN(pg::PgConn conn, pg::PgConn::connect(url));
  CK_ASSIGN_OR_RETURN(bool exists, has_store_tables(conn));
  if (!exists && !options.create) {
    return make_error(ErrorKind::kNotFound, "store " + pg::redact_url(url) + " does not exist");
  }
  std::optional<SealedSample> sample;
  if (exists) {
    CK_ASSIGN_OR_RETURN(sample, sealed_sample(conn));
  }
  if (options.create && !std::filesystem::exists(kek)) {
    if (sample) {
      // Another server (or an earlier run) sealed keys here with its KEK: a fresh one
      // would open the store but never unseal a key.
      return make_error(ErrorKind::kNotFound,
                        "key-encryption key " + kek + " is missing, and " + pg::redact_url(url) +
                            " holds keys sealed with one: copy that file here (or set "
                            "CERTKEEPER_STORE_KEY_FILE)");
    }
    CK_RETURN_IF_ERROR(ensure_directory(parent_directory(kek), 0700));
  }
  CK_ASSIGN_OR_RETURN(KeyProtector keys, KeyProtector::open(kek, options.create));
  if (sample) {
    auto key = keys.unseal(sample->sealed);
    if (!key.ok() || key->fingerprint() != sample->fingerprint) {
      return make_error(ErrorKind::kCrypto, "key-encryption key " + kek +
                                                " does not open the keys in " +
                                                pg::redact_url(url) + " (wrong file?)");
    }
  }
  if (!exists) CK_RETURN_IF_ERROR(pg::apply_schema(conn, kSchema));
  if (options.require_write) {
    CK_ASSIGN_OR_RETURN(pg::Rows rows,
                        conn.exec("SELECT has_table_privilege('certificates', 'INSERT')"));
    if (rows.text(0, 0) != "t") {
      return make_error(ErrorKind::kPermissionDenied, "permission denied: " + pg::redact_url(url) +
                                                          " (run as the certkeeper administrator)");
    }
  }
  const Clock& clock = options.clock ? *options.clock : system_clock();
  return std::unique_ptr<CertStore>(
      new PostgresCertStore(std::move(conn), std::move(keys), clock, options.busy_timeout_ms));
}

}  // namespace ck::store
