#include "common/worker_supervisor.h"

#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace ck {
namespace {

using Clock = std::chrono::steady_clock;

struct Worker {
  pid_t pid = -1;
  int ready_fd = -1;  // read end; a byte (or EOF) means ready
  bool ready = false;
  bool done = false;
  int exit_code = 0;
  Clock::time_point started;
  Clock::time_point restart_at;  // set while waiting to be started again
  bool pending_restart = false;
};

std::string describe(int status) {
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                                  strsignal(WTERMSIG(status)) + ")";
  return "exit code " + std::to_string(exit_code_of(status));
}

bool start(Worker& w, int index, const SupervisorOptions& options, const WorkerMain& main_fn) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    spdlog::error("{} {}: pipe: {}", options.name, index, std::strerror(errno));
    return false;
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    spdlog::error("{} {}: fork: {}", options.name, index, std::strerror(errno));
    ::close(fds[0]);
    ::close(fds[1]);
    return false;
  }
  if (pid == 0) {
    ::close(fds[0]);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);  // the supervisor is already gone
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    ::pthread_sigmask(SIG_UNBLOCK, &chld, nullptr);
    const int ready_fd = fds[1];
    auto ready = [ready_fd] {
      const char byte = 1;
      (void)!::write(ready_fd, &byte, 1);
    };
    int code = 1;
    try {
      code = main_fn(index, ready);
    } catch (const std::exception& e) {
      spdlog::error("{} {}: {}", options.name, index, e.what());
    }
    std::fflush(nullptr);
    ::_exit(code);
  }
  ::close(fds[1]);
  w = Worker{};
  w.pid = pid;
  w.ready_fd = fds[0];
  w.started = Clock::now();
  spdlog::info("{} {} started (pid {})", options.name, index, pid);
  return true;
}

// Marks workers whose ready byte arrived; waits at most `timeout`. EOF (a worker that
// ended without saying so) is not readiness: reap() decides what its end means.
void poll_ready(std::vector<Worker>& workers, std::chrono::milliseconds timeout) {
  std::vector<pollfd> fds;
  std::vector<size_t> which;
  for (size_t i = 0; i < workers.size(); ++i) {
    if (workers[i].ready_fd >= 0) {
      fds.push_back({workers[i].ready_fd, POLLIN, 0});
      which.push_back(i);
    }
  }
  if (fds.empty()) return;
  if (::poll(fds.data(), fds.size(), static_cast<int>(timeout.count())) <= 0) return;
  for (size_t k = 0; k < fds.size(); ++k) {
    if (!fds[k].revents) continue;
    Worker& w = workers[which[k]];
    char byte;
    const ssize_t n = ::read(w.ready_fd, &byte, 1);
    ::close(w.ready_fd);
    w.ready_fd = -1;
    w.ready = n == 1;
  }
}

// Reaps ended workers; returns how many ended.
int reap(std::vector<Worker>& workers, const SupervisorOptions& options, bool stopping) {
  int ended = 0;
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    for (size_t i = 0; i < workers.size(); ++i) {
      Worker& w = workers[i];
      if (w.pid != pid) continue;
      ++ended;
      w.pid = -1;
      w.exit_code = exit_code_of(status);
      if (options.on_worker_end) options.on_worker_end(static_cast<int>(i));
      if (w.ready_fd >= 0) {
        ::close(w.ready_fd);
        w.ready_fd = -1;
      }
      if (stopping || !options.restart) {
        w.done = true;
        if (w.exit_code != 0) spdlog::warn("{} {} (pid {}) ended: {}", options.name, i, pid, describe(status));
      } else {
        // A worker that dies at once would otherwise be restarted in a tight loop.
        const bool crash_loop = Clock::now() - w.started < std::chrono::seconds(2);
        spdlog::error("{} {} (pid {}) died: {}; starting it again{}", options.name, i, pid, describe(status),
                      crash_loop ? " in 1 s" : "");
        w.pending_restart = true;
        w.restart_at = Clock::now() + (crash_loop ? std::chrono::seconds(1) : std::chrono::seconds(0));
      }
    }
  }
  return ended;
}

// Waits for a signal up to `timeout`; returns it (0 on timeout).
int wait_signal(std::chrono::milliseconds timeout) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGCHLD);
  timespec ts{static_cast<time_t>(timeout.count() / 1000), static_cast<long>(timeout.count() % 1000) * 1000000};
  const int sig = ::sigtimedwait(&set, nullptr, &ts);
  return sig < 0 ? 0 : sig;
}

int stop_all(std::vector<Worker>& workers, const SupervisorOptions& options) {
  for (Worker& w : workers) {
    if (w.pid > 0) ::kill(w.pid, SIGTERM);
    w.pending_restart = false;
  }
  const auto deadline = Clock::now() + options.stop_timeout;
  auto alive = [&] {
    for (const Worker& w : workers)
      if (w.pid > 0) return true;
    return false;
  };
  while (alive() && Clock::now() < deadline) {
    wait_signal(std::chrono::milliseconds(100));
    reap(workers, options, /*stopping=*/true);
  }
  if (alive()) {
    spdlog::warn("{}s still running {} s after SIGTERM: killing them", options.name, options.stop_timeout.count());
    for (Worker& w : workers)
      if (w.pid > 0) ::kill(w.pid, SIGKILL);
    while (alive()) {
      wait_signal(std::chrono::milliseconds(100));
      reap(workers, options, /*stopping=*/true);
    }
  }
  for (const Worker& w : workers)
    if (w.exit_code != 0) return w.exit_code;
  return 0;
}

}  // namespace

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

int supervise_workers(const SupervisorOptions& options, const WorkerMain& worker, const std::function<void()>& on_ready) {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::pthread_sigmask(SIG_BLOCK, &chld, nullptr);
  std::vector<Worker> workers(static_cast<size_t>(std::max(1, options.workers)));

  // Worker 0 first and alone: it may create what the others share (TLS identity,
  // schema); a failure here is the whole run's failure, reported as single mode would.
  auto start_and_wait = [&](size_t from, size_t to) -> int {
    for (size_t i = from; i < to; ++i)
      if (!start(workers[i], static_cast<int>(i), options, worker)) return 1;
    for (;;) {
      bool all = true;
      for (size_t i = from; i < to; ++i) all = all && (workers[i].ready || workers[i].done);
      if (all) return 0;
      poll_ready(workers, std::chrono::milliseconds(100));
      const int sig = wait_signal(std::chrono::milliseconds(1));
      if (sig == SIGTERM || sig == SIGINT) return -sig;
      // An earlier worker that dies now is restarted later (pending_restart); one of
      // these that ends before it is ready is a failed start.
      reap(workers, options, /*stopping=*/false);
      for (size_t i = from; i < to; ++i) {
        if (workers[i].pid < 0 && !workers[i].ready && (workers[i].pending_restart || workers[i].done)) {
          if (!options.restart && workers[i].exit_code == 0) continue;
          workers[i].pending_restart = false;
          return workers[i].exit_code ? workers[i].exit_code : 1;
        }
      }
    }
  };
  int started = start_and_wait(0, 1);
  if (started == 0) started = start_and_wait(1, workers.size());
  if (started != 0) {
    const int code = stop_all(workers, options);
    return started < 0 ? code : started;
  }
  if (on_ready) on_ready();

  for (;;) {
    bool any_running = false;
    for (const Worker& w : workers) any_running = any_running || w.pid > 0 || w.pending_restart;
    if (!any_running) break;  // restart off and every worker ended on its own
    const int sig = wait_signal(std::chrono::milliseconds(200));
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("signal {}: stopping {} {}s", sig, workers.size(), options.name);
      return stop_all(workers, options);
    }
    reap(workers, options, /*stopping=*/false);
    poll_ready(workers, std::chrono::milliseconds(0));
    for (size_t i = 0; i < workers.size(); ++i) {
      Worker& w = workers[i];
      if (w.pending_restart && Clock::now() >= w.restart_at) {
        w.pending_restart = false;
        if (!start(w, static_cast<int>(i), options, worker)) {  // fork failed: try again in 1 s
          w.pending_restart = true;
          w.restart_at = Clock::now() + std::chrono::seconds(1);
        }
      }
    }
  }
  for (const Worker& w : workers)
    if (w.exit_code != 0) return w.exit_code;
  return 0;
}

}  // namespace ck
