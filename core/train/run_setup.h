// From a parsed run file to the objects of a run: the trainable selection, the optimizer and
// the trainer options (the task's splits: task_setup.h). One place maps config enums to
// engine enums, so `zotune train`, `zotune eval` and `zotune replay` agree on what a run
// file means.
#pragma once
#include <memory>

#include "core/config/run_config.h"
#include "core/model/model.h"
#include "core/optim/query_schedule.h"
#include "core/optim/trainable_space.h"
#include "core/optim/zo_optimizer.h"
#include "core/train/trainer.h"

namespace zotune {

TrainableSelection trainable_selection(const TrainableSettings& settings);
// The PEFT modules a run's model carries: the peft: section with the kind trainable.mode names
// (none for full and head). Every load of the run's model (train, replicas, replay) uses it.
PeftSettings peft_settings(const RunConfig& config);
DirectionKind direction_kind(DirectionDistribution distribution);

// MeZO-Adam, HiZOO, LOZO, Sparse-MeZO: their probes and updates are TensorPasses (host engine,
// exact mode), their logs have no /updates rows, and replay re-runs them (replay_optimizer).
bool optimizer_uses_tensor_passes(OptimizerKind kind);

// sigma_p / sigma_e "auto" resolve against `trainable_params`. AdaZeta's query schedule reads
// `extent` (its epochs and derived beta); the other optimizers ignore it.
std::unique_ptr<ZoOptimizer> make_optimizer(const OptimizerSettings& settings, uint64_t seed, uint64_t trainable_params,
                                            const TrainingExtent& extent = {});

// D = train_examples (the training split's size), B = data.batch_size, T = run.steps.
TrainingExtent training_extent(const RunConfig& config, int64_t train_examples);

TrainerOptions trainer_options(const RunConfig& config);

}  // namespace zotune
