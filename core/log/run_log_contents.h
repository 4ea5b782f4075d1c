// Everything RunLogReader serves from a run log (layout in core/log/run_log.h), read at once.
//
// Why at once: libhdf5 itself crashes or hangs on some corrupted logs (it decodes its own
// metadata before zotune sees a value: tests/fuzz/hdf5_library_crashes). RunLogReader::open
// therefore reads the whole log in a forked child (core/util/child_process.h) and receives
// these contents encoded as bytes; a crash or a hang then ends the child and the caller gets
// an error naming the file. A log is small next to what it describes (a 20000-step run: a
// few MB), so reading all of it costs little.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/log/run_log.h"
#include "core/util/error.h"

namespace zotune {

// /updates as parallel columns, one entry per applied (step, query) update, in order.
struct UpdateTable {
  std::vector<int64_t> step;
  std::vector<int32_t> query;
  std::vector<double> coefficient;
  std::vector<uint64_t> seed;
  size_t size() const { return step.size(); }
};

// One part of the log, or the error reading it raised. The error is thrown when the part is
// used, so that a log with one damaged part still serves the others (`zotune show` of a log
// whose /provenance is damaged still lists its steps).
template <typename T>
struct LogPart {
  T value{};
  std::string error;  // "" when the part was read
  const T& get() const {
    if (!error.empty()) throw Error(error);
    return value;
  }
};

// A ragged vector series <name>.offsets / <name>.values of /steps: row r's vector is
// values[offsets[r], offsets[r + 1]); offsets has one entry per row plus one.
struct RaggedSeries {
  LogPart<std::vector<int64_t>> offsets;
  LogPart<std::vector<double>> values;
};

// What a dataset's attributes say (docs/LOGS.md): its `description` and `unit` ("" in logs
// written before they existed), and whether it stores integers (counts, steps, offsets).
struct DatasetInfo {
  std::string description;
  std::string unit;
  bool integer = false;
};

struct RunLogContents {
  std::string path;
  int64_t format_version = 0;
  int64_t step_rows = 0;  // length of /steps/step (the writer extends it last)
  int64_t eval_rows = 0;  // length of /eval/step
  LogPart<std::string> config_text;
  LogPart<std::string> config_resolved_text;  // "" when the log has no /config_resolved
  LogPart<RunProvenance> provenance;
  LogPart<std::vector<int64_t>> steps;
  // /steps scalar series over step_rows rows as float64: integer fill values and rows past a
  // dataset's end (a flush cut short) read as NaN. By name, without "step".
  std::map<std::string, LogPart<std::vector<double>>> series;
  std::map<std::string, RaggedSeries> vectors;
  LogPart<UpdateTable> updates;
  LogPart<std::vector<int64_t>> eval_steps;
  std::map<std::string, LogPart<std::vector<double>>> eval_series;  // over eval_rows rows
  LogPart<std::map<std::string, SummaryValue>> summary;
  // Every dataset of /steps, /eval and /updates by path ("/steps/loss"); a dataset whose
  // attributes cannot be read is left out.
  std::map<std::string, DatasetInfo> datasets;
};

// Reads the log with libhdf5 in this process. Throws zotune::Error naming the path for a
// missing file, a file that is not HDF5 or is truncated, a HDF5 file that is not a zotune run
// log, or a newer format_version; errors of single parts are kept in their LogPart.
RunLogContents read_run_log_contents(const std::string& path);

// The contents as bytes and back (between the reading child and its caller, same build).
// decode throws zotune::Error naming `path` for bytes that are not a whole encoding.
std::string encode_run_log_contents(const RunLogContents& contents);
RunLogContents decode_run_log_contents(const std::string& bytes, const std::string& path);

}  // namespace zotune
