// From a parsed run file to the objects of a run: the trainable selection, the optimizer,
// the trainer options and the task. One place maps config enums to engine enums, so
// `zotune train`, `zotune eval` and `zotune replay` agree on what a run file means.
#pragma once
#include <memory>

#include "core/config/run_config.h"
#include "core/model/model.h"
#include "core/optim/trainable_space.h"
#include "core/optim/zo_optimizer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/task.h"
#include "core/train/trainer.h"

namespace zotune {

TrainableSelection trainable_selection(const TrainableSettings& settings);
DirectionKind direction_kind(DirectionDistribution distribution);

// sigma_p / sigma_e "auto" resolve against `trainable_params`.
std::unique_ptr<ZoOptimizer> make_optimizer(const OptimizerSettings& settings, uint64_t seed, uint64_t trainable_params);

TrainerOptions trainer_options(const RunConfig& config);

enum class TaskSplit { Train, Dev, Test };

// One split of the run's task; nullptr for a dev or test split the run file does not give.
// "lm": next-token loss over task.texts (train only), or over the lines of the split's file
// (blank lines skipped, at most task.num_<split> of them), each tokenized with special
// tokens and cut to task.max_length tokens. Errors name the run file and key, or the data
// file and line.
std::unique_ptr<Task> make_task(const RunConfig& config, TaskSplit split, const Tokenizer& tokenizer,
                                const ModelConfig& model);

}  // namespace zotune
