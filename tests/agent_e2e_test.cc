// End-to-end tests of certkeeper-agent and certkeeper-fleet against the real
// certkeeper-server and certmgr binaries on 127.0.0.1 (port 0, temporary store).
// Every wait is a poll with a deadline.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <thread>

#include "crypto/x509.h"
#include "support/process.h"

namespace ck::testing {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

const char* kPassword = "Correct-Horse-Battery-Staple-42";

int port_of(const std::string& line) {
  std::smatch m;
  static const std::regex re(R"(listening on [0-9.]+:([0-9]+))");
  return std::regex_search(line, m, re) ? std::stoi(m[1]) : 0;
}

// A plain HTTP/1.1 request to the loopback admin listener; returns the status code.
int admin_request(int port, const std::string& method, const std::string& target, const std::string& body,
                  std::string* reply = nullptr) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return 0;
  }
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nContent-Type: application/json\r\n"
                    "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return 0;
  }
  std::string resp;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) resp.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (reply) *reply = resp;
  return resp.size() > 12 ? std::atoi(resp.substr(9, 3).c_str()) : 0;
}

// What an agent's install folder says it pins (state file and OfcNTCer.dat agree).
struct Pin {
  std::string fingerprint;
  int64_t generation = -1;
  int64_t last_seq = -1;
};

Pin read_pin(const std::string& dir) {
  Pin p;
  boost::system::error_code ec;
  auto v = json::parse(slurp(dir + "/agent_state.json"), ec);
  if (ec || !v.is_object()) return p;
  auto cert = crypto::Certificate::parse(slurp(dir + "/OfcNTCer.dat"));
  if (!cert.ok() || cert->fingerprint() != v.at("pinned_fingerprint").as_string()) return p;
  p.fingerprint = cert->fingerprint();
  p.generation = v.at("generation").as_int64();
  p.last_seq = v.at("last_seq").as_int64();
  return p;
}

class AgentE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir();
    env_.env["CERTKEEPER_STORE"] = "sqlite:" + dir_ + "/store/ck.db";
    env_.timeout = 60s;
    current_ = rotate();
    ASSERT_EQ(certmgr({"-e", dir_ + "/OfcNTCer.dat"}).exit_code, 0);
    start_server();
  }

  // Starts certkeeper-server on the store in env_ (TLS identity kept in dir_/server).
  void start_server(const std::vector<std::string>& extra = {}) {
    server_.reset();
    std::vector<std::string> argv{bin("certkeeper-server"), "--listen", "127.0.0.1:0", "--metrics-listen",
                                  "127.0.0.1:0", "--console-listen", "127.0.0.1:0", "--admin-listen", admin_socket(), "--state-dir", dir_ + "/server",
                                  "--log-level", "info"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    server_ = std::make_unique<ChildProcess>(argv, env_);
    agent_port_ = port_of(server_->wait_for_line("(agents)", 20s));
    admin_port_ = port_of(server_->wait_for_line("(metrics)", 20s));
    ASSERT_GT(agent_port_, 0) << server_->error_output();
    ASSERT_GT(admin_port_, 0);
    url_ = "https://127.0.0.1:" + std::to_string(agent_port_);
  }

  void TearDown() override {
    agents_.clear();
    server_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  ProcessResult certmgr(std::vector<std::string> args) {
    args.insert(args.begin(), bin("certmgr"));
    return run(args, env_);
  }

  // certmgr -c: a new current certificate; returns its fingerprint.
  std::string rotate(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"generate"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(kPassword);
    auto r = certmgr(args);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    std::smatch m;
    static const std::regex re("generated ([0-9a-f]{64})");
    EXPECT_TRUE(std::regex_search(r.out, m, re)) << r.out;
    return m.size() > 1 ? m[1].str() : std::string();
  }

  // Waits until the running server serves `fp` as its current certificate.
  bool server_knows(const std::string& fp) {
    return wait_until([&] {
      std::string metrics;
      admin_request(admin_port_, "GET", "/metrics", "", &metrics);
      return metrics.find("certkeeper_current_certificate_expiry_seconds{fingerprint=\"" + fp + "\"}") !=
             std::string::npos;
    }, 20s);
  }

  std::string install(const std::string& name) {
    std::string d = dir_ + "/agents/" + name;
    std::filesystem::create_directories(d);
    std::filesystem::copy_file(dir_ + "/OfcNTCer.dat", d + "/OfcNTCer.dat");
    return d;
  }

  ChildProcess& start_agent(const std::string& name, const std::string& install_dir) {
    agents_.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{bin("certkeeper-agent"), "--server", url_, "--install-dir", install_dir,
                                 "--agent-id", name, "--checkin-interval", "0.5", "--server-ca",
                                 dir_ + "/server/server-tls.crt"},
        env_));
    return *agents_.back();
  }

  ProcessResult run_once(const std::string& name, const std::string& install_dir,
                         const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{bin("certkeeper-agent"), "--server", url_, "--install-dir", install_dir,
                                  "--agent-id", name, "--once"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args, env_);
  }

  // Through the running server's admin socket, as an administrator would.
  int send(const std::string& command, const std::string& to, json::object args = {}) {
    std::vector<std::string> argv{"send", command};
    if (to == "all") {
      argv.push_back("--all");
    } else {
      argv.insert(argv.end(), {"--to", to});
    }
    argv.insert(argv.end(), {"--args-json", json::serialize(args), "--server-admin", admin_socket()});
    auto r = certmgr(argv);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return r.exit_code == 0 ? 200 : 0;
  }
  std::string admin_socket() {
    if (admin_socket_.empty()) admin_socket_ = "unix:" + short_socket_path();
    return admin_socket_;
  }
  std::string admin_socket_;

  // TLS handshakes and resumptions the server counted while 20 fleet agents checked in
  // every 0.3 s for 3 s (each check-in a new connection); the fleet must have run clean.
  struct TlsCounts {
    long handshakes = -1, resumed = -1;
  };
  TlsCounts run_reconnecting_fleet() {
    ChildProcess fleet({bin("certkeeper-fleet"), "--server", url_, "-n", "20", "--memory", "--agent-key",
                        dir_ + "/OfcNTCer.dat", "--checkin-interval", "0.3", "--spread", "0.3", "--duration", "3",
                        "--progress", "0", "--server-ca", dir_ + "/server/server-tls.crt"},
                       env_);
    TlsCounts counts;
    std::string summary = fleet.wait_for_line("\"agents\":20", 30s);
    EXPECT_NE(summary, "") << fleet.output() << fleet.error_output();
    if (summary.empty()) return counts;
    auto v = json::parse(summary);
    EXPECT_EQ(v.at("checkins_failed").as_int64(), 0);
    EXPECT_GT(v.at("checkins_ok").as_int64(), 60);  // about 10 rounds of 20
    std::string metrics;
    admin_request(admin_port_, "GET", "/metrics", "", &metrics);
    std::smatch m;
    if (std::regex_search(metrics, m, std::regex(R"(\ncertkeeper_tls_handshakes_total ([0-9]+))")))
      counts.handshakes = std::stol(m[1]);
    if (std::regex_search(metrics, m, std::regex(R"(\ncertkeeper_tls_resumptions_total ([0-9]+))")))
      counts.resumed = std::stol(m[1]);
    EXPECT_GE(counts.handshakes, 0) << metrics;
    EXPECT_GE(counts.resumed, 0) << metrics;
    EXPECT_EQ(fleet.stop(0), 0);
    return counts;
  }

  std::string dir_;
  RunOptions env_;
  std::string current_;
  std::unique_ptr<ChildProcess> server_;
  std::vector<std::unique_ptr<ChildProcess>> agents_;
  int agent_port_ = 0, admin_port_ = 0;  // admin_port_: the metrics listener
  std::string url_;
};

TEST_F(AgentE2eTest, OnlineAgentsFollowRotationsAndRunSignedCommands) {
  std::string a1 = install("a1"), a2 = install("a2");
  start_agent("a1", a1);
  start_agent("a2", a2);
  ASSERT_TRUE(wait_until([&] { return read_pin(a1).fingerprint == current_ && read_pin(a2).fingerprint == current_; }, 20s));

  for (int round = 0; round < 2; ++round) {
    std::string next = rotate();
    ASSERT_TRUE(wait_until([&] { return read_pin(a1).fingerprint == next && read_pin(a2).fingerprint == next; }, 30s))
        << "round " << round << "\n" << agents_[0]->error_output();
    EXPECT_EQ(read_pin(a1).generation, round + 2);
  }

  // Signed commands over the channel (or the next check-in).
  send("ping", "a1");
  send("set-policy", "a2", json::object{{"scan_interval", 600}});
  send("run-scan", "all");
  EXPECT_TRUE(wait_until([&] { return slurp(a1 + "/replies.log").find("\"pong\"") != std::string::npos; }, 20s));
  EXPECT_TRUE(wait_until([&] { return slurp(a2 + "/policy.json").find("\"scan_interval\":600") != std::string::npos; }, 20s));
  EXPECT_TRUE(wait_until([&] {
    return !slurp(a1 + "/scan.log").empty() && !slurp(a2 + "/scan.log").empty();
  }, 20s));
  EXPECT_FALSE(std::filesystem::exists(a1 + "/policy.json"));  // addressed to a2 only
}

class AgentOfflineE2eTest : public AgentE2eTest, public ::testing::WithParamInterface<int> {};

TEST_P(AgentOfflineE2eTest, OfflineAgentCatchesUpInOneCheckin) {
  const int missed = GetParam();
  std::string a = install("offline");
  auto first = run_once("offline", a);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_EQ(read_pin(a).fingerprint, current_);
  const int64_t seq_before = read_pin(a).last_seq;

  std::string latest;
  for (int i = 0; i < missed; ++i) latest = rotate();
  ASSERT_TRUE(server_knows(latest));
  // A command queued while the agent is away is delivered with the catch-up.
  send("run-scan", "offline");

  auto r = run_once("offline", a);  // exactly one check-in
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Pin pin = read_pin(a);
  EXPECT_EQ(pin.fingerprint, latest) << r.err;
  EXPECT_EQ(pin.generation, missed + 1);
  EXPECT_GT(pin.last_seq, seq_before);
  EXPECT_FALSE(slurp(a + "/scan.log").empty());
  EXPECT_NE(r.err.find("rotation accepted"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Replacements, AgentOfflineE2eTest, ::testing::Values(1, 2, 3));

TEST_F(AgentE2eTest, RevokedKeyNeedsHandCopyWhichIsPickedUpWithoutRestart) {
  std::string a = install("r1");
  start_agent("r1", a);
  ASSERT_TRUE(wait_until([&] { return read_pin(a).fingerprint == current_; }, 20s));
  agents_.clear();  // stop it; the key it pins leaks and is replaced with revocation
  std::string next = rotate({"--revoke-previous"});
  ASSERT_TRUE(server_knows(next));
  ChildProcess& agent = start_agent("r1", a);
  // It gets nothing it could trust: no rotation, still the revoked key.
  std::this_thread::sleep_for(2s);  // several 0.5 s check-in cycles
  EXPECT_EQ(read_pin(a).fingerprint, current_);
  // certmgr -e and a manual copy: picked up by the running agent, generation 0.
  ASSERT_EQ(certmgr({"-e", dir_ + "/fresh.dat"}).exit_code, 0);
  std::filesystem::copy_file(dir_ + "/fresh.dat", a + "/OfcNTCer.dat",
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_TRUE(wait_until([&] {
    Pin p = read_pin(a);
    return p.fingerprint == next && p.generation == 0;
  }, 20s)) << agent.error_output();
  send("ping", "r1");
  EXPECT_TRUE(wait_until([&] { return slurp(a + "/replies.log").find("\"pong\"") != std::string::npos; }, 20s));
}

// Agent identity with the real binaries: each install makes its own key (agent.key,
// 0600); a second install claiming the same agent id is refused (401) and cannot
// change the first one's registry row; `certmgr agents forget` lets a reinstalled
// endpoint bind its new key.
TEST_F(AgentE2eTest, AnotherInstallCannotCheckInAsAnAgentUntilForgotten) {
  std::string real = install("same-id"), impostor = dir_ + "/agents/impostor";
  std::filesystem::create_directories(impostor);
  std::filesystem::copy_file(dir_ + "/OfcNTCer.dat", impostor + "/OfcNTCer.dat");
  const std::vector<std::string> ca{"--server-ca", dir_ + "/server/server-tls.crt"};
  auto first = run_once("same-id", real, ca);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  struct stat st;
  ASSERT_EQ(::stat((real + "/agent.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto listed = certmgr({"--json", "agents", "list"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  auto rows = json::parse(listed.out).as_array();
  ASSERT_EQ(rows.size(), 1u);
  const std::string bound_key = std::string(rows[0].at("key_fingerprint").as_string());
  EXPECT_EQ(bound_key.size(), 64u);
  auto refused = run_once("same-id", impostor, ca);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("401"), std::string::npos) << refused.err;
  listed = certmgr({"--json", "agents", "list"});
  EXPECT_EQ(json::parse(listed.out).as_array()[0].at("key_fingerprint").as_string(), bound_key);
  EXPECT_EQ(run_once("same-id", real, ca).exit_code, 0);  // the real one still gets in
  // The endpoint was reinstalled (new key): the administrator forgets the old one.
  auto forgot = certmgr({"agents", "forget", "same-id"});
  ASSERT_EQ(forgot.exit_code, 0) << forgot.err;
  EXPECT_EQ(run_once("same-id", impostor, ca).exit_code, 0);
  EXPECT_NE(run_once("same-id", real, ca).exit_code, 0);
  EXPECT_EQ(certmgr({"agents", "forget", "no-such-agent"}).exit_code, 1);
  EXPECT_NE(certmgr({"status"}).exit_code, 2);
}

TEST_F(AgentE2eTest, ManualEnrollmentWaitsForCertmgrAgentsAccept) {
  start_server({"--enrollment", "manual"});
  std::string a = install("m1");
  const std::vector<std::string> ca{"--server-ca", dir_ + "/server/server-tls.crt"};
  auto waiting = run_once("m1", a, ca);
  EXPECT_NE(waiting.exit_code, 0);
  EXPECT_NE(waiting.err.find("certmgr agents accept m1"), std::string::npos) << waiting.err;
  auto listed = certmgr({"--json", "agents", "list"});
  EXPECT_EQ(json::parse(listed.out).as_array()[0].at("enrollment").as_string(), "pending");
  ASSERT_EQ(certmgr({"agents", "accept", "m1"}).exit_code, 0);
  auto in = run_once("m1", a, ca);
  EXPECT_EQ(in.exit_code, 0) << in.err;
  ASSERT_EQ(certmgr({"agents", "reject", "m1"}).exit_code, 0);
  EXPECT_NE(run_once("m1", a, ca).exit_code, 0);
}

TEST_F(AgentE2eTest, TrustOnFirstUseRefusesADifferentServerCertificate) {
  std::string a = install("t1");
  auto first = run_once("t1", a, {});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_TRUE(std::filesystem::exists(a + "/server_tls.pem"));
  // Pretend the pinned server certificate was another one.
  std::filesystem::copy_file(dir_ + "/OfcNTCer.dat", a + "/server_tls.pem",
                             std::filesystem::copy_options::overwrite_existing);
  std::string state_before = slurp(a + "/agent_state.json");
  ASSERT_TRUE(server_knows(rotate()));
  auto r = run_once("t1", a, {});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("server TLS certificate changed"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(a + "/agent_state.json"), state_before);
  // With --server-ca it trusts the server again and catches up.
  auto ok = run_once("t1", a, {"--server-ca", dir_ + "/server/server-tls.crt"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

// docs/runbooks.md (a leaked server TLS key): agents whose --server-ca is the server's
// previous self-signed certificate refuse the new one, and say why.
TEST_F(AgentE2eTest, ServerCaThatIsAnotherSelfSignedCertificateIsRefusedWithTheReason) {
  std::string a = install("c1");
  ASSERT_EQ(run_once("c1", a, {"--server-ca", dir_ + "/server/server-tls.crt"}).exit_code, 0);
  std::string state_before = slurp(a + "/agent_state.json");
  // Another self-signed certificate (the authentication certificate) stands for the old one.
  auto r = run_once("c1", a, {"--server-ca", dir_ + "/OfcNTCer.dat"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("certificate verify failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("self-signed certificate"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(a + "/agent_state.json"), state_before);
}

TEST_F(AgentE2eTest, FleetConvergesAndOfflineShareCatchesUp) {
  const std::string online_flag = dir_ + "/online";
  ChildProcess fleet({bin("certkeeper-fleet"), "--server", url_, "-n", "40", "--memory", "--agent-key",
                      dir_ + "/OfcNTCer.dat", "--checkin-interval", "0.5", "--spread", "0.5",
                      "--offline-fraction", "0.25", "--offline-until-file", online_flag,
                      "--until-converged", "current", "--progress", "0.2", "--server-ca",
                      dir_ + "/server/server-tls.crt"},
                     env_);
  ASSERT_NE(fleet.wait_for_line("progress: 30/40 agents on current " + current_.substr(0, 16), 30s), "")
      << fleet.output() << fleet.error_output();
  std::string next = rotate();
  next = rotate();  // the offline share misses two replacements
  ASSERT_NE(fleet.wait_for_line("progress: 30/40 agents on current " + next.substr(0, 16), 30s), "")
      << fleet.output();
  std::ofstream(online_flag) << "go";
  std::string summary = fleet.wait_for_line("\"converged\":true", 30s);
  ASSERT_NE(summary, "") << fleet.output();
  auto v = json::parse(summary);
  EXPECT_EQ(v.at("pinning_current").as_int64(), 40);
  EXPECT_EQ(v.at("reported_current").as_int64(), 40);
  EXPECT_EQ(v.at("server_current").as_string(), next);
  EXPECT_EQ(v.at("links_rejected").as_int64(), 0);
  EXPECT_EQ(fleet.stop(0), 0);  // it exits by itself once converged
}

// A reconnecting fleet resumes its TLS sessions: after each agent's first full
// handshake, its check-ins and channel come back on a resumed session (the server
// counts them), and the agents still present their own keys (no 401 on resumption).
TEST_F(AgentE2eTest, FleetResumesTlsSessionsAndKeepsItsIdentity) {
  const auto [handshakes, resumed] = run_reconnecting_fleet();
  // Each agent pays one full handshake (a few more if a ticket raced a reconnect).
  EXPECT_GE(resumed, handshakes - 30) << handshakes << " handshakes, " << resumed << " resumed";
  EXPECT_GT(resumed, 40);
}

// Under --workers every worker's TLS context shares one session-ticket secret, so an
// agent resumes on whichever worker the kernel hands its reconnect to (SO_REUSEPORT);
// with per-worker keys two reconnects in three would be full handshakes. /metrics
// (worker 0) counts the handshakes of all workers.
TEST_F(AgentE2eTest, FleetResumesTlsSessionsOnWhicheverWorkerItReaches) {
  server_.reset();
  server_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{bin("certkeeper-server"), "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
                               "--console-listen", "127.0.0.1:0", "--admin-listen", admin_socket(), "--state-dir",
                               dir_ + "/server", "--log-level", "info", "--workers", "3"},
      env_);
  // Worker 0 prints its listeners before the supervisor announces the agent port.
  agent_port_ = port_of(server_->wait_for_line("(agents)", 30s));
  ASSERT_GT(agent_port_, 0) << server_->error_output();
  std::smatch m;
  const std::string printed = server_->output();
  ASSERT_TRUE(std::regex_search(printed, m, std::regex(R"(listening on [0-9.]+:([0-9]+) \(metrics\))"))) << printed;
  admin_port_ = std::stoi(m[1]);
  url_ = "https://127.0.0.1:" + std::to_string(agent_port_);

  const auto [handshakes, resumed] = run_reconnecting_fleet();
  // One full handshake per agent (a few more if a ticket raced a reconnect), wherever
  // its connections landed.
  EXPECT_GT(handshakes, 60) << "the check-ins of every worker are counted";
  EXPECT_GE(resumed, handshakes - 30) << handshakes << " handshakes, " << resumed << " resumed";
}

TEST_F(AgentE2eTest, FleetStillTrustsARestoredServerAndFollowsItsNextRotation) {
  std::string a = install("re1");
  std::string b_fp = rotate();
  ASSERT_TRUE(server_knows(b_fp));
  ASSERT_EQ(run_once("re1", a).exit_code, 0);
  ASSERT_EQ(read_pin(a).fingerprint, b_fp);
  ASSERT_EQ(read_pin(a).generation, 2);
  auto backup = certmgr({"backup", kPassword, dir_ + "/backup.zip"});
  ASSERT_EQ(backup.exit_code, 0) << backup.out << backup.err;

  // Reinstall: a fresh store restored from the backup, the same server TLS identity.
  server_.reset();
  env_.env["CERTKEEPER_STORE"] = "sqlite:" + dir_ + "/store2/ck.db";
  auto restore = certmgr({"-r", kPassword, dir_ + "/backup.zip"});
  ASSERT_EQ(restore.exit_code, 0) << restore.out << restore.err;
  start_server();
  send("ping", "re1");
  auto r = run_once("re1", a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(slurp(a + "/replies.log").find("\"pong\""), std::string::npos) << r.err;
  EXPECT_EQ(read_pin(a).fingerprint, b_fp);

  // The restored store keeps counting generations: the next rotation is not a rollback.
  std::string c_fp = rotate();
  ASSERT_TRUE(server_knows(c_fp));
  r = run_once("re1", a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_pin(a).fingerprint, c_fp) << r.err;
  EXPECT_EQ(read_pin(a).generation, 3);
}

TEST_F(AgentE2eTest, ImportedExternalPfxBecomesCurrentAndAgentsConverge) {
  std::string a = install("pfx1");
  ASSERT_EQ(run_once("pfx1", a).exit_code, 0);
  // A PFX made by another tool (the openssl CLI).
  const std::string key = dir_ + "/ext.key", crt = dir_ + "/ext.crt", pfx = dir_ + "/OfcNTCer.pfx";
  auto gen = run({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-keyout", key, "-out", crt, "-days", "30", "-subj", "/CN=certkeeper authentication"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto exp = run({"/usr/bin/openssl", "pkcs12", "-export", "-inkey", key, "-in", crt, "-out", pfx, "-passout",
                  std::string("pass:") + kPassword});
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  auto imp = certmgr({"-ine", kPassword, pfx});
  ASSERT_EQ(imp.exit_code, 0) << imp.out << imp.err;
  auto fp = crypto::Certificate::parse(slurp(crt));
  ASSERT_TRUE(fp.ok());
  ASSERT_TRUE(server_knows(fp->fingerprint()));
  auto r = run_once("pfx1", a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_pin(a).fingerprint, fp->fingerprint()) << r.err;
  EXPECT_EQ(read_pin(a).generation, 2);
}

// A restored store lacks the keys that were not exportable, so the server cannot mint
// a direct statement for an agent pinning such a key: it serves the stored chain, and
// the agent walks k links in one check-in (k = 1, 2, 3).
class AgentChainE2eTest : public AgentE2eTest, public ::testing::WithParamInterface<int> {
 protected:
  // Imports a PFX made by the openssl CLI (key not exportable); returns its fingerprint.
  std::string import_external(const std::string& name) {
    const std::string key = dir_ + "/" + name + ".key", crt = dir_ + "/" + name + ".crt",
                      pfx = dir_ + "/" + name + ".pfx";
    EXPECT_EQ(run({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                   "-nodes", "-keyout", key, "-out", crt, "-days", "30", "-subj", "/CN=certkeeper authentication"})
                  .exit_code, 0);
    EXPECT_EQ(run({"/usr/bin/openssl", "pkcs12", "-export", "-inkey", key, "-in", crt, "-out", pfx, "-passout",
                   std::string("pass:") + kPassword}).exit_code, 0);
    auto r = certmgr({"-ine", kPassword, pfx});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    auto cert = crypto::Certificate::parse(slurp(crt));
    return cert.ok() ? cert->fingerprint() : std::string();
  }
};

TEST_P(AgentChainE2eTest, AgentWalksTheStoredChainAfterRestore) {
  const int links = GetParam();
  std::string a = install("chain1");
  std::string pinned = import_external("b1");
  ASSERT_TRUE(server_knows(pinned));
  ASSERT_EQ(run_once("chain1", a).exit_code, 0);
  ASSERT_EQ(read_pin(a).fingerprint, pinned);
  const int64_t held = read_pin(a).generation;
  for (int i = 2; i <= links; ++i) import_external("b" + std::to_string(i));
  std::string latest = rotate();
  ASSERT_EQ(certmgr({"backup", kPassword, dir_ + "/chain.zip"}).exit_code, 0);
  server_.reset();
  env_.env["CERTKEEPER_STORE"] = "sqlite:" + dir_ + "/store2/ck.db";
  auto restore = certmgr({"-r", kPassword, dir_ + "/chain.zip"});
  ASSERT_EQ(restore.exit_code, 0) << restore.out << restore.err;
  start_server();
  auto r = run_once("chain1", a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_pin(a).fingerprint, latest) << r.err;
  EXPECT_EQ(read_pin(a).generation, held + links);
  int walked = 0;
  for (size_t p = r.err.find("rotation accepted"); p != std::string::npos; p = r.err.find("rotation accepted", p + 1))
    ++walked;
  EXPECT_EQ(walked, links) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Links, AgentChainE2eTest, ::testing::Values(1, 2, 3));

}  // namespace
}  // namespace ck::testing
