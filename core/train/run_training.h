// `zotune train`: one run file to a trained model and its HDF5 log (DESIGN.md sections 1, 6).
// Every rank runs this; rank 0 alone writes the log and prints progress.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

#include "core/config/run_config.h"
#include "distributed/communicator.h"

namespace zotune {

struct TrainInvocation {
  bool overwrite = false;    // replace an existing log instead of refusing to start
  std::string command_line;  // for /provenance
  std::string output;        // overrides run.output when not empty (zotune train --output)
  std::FILE* progress = stderr;
};

struct TrainOutcome {
  std::string log_path;
  int64_t steps = 0;
  uint64_t trainable_params = 0;
  double initial_loss = 0.0;  // mean token loss over the whole training split, before step 0
  double final_loss = 0.0;    // ... and after the last step
  uint64_t checksum = 0;      // TrainableSpace::checksum of the final weights
  double seconds = 0.0;
};

// Throws zotune::Error for bad input or a failed step; by then the log (if it could be
// created) holds every step before the failure and /summary status "failed: <message>".
TrainOutcome run_training(const RunConfig& config, Communicator& comm, const TrainInvocation& invocation);

// For a run file that cannot be used at all (malformed YAML, an unknown key): rank 0 writes a
// log at invocation.output, else the default output runs/<file stem>.h5, holding the file's text and status
// "failed: <message>", unless a log is already there (and !overwrite) or the file cannot be
// read (a mistyped name is no run). Never throws; returns the path written, or "" when none was.
std::string record_unstartable_run(const std::string& run_file, const std::string& message,
                                   const TrainInvocation& invocation);

// 16 lowercase hex digits: how logs and messages print a parameter checksum.
std::string checksum_hex(uint64_t checksum);

}  // namespace zotune
