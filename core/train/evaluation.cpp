#include "core/train/evaluation.h"

#include <numeric>
#include <vector>

#include "core/tasks/prompt_task.h"

namespace zotune {

SplitScore score_split(Task& task, Model& model, int chunk, bool want_loss, bool want_metric) {
  SplitScore s;
  if (want_loss) s.loss = full_loss(task, model, chunk).mean();
  if (want_metric && !metric_name(task).empty()) {
    std::vector<int> all(static_cast<size_t>(task.num_examples()));
    std::iota(all.begin(), all.end(), 0);
    s.metric = task.metric(model, all);
  }
  return s;
}

std::string metric_name(const Task& task) {
  const auto* prompted = dynamic_cast<const tasks::PromptTask*>(&task);
  if (!prompted) return "";
  return prompted->metric_kind() == tasks::Metric::F1 ? "f1" : "accuracy";
}

}  // namespace zotune
