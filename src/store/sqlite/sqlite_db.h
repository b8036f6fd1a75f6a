// Thin RAII layer over the SQLite C API, shared by the store and the registry.
// A SqliteDb is one connection: use it from one thread at a time.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace ck::sqlite {

class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(stmt_); }

  // Binds are 1-based, as in SQLite.
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, std::string_view text);
  Stmt& bind_blob(int i, std::string_view blob);
  Stmt& bind_null(int i);
  Stmt& bind(int i, const std::string& text) { return bind(i, std::string_view(text)); }
  Stmt& bind(int i, const char* text) { return bind(i, std::string_view(text)); }
  Stmt& bind_optional(int i, const std::optional<std::string>& v) {
    return v ? bind(i, std::string_view(*v)) : bind_null(i);
  }

  // true: a row is ready; false: done.
  Result<bool> step();
  // Runs to completion.
  Status run();
  Status reset();

  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) const;
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class SqliteDb {
 public:
  struct Options {
    bool create = true;
    bool read_only = false;
    int busy_timeout_ms = 5000;
  };
  static Result<SqliteDb> open(const std::string& path, const Options& options);

  SqliteDb(SqliteDb&& o) noexcept;
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  ~SqliteDb();

  Status exec(const std::string& sql);
  Result<Stmt> prepare(std::string_view sql);
  // An Error for the connection's last failure; SQLITE_BUSY becomes kBusy.
  Error last_error(const std::string& what) const;
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  struct BusyWait;  // the busy handler's state (sqlite_db.cc)
  SqliteDb(sqlite3* db, std::string path);
  sqlite3* db_;
  std::string path_;
  std::unique_ptr<BusyWait> busy_;  // registered with db_: a stable address
};

// Maps an SQLite result code to an Error.
Error sqlite_error(sqlite3* db, int rc, const std::string& what);

// BEGIN IMMEDIATE / COMMIT, or ROLLBACK on destruction without commit.
class WriteTransaction {
 public:
  static Result<WriteTransaction> begin(SqliteDb& db, bool immediate = true);
  WriteTransaction(WriteTransaction&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  WriteTransaction(const WriteTransaction&) = delete;
  ~WriteTransaction();
  Status commit();

 private:
  explicit WriteTransaction(SqliteDb* db) : db_(db) {}
  SqliteDb* db_;
};

}  // namespace ck::sqlite
