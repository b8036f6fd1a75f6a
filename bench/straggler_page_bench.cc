// The console's left-behind list at fleet scale: EndpointRegistry::query_endpoints
// (count + one page, searched and sorted in SQL) over 1,000,000 endpoints, a tenth of
// them behind, on SQLite — or PostgreSQL with CK_BENCH_POSTGRES_URL (a scratch
// database: its endpoints table is filled). Not a timed test: it reports.
//
//   build/bench/straggler_page_bench --benchmark_counters_tabular=true
//   CK_BENCH_ENDPOINTS=200000 build/bench/straggler_page_bench   (smaller registry)
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "registry/endpoint_registry.h"

namespace {

using ck::registry::Endpoint;
using ck::registry::EndpointQuery;
using ck::registry::EndpointRegistry;
using ck::registry::EndpointSort;

const std::string kCurrent(64, 'c');

EndpointRegistry& registry() {
  static std::unique_ptr<EndpointRegistry> reg = [] {
    const char* pg = std::getenv("CK_BENCH_POSTGRES_URL");
    std::string url;
    if (pg && *pg) {
      url = pg;
    } else {
      auto dir = std::filesystem::temp_directory_path() / ("ck-bench-stragglers-" + std::to_string(::getpid()));
      std::filesystem::remove_all(dir);
      std::filesystem::create_directories(dir);
      url = "sqlite:" + (dir / "ck.db").string();
    }
    auto r = ck::registry::open_endpoint_registry(url);
    if (!r.ok()) std::abort();
    const char* n_text = std::getenv("CK_BENCH_ENDPOINTS");
    const int n = n_text ? std::atoi(n_text) : 1000000;
    std::vector<Endpoint> batch;
    for (int i = 0; i < n; ++i) {
      Endpoint e;
      e.agent_id = "agent-" + std::to_string(i);
      e.hostname = "host-" + std::to_string(i % 50000) + ".corp";
      e.ip_address = "10.0.0.1";
      e.os = "linux";
      e.agent_version = "1.0";
      e.pinned_fingerprint = i % 10 == 0 ? std::string(64, static_cast<char>('d' + (i / 10) % 3)) : kCurrent;
      e.first_seen = e.last_seen = 1764000000 + (i * 7919) % 86400;
      batch.push_back(std::move(e));
      if (batch.size() == 5000) {
        if (!(*r)->upsert_batch(batch).ok()) std::abort();
        batch.clear();
      }
    }
    if (!batch.empty() && !(*r)->upsert_batch(batch).ok()) std::abort();
    return std::move(r).value();
  }();
  return *reg;
}

void run(benchmark::State& state, EndpointQuery q) {
  q.not_pinning = kCurrent;
  EndpointRegistry& reg = registry();  // filled once, outside the timing
  int64_t total = 0;
  for (auto _ : state) {
    auto page = reg.query_endpoints(q);
    if (!page.ok()) state.SkipWithError(page.error().message.c_str());
    total = page.ok() ? page->total : 0;
  }
  state.counters["behind"] = static_cast<double>(total);
}

void BM_FirstPageByAgentId(benchmark::State& s) { run(s, EndpointQuery{}); }
void BM_DeepPageByAgentId(benchmark::State& s) {
  EndpointQuery q;
  q.offset = 90000;
  run(s, q);
}
void BM_FirstPageByLastSeenDesc(benchmark::State& s) {
  EndpointQuery q;
  q.sort = EndpointSort::kLastSeen;
  q.descending = true;
  run(s, q);
}
void BM_SearchHostname(benchmark::State& s) {
  EndpointQuery q;
  q.search = "HOST-4999";
  run(s, q);
}

BENCHMARK(BM_FirstPageByAgentId)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DeepPageByAgentId)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FirstPageByLastSeenDesc)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SearchHostname)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
