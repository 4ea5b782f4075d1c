// What `zotune config RUN.yaml` and the grid executor check before a run starts: every schema
// problem of the merged keys, then whether what the run names exists (the model, the task, its
// data files). All problems at once, each naming the file (or override), key and line.
#pragma once
#include <string>
#include <vector>

#include "core/config/run_entries.h"

namespace zotune {

struct RunCheck {
  RunConfig config;                   // what did parse (defaults where a value was refused)
  std::vector<std::string> problems;  // empty: the run can start
};

// Whether what a parsed run names exists: the model, the task, its data files.
void check_run_inputs(const RunConfig& config, std::vector<std::string>& problems);
// The task part alone: the task name and the data files it reads, each problem naming the
// run-file key and line (what every rank reads before it builds the task).
void check_task_inputs(const RunConfig& config, std::vector<std::string>& problems);

// Whether `path` is the log of a run that never started: a readable zotune run log with status
// "failed: ..." and no logged step (a missing model, a setting refused at start). Its rerun
// may replace it without --overwrite: nothing in it is worth keeping. False for anything else
// (a log with steps, a running or interrupted one, an unreadable file).
bool is_unstarted_failed_log(const std::string& path);

// schema_only: skip the existence checks (a grid is listed without its models present).
RunCheck check_run(const std::vector<RunEntry>& entries, const std::string& source, bool schema_only = false);

}  // namespace zotune
