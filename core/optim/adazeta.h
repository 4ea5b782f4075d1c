// AdaZeta's optimizer (Yang et al. 2024; docs/papers/adazeta.md a.3, a.5): MeZO's two-sided
// SPSA averaged over Q queries, with Q taken at every step from the adaptive query schedule
// (query_schedule.h). Step k with Q = Q(k):
//   c_q = (L(θ + ε z_q) − L(θ − ε z_q)) / 2ε,   q = 0..Q−1, z_q = z(seed, k, q),
//   θ ← (1 − ηλ) θ − η (1/Q) Σ_q c_q z_q        (λ on weights only: biases and norms skip).
// Query q's two probes are group q, so the queries of a step spread over the ranks
// (group g on rank g mod P); the update's terms are listed in query order.
#pragma once
#include "core/optim/query_schedule.h"
#include "core/optim/zo_optimizer.h"

namespace zotune {

struct AdazetaOptions {
  uint64_t seed = 0;
  double eps = 1e-3;
  double weight_decay = 0.0;
  QueryScheduleOptions schedule;
  TrainingExtent extent;  // D, B and T: the epochs of the schedule and its derived beta
};

class Adazeta final : public ZoOptimizer {
 public:
  // Throws zotune::Error for a non-positive eps and for an invalid schedule (query_schedule.h).
  explicit Adazeta(const AdazetaOptions& options);
  std::string name() const override { return "adazeta"; }
  void begin_step(uint32_t step, double lr) override;
  std::vector<Probe> next_probes() override;
  void observe(const std::vector<double>& losses) override;
  // Logs: loss = mean of L(θ + ε z_q) (as MeZO), scalars queries_used (Q), epoch and
  // query_beta, vector finite_differences (the Q values c_q).
  StepUpdate finish() override;
  int max_probes_per_round() const override;  // 2 Q_max (fixed Q: 2 Q)

  const QuerySchedule& schedule() const { return schedule_; }

 private:
  AdazetaOptions opt_;
  QuerySchedule schedule_;
  uint32_t step_ = 0;
  double lr_ = 0.0;
  int queries_ = 1;  // Q of the current step
  bool asked_ = false;
  std::vector<double> losses_;
};

}  // namespace zotune
