#include "core/optim/query_schedule.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/util/error.h"

namespace zotune {

double derived_query_beta(double alpha, double target, const TrainingExtent& extent) {
  check(extent.train_examples > 0 && extent.batch_size > 0 && extent.steps > 0,
        "query schedule: beta auto needs the training examples, batch size and steps (got D = " +
            std::to_string(extent.train_examples) + ", B = " + std::to_string(extent.batch_size) +
            ", T = " + std::to_string(extent.steps) + ")");
  // E = T * B / D epochs, not rounded (as run.py computes it).
  const double epochs = static_cast<double>(extent.steps) * static_cast<double>(extent.batch_size) /
                        static_cast<double>(extent.train_examples);
  check(epochs > 1.0, "optimizer.queries_beta: auto needs a run longer than one epoch (run.steps * data.batch_size = " +
                          std::to_string(extent.steps * extent.batch_size) + " examples, the training split has " +
                          std::to_string(extent.train_examples) + "); give beta as a number");
  check(target > alpha, "optimizer.queries_beta: auto needs optimizer.queries_target (" + std::to_string(target) +
                            ") above optimizer.queries_alpha (" + std::to_string(alpha) + ")");
  return std::log(target / alpha) / std::log(epochs);
}

QuerySchedule::QuerySchedule(const QueryScheduleOptions& options, const TrainingExtent& extent) : opt_(options) {
  check(opt_.alpha > 0.0, "optimizer.queries_alpha must be positive, got " + std::to_string(opt_.alpha));
  check(opt_.min_queries >= 1, "optimizer.queries_min must be at least 1, got " + std::to_string(opt_.min_queries));
  check(opt_.min_queries <= opt_.max_queries, "optimizer.queries_min (" + std::to_string(opt_.min_queries) +
                                                  ") exceeds optimizer.queries_max (" + std::to_string(opt_.max_queries) + ")");
  check(opt_.target >= 1, "optimizer.queries_target must be at least 1, got " + std::to_string(opt_.target));
  check(extent.train_examples > 0 && extent.batch_size > 0,
        "query schedule: epochs need the training examples and the batch size (got D = " +
            std::to_string(extent.train_examples) + ", B = " + std::to_string(extent.batch_size) + ")");
  // ceil(D / B): the dataloader's steps per epoch, the last batch partial.
  steps_per_epoch_ = (extent.train_examples + extent.batch_size - 1) / extent.batch_size;
  if (opt_.fixed) return;  // beta is never read
  if (opt_.beta_auto) {
    beta_ = derived_query_beta(opt_.alpha, opt_.target, extent);
  } else {
    check(opt_.beta > 0.0, "optimizer.queries_beta must be positive, got " + std::to_string(opt_.beta));
    beta_ = opt_.beta;
  }
}

int QuerySchedule::queries_at_epoch(int64_t epoch) const {
  if (opt_.fixed) return opt_.target;
  // e = 0 gives 0^beta = 0: the first epoch runs Q_min queries.
  const double q = std::floor(opt_.alpha * std::pow(static_cast<double>(epoch), beta_));
  const double clipped = std::min(std::max(q, static_cast<double>(opt_.min_queries)), static_cast<double>(opt_.max_queries));
  return static_cast<int>(clipped);
}

}  // namespace zotune
