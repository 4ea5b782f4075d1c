// MeZO-Adam / ZO-Adam (baselines.md section 3; BSZO's `trainer=zo_adam`, MeZO paper Table 18):
// MeZO's two-sided SPSA estimate g = c z, c = (L(θ+εz) − L(θ−εz)) / 2ε, handed to a standard
// Adam step (torch.optim.Adam's arithmetic, step count t = 1, 2, ... over this optimizer's
// updates):
//   g_i ← c z_i + λ θ_i        (λ: weight_decay, coupled L2 as torch Adam, weights only)
//   m_i ← β1 m_i + (1 − β1) g_i,   v_i ← β2 v_i + (1 − β2) g_i²
//   θ_i ← θ_i − (η / (1 − β1^t)) m_i / (sqrt(v_i) / sqrt(1 − β2^t) + ε_adam)
// m and v are fp32 buffers over the whole trainable space (8 bytes per trainable parameter,
// beside the exact mode's snapshot). Under model.perturbation: reference they hold values of
// the parameter dtype, rounded at torch's op boundaries (use_reference_arithmetic):
//   g = rd(c rd(z)) (+ rd(λ θ), rounded),  m = rd(lerp(m, g, 1 − β1)),  v = rd(rd(β2 v) + (1 − β2) g²),
//   d = rd(rd(rd(sqrt v) / sqrt(1 − β2^t)) + ε_adam),  θ = rd(θ − (η / (1 − β1^t)) m / d)
// (rd = round to the dtype; the op sequence of torch's foreach Adam: lerp_, mul_, addcmul_,
// sqrt, div_, add_, addcdiv_); in fp16 the small terms vanish, as the papers found. The probes are plain seeded directions; the update is a
// TensorPass (on either engine: ParamPassKind::AdamUpdate), so the log has no /updates rows and replay re-runs the
// recurrence from the logged probe losses (replay_optimizer, core/train/trainer.h).
#pragma once
#include <vector>

#include "core/optim/zo_optimizer.h"

namespace zotune {

struct MezoAdamOptions {
  uint64_t seed = 0;
  double eps = 1e-3;        // SPSA perturbation scale
  double beta1 = 0.9;       // torch.optim.Adam defaults, as BSZO ran it
  double beta2 = 0.999;
  double adam_eps = 1e-8;
  double weight_decay = 0.0;
  uint64_t trainable_params = 0;  // size of the moment buffers
  DirectionKind kind = DirectionKind::Gaussian;
};

class MezoAdam final : public ZoOptimizer {
 public:
  explicit MezoAdam(const MezoAdamOptions& options);
  std::string name() const override { return "mezo-adam"; }
  void begin_step(uint32_t step, double lr) override;
  std::vector<Probe> next_probes() override;
  void observe(const std::vector<double>& losses) override;
  StepUpdate finish() override;
  bool uses_tensor_passes() const override { return true; }
  // The reference arithmetic: z, the gradient, both moments and every intermediate tensor of
  // torch.optim.Adam's step rounded to the parameter's dtype where torch rounds them (the
  // moments live in the parameter dtype, as BSZO's zo_adam allocates them).
  bool use_reference_arithmetic() override { return reference_ = true; }

  // The moments on the host (downloaded first when the CUDA engine ran the updates).
  const std::vector<float>& first_moment() const { return state_.host(0); }
  const std::vector<float>& second_moment() const { return state_.host(1); }

 private:
  MezoAdamOptions opt_;
  uint32_t step_ = 0;
  double lr_ = 0.0;
  bool asked_ = false;
  std::vector<double> losses_;
  int64_t t_ = 0;  // Adam updates taken
  bool reference_ = false;
  ParamState state_;  // arrays 0 = m, 1 = v, over the trainable space (param_pass.h)
};

}  // namespace zotune
