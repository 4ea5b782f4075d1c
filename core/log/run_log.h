// RunLog: the HDF5 file of one training run, written by rank 0 (DESIGN.md section 6). It holds
// the config, provenance, per-step series, the replay record of applied updates (so the log is
// also the run's checkpoint, DESIGN.md section 2 "seed replay"), eval series and a summary.
//
// File layout (format_version 1; every name is part of the contract, readable by h5py):
//
//   /                  attributes format = "zotune-run-log" (string), format_version = 1 (int64)
//   /config            scalar string dataset: the resolved run file (RunConfig::text: one YAML
//                      document, bases and overrides merged, paths absolute); a run file that
//                      did not parse gets no log
//   /provenance        group; string attributes zotune_version, git_revision, hostnames (comma
//                      list), devices (comma list), started_utc (ISO 8601, e.g.
//                      2025-03-01T12:00:00Z), command_line; int64 attribute ranks
//   /steps/step        int64 [S]: the optimizer step of each logged row; S = rows logged
//   /steps/<series>    one 1-D dataset [S] per scalar series: float64, except `queries` (int32).
//                      Well-known names: loss, lr, eps, ms (wall milliseconds per step),
//                      peak_memory_bytes (bytes, float64), queries (queries evaluated); optimizers
//                      add their own (noise_sigma, ...). Missing values read as the dataset's fill
//                      value: NaN for float64, -1 for int32 (h5py: dataset.fillvalue). A series
//                      that first appears at row r reads as missing for rows 0..r-1.
//   /steps/<vector>.values   float64 [sum of widths]: the per-step vectors of one vector series
//                            (finite_differences [Q], posterior_mean [k], ...) concatenated
//   /steps/<vector>.offsets  int64 [S + 1]: row i's vector is values[offsets[i]:offsets[i+1]];
//                            offsets[0] = 0. Widths may differ between rows (AdaZeta's query
//                            count grows); a row without the vector has width 0.
//   /updates/step, /updates/query, /updates/coefficient, /updates/seed
//                      parallel 1-D datasets [U] (int64, int32, float64, uint64), one row per
//                      applied (step, query) update, in application order. Replay:
//                      theta <- theta + sum over rows of coefficient * z(seed, step, query).
//   /eval/step         int64 [E]: the step of each evaluation
//   /eval/<metric>     float64 [E] per metric (dev_accuracy, test_f1, ...), NaN where missing
//   /summary           group; attributes string or float64 (status = "running" | "completed" |
//                      "failed: <message>", final_loss, best_step, ...)
//
// All 1-D series are extendible and chunked (chunk_rows elements per chunk). Within each group
// the `step` dataset is written last, so its length is the authoritative row count: a reader
// ignores anything past it. Vector `.offsets` and the other series may be longer only if a
// flush was cut short.
//
// Crash safety: rows are buffered in memory and written to the file only by flush() (called
// every flush_every_steps logged steps, after every eval, and by close()), followed by
// H5Fflush. Between flushes the process touches nothing in the file, so a run killed at any
// point outside a flush leaves a file exactly as of its last flush. (SWMR is not used: it needs
// the newest file format, whose consistency flags make a crashed file unreadable until
// `h5clear` is run.)
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace zotune {

// Who ran what, where, when. Stored in /provenance.
struct RunProvenance {
  std::string zotune_version;
  std::string git_revision;
  std::vector<std::string> hostnames;  // one per rank or per distinct host, as the caller gathers them
  std::vector<std::string> devices;    // e.g. "NVIDIA H100 80GB HBM3"
  int64_t ranks = 1;
  std::string started_utc;             // ISO 8601 UTC, e.g. 2025-03-01T12:00:00Z
  std::string command_line;
};

// This process's view: version and revision of this build, this host, now, argv joined by
// spaces. Multi-rank callers replace hostnames/devices/ranks with the gathered lists.
RunProvenance local_provenance(int argc, const char* const* argv);

// Current UTC time as ISO 8601 with seconds, e.g. "2025-03-01T12:00:00Z".
std::string utc_now_iso8601();

// One applied update of the replay record: theta += coefficient * z(seed, step, query).
struct UpdateRecord {
  int32_t query = 0;
  double coefficient = 0.0;
  uint64_t seed = 0;
};

// A /summary attribute value.
using SummaryValue = std::variant<std::string, double>;

struct RunLogOptions {
  bool overwrite = false;          // replace an existing file instead of failing
  int64_t flush_every_steps = 10;  // >= 1: write buffered rows and H5Fflush after this many log_step calls
  int64_t chunk_rows = 1024;       // elements per HDF5 chunk of every 1-D dataset
};

class RunLog {
 public:
  // Creates the file (and its parent directories), writes the config, provenance, root
  // attributes and summary status = "running", and flushes. Fails naming the path if it exists
  // and options.overwrite is false.
  static RunLog create(const std::string& path, const std::string& config_text, const RunProvenance& provenance,
                       const RunLogOptions& options = {});

  RunLog(RunLog&&) noexcept;
  RunLog& operator=(RunLog&&) noexcept;
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;
  // Closes (flushing what is buffered unless a write already failed) and swallows errors: a
  // destructor must not throw.
  ~RunLog();

  // Appends one row to /steps. Scalar names: no '/' or '.', not "step"; `queries` must be a
  // whole number (NaN = missing). Vector names follow the same rules and must not clash with
  // a scalar series. Series absent from this call get a missing value / empty vector.
  void log_step(int64_t step, const std::map<std::string, double>& scalars,
                const std::map<std::string, std::vector<double>>& vectors = {});

  // Appends the updates applied at `step` to /updates, in application order. Call it before
  // log_step of the same step so the periodic flush covers both.
  void log_updates(int64_t step, std::span<const UpdateRecord> updates);

  // Appends one row to /eval and flushes (evaluations are rare and worth keeping).
  void log_eval(int64_t step, const std::map<std::string, double>& metrics);

  // Sets (or replaces) a /summary attribute; written at the next flush.
  void set_summary(const std::string& key, const std::string& value);
  void set_summary(const std::string& key, const char* value) { set_summary(key, std::string(value)); }
  void set_summary(const std::string& key, double value);

  // For error paths: status = "failed: <message>" and a flush. Never throws; returns false
  // when the file could not be written.
  bool mark_failed(const std::string& message) noexcept;

  // Writes everything buffered and H5Fflush-es: a run killed afterwards keeps it.
  void flush();

  // Flushes and closes the file. Further calls other than close() throw. After a failed
  // write or flush (a full disk) it closes without writing again and does not throw: the file
  // keeps what its last successful flush wrote.
  void close();

  bool is_open() const;
  const std::string& path() const;
  int64_t steps_logged() const;  // rows in /steps, buffered ones included

 private:
  struct Impl;
  explicit RunLog(std::unique_ptr<Impl> impl);
  Impl& state() const;  // throws for a moved-from RunLog
  // Closes the groups, datasets and file without writing; false when HDF5 reports a failure.
  bool release_handles() noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zotune
