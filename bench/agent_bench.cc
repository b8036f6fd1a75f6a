// Agent-side verification cost: signed messages verified per second (JWS ES256 +
// claims + state update), and the cost of a rotation walk of 1-3 links, with and
// without the fleet's shared cache of verified links.
//
// The same run measures OpenSSL's own ECDSA P-256 verify rate with
//   openssl speed -seconds 1 ecdsap256
// and reports each benchmark's rate as a ratio to it ("x_openssl_verify": how many
// OpenSSL verifies' worth of time one operation costs is 1/ratio). Run:
//   build-agent/bench/agent_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "agent/agent_test_util.h"
#include "agent/memory_state_store.h"
#include "crypto/jws.h"

namespace {
using namespace ck;
using namespace ck::agent;
using namespace ck::agent::testing;

constexpr int64_t kNow = 1'800'000'000;
double g_openssl_verify_per_s = 0;

// "openssl speed -seconds 1 ecdsap256": the verify/s column of the nistp256 row.
double openssl_verify_rate() {
  FILE* p = ::popen("openssl speed -seconds 1 ecdsap256 2>/dev/null", "r");
  if (!p) return 0;
  char line[512];
  double rate = 0;
  while (std::fgets(line, sizeof line, p)) {
    double s1, s2, sign_s, verify_s;
    if (std::sscanf(line, " 256 bits ecdsa (nistp256) %lfs %lfs %lf %lf", &s1, &s2, &sign_s, &verify_s) == 4)
      rate = verify_s;
  }
  ::pclose(p);
  return rate;
}

void add_ratio(benchmark::State& state, double ops_per_iteration) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ops_per_iteration));
  if (g_openssl_verify_per_s > 0) {
    state.counters["x_openssl_verify"] = benchmark::Counter(
        static_cast<double>(state.iterations()) * ops_per_iteration / g_openssl_verify_per_s,
        benchmark::Counter::kIsRate);
  }
}

struct Fixture {
  FakeClock clock{kNow};
  std::vector<KeyCert> keys;
  Fixture() {
    for (int i = 0; i < 4; ++i) keys.push_back(make_key_cert(kNow - 100 + i));
  }
  std::unique_ptr<Agent> agent(std::shared_ptr<CertCache> cache = nullptr) {
    AgentOptions o;
    o.agent_id = "bench";
    o.clock = &clock;
    o.cache = std::move(cache);
    auto a = Agent::open(std::make_unique<MemoryStateStore>(
                             std::make_shared<const std::string>(keys[0].cert.pem())),
                         o);
    return std::move(a).value();
  }
  std::string message(int64_t seq) {
    Command c;
    c.aud = "bench";
    c.jti = "j" + std::to_string(seq);
    c.seq = seq;
    c.iat = kNow;
    c.exp = kNow + 3600;
    c.command = "run-scan";
    return sign(keys[0].key, command_payload(c));
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// Raw JWS verification of one ES256 message (no claims, no state).
void BM_JwsVerify(benchmark::State& state) {
  auto& f = fixture();
  std::string jws = f.message(1);
  const auto& key = f.keys[0].cert.public_key();
  for (auto _ : state) benchmark::DoNotOptimize(crypto::jws_verify(jws, key));
  add_ratio(state, 1);
}
BENCHMARK(BM_JwsVerify);

// Agent::handle_message: parse, kid check, verify, claims, command, state commit.
void BM_HandleMessage(benchmark::State& state) {
  auto& f = fixture();
  static std::vector<std::string> messages = [&] {
    std::vector<std::string> m;
    for (int i = 1; i <= 4096; ++i) m.push_back(f.message(i));
    return m;
  }();
  auto agent = f.agent();
  size_t i = 0;
  for (auto _ : state) {
    if (i == messages.size()) {
      state.PauseTiming();
      agent = f.agent();
      i = 0;
      state.ResumeTiming();
    }
    auto r = agent->handle_message(messages[i++]);
    if (!r.ok()) state.SkipWithError(r.error().message.c_str());
  }
  add_ratio(state, 1);
}
BENCHMARK(BM_HandleMessage);

// One check-in answer carrying `links` rotation statements, walked by a fresh agent.
void walk(benchmark::State& state, bool shared_cache) {
  auto& f = fixture();
  const int links = static_cast<int>(state.range(0));
  std::vector<crypto::SignedRotation> chain;
  for (int i = 1; i <= links; ++i) chain.push_back(rotate(f.keys[i - 1], f.keys[i], i + 1, kNow));
  std::string body = checkin_body(f.keys[links].cert.fingerprint(), chain, {});
  auto cache = shared_cache ? std::make_shared<CertCache>() : nullptr;
  for (auto _ : state) {
    state.PauseTiming();
    auto agent = f.agent(cache);
    state.ResumeTiming();
    auto r = agent->apply_checkin_response(body);
    if (!r.ok() || r->links_accepted != links) state.SkipWithError("walk failed");
  }
  add_ratio(state, 1);
  state.counters["links"] = links;
}

void BM_RotationWalk(benchmark::State& state) { walk(state, false); }
BENCHMARK(BM_RotationWalk)->Arg(1)->Arg(2)->Arg(3);

// The fleet path: 100,000 agents walking the same links share one verification.
void BM_RotationWalkSharedCache(benchmark::State& state) { walk(state, true); }
BENCHMARK(BM_RotationWalkSharedCache)->Arg(1)->Arg(3);

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::off);
  g_openssl_verify_per_s = openssl_verify_rate();
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("openssl_speed_ecdsap256_verify_per_s", std::to_string(g_openssl_verify_per_s));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::printf("openssl speed -seconds 1 ecdsap256: %.1f verify/s (x_openssl_verify = rate / this)\n",
              g_openssl_verify_per_s);
  return 0;
}
