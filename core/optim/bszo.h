// BSZO and BSZO-B (Feng & Huang 2026; docs/papers/bszo.md a.3; official code
// AeonianQuill/BSZO bszo_optimizer_v3.py = BSZO, v4 = BSZO-B): a Bayesian estimate of the
// gradient's projection g̃ = Bᵀg on k seeded directions, B = [z_1..z_k], from m difference
// observations fused by sequential Kalman updates, then θ ← θ − η Σ_i μ_i z_i.
// Every step measures f0 = L(θ) (the logged loss; the code computes it in both difference
// modes). Observation τ (0-based):
//  - τ < k: axis τ, a fresh measurement;
//  - τ >= k, adaptive sampling: the top eigenvector of Σ. Σ is exactly diagonal after axis
//    updates, and numpy's eigh (LAPACK dsyevd) returns +e_j exactly, j the column its
//    selection sort leaves last (the largest Σ_jj; among ties not always the first or last:
//    top_eigenvector_axis). BSZO re-uses axis j's cached difference (no forward); BSZO-B
//    measures along +e_j with a fresh forward. +e_j is the direction axis j was measured in,
//    so BSZO-B's measurement evaluates the same point on the same minibatch: under exact
//    perturbation it returns the cached value bit for bit (BSZO-B = BSZO + one forward); it
//    differs only through the in-place rounding residues of the earlier probes
//    (model.perturbation: reference) and the GPU's nondeterministic kernels (docs/PRECISION.md);
//  - τ >= k, no adaptive sampling (the ablation): axis τ mod k with a fresh forward in both
//    variants, replacing that axis's cached value, as both official versions do.
// Differences: one-sided y = (L(θ + εBd) − f0)/ε (the paper; 1 forward per fresh
// observation), or central y = (L(θ + εBd) − L(θ − εBd))/2ε (the code's
// bayesian_one_sided=False; 2 forwards each, f0 still measured and logged).
// The observation noise σ_e follows an EMA of squared prior residuals, floored at a fraction
// of its start value, and persists across steps; μ and Σ restart from the prior every step.
#pragma once
#include <vector>

#include "core/optim/zo_optimizer.h"

namespace zotune {

struct BszoOptions {
  uint64_t seed = 0;
  double eps = 1e-4;
  int k = 2;
  int m = 3;
  double sigma_p = 1.0;      // prior std; "auto" = sqrt(n / 1e6) is resolved by the caller
  double sigma_e = 1.0;      // initial observation-noise std (same "auto")
  double alpha = 0.1;        // noise EMA smoothing
  double noise_floor = 0.1;  // σ_e >= noise_floor * initial σ_e
  bool adaptive_noise = true;
  bool adaptive_sampling = true;
  bool one_sided = true;         // false: central differences (bayesian_one_sided=False)
  bool fresh_remeasure = false;  // BSZO-B
};

// sqrt(n / 1e6): the code's "auto" prior and initial noise std for n trainable parameters.
double bszo_auto_sigma(uint64_t n);

// The posterior state of one step: mean μ [k], covariance Σ [k x k] row-major.
struct GaussianPosterior {
  std::vector<double> mean;
  std::vector<double> cov;
  static GaussianPosterior prior(int k, double sigma_p);
  // One rank-1 Kalman update with observation y = dᵀg̃ + ν, ν ~ N(0, noise_var ‖d‖²),
  // followed by symmetrization and + jitter I (the reference code adds 1e-10 I).
  void update(const std::vector<double>& d, double y, double noise_var, double jitter = 1e-10);
};

class Bszo final : public ZoOptimizer {
 public:
  explicit Bszo(const BszoOptions& options);
  std::string name() const override { return opt_.fresh_remeasure ? "bszo-b" : "bszo"; }
  void begin_step(uint32_t step, double lr) override;
  std::vector<Probe> next_probes() override;
  void observe(const std::vector<double>& losses) override;
  StepUpdate finish() override;

  double noise_sigma() const { return sigma_e_; }
  const GaussianPosterior& posterior() const { return post_; }

 private:
  // Applies the next observation along axis `axis` with difference y.
  void apply_observation(int axis, double y);
  // The probes of one fresh observation along axis `axis` (1 one-sided, 2 central).
  void push_observation_probes(std::vector<Probe>& probes, int axis) const;
  // y of one fresh observation from its losses (1 one-sided, 2 central) at losses[at].
  double difference(const std::vector<double>& losses, size_t at) const;

 public:
  // The axis of Σ's top eigenvector as numpy.linalg.eigh returns it for a diagonal Σ: LAPACK
  // sorts the eigenvalues ascending by selection sort with swaps (dsteqr), and the column it
  // leaves last is +e_j (checked against numpy for k up to 69, ties included).
  static int top_eigenvector_axis(const std::vector<double>& diagonal);

 private:
  int largest_variance_axis() const;

  BszoOptions opt_;
  double rho_;      // EMA of squared residuals (persists across steps)
  double sigma_e_;  // current noise std (persists across steps)
  uint32_t step_ = 0;
  double lr_ = 0.0;
  GaussianPosterior post_;
  double f0_ = 0.0;
  std::vector<double> cached_;  // Y[i]: the axis-i difference of this step (the latest)
  std::vector<double> observed_;  // every y used, in order (logged)
  int tau_ = 0;                 // observations applied so far
  std::vector<int> pending_axes_;  // the axes of the outstanding round's observations, in order
  int forward_passes_ = 0;
  enum class Phase { Start, Coordinates, Remeasure, Done } phase_ = Phase::Start;
};

}  // namespace zotune
