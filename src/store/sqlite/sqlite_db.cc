#include "store/sqlite/sqlite_db.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace ck::sqlite {
namespace {

class RestrictiveUmask {
 public:
  explicit RestrictiveUmask(bool active) : active_(active), old_(active ? ::umask(077) : 0) {}
  ~RestrictiveUmask() {
    if (active_) ::umask(old_);
  }
  RestrictiveUmask(const RestrictiveUmask&) = delete;
  RestrictiveUmask& operator=(const RestrictiveUmask&) = delete;

 private:
  bool active_;
  mode_t old_;
};

// -wal and -shm files left by older versions (created before the database was chmodded)
// get no permission the database itself lacks. Best effort: they may belong to another user.
// By path, never open()+close(): closing any descriptor of a file drops this process's POSIX
// locks on it, which SQLite's other connections rely on.
void tighten_side_files(const std::string& path) {
  struct stat db{};
  if (::stat(path.c_str(), &db) != 0) return;
  for (const char* suffix : {"-wal", "-shm"}) {
    const std::string side = path + suffix;
    struct stat st{};
    if (::lstat(side.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const mode_t wanted = st.st_mode & db.st_mode & 0777;
    if ((st.st_mode & 0777) != wanted) (void)::chmod(side.c_str(), wanted);
  }
}

}  // namespace

Error sqlite_error(sqlite3* db, int rc, const std::string& what) {
  int primary = rc & 0xff;
  std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return Error{ErrorKind::kBusy,
                 "store is busy: another certmgr or server is writing it; try again"};
  }
  if (primary == SQLITE_READONLY || primary == SQLITE_PERM || primary == SQLITE_AUTH ||
      primary == SQLITE_CANTOPEN) {
    return Error{ErrorKind::kPermissionDenied, what + ": " + detail};
  }
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
    return Error{ErrorKind::kCorrupt, what + ": " + detail};
  }
  if (primary == SQLITE_FULL || primary == SQLITE_IOERR) return Error{ErrorKind::kIo, what + ": " + detail};
  if (primary == SQLITE_CONSTRAINT) return Error{ErrorKind::kConflict, what + ": " + detail};
  return Error{ErrorKind::kInternal, what + ": " + detail};
}

Stmt& Stmt::bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Stmt& Stmt::bind(int i, std::string_view text) {
  sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind_blob(int i, std::string_view blob) {
  sqlite3_bind_blob(stmt_, i, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

Result<bool> Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(db_, rc, "database error");
}

Status Stmt::run() {
  for (;;) {
    CK_ASSIGN_OR_RETURN(bool row, step());
    if (!row) return ok_status();
  }
}

Status Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  return ok_status();
}

std::string Stmt::text(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

// Waits for another connection's write lock in short naps. SQLite's own handler sleeps
// 1, 2, 5 ... up to 100 ms at a time, so a writer queued behind another process's group
// commit (six server workers on one registry file) kept sleeping long after the lock was
// free.
struct SqliteDb::BusyWait {
  std::chrono::milliseconds timeout{0};
  std::chrono::steady_clock::time_point started;

  static int on_busy(void* self, int count) {
    auto* w = static_cast<BusyWait*>(self);
    const auto now = std::chrono::steady_clock::now();
    if (count == 0) w->started = now;
    if (now - w->started >= w->timeout) return 0;  // SQLITE_BUSY to the caller
    // 50 us doubling to 2 ms: a commit holds the lock for about one fdatasync.
    std::this_thread::sleep_for(std::chrono::microseconds(std::min(2000, 50 << std::min(count, 6))));
    return 1;
  }
};

SqliteDb::SqliteDb(sqlite3* db, std::string path)
    : db_(db), path_(std::move(path)), busy_(std::make_unique<BusyWait>()) {}

SqliteDb::SqliteDb(SqliteDb&& o) noexcept : db_(o.db_), path_(std::move(o.path_)), busy_(std::move(o.busy_)) {
  o.db_ = nullptr;
}

Result<SqliteDb> SqliteDb::open(const std::string& path, const Options& options) {
  // SQLite's memory statistics take one process-wide mutex around every allocation;
  // nothing here reads them, and the server's I/O threads and writer contend on it.
  // Only possible before SQLite initializes (the first open); later calls are no-ops.
  static const int memstatus_off = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)memstatus_off;
  int flags = SQLITE_OPEN_NOMUTEX;
  flags |= options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  const bool may_create = options.create && !options.read_only;
  if (may_create) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  int rc;
  {
    // SQLite creates the database 0644 & ~umask, and later the -wal and -shm files with the
    // database's mode: create it 0600 from the start. umask is per process; another thread
    // creating a file meanwhile only gets a stricter mode.
    RestrictiveUmask umask_guard(may_create);
    rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  }
  SqliteDb db(raw, path);
  if (rc != SQLITE_OK) return sqlite_error(raw, rc, "cannot open " + path);
  if (!options.read_only) tighten_side_files(path);
  db.busy_->timeout = std::chrono::milliseconds(std::max(0, options.busy_timeout_ms));
  sqlite3_busy_handler(raw, &BusyWait::on_busy, db.busy_.get());
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

SqliteDb::~SqliteDb() {
  if (db_) sqlite3_close_v2(db_);
}

Status SqliteDb::exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (err) sqlite3_free(err);
  if (rc != SQLITE_OK) return sqlite_error(db_, rc, "database error");
  return ok_status();
}

Result<Stmt> SqliteDb::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return sqlite_error(db_, rc, "cannot prepare statement");
  return Stmt(db_, stmt);
}

Error SqliteDb::last_error(const std::string& what) const {
  return sqlite_error(db_, sqlite3_errcode(db_), what);
}

Result<WriteTransaction> WriteTransaction::begin(SqliteDb& db, bool immediate) {
  CK_RETURN_IF_ERROR(db.exec(immediate ? "BEGIN IMMEDIATE" : "BEGIN"));
  return WriteTransaction(&db);
}

WriteTransaction::~WriteTransaction() {
  if (db_) (void)db_->exec("ROLLBACK");
}

Status WriteTransaction::commit() {
  Status s = db_->exec("COMMIT");
  if (s.ok()) db_ = nullptr;
  return s;
}

}  // namespace ck::sqlite
