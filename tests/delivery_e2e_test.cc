// Delivery end to end (DESIGN.md §5, §7), real binaries on 127.0.0.1: key deployment
// pushed over the channels of agents whose check-in interval is ten minutes, messages
// in the durable outbox surviving server restarts and crashes, and several servers on
// one database (SQLite file or PostgreSQL) delivering each other's messages and
// rotations. Every wait is a poll with a deadline.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>

#include <deque>
#include <map>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <thread>

#include "store/postgres/pg_test_env.h"
#include "support/process.h"

namespace ck::testing {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

const char* kPassword = "Correct-Horse-Battery-Staple-42";

int count_lines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

int count_of(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

struct Server {
  std::unique_ptr<ChildProcess> process;
  std::string agents_url;  // https://127.0.0.1:PORT
  std::string admin;       // unix:PATH
  std::string ca;          // its TLS certificate
};

enum class Backend { kSqlite, kPostgres };

class DeliveryE2eTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    dir_ = temp_dir("delivery");
    if (GetParam() == Backend::kPostgres) {
      CK_REQUIRE_POSTGRES();
      auto schema = pg::testing::TestSchema::create(pg::testing::server_url());
      ASSERT_TRUE(schema.ok()) << schema.error().message;
      schema_ = std::move(schema).value();
      env_.env["CERTKEEPER_STORE"] = schema_->url();
    } else {
      env_.env["CERTKEEPER_STORE"] = "sqlite:" + dir_ + "/store/ck.db";
    }
    env_.env["CERTKEEPER_STORE_KEY_FILE"] = dir_ + "/store.kek";
    env_.unset_env = {"CERTKEEPER_ADMIN"};
    env_.timeout = 60s;
    current_ = rotate();
    ASSERT_EQ(certmgr({"-e", dir_ + "/OfcNTCer.dat"}).exit_code, 0);
  }
  void TearDown() override {
    fleets_.clear();
    agents_.clear();
    servers_.clear();
    schema_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  ProcessResult certmgr(std::vector<std::string> args) {
    args.insert(args.begin(), bin("certmgr"));
    return run(args, env_);
  }
  std::string rotate() {
    auto r = certmgr({"generate", kPassword});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    std::smatch m;
    static const std::regex re("generated ([0-9a-f]{64})");
    EXPECT_TRUE(std::regex_search(r.out, m, re)) << r.out;
    return m.size() > 1 ? m[1].str() : std::string();
  }
  // Server `i` (state folder of its own, so its own TLS identity).
  Server& start_server(size_t i, std::vector<std::string> extra = {}) {
    if (servers_.size() <= i) servers_.resize(i + 1);
    Server& s = servers_[i];
    const std::string state = dir_ + "/server" + std::to_string(i);
    std::vector<std::string> argv{bin("certkeeper-server"), "--listen", "127.0.0.1:0", "--metrics-listen",
                                  "127.0.0.1:0", "--console-listen", "127.0.0.1:0", "--admin-listen", "unix:" + short_socket_path(), "--state-dir", state,
                                  "--log-level", "info"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    s.process = std::make_unique<ChildProcess>(argv, env_);
    std::smatch m;
    static const std::regex re(R"(listening on ([0-9.]+:[0-9]+))");
    static const std::regex unix_re(R"(listening on (unix:\S+) \(admin\))");
    std::string agents = s.process->wait_for_line("(agents)", 20s);
    // Under --workers, worker 0 announces the admin socket before the supervisor
    // announces the agent port: look through everything printed.
    std::string admin = s.process->output().find("(admin)") != std::string::npos
                            ? s.process->output()
                            : s.process->wait_for_line("(admin)", 20s);
    EXPECT_TRUE(std::regex_search(agents, m, re)) << s.process->error_output();
    if (m.size() > 1) s.agents_url = "https://" + m[1].str();
    EXPECT_TRUE(std::regex_search(admin, m, unix_re)) << admin;
    if (m.size() > 1) s.admin = m[1].str();
    s.ca = state + "/server-tls.crt";
    return s;
  }
  // A fleet of `n` agents on `server`, checking in every ten minutes (after one first
  // check-in within half a second): only what the server pushes reaches them sooner.
  ChildProcess& start_fleet(const Server& server, int n, const std::string& prefix) {
    fleets_.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{bin("certkeeper-fleet"), "--server", server.agents_url, "-n", std::to_string(n),
                                 "--id-prefix", prefix, "--memory", "--agent-key", dir_ + "/OfcNTCer.dat",
                                 "--checkin-interval", "600", "--spread", "0.5", "--progress", "0.2",
                                 "--server-ca", server.ca},
        env_));
    return *fleets_.back();
  }
  // Waits for a fleet progress line: all `n` on `fp` with their channels open.
  static bool fleet_on(ChildProcess& fleet, int n, const std::string& fp, std::chrono::milliseconds timeout) {
    const std::string want = "progress: " + std::to_string(n) + "/" + std::to_string(n) + " agents on current " +
                             fp.substr(0, 16);
    return wait_until([&] {
      std::string line = fleet.wait_for_line(want, 200ms);
      return !line.empty() && line.find("channels=" + std::to_string(n)) != std::string::npos;
    }, timeout);
  }
  static bool fleet_messages(ChildProcess& fleet, int n, std::chrono::milliseconds timeout) {
    return !fleet.wait_for_line("messages=" + std::to_string(n) + " ", timeout).empty();
  }
  // certmgr -l: the endpoints left behind (header excluded).
  int mismatched() {
    const std::string csv = dir_ + "/mismatched.csv";
    auto r = certmgr({"-l", csv});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return count_lines(slurp(csv)) - 1;
  }

  std::string dir_, current_;
  RunOptions env_;
  std::unique_ptr<pg::testing::TestSchema> schema_;
  std::deque<Server> servers_;  // references stay valid as it grows
  std::vector<std::unique_ptr<ChildProcess>> fleets_;
  std::vector<std::unique_ptr<ChildProcess>> agents_;
};

// Issue: 15 s after `certmgr -c` no agent with a ten-minute interval had the new key.
TEST_P(DeliveryE2eTest, RotationIsPushedToConnectedAgentsAndListEmptiesWithoutCheckins) {
  Server& server = start_server(0);
  ChildProcess& fleet = start_fleet(server, 30, "push-");
  ASSERT_TRUE(fleet_on(fleet, 30, current_, 30s)) << fleet.output() << fleet.error_output();
  ASSERT_EQ(mismatched(), 0);
  std::string next = rotate();
  // Every agent follows the pushed path and reports it on its channel.
  ASSERT_TRUE(fleet_on(fleet, 30, next, 20s)) << fleet.output();
  EXPECT_TRUE(wait_until([&] { return mismatched() == 0; }, 10s)) << "certmgr -l still lists endpoints";
  EXPECT_EQ(count_of(fleet.output().substr(fleet.output().rfind("progress:")), "checkins=30 "), 1)
      << "the agents checked in again: the push did not do the job";
}

// Issue: messages lived in one process's memory; a restart lost them.
TEST_P(DeliveryE2eTest, MessageToAnOfflineAgentSurvivesSigtermAndSigkillAndIsDeliveredOnce) {
  const std::string a = dir_ + "/agents/off-1";
  std::filesystem::create_directories(a);
  std::filesystem::copy_file(dir_ + "/OfcNTCer.dat", a + "/OfcNTCer.dat");
  Server* server = &start_server(0);
  auto agent_args = [&](bool once) {
    std::vector<std::string> v{bin("certkeeper-agent"), "--server", server->agents_url, "--install-dir", a,
                               "--agent-id", "off-1", "--checkin-interval", "0.3", "--server-ca", server->ca};
    if (once) v.push_back("--once");
    return v;
  };
  ASSERT_EQ(run(agent_args(true), env_).exit_code, 0);  // registered, then offline
  // Queued by certmgr itself, straight into the outbox: no server involved.
  auto sent = certmgr({"send", "run-scan", "--to", "off-1", "--arg", "depth=full"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  EXPECT_NE(sent.out.find("queued run-scan for off-1"), std::string::npos) << sent.out;
  auto broadcast = certmgr({"send", "ping", "--all"});
  ASSERT_EQ(broadcast.exit_code, 0) << broadcast.err;
  EXPECT_EQ(server->process->stop(SIGTERM), 0);
  server = &start_server(0);
  EXPECT_EQ(server->process->stop(SIGKILL), 128 + SIGKILL);
  server = &start_server(0);
  agents_.push_back(std::make_unique<ChildProcess>(agent_args(false), env_));
  ASSERT_TRUE(wait_until([&] {
    return count_lines(slurp(a + "/scan.log")) == 1 && slurp(a + "/replies.log").find("pong") != std::string::npos;
  }, 20s)) << agents_.back()->error_output();
  EXPECT_NE(slurp(a + "/scan.log").find("full"), std::string::npos);
  // Many check-ins and a channel later, and across one more crash: still once.
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(server->process->stop(SIGKILL), 128 + SIGKILL);
  server = &start_server(0);
  std::this_thread::sleep_for(2000ms);
  EXPECT_EQ(count_lines(slurp(a + "/scan.log")), 1);
  EXPECT_EQ(count_lines(slurp(a + "/replies.log")), 1);
  // The server did not offer what the agent had acknowledged (the agent's jti check,
  // the last line of defence, never had to step in).
  EXPECT_EQ(agents_.back()->error_output().find("duplicate message ignored"), std::string::npos)
      << agents_.back()->error_output();
}

// DESIGN §7: several servers on one database; a message through one and a rotation by
// certmgr reach the agents connected to every one of them.
TEST_P(DeliveryE2eTest, TwoServersOnOneStoreDeliverEachOthersMessagesAndRotations) {
  Server& a = start_server(0);
  Server& b = start_server(1);
  ChildProcess& fleet_a = start_fleet(a, 10, "on-a-");
  ChildProcess& fleet_b = start_fleet(b, 10, "on-b-");
  ASSERT_TRUE(fleet_on(fleet_a, 10, current_, 30s)) << fleet_a.output() << fleet_a.error_output();
  ASSERT_TRUE(fleet_on(fleet_b, 10, current_, 30s)) << fleet_b.output() << fleet_b.error_output();
  // A broadcast through server A's admin API reaches the agents on B.
  auto sent = certmgr({"send", "ping", "--all", "--server-admin", a.admin});
  ASSERT_EQ(sent.exit_code, 0) << sent.out << sent.err;
  EXPECT_TRUE(fleet_messages(fleet_b, 10, 10s)) << fleet_b.output();
  EXPECT_TRUE(fleet_messages(fleet_a, 10, 10s)) << fleet_a.output();
  // One agent's message through B reaches it on A.
  ASSERT_EQ(certmgr({"send", "run-scan", "--to", "on-a-000000", "--server-admin", b.admin}).exit_code, 0);
  EXPECT_TRUE(fleet_messages(fleet_a, 11, 10s)) << fleet_a.output();
  // A rotation made with certmgr reaches both.
  std::string next = rotate();
  EXPECT_TRUE(fleet_on(fleet_a, 10, next, 20s)) << fleet_a.output();
  EXPECT_TRUE(fleet_on(fleet_b, 10, next, 20s)) << fleet_b.output();
  EXPECT_TRUE(wait_until([&] { return mismatched() == 0; }, 10s));
}

// certkeeper-server --workers 3: one agent port (SO_REUSEPORT) shared by three
// processes; rotations and broadcasts reach agents on every worker; a worker killed is
// started again and its agents come back; SIGTERM drains them all.
TEST_P(DeliveryE2eTest, WorkersShareOnePortRestartWhenKilledAndDrainOnSigterm) {
  Server& server = start_server(0, {"--workers", "3"});
  ChildProcess& fleet = start_fleet(server, 30, "w-");
  ASSERT_TRUE(fleet_on(fleet, 30, current_, 30s)) << fleet.output() << server.process->error_output();
  std::map<int, int> pids;  // worker index -> pid
  static const std::regex started(R"(worker ([0-9]+) started \(pid ([0-9]+)\))");
  auto read_pids = [&] {
    const std::string log = server.process->error_output();
    for (std::sregex_iterator it(log.begin(), log.end(), started), end; it != end; ++it)
      pids[std::stoi((*it)[1])] = std::stoi((*it)[2]);
  };
  read_pids();
  ASSERT_EQ(pids.size(), 3u) << server.process->error_output();
  EXPECT_EQ(count_of(server.process->output(), "(agents)"), 1) << "the agent port is announced once";

  // /metrics (served by worker 0) counts the whole server: every worker's check-ins,
  // and the fleet's 30 channels (one connection each) wherever they landed.
  // The port worker 0 printed last (a restarted worker 0 binds port 0 anew), in what
  // has been read of the server's output.
  static const std::regex metrics_line(R"(127\.0\.0\.1:([0-9]+) \(metrics\))");
  auto metrics_port = [&] {
    const std::string printed = server.process->output();
    std::string port;
    for (std::sregex_iterator it(printed.begin(), printed.end(), metrics_line), end; it != end; ++it) port = (*it)[1];
    return port;
  };
  ASSERT_FALSE(metrics_port().empty()) << server.process->output();
  std::string scraped;
  // `name` is a regular expression (labels: escape the braces); -1 when not scraped.
  auto metric = [&](const std::string& name) -> long {
    scraped = run({"/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/" + metrics_port() +
                                          " && printf 'GET /metrics HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n' >&3 && cat <&3"})
                  .out;
    std::smatch c;
    return std::regex_search(scraped, c, std::regex("\n" + name + " ([0-9]+)")) ? std::stol(c[1]) : -1;
  };
  const std::string committed = R"(certkeeper_registry_writes_total\{result="committed"\})";
  EXPECT_GE(metric("certkeeper_checkins_total"), 30) << scraped;
  // Other workers publish their channel count once a second.
  EXPECT_TRUE(wait_until([&] {
    return metric("certkeeper_channels_connected") == 30 && metric("certkeeper_agent_connections") == 30;
  }, 10s)) << scraped;

  // A rotation and a broadcast reach the agents of every worker.
  const std::string next = rotate();
  ASSERT_TRUE(fleet_on(fleet, 30, next, 20s)) << fleet.output();
  EXPECT_TRUE(wait_until([&] { return mismatched() == 0; }, 10s));
  ASSERT_EQ(certmgr({"send", "ping", "--all"}).exit_code, 0);
  EXPECT_TRUE(fleet_messages(fleet, 30, 20s)) << fleet.output();

  // Worker 1 killed: logged, started again; its agents reconnect and follow the next rotation.
  const int killed = pids[1];
  const long checkins_before = metric("certkeeper_checkins_total");
  ASSERT_GE(checkins_before, 30) << scraped;
  ASSERT_EQ(::kill(killed, SIGKILL), 0);
  ASSERT_TRUE(wait_until([&] {
    read_pids();
    return pids[1] != killed;
  }, 10s)) << server.process->error_output();
  EXPECT_NE(server.process->error_output().find("worker 1 (pid " + std::to_string(killed) + ") died: killed by signal 9"),
            std::string::npos);
  const std::string after = rotate();
  ASSERT_TRUE(fleet_on(fleet, 30, after, 40s)) << fleet.output();
  // The dead worker's check-ins still count; its connections do not (its agents
  // reconnected elsewhere or to its successor: 30 again, not 30 plus the dead ones).
  EXPECT_GE(metric("certkeeper_checkins_total"), checkins_before) << scraped;
  EXPECT_TRUE(wait_until([&] {
    return metric("certkeeper_channels_connected") == 30 && metric("certkeeper_agent_connections") == 30;
  }, 10s)) << scraped;

  // Worker 0 killed: its successor serves /metrics, and the counters it showed (its own
  // registry writes and certificate reloads among them) do not go back, with
  // process_start_time_seconds unchanged: Prometheus would take a drop for a reset.
  // No rotation meanwhile: agents reconnecting may add check-ins, never remove any.
  const long checkins_0 = metric("certkeeper_checkins_total");
  const long committed_0 = metric(committed);
  const long reloads_0 = metric("certkeeper_certificate_reloads_total");
  std::smatch st;
  ASSERT_TRUE(std::regex_search(scraped, st, std::regex("\nprocess_start_time_seconds (\\S+)\n"))) << scraped;
  const std::string start_0 = st[1];
  ASSERT_GE(checkins_0, checkins_before) << scraped;
  ASSERT_GT(committed_0, 0) << scraped;
  ASSERT_GT(reloads_0, 0) << scraped;  // every worker reloaded at the rotations
  const int killed_0 = pids[0];
  const int metrics_lines = count_of(server.process->output(), "(metrics)");
  ASSERT_EQ(::kill(killed_0, SIGKILL), 0);
  ASSERT_TRUE(wait_until([&] {
    read_pids();
    server.process->wait_for_line("(metrics)", 100ms);  // reads what the successor printed
    return pids[0] != killed_0 && count_of(server.process->output(), "(metrics)") > metrics_lines &&
           metric("certkeeper_checkins_total") >= 0;
  }, 20s)) << server.process->output() << server.process->error_output();
  EXPECT_GE(metric("certkeeper_checkins_total"), checkins_0) << scraped;
  EXPECT_GE(metric(committed), committed_0) << scraped;
  EXPECT_GE(metric("certkeeper_certificate_reloads_total"), reloads_0) << scraped;
  ASSERT_TRUE(std::regex_search(scraped, st, std::regex("\nprocess_start_time_seconds (\\S+)\n"))) << scraped;
  EXPECT_EQ(st[1].str(), start_0);

  // SIGTERM drains every worker; none is left running.
  EXPECT_EQ(server.process->stop(SIGTERM, 40s), 0) << server.process->error_output();
  for (const auto& [index, pid] : pids) EXPECT_NE(::kill(pid, 0), 0) << "worker " << index << " still runs";
}

INSTANTIATE_TEST_SUITE_P(Backends, DeliveryE2eTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

}  // namespace
}  // namespace ck::testing
