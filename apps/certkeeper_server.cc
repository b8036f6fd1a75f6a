// certkeeper-server: agent check-ins, registry updates, signed server-initiated
// messages and key deployment (DESIGN.md §5). A thin main: flags and config file,
// wiring, signals. Exit codes: 0 after a graceful shutdown (SIGTERM/SIGINT), 1 when it
// cannot start, 2 for usage errors.
#include <CLI/CLI.hpp>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "common/config/program_options.h"
#include "common/file_util.h"
#include "common/install_layout.h"
#include "common/logging.h"
#include "common/process_hardening.h"
#include "common/rlimit.h"
#include "common/worker_supervisor.h"
#include "console/console.h"
#include "net/server.h"
#include "net/ticket_keys.h"
#include "net/tls_identity.h"
#include "server/server_core.h"
#include "server/shared_metrics.h"
#include "store/cert_store.h"
#include "store/postgres/pg_conn.h"

namespace {

using namespace ck;  // NOLINT

struct Flags {
  std::string store_url;
  std::string listen = "127.0.0.1:8443";
  std::string admin_listen;  // default unix:<state-dir>/admin.sock
  std::string admin_group = "certkeeper";
  std::string metrics_listen = "127.0.0.1:9464";
  std::string console_listen = "127.0.0.1:9465";
  std::string console_assets;  // default: console::default_assets_dir
  int console_token_ttl = 300;  // hidden; tests shorten it
  int console_session_idle = 30 * 60;  // hidden; tests shorten it
  std::string state_dir = install_layout().state_dir + "/server";
  std::string tls_cert, tls_key;
  int threads = 2;
  double read_timeout = 30;
  int poll_interval_ms = 250;
  int64_t max_connections = -1;  // -1: the descriptor limit minus a reserve
  int64_t max_connections_per_address = 0;
  std::string enrollment = "auto";
  int max_new_agents_per_second = 2000;
  int deliveries_per_second = 5000;
  config::CommonOptions common;
  int workers = 1;
};

// Which process this is under --workers: index -1 for a single server.
struct WorkerRole {
  int index = -1;
  uint16_t agent_port = 0;          // the port the supervisor reserved
  std::function<void()> ready;      // tells the supervisor this worker serves
  server::SharedMetrics* metrics = nullptr;  // one slot per worker, mapped before forking
  std::shared_ptr<const net::TicketKeys> ticket_keys;  // one secret for all workers
};

int fail(const std::string& message) {
  std::fprintf(stderr, "certkeeper-server: %s\n", message.c_str());
  return 1;
}

int serve(const Flags& f, const WorkerRole& role = {}) {
  auto agent_addr = net::parse_host_port(f.listen);
  auto metrics_addr = net::parse_host_port(f.metrics_listen);
  const std::string admin = f.admin_listen.empty() ? "unix:" + f.state_dir + "/admin.sock" : f.admin_listen;
  if (admin.rfind("unix:", 0) != 0 || admin.size() == 5) {
    return fail("--admin-listen: the admin API listens on a Unix socket only (unix:PATH), got \"" + admin +
                "\"; /metrics has its own listener, --metrics-listen HOST:PORT");
  }
  if (!agent_addr.ok()) return fail("--listen: " + agent_addr.error().message);
  if (!metrics_addr.ok()) return fail("--metrics-listen: " + metrics_addr.error().message);
  auto console_addr = net::parse_host_port(f.console_listen);
  if (!console_addr.ok()) return fail("--console-listen: " + console_addr.error().message);

  server::ServerConfig config;
  config.store_url = f.store_url.empty() ? store::default_store_url() : f.store_url;
  config.poll_interval = std::chrono::milliseconds(f.poll_interval_ms);
  config.admin_group = f.admin_group;
  config.enrollment = f.enrollment == "manual" ? server::Enrollment::kManual : server::Enrollment::kAuto;
  config.max_new_agents_per_second = f.max_new_agents_per_second;
  config.deliveries_per_second = f.deliveries_per_second;
  // This worker's publisher (below), once the core exists and before anything serves.
  server::SharedMetrics::Publisher* publishing = nullptr;
  if (role.metrics) {
    // Counters go straight to this worker's slot; /metrics (worker 0) shows its own
    // figures on its slot's base, published first (a successor after a SIGKILL starts
    // from at least what was scraped), and adds the other slots'.
    config.metrics = &role.metrics->counters(role.index);
    config.add_peer_metrics = [m = role.metrics, p = &publishing](server::MetricsSnapshot& s) {
      if (*p == nullptr) return;
      (*p)->publish_now();
      m->add_peers((*p)->writer(), s);
    };
  }
  auto core = server::ServerCore::open(config);
  if (!core.ok()) return fail(core.error().message);
  // The figures kept in this worker's own objects reach its slot once a second (and
  // once more after the drain).
  std::optional<server::SharedMetrics::Publisher> publisher;
  if (role.metrics) {
    server::ServerCore* c = core->get();
    publisher.emplace(role.metrics->take(role.index), [c] {
      server::WorkerFigures own;
      own.channels_connected = static_cast<int64_t>(c->hub().size());
      own.cert_reloads = c->certs().reloads();
      own.writer = c->writer_stats();
      return own;
    });
    publishing = &*publisher;
  }

  if (Status s = ensure_directory(f.state_dir, 0700); !s.ok()) return fail("--state-dir: " + s.error().message);
  const auto admin_gid = server::AdminAccess::for_group(f.admin_group).admin_gid();
  if (admin_gid && admin.substr(5).rfind(f.state_dir + "/", 0) == 0) {
    // The admin group must reach the socket inside: the folder (TLS key 0600 inside)
    // becomes group-traversable for that group only.
    // Already that group (the unit's own group): no chown, which its seccomp filter refuses.
    struct stat st;
    const bool has_group = ::stat(f.state_dir.c_str(), &st) == 0 && st.st_gid == *admin_gid;
    if (has_group || ::chown(f.state_dir.c_str(), static_cast<uid_t>(-1), *admin_gid) == 0)
      ::chmod(f.state_dir.c_str(), 0750);
  }
  auto tls = net::load_or_create_tls_identity(f.tls_cert, f.tls_key, f.state_dir);
  if (!tls.ok()) return fail("TLS identity: " + tls.error().message);
  spdlog::info("TLS certificate {} (sha256 spki {})", tls->source, tls->cert.fingerprint());

  net::ServerOptions options;
  options.agent_host = agent_addr->first;
  options.agent_port = role.index >= 0 ? role.agent_port : agent_addr->second;
  options.reuse_port = role.index >= 0;
  options.ticket_keys = role.ticket_keys;  // single server: Server::create makes its own
  options.admin_and_metrics = role.index <= 0;
  options.admin_socket = admin.substr(5);
  options.admin_socket_gid = admin_gid;
  options.metrics_host = metrics_addr->first;
  options.metrics_port = metrics_addr->second;
  options.threads = std::max(1, f.threads);
  // Descriptors beyond the agents' share stay free for the database, files and the
  // admin socket, so a flood of idle connections cannot lock those out.
  const uint64_t fd_limit = raise_open_file_limit();
  const uint64_t reserve = std::min<uint64_t>(512, fd_limit / 4);
  options.max_connections = f.max_connections >= 0 ? static_cast<size_t>(f.max_connections)
                                                   : static_cast<size_t>(fd_limit - reserve);
  options.max_connections_per_address = static_cast<size_t>(f.max_connections_per_address);
  spdlog::info("descriptor limit {}; at most {} agent connections ({} per address)", fd_limit,
               options.max_connections, options.max_connections_per_address ? std::to_string(options.max_connections_per_address) : "no cap");
  options.read_timeout = std::chrono::milliseconds(static_cast<int64_t>(f.read_timeout * 1000));
  options.handshake_timeout = std::min<std::chrono::milliseconds>(options.read_timeout, std::chrono::seconds(10));
  options.console_host = console_addr->first;
  options.console_port = console_addr->second;
  // The web console: served by the process that serves the admin socket (its logins
  // come from there).
  std::unique_ptr<console::Console> web_console;
  if (role.index <= 0) {
    console::ConsoleOptions console_options;
    std::error_code ec;
    const std::string exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    console_options.assets_dir = !f.console_assets.empty() ? f.console_assets : console::default_assets_dir(exe);
    console_options.limits.token_ttl_seconds = f.console_token_ttl;
    console_options.limits.session_idle_seconds = f.console_session_idle;
    server::ServerCore* c = core->get();
    auto opened = console::Console::open(
        config.store_url, console_options, [c] { return c->certs().snapshot(); },
        [c](const protocol::AdminMessageRequest& m, const std::string& by) { return c->service().issue(m, by); });
    if (!opened.ok()) return fail(opened.error().message);
    web_console = std::move(opened).value();
    if (!web_console->assets().available()) {
      spdlog::warn("console: no front end in {} (index.html missing); only the login page and the API are served",
                   web_console->assets().root());
    }
  }
  auto server = net::Server::create(options, *tls, (*core)->service(), &(*core)->metrics(), web_console.get());
  if (!server.ok()) return fail(server.error().message);
  if (web_console) {
    web_console->set_base_url("http://" + (*server)->console_endpoint());
    (*core)->service().set_console_login([wc = web_console.get()](const std::string& user) {
      protocol::HttpResponse r;
      r.body = boost::json::serialize(wc->new_login(user));
      return r;
    });
  }
  (*core)->set_dispatch([s = server->get()](std::function<void()> fn) { s->post(std::move(fn)); });
  (*core)->start();

  // Under --workers the supervisor prints the agent port once; worker 0 alone serves
  // the admin socket and /metrics.
  if (role.index < 0) std::cout << "listening on " << (*server)->agent_endpoint() << " (agents)" << std::endl;
  if (role.index <= 0) {
    std::cout << "listening on " << (*server)->admin_endpoint() << " (admin)" << std::endl;
    std::cout << "listening on " << (*server)->metrics_endpoint() << " (metrics)" << std::endl;
    std::cout << "listening on " << (*server)->console_endpoint() << " (console)" << std::endl;
  }
  if (role.ready) role.ready();
  spdlog::info("serving: store={} current={} threads={}", pg::redact_url(config.store_url),
               (*core)->certs().snapshot()->current_fingerprint, options.threads);

  // SIGTERM/SIGINT (blocked in every thread) arrive here.
  std::thread signals([&] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    sigwait(&set, &sig);
    spdlog::info("signal {}: shutting down (finishing in-flight requests)", sig);
    (*server)->shutdown();
  });

  (*server)->run();  // returns after shutdown() drained every connection
  signals.join();
  if (web_console) web_console->stop();
  // The delivery loop stops, channels close, the registry writer commits what it holds;
  // then the network side (whose pool the core posted to) goes.
  (*core)->shutdown();
  publishing = nullptr;
  publisher.reset();
  spdlog::info("stopped");
  return 0;
}

// Holds HOST:PORT with SO_REUSEPORT (bound, not listening: it takes no connections) so
// port 0 becomes one port every worker can bind, for the supervisor's whole life.
Result<std::pair<int, uint16_t>> reserve_agent_port(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found)
    return make_error(ErrorKind::kInvalidArgument, "--listen: not a numeric address: " + host);
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, ::freeaddrinfo);
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int on = 1;
  if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0 ||
      ::bind(fd, found->ai_addr, found->ai_addrlen) != 0) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    return make_error(ErrorKind::kUnavailable, "cannot listen on " + host + ":" + std::to_string(port) + ": " +
                                                   std::strerror(err));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  const uint16_t actual = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return std::make_pair(fd, actual);
}

// --workers N: N server processes on one agent port (SO_REUSEPORT), one store. The
// outbox and the store carry messages and rotations to agents on every worker.
int serve_workers(const Flags& f) {
  auto agent_addr = net::parse_host_port(f.listen);
  if (!agent_addr.ok()) return fail("--listen: " + agent_addr.error().message);
  auto reserved = reserve_agent_port(agent_addr->first, agent_addr->second);
  if (!reserved.ok()) return fail(reserved.error().message);
  // Made once here, so that workers starting together do not race to create it.
  if (Status s = ensure_directory(f.state_dir, 0700); !s.ok()) return fail("--state-dir: " + s.error().message);
  auto tls = net::load_or_create_tls_identity(f.tls_cert, f.tls_key, f.state_dir);
  if (!tls.ok()) return fail("TLS identity: " + tls.error().message);
  const uint16_t port = reserved->second;
  const std::string host = agent_addr->first.find(':') != std::string::npos ? "[" + agent_addr->first + "]"
                                                                             : agent_addr->first;
  // Every worker's counters, in one block all of them share; worker 0 serves the sum.
  auto metrics = server::SharedMetrics::create(f.workers, /*shared=*/true);
  if (!metrics.ok()) return fail(metrics.error().message);
  // One session-ticket secret (memory only) for all: a reconnect resumes on any worker.
  auto ticket_keys = net::TicketKeys::generate();
  if (!ticket_keys.ok()) return fail(ticket_keys.error().message);
  SupervisorOptions options;
  options.workers = f.workers;
  options.name = "worker";
  // A dead worker's connections were closed by the kernel: its gauges go to 0 at once.
  options.on_worker_end = [m = metrics->get()](int index) { m->clear_gauges(index); };
  const int code = supervise_workers(
      options,
      [&](int index, const std::function<void()>& ready) {
        ::close(reserved->first);
        WorkerRole role;
        role.index = index;
        role.agent_port = port;
        role.ready = ready;
        role.metrics = metrics->get();
        role.ticket_keys = *ticket_keys;
        return serve(f, role);
      },
      [&] {
        std::cout << "listening on " << host << ":" << port << " (agents)" << std::endl;
        spdlog::info("{} workers serve {}:{}", f.workers, host, port);
      });
  ::close(reserved->first);
  spdlog::info("stopped");
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  // Every non-revoked signing key will be in this process's memory: no core dumps.
  const Status hardened = disable_core_dumps();
  // Before any thread starts: signals are taken by sigwait() only.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Flags f;
  CLI::App app{"certkeeper-server: agent check-ins, signed messages and key deployment"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--store", f.store_url,
                 "store URL: sqlite:PATH or postgresql://... (default sqlite:./var/certkeeper.db; installed: "
                 "sqlite:/var/lib/certkeeper/certkeeper.db)");
  config::add_common_options(app, f.common, "info");
  app.add_option("--listen", f.listen, "agent HTTPS listener HOST:PORT (port 0 picks one)")->capture_default_str();
  app.add_option("--admin-listen", f.admin_listen,
                 "admin API Unix socket unix:PATH (default unix:<state-dir>/admin.sock, mode 0660)");
  app.add_option("--admin-group", f.admin_group,
                 "group whose members may use the admin socket, besides root and the server's user")
      ->capture_default_str();
  app.add_option("--metrics-listen", f.metrics_listen, "GET /metrics (Prometheus), loopback HOST:PORT only")
      ->capture_default_str();
  app.add_option("--console-listen", f.console_listen,
                 "the web console (plain HTTP), loopback HOST:PORT only; log in with `certmgr console-url`")
      ->capture_default_str();
  app.add_option("--console-assets", f.console_assets,
                 "folder of the built console front end (default: <build tree>/console/dist, installed: "
                 "/usr/share/certkeeper/console)");
  // For tests: how long a console login link is valid.
  app.add_option("--console-token-ttl", f.console_token_ttl)->group("")->check(CLI::Range(1, 3600));
  // For tests: how long a console session lasts without a request.
  app.add_option("--console-session-idle", f.console_session_idle)->group("")->check(CLI::Range(1, 86400));
  app.add_option("--state-dir", f.state_dir, "server state: TLS certificate and key")
      ->capture_default_str();
  app.add_option("--tls-cert", f.tls_cert, "TLS certificate (PEM) for the agent listener");
  app.add_option("--tls-key", f.tls_key, "TLS private key (PEM) for the agent listener");
  app.add_option("--threads", f.threads, "I/O threads (per worker)")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--workers", f.workers,
                 "server processes sharing the agent port (SO_REUSEPORT) and the store; one is restarted if it "
                 "dies; worker 0 serves the admin socket and /metrics")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--read-timeout", f.read_timeout, "seconds a client may take for the TLS handshake (at most 10) and for each request")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--poll-interval-ms", f.poll_interval_ms,
                 "how often the store and the outbox are checked for changes (PostgreSQL also wakes by NOTIFY)")
      ->capture_default_str()
      ->check(CLI::Range(10, 60000));
  app.add_option("--deliveries-per-second", f.deliveries_per_second,
                 "pace of key deployment and broadcasts over open channels, per server process")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--max-connections", f.max_connections,
                 "open agent connections at most (default: the raised descriptor limit minus a reserve of 512)")
      ->check(CLI::Range(int64_t{0}, int64_t{10000000}));
  app.add_option("--max-connections-per-address", f.max_connections_per_address,
                 "open agent connections from one address at most (0: no cap; agents behind NAT share one)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{10000000}));
  app.add_option("--enrollment", f.enrollment,
                 "auto: a new agent id is bound to the first key it presents; manual: it waits for "
                 "`certmgr agents accept ID`")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "manual"}));
  app.add_option("--max-new-agents-per-s", f.max_new_agents_per_second,
                 "new agent keys bound per second at most (0: no limit); beyond, 503 + Retry-After")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  if (auto stop = config::parse_program_options(app, "server", argc, argv)) return *stop;
  config::start_logging(f.common);
  if (!hardened.ok()) spdlog::warn("{}", hardened.error().message);
  try {
    return f.workers > 1 ? serve_workers(f) : serve(f);
  } catch (const std::exception& e) {
    return fail(std::string("fatal: ") + e.what());
  }
}
