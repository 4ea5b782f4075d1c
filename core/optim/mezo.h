// ZO-SGD / MeZO (Malladi et al. 2023; baselines.md section 1): SPSA with n queries,
// two-sided c_q = (L(θ+εz_q) − L(θ−εz_q)) / 2ε or one-sided c_q = (L(θ+εz_q) − L(θ)) / ε,
// update θ ← (1 − ηλ)θ − η (1/n) Σ_q c_q z_q (λ on weights only: biases and norms skip).
#pragma once
#include "core/optim/zo_optimizer.h"

namespace zotune {

struct MezoOptions {
  uint64_t seed = 0;
  double eps = 1e-3;
  int queries = 1;
  bool one_sided = false;
  double weight_decay = 0.0;
};

class Mezo final : public ZoOptimizer {
 public:
  explicit Mezo(const MezoOptions& options);
  std::string name() const override { return "mezo"; }
  void begin_step(uint32_t step, double lr) override;
  std::vector<Probe> next_probes() override;
  void observe(const std::vector<double>& losses) override;
  StepUpdate finish() override;
  int max_probes_per_round() const override { return opt_.one_sided ? opt_.queries + 1 : 2 * opt_.queries; }

 private:
  MezoOptions opt_;
  uint32_t step_ = 0;
  double lr_ = 0.0;
  bool asked_ = false;
  std::vector<double> losses_;
};

}  // namespace zotune
