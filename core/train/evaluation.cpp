#include "core/train/evaluation.h"

#include <vector>

#include "core/tasks/prompt_task.h"

namespace zotune {

std::vector<int> shard_examples(const Task& task, int shard_index, int shard_count) {
  std::vector<int> out;
  for (int i = shard_index; i < task.num_examples(); i += shard_count) out.push_back(i);
  return out;
}

SplitScore score_split(Task& task, Model& model, int chunk, bool want_loss, bool want_metric, int shard_index,
                       int shard_count) {
  const std::vector<int> mine = shard_examples(task, shard_index, shard_count);
  SplitScore s;
  s.examples = static_cast<int>(mine.size());
  if (want_loss) s.loss = chunked_loss(task, model, mine, chunk).mean();
  if (want_metric && !metric_name(task).empty()) s.metric = task.metric(model, mine);
  return s;
}

std::string metric_name(const Task& task) {
  const auto* prompted = dynamic_cast<const tasks::PromptTask*>(&task);
  if (!prompted) return "";
  return prompted->metric_kind() == tasks::Metric::F1 ? "f1" : "accuracy";
}

}  // namespace zotune
