// Sparse-MeZO (Liu et al., arXiv 2402.15751, NeurIPS 2025; baselines.md section 5): MeZO on a
// masked direction ẑ = m ⊙ z. One seed per step, two-sided:
//   c = (L(θ + ε m⊙z) − L(θ − ε m⊙z)) / 2ε,   θ ← (1 − ηλ)θ − η c m⊙z
// (λ: weight_decay, MeZO's rule: weights only, every entry decayed, masked or not). The mask:
//  - magnitude (the paper's S-MeZO, "dynamic mask"): m_i = 1 iff |θ_i| <= h_k, θ the
//    unperturbed weights of the step, h_k a per-tensor threshold fixed from the initial
//    weights: the value of rank ceil((1 − s) n_k) in the sorted |θ_0| of tensor k (so a
//    fraction 1 − s of each tensor moves; s = sparsity; every trainable tensor counts as a layer);
//  - random (AdaZeta-code's `trainer_sparse.py`, i.e. R-MeZO): m_i = 1 iff u_i >= s with
//    u = u(seed ^ kMaskStream, step, 0) (kernels/common/philox.h), a second Philox draw that
//    is a pure function of (seed, step, global index): AdaZeta keeps 25% (s = 0.75).
// The probes and the update are TensorPasses (either engine, exact mode: the mask reads the
// unperturbed weights; ParamPassKind::SparseAxpy); replay re-runs them from the logged probe
// losses.
#pragma once
#include <vector>

#include "core/optim/zo_optimizer.h"

namespace zotune {

enum class SparseMaskKind { Magnitude, Random };

struct SparseMezoOptions {
  uint64_t seed = 0;
  double eps = 1e-3;
  double sparsity = 0.8;  // s: fraction of each tensor's entries left out (the paper's best)
  SparseMaskKind mask = SparseMaskKind::Magnitude;
  double weight_decay = 0.0;
  DirectionKind kind = DirectionKind::Gaussian;
};

// The magnitude threshold of one tensor: the ceil((1 − s) n)-th smallest |x| (−1 when that
// rank is 0, so nothing passes |x| <= h).
float sparse_mezo_threshold(const float* x, int64_t n, double sparsity);

// Per-tensor magnitude thresholds (space order), each fixed from the weights the first pass
// that meets its tensor sees. Every pass of step 0 sees the initial weights (exact mode
// restores them), so the values are the same on every rank, on either engine and in replay.
// The CUDA engine brings a tensor to the host once to fill its entry (ParamPassSpec::thresholds).
struct MagnitudeThresholds {
  double sparsity = 0.0;
  std::vector<float> value;
  std::vector<bool> known;

  bool has(size_t k) const { return k < known.size() && known[k]; }
  // The threshold of tensor k; x = its n values widened to fp32, read only the first time.
  float of(size_t k, const float* x, int64_t n);
};

class SparseMezo final : public ZoOptimizer {
 public:
  explicit SparseMezo(const SparseMezoOptions& options);
  std::string name() const override { return "sparse-mezo"; }
  void begin_step(uint32_t step, double lr) override;
  std::vector<Probe> next_probes() override;
  void observe(const std::vector<double>& losses) override;
  StepUpdate finish() override;
  bool uses_tensor_passes() const override { return true; }

 private:
  // x[i] ← x[i] * scale_i + coeff * m_i z_i over one tensor (scale_i = decay on decayed tensors).
  void masked_axpy(size_t index, const TrainableTensor& t, float* x, float coeff, float decay_scale, uint32_t step);

  SparseMezoOptions opt_;
  uint32_t step_ = 0;
  double lr_ = 0.0;
  bool asked_ = false;
  std::vector<double> losses_;
  // The pass as data for the CUDA engine (ParamPassKind::SparseAxpy).
  ParamPassSpec spec(float coeff, float decay_scale, uint32_t step);

  // Per-tensor magnitude thresholds from the initial weights.
  MagnitudeThresholds thresholds_;
};

}  // namespace zotune
