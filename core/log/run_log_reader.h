// RunLogReader: reads a run log written by RunLog (layout in core/log/run_log.h). Opens the
// file read-only with HDF5 file locking off, so a log can be read while its run still writes
// it (it then shows the state of the run's last flush). Row counts are taken from each
// group's `step` dataset, which the writer extends last.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/log/run_log.h"

namespace zotune {

// /updates as parallel columns, one entry per applied (step, query) update, in order.
struct UpdateTable {
  std::vector<int64_t> step;
  std::vector<int32_t> query;
  std::vector<double> coefficient;
  std::vector<uint64_t> seed;
  size_t size() const { return step.size(); }
};

class RunLogReader {
 public:
  // Fails naming the path for a missing file, a file that is not HDF5 or is truncated, a
  // HDF5 file that is not a zotune run log, or a newer format_version.
  static RunLogReader open(const std::string& path);

  RunLogReader(RunLogReader&&) noexcept;
  RunLogReader& operator=(RunLogReader&&) noexcept;
  ~RunLogReader();

  const std::string& path() const;
  int64_t format_version() const;
  std::string config_text() const;
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

 private:
  struct Impl;
  explicit RunLogReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace zotune
