// Replay (DESIGN.md section 2, "seed replay"): the run log is the run's checkpoint. Starting
// from the initial weights, re-apply every logged step's update exactly as the trainer did
// (decay, then the fused sum of coefficient * z(seed, step, query) over the step's terms, on
// the unperturbed weights) and the trained weights come back bit for bit. The log's /config
// says which tensors were trained, in which dtype and with which direction distribution.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "core/config/run_config.h"
#include "core/log/run_log_reader.h"
#include "core/model/model.h"

namespace zotune {

// The run file a log was trained from (its /config), parsed against `<log>:/config`.
RunConfig logged_run_config(const RunLogReader& log);

// How to load the initial model `model_path` (the log's model.path, or --base) so that it is
// the model the run trained: the run's dtype and PEFT modules, and the head the run put on it
// (a classification head created fresh at train time, seeded with run.seed: head-only runs
// train nothing else), exactly as zotune train loads it (task_load_options).
LoadOptions replay_load_options(const RunConfig& config, const std::string& model_path);

struct ReplayOptions {
  std::optional<int64_t> steps;  // replay only the first N logged steps (best-dev weights); all when empty
};

struct ReplayResult {
  int64_t steps_replayed = 0;
  int64_t steps_logged = 0;
  uint64_t trainable_params = 0;
  uint64_t checksum = 0;  // TrainableSpace::checksum of the replayed weights
  // What the checksum was compared with: /summary final_checksum, when every logged step was
  // replayed and the run got to write one (a failed or killed run has none).
  std::optional<uint64_t> logged_checksum;
  std::string status;  // /summary status of the log ("completed", "failed: ...", "running")
};

// Applies the log's updates to `model`, which must hold the run's initial weights in the
// run's dtype (load it with model.dtype of logged_run_config). Throws Error naming the log
// when its records are inconsistent (steps missing or out of order, /updates rows without a
// step), when `model` is not the one trained (trainable parameter count), when --steps asks
// for more than was logged, and when the replayed checksum differs from final_checksum.
ReplayResult replay_run(Model& model, const RunLogReader& log, const ReplayOptions& options = {});

}  // namespace zotune
