// RunLog: the HDF5 file of one training run, written by rank 0 (DESIGN.md section 6). It
// holds the config, provenance, per-step series, the replay record of applied updates (so the
// log is also the run's checkpoint, "seed replay"), eval series and a summary.
//
// The layout for users (every group, dataset, attribute and unit, reading it from Python and
// the CLI) is docs/LOGS.md; what each series means and its unit: core/log/series_catalog.cpp.
// In short (format_version 1; every name is part of the contract, readable by h5py):
//
//   /                  attributes format = "zotune-run-log", format_version = 1 (int64)
//   /config            scalar string: the resolved run file (RunConfig::text) followed by the
//                      defaults in force as YAML comments (RunConfig::defaults_text): what
//                      resume and zotune grid compare
//   /config_resolved   scalar string (logs of zotune train): every key in force, defaults
//                      applied, one YAML document (core/config/complete_config.h)
//   /provenance        attributes zotune_version, git_revision, hostnames, devices,
//                      started_utc, command_line (strings), ranks (int64)
//   /steps/step        int64 [S]; S = rows logged
//   /steps/<series>    [S] per scalar series: int64 for counts (queries, bytes, calls; missing
//                      = -1), float64 otherwise (missing = NaN). A series first appearing at
//                      row r reads as missing for rows 0..r-1.
//   /steps/<vector>.values, .offsets   float64 [sum of widths], int64 [S + 1]: row i's vector
//                      is values[offsets[i]:offsets[i+1]] (widths may differ; absent = width 0)
//   /updates/step, query, coefficient, seed   [U] (int64, int32, float64, uint64): one row
//                      per applied update; theta <- theta + sum coefficient * z(seed, step, query)
//   /eval/step         int64 [E]; /eval/<metric> float64 [E] (dev_loss, dev_accuracy, ...)
//   /summary           attributes: strings, float64, int64 for counts (steps, best_step, ...)
// Every dataset carries string attributes `description` and `unit` (series_catalog.h).
//
// All 1-D series are extendible and chunked (chunk_rows elements per chunk). Within each group
// the `step` dataset is written last, after an H5Fflush of every other row of the flush, so its
// length is the authoritative row count even for a reader of the live file: a reader ignores
// anything past it. Vector `.offsets` and the other series may be longer only while a flush is
// being written or if one was cut short.
//
// Crash safety: rows are buffered in memory and written to the file only by flush() (called
// every flush_every_steps logged steps, after every eval, and by close()), followed by
// H5Fflush. Between flushes the process touches nothing in the file, so a run killed at any
// point outside a flush leaves a file exactly as of its last flush.
//
// Live reading: the writer opens the file with HDF5 file locking off, so readers (h5py's
// default File(path, "r") included) open a log while its run writes it and see it as of the
// last flush. SWMR is not used: it needs the newest file format, whose consistency flags make
// a crashed file unreadable until `h5clear` is run and refuse readers not opened for SWMR. A
// read that overlaps a flush (milliseconds, every flush_every_steps steps) may fail: open again.
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
  // Creates the file (and its parent directories), writes the config (and, when given,
  // /config_resolved), provenance, root attributes and summary status = "running", and flushes.
  // Fails naming the path if it exists and options.overwrite is false.
  static RunLog create(const std::string& path, const std::string& config_text, const RunProvenance& provenance,
                       const RunLogOptions& options = {}, const std::string& resolved_config_text = "");

  RunLog(RunLog&&) noexcept;
  RunLog& operator=(RunLog&&) noexcept;
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;
  // Closes (flushing what is buffered unless a write already failed) and swallows errors: a
  // destructor must not throw.
  ~RunLog();

  // Appends one row to /steps. Scalar names: no '/' or '.', not "step"; counts (queries and
  // the others series_catalog.h marks) must be whole numbers >= 0 (NaN = missing). Vector names follow the same rules and must not clash with
  // a scalar series. Series absent from this call get a missing value / empty vector.
  void log_step(int64_t step, const std::map<std::string, double>& scalars,
                const std::map<std::string, std::vector<double>>& vectors = {});

  // Appends the updates applied at `step` to /updates, in application order. Call it before
  // log_step of the same step so the periodic flush covers both.
  void log_updates(int64_t step, std::span<const UpdateRecord> updates);

  // Appends one row to /eval and flushes (evaluations are rare and worth keeping).
  void log_eval(int64_t step, const std::map<std::string, double>& metrics);

  // Sets (or replaces) a /summary attribute; written at the next flush. Counts (steps,
  // best_step, trainable_params) with a whole value are written as int64.
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
