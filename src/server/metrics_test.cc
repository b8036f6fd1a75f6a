// render_prometheus: the exposition follows the Prometheus naming and type conventions
// (HELP and TYPE for every family, counters end in _total, histograms cumulative up to
// +Inf with _count equal to it) and escapes label values. The writer statistics come
// from a real BatchingWriter on a SQLite registry. tests/metrics_promtool_test.cc runs
// promtool itself on a live server.
#include "server/metrics.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <regex>
#include <set>
#include <thread>

#include "registry/batching_writer.h"
#include "registry/endpoint_registry.h"
#include "support/process.h"
#include "support/prometheus_text.h"

namespace ck::server {
namespace {

using ck::testing::parse_prometheus_text;
using ck::testing::PromExposition;
using ck::testing::PromFamily;

// Stats of a real writer after `rows` check-ins from 4 threads (several batches).
registry::BatchingWriter::Stats real_writer_stats(int rows) {
  auto reg =
      registry::open_endpoint_registry("sqlite:" + ck::testing::temp_dir("metrics") + "/ck.db");
  EXPECT_TRUE(reg.ok()) << reg.error().message;
  if (!reg.ok()) return {};
  registry::BatchingWriter writer(**reg);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < rows; i += 4) {
        registry::Endpoint e{
            "agent-" + std::to_string(i), "h", "127.0.0.1", "d", "linux", "1.0", "fp", 1, 1, 1};
        writer.submit(std::move(e), [&](Status s) { ok += s.ok(); });
      }
    });
  }
  for (auto& th : threads) th.join();
  writer.shutdown();
  EXPECT_EQ(ok.load(), rows);
  return writer.stats();
}

class RenderPrometheus : public ::testing::Test {
 protected:
  void SetUp() override {
    metrics_.checkins_total = 7;
    metrics_.connections_refused_per_address = 2;
    snapshot_.current_fingerprint = std::string(64, 'a');
    snapshot_.current_expiry_seconds = 86400;
    snapshot_.endpoints_by_fingerprint[std::string(64, 'a')] = {"current", 5};
    snapshot_.endpoints_by_fingerprint[std::string(64, 'b')] = {"retired", 2};
    snapshot_.writer = real_writer_stats(kRows);
    text_ = render_prometheus(metrics_, snapshot_);
    parsed_ = parse_prometheus_text(text_);
  }
  static constexpr int kRows = 400;
  Metrics metrics_;
  MetricsSnapshot snapshot_;
  std::string text_;
  PromExposition parsed_;
};

TEST_F(RenderPrometheus, EveryFamilyHasHelpAndTypeAndFollowsTheNamingRules) {
  ASSERT_TRUE(parsed_.errors.empty()) << ::testing::PrintToString(parsed_.errors) << "\n" << text_;
  ASSERT_GE(parsed_.families.size(), 25u);
  const std::regex name_rule("[a-zA-Z_][a-zA-Z0-9_]*");
  for (const PromFamily& f : parsed_.families) {
    SCOPED_TRACE(f.name);
    EXPECT_TRUE(std::regex_match(f.name, name_rule));
    EXPECT_TRUE(f.name.starts_with("certkeeper_") || f.name == "process_start_time_seconds");
    EXPECT_FALSE(f.help.empty()) << "no HELP";
    EXPECT_TRUE(f.type == "counter" || f.type == "gauge" || f.type == "histogram")
        << "TYPE " << f.type;
    EXPECT_FALSE(f.samples.empty());
    if (f.type == "counter") {
      EXPECT_TRUE(f.name.ends_with("_total")) << "a counter must end in _total";
    } else {
      EXPECT_FALSE(f.name.ends_with("_total")) << "only counters end in _total";
    }
    if (f.type != "histogram") {
      for (const char* reserved : {"_sum", "_count", "_bucket"}) {
        EXPECT_FALSE(f.name.ends_with(reserved)) << reserved << " belongs to histograms";
      }
    }
    // Time in seconds, never milliseconds or minutes.
    for (const char* unit :
         {"_ms", "_milliseconds", "_minutes", "_hours", "_days", "_microseconds"}) {
      EXPECT_EQ(f.name.find(unit), std::string::npos) << unit << " is not a base unit";
    }
    for (const auto& s : f.samples) {
      EXPECT_EQ(s.labels.count("le"), s.name.ends_with("_bucket") ? 1u : 0u) << s.name;
      EXPECT_NO_THROW((void)std::stod(s.value)) << s.name << " " << s.value;
    }
  }
}

TEST_F(RenderPrometheus, HistogramsAreCumulativeEndInInfAndCountEqualsTheInfBucket) {
  ASSERT_TRUE(parsed_.errors.empty()) << text_;
  int histograms = 0;
  for (const PromFamily& f : parsed_.families) {
    if (f.type != "histogram") continue;
    SCOPED_TRACE(f.name);
    ++histograms;
    std::vector<std::pair<double, uint64_t>> buckets;  // (le, count) in order
    std::string count, sum, inf;
    for (const auto& s : f.samples) {
      if (s.name == f.name + "_bucket") {
        const std::string& le = s.labels.at("le");
        buckets.emplace_back(le == "+Inf" ? HUGE_VAL : std::stod(le), std::stoull(s.value));
        if (le == "+Inf") inf = s.value;
      } else if (s.name == f.name + "_count") {
        count = s.value;
      } else if (s.name == f.name + "_sum") {
        sum = s.value;
      }
    }
    ASSERT_GE(buckets.size(), 2u);
    EXPECT_EQ(buckets.back().first, HUGE_VAL) << "the last bucket must be le=\"+Inf\"";
    for (size_t i = 1; i < buckets.size(); ++i) {
      EXPECT_LT(buckets[i - 1].first, buckets[i].first) << "le not ascending at " << i;
      EXPECT_LE(buckets[i - 1].second, buckets[i].second) << "buckets not cumulative at " << i;
    }
    EXPECT_FALSE(sum.empty()) << "no _sum";
    EXPECT_EQ(count, inf) << "_count must equal the +Inf bucket";
    EXPECT_EQ(std::stoull(count), snapshot_.writer.batches);
  }
  EXPECT_EQ(histograms, 2);
  // The data is the writer's: every row in some batch, several batches.
  const PromFamily* size = parsed_.find("certkeeper_registry_batch_size");
  ASSERT_NE(size, nullptr);
  EXPECT_GE(snapshot_.writer.batches, 1u);
  EXPECT_NE(text_.find("\ncertkeeper_registry_batch_size_sum " + std::to_string(kRows) + "\n"),
            std::string::npos)
      << text_;
  EXPECT_NE(text_.find("\ncertkeeper_registry_writes_total{result=\"committed\"} " +
                       std::to_string(kRows) + "\n"),
            std::string::npos);
}

TEST_F(RenderPrometheus, LabelValuesAreEscaped) {
  const std::string hostile = "a\"b\\c\nd}";
  snapshot_.endpoints_by_fingerprint[hostile] = {"unknown", 1};
  const std::string text = render_prometheus(metrics_, snapshot_);
  EXPECT_NE(
      text.find("certkeeper_endpoints{fingerprint=\"a\\\"b\\\\c\\nd}\",status=\"unknown\"} 1\n"),
      std::string::npos)
      << text;
  PromExposition parsed = parse_prometheus_text(text);
  ASSERT_TRUE(parsed.errors.empty()) << ::testing::PrintToString(parsed.errors);
  std::set<std::string> fingerprints;
  for (const auto& s : parsed.find("certkeeper_endpoints")->samples)
    fingerprints.insert(s.labels.at("fingerprint"));
  EXPECT_EQ(fingerprints.count(hostile), 1u) << "the escaped value reads back as the original";

  EXPECT_EQ(escape_label_value(R"(plain)"), "plain");
  EXPECT_EQ(escape_label_value("\\"), "\\\\");
  EXPECT_EQ(escape_label_value("\""), "\\\"");
  EXPECT_EQ(escape_label_value("\n"), "\\n");
}

TEST_F(RenderPrometheus, BuildInfoAndStartTime) {
  EXPECT_TRUE(std::regex_match(std::string(build_version()), std::regex(R"(\d+\.\d+\.\d+.*)")))
      << build_version();
  EXPECT_NE(
      text_.find("\ncertkeeper_build_info{version=\"" + std::string(build_version()) + "\"} 1\n"),
      std::string::npos);
  const PromFamily* start = parsed_.find("process_start_time_seconds");
  ASSERT_NE(start, nullptr);
  const double started = std::stod(start->samples.at(0).value);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(started, now);
  EXPECT_GT(started, now - 600) << "the Metrics of this test were made moments ago";
  EXPECT_NE(text_.find("\ncertkeeper_checkins_total 7\n"), std::string::npos);
  EXPECT_NE(text_.find("\ncertkeeper_connections_refused_total{reason=\"per_address\"} 2\n"),
            std::string::npos);
}

}  // namespace
}  // namespace ck::server
