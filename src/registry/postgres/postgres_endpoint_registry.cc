#include "registry/postgres/postgres_endpoint_registry.h"

#include <algorithm>
#include <map>
#include <set>
#include <mutex>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "registry/endpoint_query_sql.h"
#include "registry/idle_pool.h"
#include "registry/upsert_rule.h"
#include "store/postgres/pg_conn.h"

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
  last_seq           BIGINT NOT NULL,
  first_seen         BIGINT NOT NULL,
  last_seen          BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS endpoints_by_fingerprint ON endpoints(pinned_fingerprint);
ALTER TABLE endpoints ADD COLUMN IF NOT EXISTS key_fingerprint TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN IF NOT EXISTS enrollment TEXT NOT NULL DEFAULT 'accepted';
)sql";

constexpr const char* kColumns =
    "agent_id, hostname, ip_address, domain, os, agent_version, pinned_fingerprint, last_seq, "
    "first_seen, last_seen, key_fingerprint, enrollment";
constexpr int kFetchRows = 1000;
constexpr int kMaxAttempts = 3;

Endpoint to_endpoint(const pg::Rows& r, int i) {
  Endpoint e{r.text(i, 0), r.text(i, 1), r.text(i, 2),  r.text(i, 3),  r.text(i, 4),
             r.text(i, 5), r.text(i, 6), r.int64(i, 7), r.int64(i, 8), r.int64(i, 9)};
  e.key_fingerprint = r.text(i, 10);
  e.enrollment = r.text(i, 11);
  return e;
}

// A batch as three statements: pin reports, check-ins, pin reports. One statement may
// not touch a row twice (ON CONFLICT DO UPDATE), so per agent id only what a run of the
// batch in order would leave is kept: its last check-in (with the earliest first_seen
// of its check-ins), the last pin report before that check-in, and the last one after
// it. The pin before the check-in still counts when the check-in is refused (another
// key's): the pin report came over the agent's own channel, as on SQLite.
// Sorted by agent_id: usually the same lock order on every server; a deadlock (also
// across the statements) aborts one batch (kBusy), which upsert_batch retries.
struct BatchStatements {
  std::vector<Endpoint> pins_before, checkins, pins_after;
};

BatchStatements dedupe_sorted(const std::vector<Endpoint>& endpoints) {
  struct Latest {
    std::optional<Endpoint> pin_before, checkin, pin_after;
  };
  // A later pin report moves the pin; last_seen only ever grows.
  auto take_pin = [](std::optional<Endpoint>& slot, const Endpoint& e) {
    const int64_t seen = slot ? std::max(slot->last_seen, e.last_seen) : e.last_seen;
    slot = e;
    slot->last_seen = seen;
  };
  std::map<std::string, Latest> by_id;
  for (const Endpoint& e : endpoints) {
    Latest& l = by_id[e.agent_id];
    if (e.pin_report) {
      take_pin(l.checkin ? l.pin_after : l.pin_before, e);
      continue;
    }
    if (l.pin_after) {  // it now comes before the latest check-in
      take_pin(l.pin_before, *l.pin_after);
      l.pin_after.reset();
    }
    const int64_t first = l.checkin ? std::min(l.checkin->first_seen, e.first_seen) : e.first_seen;
    l.checkin = e;
    l.checkin->first_seen = first;
  }
  BatchStatements out;
  for (auto& [id, l] : by_id) {
    if (l.pin_before) out.pins_before.push_back(std::move(*l.pin_before));
    if (l.checkin) out.checkins.push_back(std::move(*l.checkin));
    if (l.pin_after) out.pins_after.push_back(std::move(*l.pin_after));
  }
  return out;
}

const std::string kFindSql = std::string("SELECT ") + kColumns + " FROM endpoints WHERE agent_id = $1";

// The whole batch as arrays, one per column (unnest): one statement text whatever the
// batch size, so it is prepared once. Only the key holder (or the first key, on a row
// with none) writes the row; the rows written come back, so the others can be refused.
const std::string kUpsertSql = std::string("INSERT INTO endpoints(") + kColumns +
                               ") SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
                               "$5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], "
                               "$11::text[], $12::text[])" +
                               kOnConflictUpdate + " RETURNING agent_id";

// Pin reports: existing rows only.
constexpr const char* kUpdatePinsSql =
    "UPDATE endpoints AS e SET pinned_fingerprint = v.fp, last_seen = GREATEST(e.last_seen, v.ts) "
    "FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v(id, fp, ts) WHERE e.agent_id = v.id";

// A batch in statements of at most kMaxStatementBytes of parameters (CockroachDB
// refuses a client message over 16 MiB; ten thousand rows of long, escaped fields
// would pass that).
constexpr size_t kMaxStatementBytes = 4 << 20;
std::vector<std::span<const Endpoint>> in_chunks(const std::vector<Endpoint>& rows) {
  std::vector<std::span<const Endpoint>> chunks;
  size_t start = 0, bytes = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Endpoint& e = rows[i];
    // Escaping may double a field; 16 bytes of quotes, commas and numbers per field.
    const size_t row = 2 * (e.agent_id.size() + e.hostname.size() + e.ip_address.size() + e.domain.size() +
                            e.os.size() + e.agent_version.size() + e.pinned_fingerprint.size() +
                            e.key_fingerprint.size() + e.enrollment.size()) +
                       12 * 16;
    if (i > start && bytes + row > kMaxStatementBytes) {
      chunks.emplace_back(rows.data() + start, i - start);
      start = i;
      bytes = 0;
    }
    bytes += row;
  }
  if (start < rows.size()) chunks.emplace_back(rows.data() + start, rows.size() - start);
  return chunks;
}

// One text[] or bigint[] parameter: a column of the batch.
template <class Field>
pg::Param text_column(std::span<const Endpoint> rows, Field field) {
  std::vector<std::string_view> values;
  values.reserve(rows.size());
  for (const Endpoint& e : rows) values.emplace_back(e.*field);
  return pg::Param::text_array(values);
}
template <class Field>
pg::Param int64_column(std::span<const Endpoint> rows, Field field) {
  std::vector<int64_t> values;
  values.reserve(rows.size());
  for (const Endpoint& e : rows) values.push_back(e.*field);
  return pg::Param::int64_array(values);
}

class PostgresEndpointRegistry final : public EndpointRegistry {
 public:
  explicit PostgresEndpointRegistry(pg::PgConn conn)
      : conn_(std::move(conn)), point_readers_([url = conn_.url()]() -> Result<std::unique_ptr<pg::PgConn>> {
          CK_ASSIGN_OR_RETURN(pg::PgConn c, pg::PgConn::connect(url));
          return std::make_unique<pg::PgConn>(std::move(c));
        }) {}

  Status upsert_batch(const std::vector<Endpoint>& endpoints, std::vector<std::string>* refused) override {
    if (endpoints.empty()) return ok_status();
    const BatchStatements batch = dedupe_sorted(endpoints);
    std::lock_guard lock(mu_);
    // Serialization failures and deadlocks (kBusy) are retried: CockroachDB in
    // particular asks clients to retry contended transactions.
    for (int attempt = 1;; ++attempt) {
      if (refused) refused->clear();
      Status s = upsert_once_locked(batch, refused);
      if (s.ok() || s.error().kind != ErrorKind::kBusy || attempt == kMaxAttempts) return s;
    }
  }

  Status for_each_mismatched(const std::string& current_fingerprint,
                             const std::function<Status(const Endpoint&)>& fn) override {
    CK_ASSIGN_OR_RETURN(pg::PgConn scan, pg::PgConn::connect(conn_.url()));
    CK_ASSIGN_OR_RETURN(auto txn, pg::PgTransaction::begin(
                                      scan, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    CK_RETURN_IF_ERROR(
        scan.exec(std::string("DECLARE ck_mismatched NO SCROLL CURSOR FOR SELECT ") + kColumns +
                      " FROM endpoints WHERE pinned_fingerprint <> $1 ORDER BY agent_id",
                  {pg::Param::text(current_fingerprint)}));
    const std::string fetch = "FETCH " + std::to_string(kFetchRows) + " FROM ck_mismatched";
    for (;;) {
      CK_ASSIGN_OR_RETURN(pg::Rows rows, scan.exec(fetch));
      for (int i = 0; i < rows.size(); ++i) CK_RETURN_IF_ERROR(fn(to_endpoint(rows, i)));
      if (rows.size() < kFetchRows) break;
    }
    return txn.commit();
  }

  Status for_each_endpoint(const std::function<Status(const Endpoint&)>& fn) override {
    CK_ASSIGN_OR_RETURN(pg::PgConn scan, pg::PgConn::connect(conn_.url()));
    CK_ASSIGN_OR_RETURN(auto txn, pg::PgTransaction::begin(scan, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    CK_RETURN_IF_ERROR(scan.exec(std::string("DECLARE ck_all NO SCROLL CURSOR FOR SELECT ") + kColumns +
                                 " FROM endpoints ORDER BY agent_id"));
    const std::string fetch = "FETCH " + std::to_string(kFetchRows) + " FROM ck_all";
    for (;;) {
      CK_ASSIGN_OR_RETURN(pg::Rows rows, scan.exec(fetch));
      for (int i = 0; i < rows.size(); ++i) CK_RETURN_IF_ERROR(fn(to_endpoint(rows, i)));
      if (rows.size() < kFetchRows) break;
    }
    return txn.commit();
  }

  Status set_enrollment(const std::string& agent_id, const std::string& enrollment) override {
    return update_one("UPDATE endpoints SET enrollment = $2 WHERE agent_id = $1", agent_id, enrollment);
  }

  Status forget_key(const std::string& agent_id) override {
    return update_one("UPDATE endpoints SET key_fingerprint = '', enrollment = $2 WHERE agent_id = $1", agent_id,
                      kEnrollmentPending);
  }

  // The console's pages: a connection of their own (a slow search never delays the
  // point reads of check-ins), the count and the page from one snapshot.
  Result<EndpointPage> query_endpoints(const EndpointQuery& query) override {
    if (query.offset < 0 || query.limit < 0) return make_error(ErrorKind::kInvalidArgument, "negative offset or limit");
    const EndpointQuerySql sql = endpoint_query_sql(query, "$", "strpos");
    std::vector<pg::Param> params;
    for (const auto& p : sql.params) params.push_back(pg::Param::text(p));
    std::lock_guard lock(query_mu_);
    if (!query_reader_) {
      CK_ASSIGN_OR_RETURN(pg::PgConn r, pg::PgConn::connect(conn_.url()));
      query_reader_.emplace(std::move(r));
    }
    auto attempt = [&]() -> Result<EndpointPage> {
      CK_ASSIGN_OR_RETURN(auto txn, pg::PgTransaction::begin(*query_reader_,
                                                             "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
      EndpointPage page;
      CK_ASSIGN_OR_RETURN(pg::Rows count, query_reader_->exec("SELECT count(*) FROM endpoints" + sql.where, params));
      page.total = count.size() > 0 ? count.int64(0, 0) : 0;
      if (query.limit > 0) {
        CK_ASSIGN_OR_RETURN(pg::Rows rows, query_reader_->exec(std::string("SELECT ") + kColumns + " FROM endpoints" +
                                                                   sql.where + sql.order_limit,
                                                               params));
        for (int i = 0; i < rows.size(); ++i) page.rows.push_back(to_endpoint(rows, i));
      }
      CK_RETURN_IF_ERROR(txn.commit());
      return page;
    };
    auto page = attempt();
    if (!page.ok() && page.error().kind == ErrorKind::kUnavailable) {
      // The connection may have been dropped (a database restart): reconnect once.
      query_reader_.reset();
      CK_ASSIGN_OR_RETURN(pg::PgConn r, pg::PgConn::connect(conn_.url()));
      query_reader_.emplace(std::move(r));
      page = attempt();
    }
    return page;
  }

  Result<std::map<std::string, int64_t>> count_by_fingerprint() override {
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(pg::Rows rows, conn_.exec_autocommit_retry(
                                           "SELECT pinned_fingerprint, count(*) FROM endpoints "
                                           "GROUP BY pinned_fingerprint"));
    std::map<std::string, int64_t> out;
    for (int i = 0; i < rows.size(); ++i) out[rows.text(i, 0)] = rows.int64(i, 1);
    return out;
  }

  // Point reads (an identity check at every check-in) use connections of their own, so
  // they never queue behind a group commit; one per concurrent caller (an I/O thread),
  // so the I/O threads do not queue behind each other's round trips either.
  Result<std::optional<Endpoint>> find(const std::string& agent_id) override {
    CK_ASSIGN_OR_RETURN(std::unique_ptr<pg::PgConn> reader, point_readers_.take());
    // On an error the connection is dropped, not pooled.
    CK_ASSIGN_OR_RETURN(pg::Rows rows,
                        reader->exec_prepared_autocommit_retry(kFindSql, {pg::Param::text(agent_id)}));
    point_readers_.give_back(std::move(reader));
    if (rows.size() == 0) return std::optional<Endpoint>();
    return std::optional<Endpoint>(to_endpoint(rows, 0));
  }

 private:
  // One attempt; mu_ held.
  Status update_one(const char* sql, const std::string& agent_id, const std::string& value) {
    std::lock_guard lock(mu_);
    CK_ASSIGN_OR_RETURN(pg::Rows rows, conn_.exec_autocommit_retry(sql, {pg::Param::text(agent_id), pg::Param::text(value)}));
    if (rows.affected() == 0) return make_error(ErrorKind::kNotFound, "no agent " + agent_id);
    return ok_status();
  }

  Status update_pins_locked(const std::vector<Endpoint>& pins_all) {
    for (const auto& pins : in_chunks(pins_all)) {
      CK_RETURN_IF_ERROR(conn_.exec_prepared(
          kUpdatePinsSql, {text_column(pins, &Endpoint::agent_id), text_column(pins, &Endpoint::pinned_fingerprint),
                           int64_column(pins, &Endpoint::last_seen)}));
    }
    return ok_status();
  }

  Status upsert_once_locked(const BatchStatements& batch, std::vector<std::string>* refused) {
    CK_ASSIGN_OR_RETURN(auto txn, pg::PgTransaction::begin(conn_));
    CK_RETURN_IF_ERROR(update_pins_locked(batch.pins_before));
    for (const auto& rows : in_chunks(batch.checkins)) {
      CK_ASSIGN_OR_RETURN(
          pg::Rows written,
          conn_.exec_prepared(kUpsertSql, {text_column(rows, &Endpoint::agent_id), text_column(rows, &Endpoint::hostname),
                                           text_column(rows, &Endpoint::ip_address), text_column(rows, &Endpoint::domain),
                                           text_column(rows, &Endpoint::os), text_column(rows, &Endpoint::agent_version),
                                           text_column(rows, &Endpoint::pinned_fingerprint),
                                           int64_column(rows, &Endpoint::last_seq), int64_column(rows, &Endpoint::first_seen),
                                           int64_column(rows, &Endpoint::last_seen),
                                           text_column(rows, &Endpoint::key_fingerprint),
                                           text_column(rows, &Endpoint::enrollment)}));
      if (refused && written.size() < static_cast<int>(rows.size())) {
        std::set<std::string> ok;
        for (int r = 0; r < written.size(); ++r) ok.insert(written.text(r, 0));
        for (const Endpoint& e : rows) {
          if (!ok.count(e.agent_id)) refused->push_back(e.agent_id);
        }
      }
    }
    CK_RETURN_IF_ERROR(update_pins_locked(batch.pins_after));
    return txn.commit();
  }

  std::mutex mu_;
  pg::PgConn conn_;
  IdlePool<pg::PgConn> point_readers_;  // after conn_, whose URL opens them
  std::mutex query_mu_;
  std::optional<pg::PgConn> query_reader_;  // guarded by query_mu_
};

}  // namespace

Result<std::unique_ptr<EndpointRegistry>> open_postgres_endpoint_registry(const std::string& url) {
  CK_ASSIGN_OR_RETURN(pg::PgConn conn, pg::PgConn::connect(url));
  CK_RETURN_IF_ERROR(pg::apply_schema(conn, kSchema));
  return std::unique_ptr<EndpointRegistry>(new PostgresEndpointRegistry(std::move(conn)));
}

}  // namespace ck::registry
