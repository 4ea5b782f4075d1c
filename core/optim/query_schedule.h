// AdaZeta's adaptive query schedule (docs/papers/adazeta.md a.4, a.5): the number of
// directions Q averaged per step grows sub-linearly with the epoch,
//   Q_e = min(max(floor(alpha * e^beta), Q_min), Q_max),   e = floor(k / ceil(D / B)),
// for step k, D training examples and batch B; Q only changes at epoch boundaries. The
// official code derives the exponent from the run's length (run.py overrides `inc_rate`):
//   beta = ln(NUM / alpha) / ln(T * B / D),
// so that alpha * E^beta reaches NUM at the last epoch E = T * B / D (T = run.steps);
// Q_max then clips it. The paper states a fixed beta (0.45 for Llama-2-7B) instead.
#pragma once
#include <cstdint>

namespace zotune {

struct QueryScheduleOptions {
  double alpha = 0.85;     // shrink_factor: Q_e = alpha * e^beta before rounding and clipping
  bool beta_auto = true;   // derive beta from the run's length (the code); false: `beta` as given
  double beta = 0.0;       // the exponent when !beta_auto (> 0)
  int target = 20;         // NUM: the Q the unclipped curve reaches at the last epoch
  int min_queries = 1;     // floor of Q (the single-GPU code: 1; the distributed trainer: 3)
  int max_queries = 15;    // cap of Q (num_pertub_max)
  bool fixed = false;      // Q = target at every step (the code's --use_num)
};

// How long the run is, in the quantities the schedule reads.
struct TrainingExtent {
  int64_t train_examples = 0;  // D: examples in the training split
  int64_t batch_size = 0;      // B: examples per minibatch
  int64_t steps = 0;           // T: optimizer steps of the run
};

// beta = ln(target / alpha) / ln(T * B / D). Throws zotune::Error when T * B <= D (the run
// is at most one epoch long: the exponent is undefined) or target <= alpha.
double derived_query_beta(double alpha, double target, const TrainingExtent& extent);

class QuerySchedule {
 public:
  // Throws zotune::Error naming the option for an invalid combination (min > max, a
  // non-positive alpha or beta, an empty extent).
  QuerySchedule(const QueryScheduleOptions& options, const TrainingExtent& extent);

  double beta() const { return beta_; }                   // the exponent in use (derived or given)
  int64_t steps_per_epoch() const { return steps_per_epoch_; }  // ceil(D / B)
  int64_t epoch(uint32_t step) const { return static_cast<int64_t>(step) / steps_per_epoch_; }
  int queries_at_epoch(int64_t epoch) const;
  int queries(uint32_t step) const { return queries_at_epoch(epoch(step)); }

 private:
  QueryScheduleOptions opt_;
  double beta_ = 0.0;
  int64_t steps_per_epoch_ = 1;
};

}  // namespace zotune
