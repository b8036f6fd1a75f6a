// Check-in recording throughput: group commit (BatchingWriter) against one
// transaction per check-in, on the embedded SQLite registry (synchronous=FULL), in
// the same run so the ratio is meaningful on any machine.
//
//   build/bench/registry_bench --benchmark_counters_tabular=true
//
// "checkins_per_s" is committed check-ins per second; "avg_batch" the mean number of
// check-ins per transaction. The ratio group/single is what group commit buys.
// BM_PinReportsAfterRotation: the registry's share of a 100,000-agent rotation
// ("pins_per_s"), from one connection and from six (one per --workers process).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
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

// A rotation's registry load at scale: `agents` endpoints all report their new pin,
// in random order, through `writers` connections to one file (one per --workers
// process), each committing batches of `batch` pin reports (what a writer collects
// during its previous commit in the 100,000-agent run).
void BM_PinReportsAfterRotation(benchmark::State& state) {
  const int agents = static_cast<int>(state.range(0));
  const int writers = static_cast<int>(state.range(1));
  const int batch = static_cast<int>(state.range(2));
  auto dir = std::filesystem::temp_directory_path() / ("ck-bench-pins-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string url = "sqlite:" + (dir / "ck.db").string();
  std::vector<std::unique_ptr<ck::registry::EndpointRegistry>> conns;
  for (int w = 0; w < writers; ++w) {
    auto r = ck::registry::open_endpoint_registry(url);
    if (!r.ok()) return state.SkipWithError(r.error().message.c_str());
    conns.push_back(std::move(r).value());
  }
  std::vector<Endpoint> all;
  for (int i = 0; i < agents; ++i) all.push_back(endpoint(i));
  if (!conns[0]->upsert_batch(all).ok()) return state.SkipWithError("seeding failed");
  std::vector<int> order(static_cast<size_t>(agents));
  for (int i = 0; i < agents; ++i) order[static_cast<size_t>(i)] = i;
  std::mt19937 rng(42);
  char next = 'b';
  for (auto _ : state) {
    std::shuffle(order.begin(), order.end(), rng);
    const std::string fp(64, next);
    next = next == 'z' ? 'b' : static_cast<char>(next + 1);
    std::atomic<bool> failed{false};
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&, w] {
        std::vector<Endpoint> pins;
        for (size_t k = static_cast<size_t>(w); k < order.size(); k += static_cast<size_t>(writers)) {
          Endpoint e;
          e.agent_id = all[static_cast<size_t>(order[k])].agent_id;
          e.pinned_fingerprint = fp;
          e.last_seen = 1765000000;
          e.pin_report = true;
          pins.push_back(std::move(e));
          if (pins.size() == static_cast<size_t>(batch) || k + static_cast<size_t>(writers) >= order.size()) {
            while (true) {  // another writer holds the lock past the busy timeout: again
              auto s = conns[static_cast<size_t>(w)]->upsert_batch(pins);
              if (s.ok()) break;
              if (s.error().kind != ck::ErrorKind::kBusy) {
                failed = true;
                return;
              }
            }
            pins.clear();
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    if (failed) return state.SkipWithError("a pin report batch failed");
  }
  state.counters["pins_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * agents, benchmark::Counter::kIsRate);
  conns.clear();
  std::filesystem::remove_all(dir);
}

BENCHMARK(BM_OneTransactionPerCheckin)->Unit(benchmark::kMicrosecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_GroupCommit)->Arg(64)->Arg(512)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
BENCHMARK(BM_PinReportsAfterRotation)
    ->Args({100000, 1, 1000})
    ->Args({100000, 6, 1000})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
