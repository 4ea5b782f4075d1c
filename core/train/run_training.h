// `zotune train`: one run file to a trained model and its HDF5 log (DESIGN.md sections 1, 6).
// Every rank runs this; rank 0 alone writes the log and prints progress.
#pragma once
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "core/config/run_config.h"
#include "distributed/communicator.h"

namespace zotune {

struct TrainInvocation {
  bool overwrite = false;    // replace an existing log instead of refusing to start
  bool resume = false;       // continue the run of an existing log (core/train/resume.h)
  std::string command_line;  // for /provenance
  std::string output;        // overrides run.output when not empty (zotune train --output)
  std::FILE* progress = stderr;
};

struct TrainOutcome {
  std::string log_path;
  std::string task;          // TaskSplits::description
  int64_t steps = 0;
  uint64_t trainable_params = 0;
  // The lm task: mean token loss over the whole training split before step 0 and after the
  // last step. Prompted tasks skip it (a pass over every training example and candidate).
  std::optional<double> initial_loss, final_loss;
  uint64_t checksum = 0;  // TrainableSpace::checksum of the final weights (what replay rebuilds)
  // Model selection on dev (eval.select): the dev score of the initial weights (zero-shot,
  // logged, never selected) and of the selected checkpoint, its step (a multiple of
  // eval.every) and checksum; best_dev and selected_step are nullopt without a dev set or
  // when no checkpoint was evaluated (the final weights are then kept).
  std::string metric;  // "accuracy", "f1", or "loss" (what dev selection compared)
  std::optional<double> initial_dev, best_dev;
  std::optional<int64_t> selected_step;
  uint64_t selected_checksum = 0;
  // The test split under the selected weights: the task's metric ("accuracy", "f1"; the loss
  // for the lm task), whatever selection compared.
  std::string test_metric;
  std::optional<double> test;
  double seconds = 0.0;
  std::string engine_report;  // Model::engine_report after the test split (empty on the CPU engine)
  // --resume of a log whose status is completed: nothing was trained (steps and checksum are
  // the log's).
  bool already_completed = false;
};

// Throws zotune::Error for bad input or a failed step; by then the log (if it could be
// created) holds every step before the failure and /summary status "failed: <message>".
// A stop signal (core/util/stop_signals.h) ends the run after the step every rank agreed on:
// the log is flushed with status "interrupted: <SIGNAME> at step N" and RunStopped is thrown
// (exit code kExitInterrupted). A collective past distributed.timeout_s throws
// CollectiveTimeout after rank 0 (if it is not the silent one) marked the log failed.
TrainOutcome run_training(const RunConfig& config, Communicator& comm, const TrainInvocation& invocation);

// 16 lowercase hex digits: how logs and messages print a parameter checksum.
std::string checksum_hex(uint64_t checksum);

}  // namespace zotune
