#include "store/postgres/pg_conn.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string_view>

namespace ck::pg {
namespace {

constexpr const char* kBusyMessage =
    "store is busy: another certmgr or server is writing it; try again";

void ignore_notice(void*, const char*) {}  // "relation already exists, skipping" etc.

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Error pg_error(const PGresult* res, PGconn* conn, const std::string& what) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string detail = trim(res && *PQresultErrorMessage(res) ? PQresultErrorMessage(res)
                                                              : (conn ? PQerrorMessage(conn) : ""));
  if (!state) return Error{ErrorKind::kUnavailable, what + ": " + detail};
  std::string code(state);
  // lock_not_available (lock_timeout / NOWAIT), serialization_failure, deadlock_detected.
  if (code == "55P03" || code == "40001" || code == "40P01")
    return Error{ErrorKind::kBusy, kBusyMessage};
  if (code.rfind("23", 0) == 0) return Error{ErrorKind::kConflict, what + ": " + detail};
  if (code.rfind("08", 0) == 0 || code.rfind("57P", 0) == 0) {
    return Error{ErrorKind::kUnavailable, what + ": " + detail};
  }
  if (code == "42501") return Error{ErrorKind::kPermissionDenied, "permission denied: " + detail};
  if (code == "53100") return Error{ErrorKind::kIo, what + ": " + detail};  // disk_full
  return Error{ErrorKind::kInternal, what + ": " + detail};
}

namespace {

// PostgreSQL's array literal: "{e1,e2,...}", each element written by `append`.
template <class Values, class Append>
Param array_literal(const Values& values, Append append) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    append(out, values[i]);
  }
  out += '}';
  return Param::text(std::move(out));
}

}  // namespace

Param Param::text_array(const std::vector<std::string_view>& values) {
  // Every element double-quoted, with '"' and '\\' escaped: no element is read as NULL
  // or split at a comma, whatever it holds.
  return array_literal(values, [](std::string& out, std::string_view v) {
    out += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  });
}

Param Param::int64_array(const std::vector<int64_t>& values) {
  return array_literal(values, [](std::string& out, int64_t v) { out += std::to_string(v); });
}

std::string Rows::text(int row, int col) const {
  return std::string(PQgetvalue(r_.get(), row, col),
                     static_cast<size_t>(PQgetlength(r_.get(), row, col)));
}

int64_t Rows::int64(int row, int col) const {
  return std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10);
}

Result<std::string> Rows::bytea(int row, int col) const {
  size_t n = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_.get(), row, col)), &n);
  if (!raw) return make_error(ErrorKind::kInternal, "out of memory decoding bytea");
  std::unique_ptr<unsigned char, decltype(&PQfreemem)> owned(raw, &PQfreemem);
  return std::string(reinterpret_cast<const char*>(raw), n);
}

int64_t Rows::affected() const {
  const char* n = PQcmdTuples(r_.get());
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

Result<PgConn> PgConn::connect(const std::string& url) {
  // Later entries override earlier ones, so the URL may override the defaults.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"10", "certkeeper", url.c_str(), nullptr};
  UniqueConn conn(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (!conn) return make_error(ErrorKind::kInternal, "out of memory connecting to PostgreSQL");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return make_error(ErrorKind::kUnavailable, "cannot connect to PostgreSQL at " +
                                                   redact_url(url) + ": " +
                                                   trim(PQerrorMessage(conn.get())));
  }
  PQsetNoticeProcessor(conn.get(), &ignore_notice, nullptr);
  return PgConn(std::move(conn), url);
}

Status PgConn::ensure_connected() {
  if (PQstatus(conn_.get()) == CONNECTION_OK) return ok_status();
  PQreset(conn_.get());
  new_session();
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    return make_error(ErrorKind::kUnavailable, "lost the connection to PostgreSQL at " +
                                                   redact_url(url_) + ": " +
                                                   trim(PQerrorMessage(conn_.get())));
  }
  PQsetNoticeProcessor(conn_.get(), &ignore_notice, nullptr);
  return ok_status();
}

namespace {

// libpq's parallel arrays for a statement's parameters (they point into `params`).
struct WireParams {
  explicit WireParams(const std::vector<Param>& params)
      : values(params.size()), lengths(params.size()), formats(params.size()) {
    for (size_t i = 0; i < params.size(); ++i) {
      const auto& v = params[i].value();
      values[i] = v ? v->data() : nullptr;
      lengths[i] = v ? static_cast<int>(v->size()) : 0;
      formats[i] = params[i].binary() ? 1 : 0;
    }
  }
  int count() const { return static_cast<int>(values.size()); }
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
};

bool succeeded(const PGresult* res) {
  const ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

// invalid_sql_statement_name, duplicate_prepared_statement: the backend is not the one
// that prepared (a pooler), or already has the name.
bool lost_prepared_statement(const PGresult* res) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  return state && (std::strcmp(state, "26000") == 0 || std::strcmp(state, "42P05") == 0);
}

}  // namespace

void PgConn::new_session() {
  prepared_.clear();
  std::random_device rd;
  const uint64_t nonce = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "ck_%016llx_", static_cast<unsigned long long>(nonce));
  statement_prefix_ = prefix;
}

Result<Rows> PgConn::exec(const std::string& sql, const std::vector<Param>& params) {
  const WireParams wire(params);
  UniqueResult res(PQexecParams(conn_.get(), sql.c_str(), wire.count(), nullptr, wire.values.data(),
                                wire.lengths.data(), wire.formats.data(), /*resultFormat=*/0));
  if (!succeeded(res.get())) return pg_error(res.get(), conn_.get(), "database error");
  return Rows(std::move(res));
}

Result<Rows> PgConn::exec_prepared(const std::string& sql, const std::vector<Param>& params) {
  // A pooler gave us a backend without our statement: prepare no more on this connection.
  auto unprepared = [&]() -> Result<Rows> {
    prepare_off_ = true;
    prepared_.clear();
    if (in_transaction()) return make_error(ErrorKind::kBusy, "a connection pooler lost a prepared statement; retry");
    return exec(sql, params);
  };
  auto found = prepared_.find(sql);
  if (found == prepared_.end()) {
    if (prepare_off_ || prepared_.size() >= kMaxPrepared) return exec(sql, params);
    const std::string name = statement_prefix_ + std::to_string(prepared_.size());
    UniqueResult made(PQprepare(conn_.get(), name.c_str(), sql.c_str(), static_cast<int>(params.size()), nullptr));
    if (!succeeded(made.get())) {
      if (lost_prepared_statement(made.get())) return unprepared();
      return pg_error(made.get(), conn_.get(), "database error");
    }
    found = prepared_.emplace(sql, name).first;
  }
  const WireParams wire(params);
  UniqueResult res(PQexecPrepared(conn_.get(), found->second.c_str(), wire.count(), wire.values.data(),
                                  wire.lengths.data(), wire.formats.data(), /*resultFormat=*/0));
  if (succeeded(res.get())) return Rows(std::move(res));
  if (lost_prepared_statement(res.get())) return unprepared();
  return pg_error(res.get(), conn_.get(), "database error");
}

template <class Run>
Result<Rows> PgConn::retry_after_drop(Run run) {
  CK_RETURN_IF_ERROR(ensure_connected());
  auto rows = run();
  if (rows.ok() || PQstatus(conn_.get()) != CONNECTION_BAD) return rows;
  CK_RETURN_IF_ERROR(ensure_connected());
  return run();
}

Result<Rows> PgConn::exec_autocommit_retry(const std::string& sql, const std::vector<Param>& params) {
  return retry_after_drop([&] { return exec(sql, params); });
}

Result<Rows> PgConn::exec_prepared_autocommit_retry(const std::string& sql, const std::vector<Param>& params) {
  return retry_after_drop([&] { return exec_prepared(sql, params); });
}

Status PgConn::exec_script(const std::string& sql) {
  UniqueResult res(PQexec(conn_.get(), sql.c_str()));
  ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    return pg_error(res.get(), conn_.get(), "database error");
  return ok_status();
}

bool PgConn::in_transaction() const { return PQtransactionStatus(conn_.get()) != PQTRANS_IDLE; }

std::string PgConn::quote_identifier(const std::string& name) const {
  std::unique_ptr<char, decltype(&PQfreemem)> q(
      PQescapeIdentifier(conn_.get(), name.data(), name.size()), &PQfreemem);
  return q ? std::string(q.get()) : std::string();
}

Result<PgTransaction> PgTransaction::begin(PgConn& conn, const std::string& begin_sql) {
  CK_RETURN_IF_ERROR(conn.ensure_connected());
  auto begun = conn.exec(begin_sql);
  if (!begun.ok() && PQstatus(conn.get()) == CONNECTION_BAD) {
    // The server dropped an idle connection (restart, failover): nothing has been
    // done yet, so reconnecting and beginning again is safe.
    CK_RETURN_IF_ERROR(conn.ensure_connected());
    begun = conn.exec(begin_sql);
  }
  if (!begun.ok()) return begun.error();
  return PgTransaction(&conn);
}

PgTransaction::~PgTransaction() {
  if (conn_ && conn_->in_transaction()) (void)conn_->exec("ROLLBACK");
}

Status PgTransaction::commit() {
  PgConn* conn = conn_;
  conn_ = nullptr;
  UniqueResult res(PQexec(conn->get(), "COMMIT"));
  ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK) {
    Error e = pg_error(res.get(), conn->get(), "commit failed");
    if (conn->in_transaction()) (void)conn->exec("ROLLBACK");
    return e;
  }
  // COMMIT of a transaction that already failed answers "ROLLBACK", not an error.
  if (std::strcmp(PQcmdStatus(res.get()), "COMMIT") != 0) {
    return make_error(ErrorKind::kInternal, "commit failed: the transaction was rolled back");
  }
  return ok_status();
}

Status apply_schema(PgConn& conn, const std::string& sql) {
  for (int attempt = 0;; ++attempt) {
    Status s = [&]() -> Status {
      CK_ASSIGN_OR_RETURN(auto txn, PgTransaction::begin(conn));
      CK_RETURN_IF_ERROR(conn.exec_script(sql));
      return txn.commit();
    }();
    // Two first-time openers racing on CREATE ... IF NOT EXISTS: one gets a unique
    // violation on the catalog; the second attempt sees the finished objects.
    if (s.ok() || attempt >= 4 ||
        (s.error().kind != ErrorKind::kConflict && s.error().kind != ErrorKind::kBusy)) {
      return s;
    }
  }
}

Status notify_best_effort(PgConn& conn, const std::string& channel) {
  CK_RETURN_IF_ERROR(conn.exec("SAVEPOINT ck_notify"));
  if (!conn.exec("NOTIFY " + conn.quote_identifier(channel)).ok()) {
    return conn.exec("ROLLBACK TO SAVEPOINT ck_notify").ok() ? ok_status()
                                                                : make_error(ErrorKind::kUnavailable, "savepoint lost");
  }
  CK_RETURN_IF_ERROR(conn.exec("RELEASE SAVEPOINT ck_notify"));
  return ok_status();
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// libpq percent-decodes URI parameter names too ("pass%77ord" is "password").
std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool secret_key(std::string_view key) { return key == "password" || key == "sslpassword"; }

}  // namespace

std::string redact_url(const std::string& url) {
  // postgresql://user:password@host/db?password=x&sslpassword=y -> postgresql://user@host/db;
  // "password=x" in a "key=value" connection string is dropped as well.
  auto scheme = url.find("://");
  if (scheme == std::string::npos) {
    if (url.find('=') == std::string::npos) return url;  // sqlite:PATH and the like
    // libpq "key=value key='value'" form: drop the secret pairs.
    std::string out;
    size_t i = 0;
    while (i < url.size()) {
      while (i < url.size() && url[i] == ' ') ++i;
      size_t start = i;
      while (i < url.size() && url[i] != '=' && url[i] != ' ') ++i;
      std::string key = url.substr(start, i - start);
      while (i < url.size() && url[i] == ' ') ++i;
      if (i < url.size() && url[i] == '=') {
        ++i;
        while (i < url.size() && url[i] == ' ') ++i;
        if (i < url.size() && url[i] == '\'') {
          for (++i; i < url.size() && url[i] != '\''; ++i) {
            if (url[i] == '\\') ++i;
          }
          ++i;
        } else {
          while (i < url.size() && url[i] != ' ') ++i;
        }
      }
      if (!key.empty() && !secret_key(key)) {
        if (!out.empty()) out += ' ';
        out += url.substr(start, std::min(i, url.size()) - start);
      }
    }
    return out;
  }
  // userinfo: libpq looks for '@' up to the first '/', so a raw '?' or '#' may be part
  // of the password. Drop everything from the first ':' to the last '@' before '/'.
  const size_t authority = scheme + 3;
  size_t slash = url.find('/', authority);
  size_t at = url.rfind('@', slash == std::string::npos ? std::string::npos : slash);
  std::string out = url;
  if (at != std::string::npos && at >= authority) {
    size_t colon = url.find(':', authority);
    if (colon < at) out = url.substr(0, colon) + url.substr(at);
  }
  // Query parameters: drop password= and sslpassword= (names may be percent-encoded).
  size_t query = out.find('?', authority);
  if (query == std::string::npos) return out;
  std::string kept;
  for (size_t pos = query + 1; pos <= out.size();) {
    size_t amp = out.find('&', pos);
    if (amp == std::string::npos) amp = out.size();
    std::string_view param(out.data() + pos, amp - pos);
    if (!param.empty() && !secret_key(percent_decode(param.substr(0, param.find('='))))) {
      if (!kept.empty()) kept += '&';
      kept += param;
    }
    pos = amp + 1;
  }
  return out.substr(0, query) + (kept.empty() ? "" : "?" + kept);
}

std::string url_with_search_path(const std::string& url, const std::string& schema) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
         schema;
}

}  // namespace ck::pg
