// Check-in recording throughput: group commit (BatchingWriter) against one
// transaction per check-in, on the embedded SQLite registry (synchronous=FULL), in
// the same run so the ratio is meaningful on any machine.
//
//   build/bench/registry_bench --benchmark_counters_tabular=true
//
// "checkins_per_s" is committed check-ins per second; "avg_batch" the mean number of
// check-ins per transaction. The ratio group/single is what group commit buys.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "registry/batching_writer.h"
#include "registry/endpoint_registry.h"

namespace {

using ck::registry::BatchingWriter;
using ck::registry::Endpoint;

std::unique_ptr<ck::registry::EndpointRegistry> fresh_registry(const std::string& tag) {
  auto dir = std::filesystem::temp_directory_path() / ("ck-bench-" + tag + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto r = ck::registry::open_endpoint_registry("sqlite:" + (dir / "ck.db").string());
  if (!r.ok()) std::abort();
  return std::move(r).value();
}

Endpoint endpoint(int i) {
  Endpoint e;
  e.agent_id = "agent-" + std::to_string(i);
  e.hostname = "host-" + std::to_string(i);
  e.ip_address = "10.0.0.1";
  e.os = "linux";
  e.agent_version = "1.0";
  e.pinned_fingerprint = std::string(64, 'a');
  e.first_seen = e.last_seen = 1764000000 + i;
  return e;
}

// One transaction per check-in: the baseline group commit is measured against.
void BM_OneTransactionPerCheckin(benchmark::State& state) {
  auto registry = fresh_registry("single");
  int i = 0;
  for (auto _ : state) {
    if (!registry->upsert_batch({endpoint(i++ % 100000)}).ok()) state.SkipWithError("commit failed");
  }
  state.counters["checkins_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["avg_batch"] = 1;
}

// Many concurrent submitters (as the server's sessions are); each waits for its commit.
void BM_GroupCommit(benchmark::State& state) {
  const int submitters = static_cast<int>(state.range(0));
  auto registry = fresh_registry("group");
  BatchingWriter writer(*registry);
  constexpr int kPerRound = 20000;
  int64_t total = 0;
  for (auto _ : state) {
    std::vector<std::thread> threads;
    for (int t = 0; t < submitters; ++t) {
      threads.emplace_back([&, t] {
        for (int i = t; i < kPerRound; i += submitters) {
          // Each submitter has one check-in in flight, like a session awaiting its answer.
          std::mutex m;
          std::condition_variable c;
          bool done = false;
          writer.submit(endpoint(i), [&](ck::Status) {
            std::lock_guard l(m);
            done = true;
            c.notify_one();
          });
          std::unique_lock l(m);
          c.wait(l, [&] { return done; });
        }
      });
    }
    for (auto& t : threads) t.join();
    total += kPerRound;
  }
  auto s = writer.stats();
  state.counters["checkins_per_s"] = benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
  state.counters["avg_batch"] = s.batches ? static_cast<double>(s.batch_size_sum) / static_cast<double>(s.batches) : 0;
}

BENCHMARK(BM_OneTransactionPerCheckin)->Unit(benchmark::kMicrosecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_GroupCommit)->Arg(64)->Arg(512)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
