// certmgr's output habits, with the real binary: `audit` (order, actors, --since,
// --limit, --json, escaping), --json on every read command checked against the shapes
// docs/output.md documents, --quiet / --verbose, and progress shown on a terminal (a
// pseudo-terminal made by util-linux `script`) and never when stderr is a pipe.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "registry/endpoint_registry.h"
#include "store/cert_store.h"
#include "support/process.h"

namespace ck {
namespace {

using testing::ProcessResult;
using testing::RunOptions;
namespace json = boost::json;

constexpr const char* kStrong = "vT7#qLp2$wX9mZk4";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, sep)) out.push_back(cell);
  return out;
}

std::string str(const json::value& v) { return v.is_string() ? std::string(v.as_string()) : json::serialize(v); }

std::string utc(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Every key path of a JSON value: "a", "a.b", "list[].c" (array elements merged).
void key_paths(const json::value& v, const std::string& prefix, std::set<std::string>& out) {
  if (v.is_object()) {
    for (const auto& [k, x] : v.as_object()) {
      std::string path = prefix.empty() ? std::string(k) : prefix + "." + std::string(k);
      out.insert(path);
      key_paths(x, path, out);
    }
  } else if (v.is_array()) {
    for (const auto& x : v.as_array()) key_paths(x, prefix + "[]", out);
  }
}
std::set<std::string> key_paths(const json::value& v) {
  std::set<std::string> out;
  key_paths(v, "", out);
  return out;
}

// docs/output.md: the ```json block under each "### certmgr ... --json" heading.
std::map<std::string, std::string> documented_json() {
  std::ifstream in(std::string(CK_SOURCE_DIR) + "/docs/output.md");
  std::map<std::string, std::string> out;
  std::string line, heading;
  bool in_block = false;
  while (std::getline(in, line)) {
    if (in_block) {
      if (line == "```") in_block = false, heading.clear();
      else out[heading] += line + "\n";
    } else if (line.rfind("### certmgr ", 0) == 0 && line.find("--json") != std::string::npos) {
      heading = line.substr(4);
    } else if (line == "```json" && !heading.empty() && !out.count(heading)) {
      in_block = true;
    }
  }
  return out;
}

class CertmgrOutputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir();
    db_ = dir_ + "/ck.db";
    env_.env["CERTKEEPER_STORE"] = "sqlite:" + db_;
    env_.env["CERTKEEPER_PASSWORD"] = kStrong;
    env_.unset_env = {"CERTKEEPER_STORE_KEY_FILE", "CERTKEEPER_CONFIG"};
  }

  ProcessResult certmgr(std::vector<std::string> args, RunOptions options) {
    args.insert(args.begin(), testing::bin("certmgr"));
    return testing::run(args, options);
  }
  ProcessResult certmgr(std::vector<std::string> args) { return certmgr(std::move(args), env_); }
  json::value certmgr_json(std::vector<std::string> args) {
    auto r = certmgr(std::move(args));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    boost::system::error_code ec;
    auto v = json::parse(r.out, ec);
    EXPECT_FALSE(ec) << "not one JSON document: " << r.out;
    return v;
  }
  // certmgr with stdout and stderr on a pseudo-terminal; returns what the terminal got.
  ProcessResult certmgr_on_terminal(const std::vector<std::string>& args) {
    std::string command = shell_quote(testing::bin("certmgr"));
    for (const auto& a : args) command += " " + shell_quote(a);
    return testing::run({"/usr/bin/script", "-qec", command, "/dev/null"}, env_);
  }

  std::string current_fp() {
    auto st = certmgr_json({"status", "--json"});
    return std::string(st.at("current").at("fingerprint").as_string());
  }
  void append_audit(const store::AuditEntry& e) {
    auto s = store::open_cert_store("sqlite:" + db_);
    ASSERT_TRUE(s.ok()) << s.error().message;
    Status w = (*s)->write([&](store::CertTxn& t) { return t.append_audit(e); });
    ASSERT_TRUE(w.ok()) << w.error().message;
  }
  // `n` endpoints, all pinning `fingerprint`.
  void record_endpoints(int n, const std::string& fingerprint) {
    auto registry = registry::open_endpoint_registry("sqlite:" + db_);
    ASSERT_TRUE(registry.ok()) << registry.error().message;
    std::vector<registry::Endpoint> batch;
    for (int i = 0; i < n; ++i) {
      registry::Endpoint e;
      e.agent_id = "agent-" + std::to_string(100000 + i);
      e.hostname = "host" + std::to_string(i);
      e.ip_address = "10.0.0.7";
      e.domain = "corp";
      e.os = "linux";
      e.agent_version = "1.2.3";
      e.pinned_fingerprint = fingerprint;
      e.key_fingerprint = std::string(64, 'b');
      e.first_seen = e.last_seen = 1764000000;
      batch.push_back(std::move(e));
      if (batch.size() == 1000) {
        ASSERT_TRUE((*registry)->upsert_batch(batch).ok());
        batch.clear();
      }
    }
    if (!batch.empty()) {
      ASSERT_TRUE((*registry)->upsert_batch(batch).ok());
    }
  }

  std::string dir_, db_;
  RunOptions env_;
};

TEST_F(CertmgrOutputTest, AuditListsOperationsOldestFirstWithActorsAndFingerprints) {
  ASSERT_EQ(certmgr({"-c", kStrong}).exit_code, 0);
  const std::string first = current_fp();
  ASSERT_EQ(certmgr({"-c", kStrong}).exit_code, 0);
  const std::string second = current_fp();
  ASSERT_EQ(certmgr({"revoke", first}).exit_code, 0);
  std::string actor = testing::run({"/usr/bin/id", "-un"}).out;
  actor.pop_back();  // the newline

  auto r = certmgr({"audit"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  std::vector<std::vector<std::string>> rows;
  for (const auto& l : lines) rows.push_back(split(l, '\t'));
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 5u) << "AT ACTOR ACTION FINGERPRINTS DETAIL: " << r.out;
    EXPECT_TRUE(std::regex_match(row[0], std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"))) << row[0];
    EXPECT_EQ(row[1], actor);
  }
  EXPECT_EQ(rows[0][2], "generate");
  EXPECT_EQ(rows[1][2], "generate");
  EXPECT_EQ(rows[2][2], "revoke");
  EXPECT_NE(rows[0][3].find(first), std::string::npos);
  EXPECT_NE(rows[1][3].find(second), std::string::npos);
  EXPECT_EQ(rows[2][3], first);
  EXPECT_LE(rows[0][0], rows[2][0]);

  // --limit N: the most recent N, still oldest first.
  auto last = certmgr({"audit", "--limit", "1"});
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_EQ(last.out, lines[2] + "\n");
  auto two = certmgr({"audit", "--limit", "2"});
  EXPECT_EQ(two.out, lines[1] + "\n" + lines[2] + "\n");

  // --json: one document, the same entries.
  auto doc = certmgr_json({"--json", "audit"});
  const auto& entries = doc.at("entries").as_array();
  ASSERT_EQ(entries.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(str(entries[i].at("at")), rows[i][0]);
    EXPECT_EQ(str(entries[i].at("actor")), actor);
    EXPECT_EQ(str(entries[i].at("action")), rows[i][2]);
    EXPECT_TRUE(entries[i].at("at_unix").is_int64());
  }
  EXPECT_EQ(entries[2].at("fingerprints"), json::array({json::value(first)}));
  EXPECT_EQ(certmgr_json({"audit", "--limit", "1", "--json"}).at("entries").as_array().size(), 1u)
      << "--json after the subcommand works too";
}

TEST_F(CertmgrOutputTest, AuditSinceTakesDatesDateTimesAndDurations) {
  ASSERT_EQ(certmgr({"-c", kStrong}).exit_code, 0);  // now
  // Two entries in the past, at midnight and at noon UTC, appended after the -c.
  const int64_t midnight = (std::time(nullptr) / 86400 - 10) * 86400;  // ten days ago
  append_audit({midnight - 86400, "old", "note", "a day before", ""});
  append_audit({midnight + 43200, "noon", "note", "noon", ""});
  auto actors = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--json", "audit"});
    std::vector<std::string> out;
    const json::value doc = certmgr_json(args);
    for (const auto& e : doc.at("entries").as_array()) out.push_back(str(e.at("actor")));
    return out;
  };
  const std::string me = actors({})[0];
  const std::string day = utc(midnight).substr(0, 10);  // YYYY-MM-DD
  using V = std::vector<std::string>;
  EXPECT_EQ(actors({"--since", utc(midnight - 86400).substr(0, 10)}), (V{me, "old", "noon"})) << "order appended";
  EXPECT_EQ(actors({"--since", day}), (V{me, "noon"}));
  EXPECT_EQ(actors({"--since", day + "T12:00:00Z"}), (V{me, "noon"})) << "at or after";
  EXPECT_EQ(actors({"--since", day + "T12:00:01Z"}), (V{me}));
  EXPECT_EQ(actors({"--since", day + "T11:59Z"}), (V{me, "noon"}));
  EXPECT_EQ(actors({"--since", "2999-01-01"}), V{});
  // A duration counts back from now.
  EXPECT_EQ(actors({"--since", "1h"}), (V{me}));
  EXPECT_EQ(actors({"--since", "11d"}), (V{me, "noon"}));
  EXPECT_EQ(actors({"--since", "2w"}), (V{me, "old", "noon"}));
  EXPECT_EQ(actors({"--since", "2w", "--limit", "2"}), (V{"old", "noon"}));
  EXPECT_EQ(certmgr({"audit", "--since", "2999-01-01"}).out, "");
}

TEST_F(CertmgrOutputTest, AuditRefusesBadSinceAndLimitWithOneLine) {
  ASSERT_EQ(certmgr({"-c", kStrong}).exit_code, 0);
  for (const auto& args : std::vector<std::vector<std::string>>{{"audit", "--since", "yesterday"},
                                                               {"audit", "--since", "2026-02-30"},
                                                               {"audit", "--since", "2026-11-01T12:00:00"},
                                                               {"audit", "--since", "-7d"},
                                                               {"audit", "--limit", "0"},
                                                               {"audit", "--limit", "many"},
                                                               {"-q", "-v", "audit"}}) {
    auto r = certmgr(args);
    EXPECT_EQ(r.exit_code, 2) << args.back() << ": " << r.out << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("usage error"), std::string::npos) << r.err;
  }
  EXPECT_NE(certmgr({"audit", "--since", "yesterday"}).err.find("2026-11-01T12:00:00Z"), std::string::npos);
}

TEST_F(CertmgrOutputTest, StoredTextCannotForgeAuditLinesOrBreakJson) {
  ASSERT_EQ(certmgr({"-c", kStrong}).exit_code, 0);
  const std::string forged = "x\n2026-01-01T00:00:00Z\troot\trevoke\t-\tforged\r\x1b[2J";
  append_audit({1793491200, "mal\tlory", "note", forged + "\xff", ""});
  auto r = certmgr({"audit"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  auto fields = split(lines[1], '\t');
  ASSERT_EQ(fields.size(), 5u) << lines[1];
  EXPECT_EQ(fields[1], "mal\\tlory");
  EXPECT_EQ(fields[4], "x\\n2026-01-01T00:00:00Z\\troot\\trevoke\\t-\\tforged\\r\\x1b[2J\\xff");
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  // JSON carries the text itself (invalid UTF-8 as U+FFFD), as one valid document.
  auto doc = certmgr_json({"--json", "audit"});
  EXPECT_EQ(str(doc.at("entries").at(1).at("detail")), forged + "\xef\xbf\xbd");
  EXPECT_EQ(doc.at("entries").at(1).at("actor"), "mal\tlory");
}

TEST_F(CertmgrOutputTest, EveryReadCommandsJsonHasExactlyTheDocumentedKeys) {
  ASSERT_EQ(certmgr({"-c", kStrong}).exit_code, 0);
  const std::string old = current_fp();
  ASSERT_EQ(certmgr({"-c", kStrong}).exit_code, 0);
  record_endpoints(3, old);
  const std::string zip = dir_ + "/b.zip";
  ASSERT_EQ(certmgr({"backup", zip}).exit_code, 0);

  std::map<std::string, json::value> real = {
      {"certmgr status --json", certmgr_json({"--json", "status"})},
      {"certmgr audit --json", certmgr_json({"--json", "audit"})},
      {"certmgr agents list --json", certmgr_json({"--json", "agents", "list"})},
      {"certmgr list-mismatched - --json", certmgr_json({"--json", "list-mismatched", "-"})},
      {"certmgr list-mismatched FILE --json", certmgr_json({"--json", "-l", dir_ + "/m.csv"})},
      {"certmgr verify-backup ZIP --json", certmgr_json({"--json", "verify-backup", zip})},
  };
  const auto documented = documented_json();
  for (const auto& [heading, value] : real) {
    SCOPED_TRACE(heading);
    auto doc = documented.find(heading);
    ASSERT_NE(doc, documented.end()) << "docs/output.md has no ```json block under ### " << heading;
    boost::system::error_code ec;
    auto example = json::parse(doc->second, ec);
    ASSERT_FALSE(ec) << "the documented example does not parse: " << doc->second;
    EXPECT_EQ(key_paths(example), key_paths(value)) << "documented:\n" << doc->second << "real:\n" << json::serialize(value);
    EXPECT_EQ(example.kind(), value.kind());
  }
  // list-mismatched - --json carries the rows the CSV would.
  auto rows = real["certmgr list-mismatched - --json"];
  EXPECT_EQ(rows.at("mismatched"), 3);
  ASSERT_EQ(rows.at("endpoints").as_array().size(), 3u);
  EXPECT_EQ(str(rows.at("endpoints").at(0).at("pinned_fingerprint")), old);
  EXPECT_EQ(rows.at("endpoints").at(0).at("pinned_status"), "retired");
}

TEST_F(CertmgrOutputTest, QuietSilencesWarningsAndVerboseLogs) {
  ASSERT_EQ(certmgr({"generate", "--days", "20", kStrong}).exit_code, 0);
  auto loud = certmgr({"status"});
  ASSERT_EQ(loud.exit_code, 0);
  EXPECT_NE(loud.err.find("warning: the current certificate expires"), std::string::npos) << loud.err;
  auto quiet = certmgr({"--quiet", "status"});
  ASSERT_EQ(quiet.exit_code, 0);
  EXPECT_EQ(quiet.err, "");
  EXPECT_EQ(quiet.out, loud.out);
  // Errors still show under --quiet.
  auto failed = certmgr({"-q", "revoke", std::string(64, 'f')});
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_NE(failed.err.find("error"), std::string::npos);

  auto plain = certmgr({"audit"});
  EXPECT_EQ(plain.err, "");
  auto verbose = certmgr({"--verbose", "audit"});
  ASSERT_EQ(verbose.exit_code, 0);
  EXPECT_EQ(verbose.out, plain.out);
  EXPECT_NE(verbose.err.find("audit: 1 entries"), std::string::npos) << verbose.err;
  EXPECT_NE(certmgr({"-vv", "audit"}).err.find("audit: 1 entries"), std::string::npos);
}

TEST_F(CertmgrOutputTest, ProgressOnATerminalOnlyNeverWhenPiped) {
  ASSERT_EQ(certmgr({"-c", kStrong}).exit_code, 0);
  const std::string old = current_fp();
  ASSERT_EQ(certmgr({"-c", kStrong}).exit_code, 0);
  ASSERT_EQ(certmgr({"-c", kStrong}).exit_code, 0);
  record_endpoints(3000, old);

  // Piped: stderr stays empty.
  auto piped = certmgr({"-l", dir_ + "/m.csv"});
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.err, "");
  EXPECT_NE(piped.out.find("3000 endpoint(s)"), std::string::npos);
  auto piped_backup = certmgr({"backup", dir_ + "/b1.zip"});
  ASSERT_EQ(piped_backup.exit_code, 0) << piped_backup.err;
  EXPECT_EQ(piped_backup.err, "");

  // On a terminal: a progress line, redrawn with \r, then cleared.
  auto tty = certmgr_on_terminal({"-l", dir_ + "/m2.csv"});
  ASSERT_EQ(tty.exit_code, 0) << tty.out << tty.err;
  EXPECT_NE(tty.out.find("\rlist-mismatched: "), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find("3000/3000 rows (100%)"), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find("3000 endpoint(s)"), std::string::npos);
  EXPECT_EQ(testing::slurp(dir_ + "/m.csv"), testing::slurp(dir_ + "/m2.csv")) << "the CSV is the same";
  auto tty_backup = certmgr_on_terminal({"backup", dir_ + "/b2.zip"});
  ASSERT_EQ(tty_backup.exit_code, 0) << tty_backup.out;
  EXPECT_NE(tty_backup.out.find("\rbackup: 3/3 certificates (100%)"), std::string::npos) << tty_backup.out;

  // --quiet: no progress on a terminal either; -l - to a terminal: the rows would mix.
  auto tty_quiet = certmgr_on_terminal({"--quiet", "-l", dir_ + "/m3.csv"});
  ASSERT_EQ(tty_quiet.exit_code, 0);
  EXPECT_EQ(tty_quiet.out.find("list-mismatched:"), std::string::npos) << tty_quiet.out;
  auto tty_stdout = certmgr_on_terminal({"-l", "-"});
  ASSERT_EQ(tty_stdout.exit_code, 0);
  EXPECT_EQ(tty_stdout.out.find("list-mismatched:"), std::string::npos);
}

}  // namespace
}  // namespace ck
