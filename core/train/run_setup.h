// From a parsed run file to the objects of a run: the trainable selection, the optimizer and
// the trainer options (the task's splits: task_setup.h). One place maps config enums to
// engine enums, so `zotune train`, `zotune eval` and `zotune replay` agree on what a run
// file means.
#pragma once
#include <memory>

#include "core/config/run_config.h"
#include "core/model/model.h"
#include "core/optim/trainable_space.h"
#include "core/optim/zo_optimizer.h"
#include "core/train/trainer.h"

namespace zotune {

TrainableSelection trainable_selection(const TrainableSettings& settings);
DirectionKind direction_kind(DirectionDistribution distribution);

// sigma_p / sigma_e "auto" resolve against `trainable_params`.
std::unique_ptr<ZoOptimizer> make_optimizer(const OptimizerSettings& settings, uint64_t seed, uint64_t trainable_params);

TrainerOptions trainer_options(const RunConfig& config);

}  // namespace zotune
