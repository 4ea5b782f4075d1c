// Scoring a task split with the model as it stands: its loss and, for tasks that have one,
// its metric (accuracy or F1), as `zotune train` evaluates dev and test and `zotune eval`
// reports them. Each costs forward passes over the whole split, so only what is asked for is
// computed.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/model/model.h"
#include "core/train/task.h"

namespace zotune {

struct SplitScore {
  int examples = 0;              // examples scored (the shard's share of the split)
  std::optional<double> loss;    // mean loss over the split's units (tokens or examples)
  std::optional<double> metric;  // the task's metric in [0, 1]; nullopt for the lm task
};

// chunk: examples per loss forward (the metric batches by itself). shard_count > 1 scores only
// the examples whose index is shard_index mod shard_count (one process's share of a split
// scored in parallel; the shards' means, weighted by their example counts, give the split's).
SplitScore score_split(Task& task, Model& model, int chunk, bool want_loss, bool want_metric, int shard_index = 0,
                       int shard_count = 1);
// Examples of `task` in shard shard_index of shard_count.
std::vector<int> shard_examples(const Task& task, int shard_index, int shard_count);

// "accuracy" or "f1" for prompted tasks, "" for tasks with only a loss.
std::string metric_name(const Task& task);

}  // namespace zotune
