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
  const std::vector<int> mine = shard_examples(task, shard_index, shard_count);
  SplitScore s;
  s.examples = static_cast<int>(mine.size());
  auto* prompted = dynamic_cast<tasks::PromptTask*>(&task);
  if (want_loss && want_metric && prompted != nullptr && chunk >= 1) {
    // Both from one scoring pass where the task's loss and metric read the same scores: the
    // chunks chunked_loss would run, their predictions summed in example order as evaluate does.
    LossSum loss;
    double score_total = 0.0;
    for (size_t first = 0; first < mine.size(); first += static_cast<size_t>(chunk)) {
      const std::vector<int> part(mine.begin() + static_cast<ptrdiff_t>(first),
                                  mine.begin() + static_cast<ptrdiff_t>(std::min(mine.size(), first + chunk)));
      const tasks::Evaluation ev = prompted->evaluate(model, part);
      const LossSum l = ev.loss ? *ev.loss : task.loss_sum(model, part);
      loss.sum += l.sum;
      loss.count += l.count;
      for (const tasks::Prediction& p : ev.predictions) score_total += p.score;
    }
    s.loss = loss.mean();
    s.metric = score_total / static_cast<double>(mine.size());  // NaN for an empty shard, as evaluate gives
    return s;
  }
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
