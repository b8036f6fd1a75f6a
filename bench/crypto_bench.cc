// Signing and verification rates of ck::crypto (what the server pays per message and
// an agent per check) against OpenSSL's own, measured in the same run with
//   openssl speed -seconds 1 ecdsap256 ed25519 rsa3072
// Each benchmark reports ops/s and x_openssl = ops/s divided by openssl speed's rate
// for the same operation (1.0: as fast as OpenSSL's tight loop). Run:
//   build/bench/crypto_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "crypto/key.h"
#include "crypto/signature.h"

namespace {
using namespace ck;

// (algorithm, "sign"|"verify") -> openssl speed's ops/s.
std::map<std::pair<crypto::Algorithm, std::string>, double> g_openssl;

void measure_openssl() {
  FILE* p = ::popen("openssl speed -seconds 1 ecdsap256 ed25519 rsa3072 2>/dev/null", "r");
  if (!p) return;
  char line[512];
  while (std::fgets(line, sizeof line, p)) {
    double a, b, sign, verify;
    if (std::sscanf(line, "rsa 3072 bits %lfs %lfs %lf %lf", &a, &b, &sign, &verify) == 4) {
      g_openssl[{crypto::Algorithm::kRsa3072, "sign"}] = sign;
      g_openssl[{crypto::Algorithm::kRsa3072, "verify"}] = verify;
    } else if (std::sscanf(line, " 256 bits ecdsa (nistp256) %lfs %lfs %lf %lf", &a, &b, &sign, &verify) == 4) {
      g_openssl[{crypto::Algorithm::kEcdsaP256, "sign"}] = sign;
      g_openssl[{crypto::Algorithm::kEcdsaP256, "verify"}] = verify;
    } else if (std::sscanf(line, " 253 bits EdDSA (Ed25519) %lfs %lfs %lf %lf", &a, &b, &sign, &verify) == 4) {
      g_openssl[{crypto::Algorithm::kEd25519, "sign"}] = sign;
      g_openssl[{crypto::Algorithm::kEd25519, "verify"}] = verify;
    }
  }
  ::pclose(p);
}

void report(benchmark::State& state, crypto::Algorithm alg, const char* op) {
  state.counters["ops_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  const double reference = g_openssl[{alg, op}];
  if (reference > 0)
    state.counters["x_openssl"] =
        benchmark::Counter(static_cast<double>(state.iterations()) / reference, benchmark::Counter::kIsRate);
  else
    state.SkipWithError("openssl speed gave no reference rate");
}

// A JWS signing input of a typical message (header.payload, ~300 bytes).
const std::string kMessage(300, 'm');

void BM_Sign(benchmark::State& state, crypto::Algorithm alg) {
  auto key = crypto::PrivateKey::generate(alg);
  if (!key.ok()) return state.SkipWithError(key.error().message.c_str());
  for (auto _ : state) {
    auto sig = crypto::sign(*key, kMessage);
    if (!sig.ok()) return state.SkipWithError("sign failed");
    benchmark::DoNotOptimize(sig);
  }
  report(state, alg, "sign");
}

void BM_Verify(benchmark::State& state, crypto::Algorithm alg) {
  auto key = crypto::PrivateKey::generate(alg);
  if (!key.ok()) return state.SkipWithError(key.error().message.c_str());
  auto sig = crypto::sign(*key, kMessage);
  if (!sig.ok()) return state.SkipWithError("sign failed");
  for (auto _ : state) {
    bool ok = crypto::verify(key->public_key(), kMessage, *sig);
    if (!ok) return state.SkipWithError("verify failed");
    benchmark::DoNotOptimize(ok);
  }
  report(state, alg, "verify");
}

BENCHMARK_CAPTURE(BM_Sign, p256, crypto::Algorithm::kEcdsaP256);
BENCHMARK_CAPTURE(BM_Verify, p256, crypto::Algorithm::kEcdsaP256);
BENCHMARK_CAPTURE(BM_Sign, ed25519, crypto::Algorithm::kEd25519);
BENCHMARK_CAPTURE(BM_Verify, ed25519, crypto::Algorithm::kEd25519);
BENCHMARK_CAPTURE(BM_Sign, rsa3072, crypto::Algorithm::kRsa3072);
BENCHMARK_CAPTURE(BM_Verify, rsa3072, crypto::Algorithm::kRsa3072);

}  // namespace

int main(int argc, char** argv) {
  measure_openssl();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
