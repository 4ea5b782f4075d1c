// What a training step leaves in the run log, and how replay reads it back. One place for
// the contract between `zotune train` and `zotune replay`:
//   /updates   one row per applied direction term (step, query, coefficient, seed), in the
//              order the fused update applied them;
//   /steps     loss, lr, ms, queries (forward passes over all ranks), decay_scale (the
//              factor weight decay applied to decayed tensors before the terms, float32
//              exact in float64), every probe loss (vector `probe_losses`) and the optimizer's
//              own series (noise_sigma, finite_differences, posterior_mean, ...).
#pragma once
#include <cstdint>
#include <vector>

#include "core/log/run_log.h"
#include "core/log/run_log_reader.h"
#include "core/optim/trainable_space.h"
#include "core/train/param_engine.h"
#include "core/train/trainer.h"

namespace zotune {

void log_step_record(RunLog& log, const StepRecord& record, double peak_memory_bytes);

// The update of one step as the trainer applied it: the terms in order and the decay scale.
struct LoggedUpdate {
  int64_t step = 0;
  std::vector<cpu::DirectionTerm> terms;
  float decay_scale = 1.0f;
};

// Every step of /steps in order with its /updates rows (a step without rows updates nothing
// but may still decay). Errors name the log for rows that are out of step order or whose step
// has no /steps row, and for a missing decay_scale series.
std::vector<LoggedUpdate> read_logged_updates(const RunLogReader& log);

// Re-applies the first `steps` updates through `engine` exactly as Trainer::step applied them
// (decay, then the fused sum of the step's terms): replay of a log, and best-dev recovery in
// training. The engine must be the run's (host or device): the GPU's normals differ from the
// CPU's in the last bits, so only the same engine reproduces the checksum.
void apply_logged_updates(ParamEngine& engine, const std::vector<LoggedUpdate>& updates, int64_t steps,
                          DirectionKind kind);

}  // namespace zotune
