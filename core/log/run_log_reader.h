// RunLogReader: reads a run log written by RunLog (layout in docs/LOGS.md). Opens the
// file read-only with HDF5 file locking off, so a log can be read while its run still writes
// it (it then shows the state of the run's last flush). Row counts are taken from each
// group's `step` dataset, which the writer extends last.
//
// open() reads the whole log at once in a forked child process (core/log/run_log_contents.h
// says why): a corrupted log that crashes or hangs libhdf5 ends in a zotune::Error naming the
// file. ZOTUNE_LOG_READ=in-process reads it in this process instead (fuzzing, debuggers);
// ZOTUNE_LOG_READ_TIMEOUT_S sets how long the child may take (default 60 s plus 1 s per 10 MB).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/log/run_log_contents.h"

namespace zotune {

class RunLogReader {
 public:
  // Fails naming the path for a missing file, a file that is not HDF5 or is truncated, a
  // HDF5 file that is not a zotune run log, or a newer format_version.
  static RunLogReader open(const std::string& path);
  // The same from contents already read (tests, the fuzz target).
  explicit RunLogReader(RunLogContents contents);

  const std::string& path() const;
  int64_t format_version() const;
  // /config: the run file as the run read it, then the defaults in force as YAML comments.
  std::string config_text() const;
  // /config_resolved: every key in force, defaults applied ("" for logs without it).
  std::string resolved_config_text() const;
  RunProvenance provenance() const;

  // /steps: S rows; steps() is /steps/step.
  int64_t steps_logged() const;
  std::vector<int64_t> steps() const;
  // Scalar series names (without "step"), sorted.
  std::vector<std::string> series_names() const;
  bool has_series(const std::string& name) const;
  // [S] values as float64; missing entries (fill value, e.g. -1 in int32 `queries`) are NaN.
  std::vector<double> series(const std::string& name) const;
  // Vector series names (the <name> of <name>.values / <name>.offsets), sorted.
  std::vector<std::string> vector_series_names() const;
  // The vector of row `row` (0-based row of /steps, not the step number); empty where absent.
  std::vector<double> vector(const std::string& name, int64_t row) const;

  UpdateTable updates() const;

  // /eval: E rows.
  std::vector<int64_t> eval_steps() const;
  std::vector<std::string> eval_metric_names() const;
  std::vector<double> eval_series(const std::string& name) const;  // [E], NaN where missing

  std::map<std::string, SummaryValue> summary() const;

  // The description, unit and integer-ness of a dataset by path ("/steps/loss",
  // "/eval/dev_loss"); an empty DatasetInfo for a path the log does not hold.
  DatasetInfo dataset_info(const std::string& dataset_path) const;

  // Everything read, with the errors of damaged parts.
  const RunLogContents& contents() const { return c_; }

 private:
  RunLogContents c_;
};

}  // namespace zotune
