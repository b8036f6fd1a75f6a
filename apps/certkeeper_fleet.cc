// certkeeper-fleet: N simulated agents (up to 100,000) in one process on Asio, for
// load tests, benchmarks and the demonstration. Prints a progress line every
// --progress seconds and a summary JSON line at exit.
//   certkeeper-fleet --server https://127.0.0.1:8443 -n 1000 --agent-key OfcNTCer.dat
//       --memory --offline-fraction 0.2 --offline-until-file /tmp/online --until-converged current
// The offline share comes online when --offline-until-file exists or when "online" is
// read on stdin. Exit codes: 0 converged / duration reached, 1 not converged, 2 usage.
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <thread>
#include <utility>

#include "common/file_util.h"
#include "common/config/program_options.h"
#include "common/logging.h"
#include "common/rlimit.h"
#include "fleet/fleet.h"
#include "crypto/x509.h"
#include "fleet/checkin_bench.h"
#include "fleet/fleet_processes.h"

namespace {
namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;



std::string short_fp(const std::string& fp) { return fp.empty() ? "-" : fp.substr(0, 16); }

int run(int argc, char** argv) {
  CLI::App app{"certkeeper-fleet: many simulated agents in one process"};
  std::string server, agent_key_file, state_root, server_ca, until_converged, offline_file,
      summary_file, id_prefix = "fleet-";
  ck::config::CommonOptions common;
  int n = 100, threads = 2, max_inflight = 256, processes = 1;
  std::vector<std::string> source_ip_args;
  double checkin_bench = 0;
  double interval = 30, offline_fraction = 0, duration = 0, progress_every = 1, spread = -1;
  bool memory = false, no_channel = false;
  app.add_option("--server", server, "server URL, https://HOST:PORT")->required();
  app.add_option("-n,--agents", n, "number of agents")->check(CLI::Range(1, 1000000));
  app.add_option("--source-ip", source_ip_args,
                 "connect from these local addresses, agent i from the (i mod k)-th (A[,B...], repeatable; e.g. "
                 "127.0.0.2,127.0.0.3: one address has ~28,000 ports toward one server port)");
  app.add_option("--checkin-bench", checkin_bench,
                 "load mode: -n keep-alive connections, each an agent with its own key, POSTing check-ins back "
                 "to back for SECONDS; prints requests/s, p50, p99");
  app.add_option("--processes", processes,
                 "fork N fleet processes sharing the agents (each under its own descriptor limit); one merged "
                 "progress line and summary")
      ->check(CLI::Range(1, 256));
  app.add_option("--agent-key", agent_key_file, "initial OfcNTCer.dat (from certmgr -e)")->required();
  auto* root_opt = app.add_option("--state-root", state_root, "one state folder per agent under DIR");
  app.add_flag("--memory", memory, "keep agent state in memory")->excludes(root_opt);
  app.add_option("--id-prefix", id_prefix, "agent ids are PREFIX000000, PREFIX000001, ...");
  app.add_option("--checkin-interval", interval, "seconds between check-ins (jitter ±20%)")
      ->check(CLI::Range(0.05, 86400.0));
  app.add_option("--spread", spread, "first check-ins spread over this many seconds (default: interval)");
  app.add_option("--threads", threads, "io threads")->check(CLI::Range(1, 64));
  app.add_option("--server-ca", server_ca, "CA file for the server's TLS certificate (else trust on first use)");
  app.add_option("--max-inflight", max_inflight, "check-ins in flight at once (0: unbounded)");
  app.add_flag("--no-channel", no_channel, "check-ins only, no WebSocket channels (saves descriptors)");
  app.add_option("--offline-fraction", offline_fraction, "share of agents kept offline until told")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--offline-until-file", offline_file, "bring the offline share online when PATH exists");
  app.add_option("--duration", duration, "stop after this many seconds (0: no limit)");
  app.add_option("--until-converged", until_converged,
                 "stop once every agent pins FP (\"current\": the server's current fingerprint)");
  app.add_option("--progress", progress_every, "seconds between progress lines (0: none)");
  app.add_option("--summary", summary_file, "also write the summary JSON to FILE");
  ck::config::add_common_options(app, common, "warn");
  if (auto stop = ck::config::parse_program_options(app, "fleet", argc, argv)) return *stop;
  if (!memory && state_root.empty()) {
    std::cerr << "one of --memory or --state-root DIR is required\n";
    return 2;
  }
  std::vector<asio::ip::address> source_ips;
  for (const std::string& list : source_ip_args) {
    for (size_t start = 0; start <= list.size();) {
      size_t comma = list.find(',', start);
      const std::string one = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      boost::system::error_code ec;
      auto ip = asio::ip::make_address(one, ec);
      if (ec) {
        std::cerr << "--source-ip: not an address: " << one << "\n";
        return 2;
      }
      source_ips.push_back(ip);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (processes > n) processes = n;
  auto simulate = [&](const ck::fleet::FleetSlice& slice) -> int {
    ck::config::start_logging(common);
    ck::raise_open_file_limit();

    auto url = ck::transport::parse_server_url(server);
    if (!url.ok()) {
      std::cerr << url.error().message << "\n";
      return 2;
    }
    auto key = ck::read_file(agent_key_file, 64 * 1024);
    if (!key.ok()) {
      std::cerr << key.error().message << "\n";
      return 1;
    }
    if (!state_root.empty()) {
      if (auto st = ck::ensure_directory(state_root); !st.ok()) {
        std::cerr << st.error().message << "\n";
        return 1;
      }
    }
    auto trust = server_ca.empty() ? ck::transport::ServerTrust::trust_on_first_use(
                                         state_root.empty() ? "" : state_root + "/" + ck::transport::kServerTlsPinFile)
                                   : ck::transport::ServerTrust::from_ca_file(server_ca);
    if (!trust.ok()) {
      std::cerr << trust.error().message << "\n";
      return 1;
    }
    auto ctx = (*trust)->make_context();
    auto target = ck::transport::resolve_server(*url);
    if (!ctx.ok() || !target.ok()) {
      std::cerr << (!ctx.ok() ? ctx.error().message : target.error().message) << "\n";
      return 1;
    }

    if (checkin_bench > 0) {
      auto cert = ck::crypto::Certificate::parse(*key);
      if (!cert.ok()) {
        std::cerr << agent_key_file << ": " << cert.error().message << "\n";
        return 1;
      }
      ck::fleet::CheckinBenchOptions bo;
      bo.connections = slice.agents;
      bo.duration = std::chrono::milliseconds(static_cast<int64_t>(checkin_bench * 1000));
      bo.id_prefix = id_prefix;
      bo.pinned_fingerprint = cert->fingerprint();
      auto r = ck::fleet::run_checkin_bench(bo, threads, std::move(ctx).value(), std::move(trust).value(),
                                            std::make_shared<const ck::transport::ServerTarget>(std::move(target).value()));
      if (!r.ok()) {
        std::cerr << r.error().message << "\n";
        return 1;
      }
      std::printf("checkin-bench: connections=%d requests=%llu failures=%llu seconds=%.1f req_per_s=%.0f p50_ms=%.2f "
                  "p99_ms=%.2f\n",
                  bo.connections, static_cast<unsigned long long>(r->requests),
                  static_cast<unsigned long long>(r->failures), r->seconds,
                  static_cast<double>(r->requests) / r->seconds, r->p50_ms, r->p99_ms);
      return 0;
    }
    asio::io_context io(threads);
    ck::fleet::FleetOptions fo;
    fo.agents = slice.agents;
    fo.first_index = slice.first_index;
    fo.source_ips = source_ips;
    fo.id_prefix = id_prefix;
    fo.state_root = state_root;
    fo.agent_key = std::move(key).value();
    fo.offline_fraction = offline_fraction;
    fo.max_inflight = max_inflight;
    fo.runner.checkin_interval = std::chrono::milliseconds(static_cast<int64_t>(interval * 1000));
    fo.runner.first_delay_max =
        std::chrono::milliseconds(static_cast<int64_t>((spread >= 0 ? spread : interval) * 1000));
    fo.runner.channel = !no_channel;
    fo.runner.host = ck::agent::local_host_info();
    auto fleet = ck::fleet::Fleet::create(io, std::move(fo), std::move(ctx).value(), std::move(trust).value(),
                                        std::make_shared<const ck::transport::ServerTarget>(std::move(target).value()));
    if (!fleet.ok()) {
      std::cerr << fleet.error().message << "\n";
      return 1;
    }
    auto& f = **fleet;
    const auto started = Clock::now();
    std::atomic<bool> online_requested{offline_fraction == 0};
    bool converged = false, stopping = false;

    // "online" on stdin brings the offline share back.
    std::thread stdin_reader([&] {
      std::string line;
      while (!online_requested && std::getline(std::cin, line)) {
        if (line == "online") online_requested = true;
      }
    });
    stdin_reader.detach();

    auto finish = [&] {
      if (stopping) return;
      stopping = true;
      f.stop([&io] { io.stop(); });
      // Do not wait forever for in-flight check-ins.
      auto guard = std::make_shared<asio::steady_timer>(io, std::chrono::seconds(10));
      guard->async_wait([&io, guard](boost::system::error_code) { io.stop(); });
    };

    asio::steady_timer tick(io);
    Clock::time_point last_progress{};
    bool online_done = offline_fraction == 0;
    std::function<void()> on_tick = [&] {
      if (!online_done && (online_requested || (!offline_file.empty() && std::filesystem::exists(offline_file)))) {
        online_done = true;
        online_requested = true;
        f.bring_online();
        std::cout << "offline agents brought online" << std::endl;
      }
      double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
      const bool print_due =
          progress_every > 0 && Clock::now() - last_progress >= std::chrono::duration<double>(progress_every);
      // The walk over every agent runs only when someone reads it: at 100 ms it was 5 %
      // of the fleet's CPU in a 100,000-agent rotation.
      if (print_due || !until_converged.empty()) {
        auto p = f.progress();
        const std::string goal = until_converged == "current" ? p.server_current : until_converged;
        // Converged: every agent pins the goal and has reported it in a check-in.
        int at_goal = goal.empty() ? 0 : (p.reported.count(goal) ? p.reported.at(goal) : 0);
        if (print_due) {
          last_progress = Clock::now();
          // "on current": pins the server's current certificate and reported it in a check-in.
          std::cout << "progress: " << p.reported_current << "/" << p.agents << " agents on current "
                    << short_fp(p.server_current) << " pinned=" << p.pinning_current << " online=" << p.online
                    << " channels=" << p.channels_open << " checkins=" << p.checkins_ok
                    << " failed=" << p.checkins_failed << " messages=" << p.messages_accepted
                    << " rejected=" << p.messages_rejected << " duplicates=" << p.messages_duplicate
                    << " links=" << p.links_accepted << " t=" << static_cast<int>(elapsed) << "s" << std::endl;
        }
        if (!until_converged.empty() && !goal.empty() && at_goal == p.agents) {
          converged = true;
          return finish();
        }
      }
      if (duration > 0 && elapsed >= duration) return finish();
      tick.expires_after(std::chrono::milliseconds(100));
      tick.async_wait([&](boost::system::error_code ec) {
        if (!ec && !stopping) on_tick();
      });
    };
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int) {
      if (!ec) asio::post(io, finish);
    });
    f.start();
    asio::post(io, on_tick);
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : pool) t.join();

    auto p = f.progress();
    json::object pinned;
    for (const auto& [fp, count] : p.pinned) pinned[fp] = count;
    json::object summary{{"agents", p.agents},
                         {"server_current", p.server_current},
                         {"pinning_current", p.pinning_current},
                         {"reported_current", p.reported_current},
                         {"pinned", pinned},
                         {"online", p.online},
                         {"checkins_ok", p.checkins_ok},
                         {"checkins_failed", p.checkins_failed},
                         {"messages_accepted", p.messages_accepted},
                         {"messages_rejected", p.messages_rejected},
                         {"messages_duplicate", p.messages_duplicate},
                         {"links_accepted", p.links_accepted},
                         {"links_rejected", p.links_rejected},
                         {"converged", converged},
                         {"elapsed_seconds", std::chrono::duration<double>(Clock::now() - started).count()}};
    std::string text = json::serialize(summary);
    std::cout << text << std::endl;
    if (!summary_file.empty()) (void)ck::write_file_atomic(summary_file, text + "\n");
    return until_converged.empty() || converged ? 0 : 1;
  };
  if (processes > 1) {
    // The slices write no summary file of their own: the merged one goes there.
    const std::string merged_summary_file = std::exchange(summary_file, std::string());
    return ck::fleet::run_fleet_processes(processes, n, progress_every, merged_summary_file, simulate);
  }
  return simulate(ck::fleet::FleetSlice{0, n});
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "certkeeper-fleet: " << e.what() << "\n";
    return 1;
  }
}
