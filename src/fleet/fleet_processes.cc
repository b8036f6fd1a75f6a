#include "fleet/fleet_processes.h"

#include <boost/json.hpp>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/worker_supervisor.h"

namespace ck::fleet {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

struct Child {
  pid_t pid = -1;
  int fd = -1;        // its stdout
  std::string partial;
  std::string progress;  // last progress line
  std::string summary;   // its final JSON line
  int exit_code = 0;
  bool exited = false;
};

// The numbers of a progress line, in order: reported, agents, pinned, online,
// channels, checkins, failed, messages, rejected, duplicates, links.
const std::regex& progress_re() {
  static const std::regex re(
      R"(progress: (\d+)/(\d+) agents on current (\S+) pinned=(\d+) online=(\d+) channels=(\d+) checkins=(\d+) )"
      R"(failed=(\d+) messages=(\d+) rejected=(\d+) duplicates=(\d+) links=(\d+))");
  return re;
}

std::string merged_progress(const std::vector<Child>& children, double elapsed) {
  std::vector<long long> sum(11, 0);
  std::string current;
  for (const Child& c : children) {
    std::smatch m;
    if (!std::regex_search(c.progress, m, progress_re())) return "";
    const int groups[] = {1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    for (size_t k = 0; k < sum.size(); ++k) sum[k] += std::stoll(m[groups[k]]);
    if (current.empty() || current == "none") current = m[3];
  }
  char line[512];
  std::snprintf(line, sizeof line,
                "progress: %lld/%lld agents on current %s pinned=%lld online=%lld channels=%lld checkins=%lld "
                "failed=%lld messages=%lld rejected=%lld duplicates=%lld links=%lld t=%ds processes=%zu",
                sum[0], sum[1], current.c_str(), sum[2], sum[3], sum[4], sum[5], sum[6], sum[7], sum[8], sum[9],
                sum[10], static_cast<int>(elapsed), children.size());
  return line;
}

std::string merged_summary(const std::vector<Child>& children) {
  json::object out;
  json::object pinned;
  bool converged = true;
  double elapsed = 0;
  for (const Child& c : children) {
    boost::system::error_code ec;
    json::value v = json::parse(c.summary, ec);
    if (ec || !v.is_object()) {
      converged = false;
      continue;
    }
    for (const auto& [key, value] : v.as_object()) {
      if (key == "pinned" && value.is_object()) {
        for (const auto& [fp, n] : value.as_object())
          pinned[fp] = (pinned.contains(fp) ? pinned[fp].to_number<int64_t>() : 0) + n.to_number<int64_t>();
      } else if (key == "converged") {
        converged = converged && value.is_bool() && value.as_bool();
      } else if (key == "elapsed_seconds") {
        elapsed = std::max(elapsed, value.to_number<double>());
      } else if (value.is_int64() || value.is_uint64()) {
        out[key] = (out.contains(key) ? out[key].to_number<int64_t>() : 0) + value.to_number<int64_t>();
      } else if (!out.contains(key)) {
        out[key] = value;
      }
    }
  }
  out["pinned"] = std::move(pinned);
  out["converged"] = converged;
  out["elapsed_seconds"] = elapsed;
  out["processes"] = children.size();
  return json::serialize(out);
}

// Takes complete lines from a child's output.
void take_lines(Child& c, const char* data, size_t n) {
  c.partial.append(data, n);
  size_t nl;
  while ((nl = c.partial.find('\n')) != std::string::npos) {
    std::string line = c.partial.substr(0, nl);
    c.partial.erase(0, nl + 1);
    if (line.rfind("progress: ", 0) == 0) {
      c.progress = line;
    } else if (!line.empty() && line.front() == '{') {
      c.summary = line;
    } else if (!line.empty()) {
      std::cout << line << std::endl;  // e.g. "offline agents brought online"
    }
  }
}

}  // namespace

int run_fleet_processes(int processes, int agents, double progress_every, const std::string& summary_file,
                        const std::function<int(const FleetSlice&)>& run_slice) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  const pid_t parent = ::getpid();
  std::vector<Child> children(static_cast<size_t>(processes));
  int first = 0;
  for (int i = 0; i < processes; ++i) {
    const int count = agents / processes + (i < agents % processes ? 1 : 0);
    int fds[2];
    if (::pipe(fds) != 0) return 1;
    std::cout.flush();
    const pid_t pid = ::fork();
    if (pid < 0) return 1;
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(1);
      ::pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
      ::close(fds[0]);
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[1]);
      if (const int null_fd = ::open("/dev/null", O_RDONLY); null_fd >= 0) {
        ::dup2(null_fd, STDIN_FILENO);
        ::close(null_fd);
      }
      for (const Child& c : children)
        if (c.fd >= 0) ::close(c.fd);
      const int code = run_slice(FleetSlice{first, count});
      std::cout.flush();
      std::fflush(nullptr);
      ::_exit(code);
    }
    ::close(fds[1]);
    children[static_cast<size_t>(i)].pid = pid;
    children[static_cast<size_t>(i)].fd = fds[0];
    first += count;
  }

  const auto started = Clock::now();
  auto last_print = started;
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<size_t> which;
    for (size_t i = 0; i < children.size(); ++i) {
      if (children[i].fd >= 0) {
        fds.push_back({children[i].fd, POLLIN, 0});
        which.push_back(i);
      }
    }
    if (fds.empty()) break;  // every child closed its output
    if (::poll(fds.data(), fds.size(), 100) > 0) {
      for (size_t k = 0; k < fds.size(); ++k) {
        if (!fds[k].revents) continue;
        Child& c = children[which[k]];
        char buf[8192];
        const ssize_t n = ::read(c.fd, buf, sizeof buf);
        if (n > 0) {
          take_lines(c, buf, static_cast<size_t>(n));
        } else {
          ::close(c.fd);
          c.fd = -1;
        }
      }
    }
    timespec zero{0, 0};
    if (const int sig = ::sigtimedwait(&stop_signals, nullptr, &zero); sig > 0) {
      for (const Child& c : children)
        if (c.pid > 0) ::kill(c.pid, sig);
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
    if (progress_every > 0 && Clock::now() - last_print >= std::chrono::duration<double>(progress_every)) {
      last_print = Clock::now();
      if (std::string line = merged_progress(children, elapsed); !line.empty()) std::cout << line << std::endl;
    }
  }
  int code = 0;
  for (Child& c : children) {
    int status = 0;
    if (::waitpid(c.pid, &status, 0) == c.pid)
      c.exit_code = exit_code_of(status);
    code = std::max(code, c.exit_code);
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  if (std::string line = merged_progress(children, elapsed); !line.empty()) std::cout << line << std::endl;
  const std::string summary = merged_summary(children);
  std::cout << summary << std::endl;
  if (!summary_file.empty()) (void)write_file_atomic(summary_file, summary + "\n");
  return code;
}

}  // namespace ck::fleet
