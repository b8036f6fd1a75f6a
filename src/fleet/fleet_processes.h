// certkeeper-fleet --processes N: N fleet processes (fork) share the agents, each a
// slice with its own ids, so one simulation can hold more connections than one
// process's descriptor limit. Their progress lines and final summaries are merged
// into one line and one summary on this process's stdout. SIGTERM/SIGINT are passed on.
#pragma once

#include <functional>
#include <string>

namespace ck::fleet {

struct FleetSlice {
  int first_index = 0;  // the slice's first agent number
  int agents = 0;
};

// Runs `run_slice` in `processes` children (its stdout goes to this process, merged);
// returns the highest exit code. Call before any thread is started.
// `summary_file` (optional) receives the merged summary. The children read no stdin
// ("online" on stdin is for one process; use --offline-until-file with --processes).
int run_fleet_processes(int processes, int agents, double progress_every, const std::string& summary_file,
                        const std::function<int(const FleetSlice&)>& run_slice);

}  // namespace ck::fleet
