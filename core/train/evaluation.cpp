#include "core/train/evaluation.h"

#include <algorithm>
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
  SplitScore s;
  if (shard_count == 1) {
    if (want_loss) s.loss = full_loss(task, model, chunk).mean();
  } else if (want_loss) {
    const std::vector<int> mine = shard_examples(task, shard_index, shard_count);
    LossSum total;
    for (size_t first = 0; first < mine.size(); first += static_cast<size_t>(chunk)) {
      const std::vector<int> part(mine.begin() + first, mine.begin() + std::min(mine.size(), first + chunk));
      const LossSum l = task.loss_sum(model, part);
      total.sum += l.sum;
      total.count += l.count;
    }
    s.loss = total.mean();
  }
  if (want_metric && !metric_name(task).empty()) s.metric = task.metric(model, shard_examples(task, shard_index, shard_count));
  return s;
}

std::string metric_name(const Task& task) {
  const auto* prompted = dynamic_cast<const tasks::PromptTask*>(&task);
  if (!prompted) return "";
  return prompted->metric_kind() == tasks::Metric::F1 ? "f1" : "accuracy";
}

}  // namespace zotune
