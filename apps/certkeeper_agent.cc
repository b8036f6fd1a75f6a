// certkeeper-agent: pins OfcNTCer.dat, checks in with the server, keeps the signed
// command channel open, and follows key rotations (DESIGN.md §5-6).
// Exit codes: 0 ok (or --once check-in succeeded), 1 failure, 2 usage error.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>

#include "agent/client_identity.h"
#include "agent/agent.h"
#include "agent/file_state_store.h"
#include "common/config/program_options.h"
#include "common/logging.h"
#include "agent/transport/runner.h"

namespace {

int run(int argc, char** argv) {
  CLI::App app{"certkeeper-agent: verifies server-initiated messages and follows key rotations"};
  std::string server, install_dir, agent_id, server_ca;
  ck::config::CommonOptions common;
  double interval = 60;
  bool once = false, no_channel = false;
  app.add_option("--server", server, "server URL, https://HOST:PORT")->required();
  app.add_option("--install-dir", install_dir, "folder holding OfcNTCer.dat and the agent state")
      ->required();
  app.add_option("--agent-id", agent_id, "agent id (1-64 of A-Z a-z 0-9 . _ -); else generated once and kept");
  app.add_option("--checkin-interval", interval, "seconds between check-ins (jitter ±20%)")
      ->check(CLI::Range(0.05, 86400.0));
  app.add_option("--server-ca", server_ca, "CA file for the server's TLS certificate (else trust on first use)");
  app.add_flag("--once", once, "one check-in, then exit (0 when it succeeded)");
  app.add_flag("--no-channel", no_channel, "do not keep the WebSocket channel open");
  ck::config::add_common_options(app, common, "info");
  if (auto stop = ck::config::parse_program_options(app, "agent", argc, argv)) return *stop;
  ck::config::start_logging(common);

  auto url = ck::transport::parse_server_url(server);
  if (!url.ok()) {
    std::cerr << url.error().message << "\n";
    return 2;
  }
  auto store = ck::agent::FileStateStore::open(install_dir);
  if (!store.ok()) {
    spdlog::error("{}", store.error().message);
    return 1;
  }
  ck::agent::AgentOptions options;
  options.agent_id = agent_id;
  auto agent = ck::agent::Agent::open(std::move(store).value(), options);
  if (!agent.ok()) {
    spdlog::error("{}", agent.error().message);
    return agent.error().kind == ck::ErrorKind::kInvalidArgument ? 2 : 1;
  }
  // The agent's own key (made at first start): the server binds the agent id to it.
  auto identity = ck::agent::load_or_create_client_identity(install_dir + "/" + ck::agent::kClientKeyFileName,
                                                           (*agent)->agent_id());
  if (!identity.ok()) {
    spdlog::error("{}", identity.error().message);
    return 1;
  }
  auto trust = server_ca.empty()
                   ? ck::transport::ServerTrust::trust_on_first_use(install_dir + "/" + ck::transport::kServerTlsPinFile)
                   : ck::transport::ServerTrust::from_ca_file(server_ca);
  if (!trust.ok()) {
    spdlog::error("{}", trust.error().message);
    return 1;
  }
  auto ctx = (*trust)->make_context();
  if (!ctx.ok()) {
    spdlog::error("{}", ctx.error().message);
    return 1;
  }
  auto target = ck::transport::resolve_server(*url);
  if (!target.ok()) {
    spdlog::error("{}", target.error().message);
    return 1;
  }
  spdlog::info("agent starting agent_id={} key={} pinned={} generation={} server={}", (*agent)->agent_id(),
               (*identity)->fingerprint(), (*agent)->pinned_fingerprint(), (*agent)->generation(), server);

  boost::asio::io_context io(1);
  ck::transport::RunnerOptions ro;
  ro.checkin_interval = std::chrono::milliseconds(static_cast<int64_t>(interval * 1000));
  ro.channel = !no_channel && !once;
  ro.once = once;
  ro.host = ck::agent::local_host_info();
  ro.identity = *identity;
  auto runner = std::make_shared<ck::transport::AgentRunner>(
      io, std::move(ctx).value(), std::move(trust).value(),
      std::make_shared<const ck::transport::ServerTarget>(std::move(target).value()), std::move(agent).value(), ro);
  int exit_code = 0;
  bool last_ok = false;
  runner->on_checkin = [&](const ck::transport::CheckinEvent& ev) {
    last_ok = ev.ok;
    if (ev.ok) {
      spdlog::info("check-in ok pinned={} server_current={} accepted={} rejected={} links={}",
                   runner->pinned_fingerprint(), ev.server_current, ev.outcome.messages_accepted,
                   ev.outcome.messages_rejected, ev.outcome.links_accepted);
    }
  };
  runner->on_stopped = [&] {
    if (once) exit_code = last_ok ? 0 : 1;
    io.stop();
  };
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) runner->stop();
  });
  runner->start();
  io.run();
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "certkeeper-agent: " << e.what() << "\n";
    return 1;
  }
}
