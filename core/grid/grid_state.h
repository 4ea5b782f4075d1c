// The state of a grid's runs, read from what they leave in the grid's output folder: the run
// log (<name>.h5: status, configuration, steps, summary) and, while a process trains the run,
// <name>.pid ("host pid"). No other bookkeeping: the logs are the grid's state, so any number
// of executors (a local one, Slurm array tasks) agree on it.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/grid/grid_spec.h"
#include "core/log/run_log.h"

namespace zotune {

enum class RunState {
  Pending,      // no log
  Running,      // a live process trains it (its pid file names it)
  Completed,    // the log says completed, with this configuration
  Changed,      // the log says completed, or running with no process (interrupted), with another configuration
  Failed,       // the log says failed: <message>
  Interrupted,  // the log says running but no process trains it, or the log is unreadable
};
const char* run_state_name(RunState state);

struct RunStatus {
  RunState state = RunState::Pending;
  std::string message;  // failed: the logged message; running: "host pid"; interrupted, changed: why
  int64_t steps = 0;    // logged steps
  double forward_passes = 0;  // the sum of /steps/queries
  // Interrupted with a readable log of this configuration: `zotune train --resume` continues it.
  bool resumable = false;
  std::map<std::string, SummaryValue> summary;
};

RunStatus read_run_status(const GridRun& run);

// The pid file of a run being trained: written when a process starts it, removed when it ends.
std::string pid_file_of(const GridRun& run);
void write_pid_file(const GridRun& run, long pid);
void remove_pid_file(const GridRun& run);

// The best dev value and the test value of a summary (e.g. best_dev_accuracy, test_accuracy),
// as "name value" pairs; empty where the run has none.
std::vector<std::pair<std::string, double>> summary_metrics(const std::map<std::string, SummaryValue>& summary);

}  // namespace zotune
