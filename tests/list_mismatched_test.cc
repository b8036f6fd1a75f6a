// certmgr -l / list-mismatched and status's endpoint counts, on SQLite and on
// PostgreSQL: endpoints are recorded through the registry library, certmgr is the
// real binary, and its CSV is parsed back.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <sstream>

#include "registry/endpoint_registry.h"
#include "store/cert_store.h"
#include "store/postgres/pg_test_env.h"
#include "support/process.h"

namespace ck {
namespace {

using testing::ProcessResult;
using testing::RunOptions;
namespace json = boost::json;

constexpr const char* kStrong = "vT7#qLp2$wX9mZk4";

// Minimal RFC 4180 parser: rows of cells (quoted cells may hold , " CR LF).
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string cell;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') cell += '"', ++i;
      else if (c == '"') quoted = false;
      else cell += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(cell), cell.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      row.push_back(cell), cell.clear();
      rows.push_back(row), row.clear();
      ++i;
    } else {
      cell += c;
    }
  }
  EXPECT_TRUE(cell.empty() && row.empty()) << "CSV must end with CRLF";
  return rows;
}

class ListMismatchedTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir();
    if (GetParam() == "postgres") {
      CK_REQUIRE_POSTGRES();
      auto schema = pg::testing::TestSchema::create(pg::testing::server_url());
      ASSERT_TRUE(schema.ok()) << schema.error().message;
      schema_ = std::move(schema).value();
      url_ = schema_->url();
    } else {
      url_ = "sqlite:" + dir_ + "/ck.db";
    }
    env_.env["CERTKEEPER_STORE"] = url_;
    env_.env["CERTKEEPER_STORE_KEY_FILE"] = dir_ + "/store.kek";
    env_.unset_env = {"CERTKEEPER_PASSWORD"};
  }

  ProcessResult certmgr(std::vector<std::string> args) {
    args.insert(args.begin(), testing::bin("certmgr"));
    return testing::run(args, env_);
  }
  std::string current_fp() {
    auto r = certmgr({"status", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return std::string(json::parse(r.out).at("current").at("fingerprint").as_string());
  }

  std::string dir_, url_;
  RunOptions env_;
  std::unique_ptr<pg::testing::TestSchema> schema_;
};

TEST_P(ListMismatchedTest, ListsEveryEndpointNotOnTheCurrentCertificate) {
  ASSERT_EQ(certmgr({"-c", kStrong}).exit_code, 0);
  const std::string revoked = current_fp();
  ASSERT_EQ(certmgr({"-c", kStrong}).exit_code, 0);
  const std::string retired = current_fp();
  ASSERT_EQ(certmgr({"-c", kStrong}).exit_code, 0);
  const std::string current = current_fp();
  ASSERT_EQ(certmgr({"revoke", revoked}).exit_code, 0);
  const std::string unknown(64, 'a');

  auto registry = registry::open_endpoint_registry(url_);
  ASSERT_TRUE(registry.ok()) << registry.error().message;
  auto ep = [](std::string id, std::string host, std::string fp) {
    registry::Endpoint e;
    e.agent_id = std::move(id);
    e.hostname = std::move(host);
    e.ip_address = "10.0.0.7";
    e.domain = "corp";
    e.os = "linux";
    e.agent_version = "1.2.3";
    e.pinned_fingerprint = std::move(fp);
    e.first_seen = e.last_seen = 1764000000;
    return e;
  };
  ASSERT_TRUE((*registry)->upsert_batch({ep("a-current", "ok-host", current),
                                         ep("b-retired", "host, with \"comma\"", retired),
                                         ep("c-revoked", "=cmd|' /C calc'!A0", revoked),
                                         ep("d-unknown", "plain", unknown),
                                         ep("e-current", "ok-host-2", current)}).ok());

  auto r = certmgr({"-l", dir_ + "/mismatched.csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("3 endpoint(s)"), std::string::npos) << r.out;
  std::ifstream f(dir_ + "/mismatched.csv", std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  auto rows = parse_csv(ss.str());
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"agent_id", "hostname", "ip_address", "domain",
                                                "pinned_fingerprint", "pinned_status", "last_seen_utc",
                                                "agent_version"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"b-retired", "host, with \"comma\"", "10.0.0.7", "corp", retired,
                                                "retired", "2025-11-24T16:00:00Z", "1.2.3"}));
  EXPECT_EQ(rows[2][0], "c-revoked");
  EXPECT_EQ(rows[2][1], "'=cmd|' /C calc'!A0") << "formula cells are neutralised";
  EXPECT_EQ(rows[2][5], "revoked");
  EXPECT_EQ(rows[3][0], "d-unknown");
  EXPECT_EQ(rows[3][5], "unknown");

  // "-" writes the same CSV to stdout.
  auto out = certmgr({"list-mismatched", "-"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, ss.str());

  // status counts the endpoints pinning each certificate.
  auto st = certmgr({"status", "--json"});
  ASSERT_EQ(st.exit_code, 0);
  auto doc = json::parse(st.out);
  EXPECT_EQ(doc.at("current").at("endpoints").as_int64(), 2);
  std::map<std::string, int64_t> counts;
  for (auto& c : doc.at("certificates").as_array())
    counts[std::string(c.at("fingerprint").as_string())] = c.at("endpoints").as_int64();
  EXPECT_EQ(counts[retired], 1);
  EXPECT_EQ(counts[revoked], 1);
}

TEST_P(ListMismatchedTest, UnwritableTargetFailsCleanlyWithoutPartialFile) {
  ASSERT_EQ(certmgr({"-c", kStrong}).exit_code, 0);
  auto r = certmgr({"-l", dir_ + "/no/such/dir/out.csv"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot create"), std::string::npos) << r.err;
  EXPECT_EQ(certmgr({"-l"}).exit_code, 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, ListMismatchedTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ck
