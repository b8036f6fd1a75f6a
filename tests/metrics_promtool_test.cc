// /metrics of the real certkeeper-server after real check-ins: Prometheus' own linter,
// `promtool check metrics` (Debian's prometheus package, installed by scripts/setup),
// finds nothing; and docs/metrics.md documents exactly the metrics served, each with its
// type and labels, so the two cannot drift.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "protocol/wire.h"
#include "store/cert_operations.h"
#include "store/cert_store.h"
#include "support/process.h"
#include "support/prometheus_text.h"
#include "support/server_client.h"

namespace ck::testing {
namespace {

using namespace std::chrono_literals;

// promtool from PATH (Debian puts it in /usr/bin); "" when it is not installed.
std::string find_promtool() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::filesystem::path p = std::filesystem::path(dir) / "promtool";
    if (!dir.empty() && ::access(p.c_str(), X_OK) == 0) return p.string();
  }
  return "";
}

ProcessResult promtool_check(const std::string& promtool, const std::string& text) {
  return run({promtool, "check", "metrics"}, RunOptions{.stdin_data = text, .timeout = 30s});
}

// A documented metric: a row of a table in docs/metrics.md,
// | `name` | type | `label`, `label` or — | ...
struct DocumentedMetric {
  std::string type;
  std::set<std::string> labels;
};

std::map<std::string, DocumentedMetric> documented_metrics(const std::string& markdown) {
  std::map<std::string, DocumentedMetric> out;
  const std::regex row(
      R"(^\|\s*`([a-z_:]+)`\s*\|\s*(counter|gauge|histogram|summary)\s*\|([^|]*)\|)");
  const std::regex label("`([a-z_]+)`");
  std::istringstream lines(markdown);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, row)) continue;
    DocumentedMetric d{m[2], {}};
    const std::string labels = m[3];
    for (std::sregex_iterator it(labels.begin(), labels.end(), label), end; it != end; ++it) {
      d.labels.insert((*it)[1]);
    }
    EXPECT_TRUE(out.emplace(m[1], d).second) << m[1] << " is documented twice";
  }
  return out;
}

class MetricsEndpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir("metrics");
    url_ = "sqlite:" + dir_ + "/ck.db";
    auto store = store::open_cert_store(url_);
    ASSERT_TRUE(store.ok()) << store.error().message;
    auto cert = store::generate_certificate(**store, store::GenerateOptions{},
                                            store::Context{"tester", nullptr});
    ASSERT_TRUE(cert.ok()) << cert.error().message;
    fingerprint_ = cert->fingerprint;
    store->reset();
    server_ = std::make_unique<ServerUnderTest>(url_, dir_ + "/state");
    ASSERT_TRUE(server_->started()) << server_->process().error_output();
    // Real check-ins, so counters, the batch histograms and the endpoint gauges hold data:
    // three agents on the current certificate, one pinning a fingerprint the store lacks.
    for (int i = 0; i < 3; ++i) checkin("agent-" + std::to_string(i), fingerprint_, 200);
    checkin("agent-stale", std::string(64, 'e'), 200);
    checkin("not an id!", fingerprint_, 422);  // counted as rejected
  }

  void checkin(const std::string& id, const std::string& pinned, int expected_status) {
    protocol::CheckinRequest r;
    r.agent_id = id;
    r.hostname = "host-" + id;
    r.ip = "10.1.2.3";
    r.domain = "example.test";
    r.os = "linux";
    r.agent_version = "test";
    r.pinned_fingerprint = pinned;
    HttpReply reply = http_request(server_->agents(), true, "POST", "/v1/checkin",
                                   boost::json::serialize(protocol::to_json(r)));
    EXPECT_EQ(reply.status, expected_status) << id << ": " << reply.error << " " << reply.body;
  }

  std::string scrape() {
    HttpReply r = http_request(server_->metrics(), false, "GET", "/metrics");
    EXPECT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    return r.body;
  }

  std::string dir_, url_, fingerprint_;
  std::unique_ptr<ServerUnderTest> server_;
};

TEST_F(MetricsEndpoint, PromtoolCheckMetricsIsClean) {
  const std::string promtool = find_promtool();
  ASSERT_FALSE(promtool.empty())
      << "promtool not found in PATH: run scripts/setup (Debian package prometheus)";

  // The linter is live: it flags a counter without _total.
  ProcessResult bad = promtool_check(
      promtool, "# HELP x_requests Requests.\n# TYPE x_requests counter\nx_requests 1\n");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE((bad.out + bad.err).find("_total"), std::string::npos) << bad.out << bad.err;

  const std::string text = scrape();
  // The check-ins above are in it (so promtool sees non-zero counters and histograms).
  EXPECT_NE(text.find("\ncertkeeper_checkins_total 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\ncertkeeper_registry_writes_total{result=\"committed\"} 4\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\ncertkeeper_checkins_rejected_total 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("certkeeper_endpoints{fingerprint=\"" + std::string(64, 'e') +
                      "\",status=\"unknown\"} 1"),
            std::string::npos)
      << text;

  ProcessResult r = promtool_check(promtool, text);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << "\n--- /metrics ---\n" << text;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
}

TEST_F(MetricsEndpoint, DocsMetricsMdDocumentsExactlyTheMetricsServed) {
  const std::string doc_path = std::string(CK_SOURCE_DIR) + "/docs/metrics.md";
  const std::string markdown = slurp(doc_path);
  ASSERT_FALSE(markdown.empty()) << doc_path << " is missing";
  const auto documented = documented_metrics(markdown);

  const PromExposition live = parse_prometheus_text(scrape());
  ASSERT_TRUE(live.errors.empty()) << ::testing::PrintToString(live.errors);
  ASSERT_FALSE(live.families.empty());
  std::set<std::string> served;
  for (const PromFamily& f : live.families) {
    served.insert(f.name);
    auto it = documented.find(f.name);
    if (it == documented.end()) {
      ADD_FAILURE() << f.name << " (" << f.type
                    << ") is served but not documented in docs/metrics.md";
      continue;
    }
    EXPECT_EQ(it->second.type, f.type) << f.name << ": docs/metrics.md says " << it->second.type;
    std::set<std::string> labels;
    for (const auto& s : f.samples) {
      for (const auto& [k, v] : s.labels) {
        if (k != "le") labels.insert(k);
      }
    }
    EXPECT_EQ(it->second.labels, labels)
        << f.name << ": labels in docs/metrics.md differ from /metrics";
  }
  for (const auto& [name, doc] : documented) {
    EXPECT_TRUE(served.count(name)) << name << " is documented in docs/metrics.md but not served";
  }
}

// The alerting rules in docs/metrics.md load in Prometheus (`promtool check rules`), and
// every certkeeper metric its queries and rules name is one the page documents.
TEST(MetricsDoc, ExampleRulesAndQueriesAreValidAndNameDocumentedMetrics) {
  const std::string promtool = find_promtool();
  ASSERT_FALSE(promtool.empty())
      << "promtool not found in PATH: run scripts/setup (Debian package prometheus)";
  const std::string markdown = slurp(std::string(CK_SOURCE_DIR) + "/docs/metrics.md");
  ASSERT_FALSE(markdown.empty());
  const auto documented = documented_metrics(markdown);

  std::string rules, queries;
  const std::regex block(R"(```(yaml|promql)\n([\s\S]*?)```)");
  for (std::sregex_iterator it(markdown.begin(), markdown.end(), block), end; it != end; ++it) {
    const std::string body = (*it)[2];
    if ((*it)[1] == "promql") {
      queries += body;
    } else if (body.starts_with("groups:")) {
      rules += body;
    }
  }
  ASSERT_FALSE(rules.empty()) << "no rule file (```yaml groups: ...) in docs/metrics.md";
  ASSERT_FALSE(queries.empty());

  const std::string file = temp_dir("rules") + "/certkeeper.rules.yml";
  std::ofstream(file) << rules;
  ProcessResult r = run({promtool, "check", "rules", file}, RunOptions{.timeout = 30s});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::regex alert("- alert:");
  const auto alerts = std::distance(std::sregex_iterator(rules.begin(), rules.end(), alert),
                                    std::sregex_iterator());
  EXPECT_NE(r.out.find("SUCCESS: " + std::to_string(alerts) + " rules found"), std::string::npos)
      << r.out << r.err;

  const std::string used = rules + queries;
  const std::regex metric_name(R"(certkeeper_[a-z_]+)");
  for (std::sregex_iterator it(used.begin(), used.end(), metric_name), end; it != end; ++it) {
    std::string name = it->str();
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string base =
          name.substr(0, name.size() - std::min(name.size(), std::strlen(suffix)));
      if (name.ends_with(suffix) && documented.count(base) &&
          documented.at(base).type == "histogram")
        name = base;
    }
    EXPECT_TRUE(documented.count(name))
        << name << " is used in docs/metrics.md but not documented there";
  }
}

}  // namespace
}  // namespace ck::testing
