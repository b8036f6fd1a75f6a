// Runs one job in N forked worker processes and looks after them, as nginx's master
// does: worker 0 starts first (so it alone creates or migrates what the others then
// share), then the rest; a worker that dies is logged and started again; SIGTERM or
// SIGINT is passed on to every worker and waited for. For certkeeper-server --workers
// and certkeeper-fleet --processes.
//
// Contract: call from a process with no threads yet (fork), with SIGTERM and SIGINT
// blocked (main does). The supervisor blocks SIGCHLD while it runs. Workers die with
// the supervisor (PR_SET_PDEATHSIG).
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace ck {

struct SupervisorOptions {
  int workers = 1;
  std::string name = "worker";        // in log lines
  bool restart = true;                // false: a worker that ends is not started again
  std::chrono::seconds stop_timeout{30};  // after SIGTERM, then SIGKILL
  // Runs in the supervisor when worker `index` has ended (reaped), before any restart.
  std::function<void(int index)> on_worker_end;
};

// Runs in the child: does the job and returns its exit code. `ready()` tells the
// supervisor it is serving (a worker that never calls it counts as ready when it ends).
using WorkerMain = std::function<int(int index, const std::function<void()>& ready)>;

// Returns 0 when every worker ended with 0 (after a signal, or on its own when
// restart is false), otherwise the first non-zero exit code seen. `on_ready` runs once,
// in the supervisor, when all workers are ready.
// A child's waitpid() status as an exit code: its own, or 128 + the signal that ended it.
int exit_code_of(int wait_status);

int supervise_workers(const SupervisorOptions& options, const WorkerMain& worker,
                      const std::function<void()>& on_ready = {});

}  // namespace ck
