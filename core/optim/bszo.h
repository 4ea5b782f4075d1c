// BSZO and BSZO-B (Feng & Huang 2026; ../shared/papers/bszo.md a.3): a Bayesian estimate
// of the gradient's projection g̃ = Bᵀg on k seeded directions, B = [z_1..z_k], from m
// one-sided difference observations fused by sequential Kalman updates, then
// θ ← θ − η Σ_i μ_i z_i. Observations 1..k measure the coordinate axes (one forward each,
// plus one for L(θ)); observation τ > k re-measures the axis of largest posterior variance:
// from the cache (BSZO, no forward) or with a fresh forward (BSZO-B). The observation noise
// σ_e follows an EMA of squared prior residuals, floored at a fraction of its start value,
// and persists across steps; μ and Σ restart from the prior every step.
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
  // Applies observation τ (1-based) along axis `axis` with difference y.
  void apply_observation(int axis, double y);
  int largest_variance_axis() const;
  // The axis observation tau_+1 (> k) re-measures: largest variance, or round robin.
  int next_axis() const;

  BszoOptions opt_;
  double rho_;      // EMA of squared residuals (persists across steps)
  double sigma_e_;  // current noise std (persists across steps)
  uint32_t step_ = 0;
  double lr_ = 0.0;
  GaussianPosterior post_;
  double f0_ = 0.0;
  std::vector<double> cached_;  // Y[i]: the axis-i difference of this step
  std::vector<double> observed_;  // every y used, in order (logged)
  int tau_ = 0;                 // observations applied so far
  int pending_axis_ = -1;       // BSZO-B: the axis being re-measured by the outstanding probe
  int forward_passes_ = 0;
  enum class Phase { Start, Coordinates, Remeasure, Done } phase_ = Phase::Start;
};

}  // namespace zotune
