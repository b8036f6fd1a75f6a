#include "common/fault_point.h"

#ifdef CK_FAULT_INJECTION
#include <fcntl.h>
#include <sys/auxv.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#endif

namespace ck {

#ifdef CK_FAULT_INJECTION
namespace {

struct FaultConfig {
  std::string trace_path;
  std::string kill_at;  // name without "#K"
  long kill_on_hit = 1;
  std::atomic<long> hits{0};
};

FaultConfig& config() {
  static FaultConfig* c = [] {
    auto* cfg = new FaultConfig;  // never destroyed: points may be reached during exit
    // Never in a setuid/setgid or capability-raised process: its caller's environment
    // must not choose files it writes or when it dies.
    if (::getauxval(AT_SECURE)) return cfg;
    if (const char* t = std::getenv("CK_FAULT_TRACE")) cfg->trace_path = t;
    if (const char* a = std::getenv("CK_FAULT_AT")) {
      std::string spec = a;
      if (auto hash = spec.find('#'); hash != std::string::npos) {
        cfg->kill_on_hit = std::max(1L, std::strtol(spec.c_str() + hash + 1, nullptr, 10));
        spec.resize(hash);
      }
      cfg->kill_at = spec;
    }
    return cfg;
  }();
  return *c;
}

void append_trace(const std::string& path, std::string_view name) {
  // One write(2) per line on an O_APPEND descriptor: lines from several threads or
  // processes never interleave, and nothing is buffered when the process dies.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  std::string line(name);
  line += '\n';
  ssize_t ignored = ::write(fd, line.data(), line.size());
  (void)ignored;
  ::close(fd);
}

}  // namespace

void fault_point(std::string_view name) {
  FaultConfig& cfg = config();
  if (!cfg.trace_path.empty()) append_trace(cfg.trace_path, name);
  if (cfg.kill_at.empty() || cfg.kill_at != name) return;
  if (cfg.hits.fetch_add(1) + 1 == cfg.kill_on_hit) ::kill(::getpid(), SIGKILL);
}

#else

void fault_point(std::string_view) {}

#endif

}  // namespace ck
