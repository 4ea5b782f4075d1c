// HiZOO (Zhao et al., ICLR 2025, arXiv 2402.15173; the official code's 2025 version, which
// BSZO's port follows; baselines.md section 4): a diagonal Hessian estimate Σ (fp32, one
// entry per trainable parameter, initialised to 1) scales the probes and the step. Per step
// (one seed, three forwards in one round, all at the OLD Σ):
//   ℓ0 = L(θ),   ℓ± = L(θ ± ε z ⊘ √Σ)
//   Σ ← (1 − α) Σ + α |ℓ⁺ + ℓ⁻ − 2ℓ0| / (2ε²) · (Σ ⊙ z ⊙ z)       (α: hessian_smoothing)
//   θ ← θ − η ((ℓ⁺ − ℓ⁻) / 2ε · z ⊘ √Σ + λ θ)                       (the NEW Σ; λ on EVERY tensor, as the code)
// The logged loss is ℓ0 (the code's fourth forward, only for logging, is dropped). With α = 0
// Σ stays 1 and HiZOO is MeZO with one wasted forward. Probes and update are TensorPasses
// (either engine: ParamPassKind::HizooProbe, HizooUpdate); replay re-runs the Σ recurrence
// from the logged probe losses.
#pragma once
#include <vector>

#include "core/optim/zo_optimizer.h"

namespace zotune {

struct HizooOptions {
  uint64_t seed = 0;
  double eps = 1e-3;
  double hessian_smoothing = 1e-8;  // α: BSZO's run.py default; the README's OPT-13B example
  double weight_decay = 0.0;
  uint64_t trainable_params = 0;    // size of Σ
  DirectionKind kind = DirectionKind::Gaussian;
};

class Hizoo final : public ZoOptimizer {
 public:
  explicit Hizoo(const HizooOptions& options);
  std::string name() const override { return "hizoo"; }
  void begin_step(uint32_t step, double lr) override;
  std::vector<Probe> next_probes() override;
  void observe(const std::vector<double>& losses) override;
  StepUpdate finish() override;
  bool uses_tensor_passes() const override { return true; }
  // The reference arithmetic: Σ and z in the parameter's dtype (rounded after every update:
  // the official code allocates Σ like the parameter, and in fp16 (1 − α)Σ = Σ for α < 5e-4,
  // baselines.md 4), probes applied in place as increments (+ε z ⊘ √Σ, then −2ε z ⊘ √Σ, then
  // +ε z ⊘ √Σ restoring before the update), each rounded once into the dtype.
  bool use_reference_arithmetic() override { return reference_ = true; }

  // Σ on the host (downloaded first when the CUDA engine ran the passes).
  const std::vector<float>& hessian() const { return state_.host(0); }

 private:
  HizooOptions opt_;
  uint32_t step_ = 0;
  double lr_ = 0.0;
  bool asked_ = false;
  std::vector<double> losses_;  // ℓ0, ℓ⁺, ℓ⁻
  ParamState state_;  // array 0 = Σ over the trainable space (param_pass.h)
  bool reference_ = false;
};

}  // namespace zotune
