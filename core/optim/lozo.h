// LOZO (Chen et al., ICLR 2025, arXiv 2410.07698; official code optsuite/LOZO; baselines.md
// section 6): ZO-SGD with a low-rank perturbation. Per step k (one seed, two-sided):
//   P = U Vᵀ for every trainable tensor with two or more dimensions (rows = shape[0],
//       cols = numel / rows, U [rows x r], V [cols x r], entries N(0, 1)), P = z for vectors
//       (biases, norms) and for matrices with fewer than r rows or columns;
//   c = (L(θ + εP) − L(θ − εP)) / 2ε,   θ ← (1 − ηλ)θ − η c P  (λ on weights only; no 1/r:
//       the code folds it into η).
// U is drawn fresh every step, V is refreshed every ν steps ("lazy sampling": the window of
// step k starts at ν floor(k / ν)). Both are pure functions of the seed, so nothing is stored:
//   U[a, j] = z(seed, k, 0)[first + a r + j],   V[b, j] = z(seed ^ kLowRankVStream, window, 0)[first + b r + j]
// (first = the tensor's global trainable index; r <= min(rows, cols) keeps both ranges
// inside the tensor's own). V drawn from its own per-window stream means the update uses the
// same U Vᵀ as the probes on every step, unlike the official code, whose refresh steps draw V
// then U from one stream for the probes but only U for the update (baselines.md, "code
// quirk"): that quirk is not reproduced. Probes and update are TensorPasses (either engine,
// exact mode: ParamPassKind::LozoAxpy); replay re-runs them from the logged probe losses.
// LOZO-M, the momentum variant of the official RoBERTa trainer (baselines.md 6), is not offered:
// the reference papers' LOZO rows are BSZO's port of plain LOZO.
#pragma once
#include <vector>

#include "core/optim/zo_optimizer.h"

namespace zotune {

struct LozoOptions {
  uint64_t seed = 0;
  double eps = 1e-3;
  int rank = 2;            // r (run_lozo.py default; BSZO ran r = 2)
  int refresh_every = 50;  // ν: steps between draws of V
  double weight_decay = 0.0;
  DirectionKind kind = DirectionKind::Gaussian;
};

// x += coeff * P over one tensor (the LOZO direction of step `step`, its V window `window`).
void lozo_axpy(const TrainableTensor& t, float* x, float coeff, uint64_t seed, uint32_t step, uint32_t window, int rank,
               DirectionKind kind);

class Lozo final : public ZoOptimizer {
 public:
  explicit Lozo(const LozoOptions& options);
  std::string name() const override { return "lozo"; }
  void begin_step(uint32_t step, double lr) override;
  std::vector<Probe> next_probes() override;
  void observe(const std::vector<double>& losses) override;
  StepUpdate finish() override;
  bool uses_tensor_passes() const override { return true; }

  uint32_t window_of(uint32_t step) const { return step / static_cast<uint32_t>(opt_.refresh_every) * static_cast<uint32_t>(opt_.refresh_every); }

 private:
  TensorPass axpy_pass(float coeff) const;

  LozoOptions opt_;
  uint32_t step_ = 0;
  double lr_ = 0.0;
  bool asked_ = false;
  std::vector<double> losses_;
};

}  // namespace zotune
