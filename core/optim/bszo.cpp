#include "core/optim/bszo.h"

#include <cmath>

#include "core/util/error.h"

namespace zotune {

double bszo_auto_sigma(uint64_t n) { return std::sqrt(static_cast<double>(n) / 1e6); }

GaussianPosterior GaussianPosterior::prior(int k, double sigma_p) {
  GaussianPosterior p;
  p.mean.assign(k, 0.0);
  p.cov.assign(static_cast<size_t>(k) * k, 0.0);
  for (int i = 0; i < k; ++i) p.cov[static_cast<size_t>(i) * k + i] = sigma_p * sigma_p;
  return p;
}

void GaussianPosterior::update(const std::vector<double>& d, double y, double noise_var, double jitter) {
  const int k = static_cast<int>(mean.size());
  std::vector<double> sd(k, 0.0);  // Σ d
  double dsd = 0.0, dd = 0.0, dmu = 0.0;
  for (int i = 0; i < k; ++i) {
    for (int j = 0; j < k; ++j) sd[i] += cov[static_cast<size_t>(i) * k + j] * d[j];
    dsd += d[i] * sd[i];
    dd += d[i] * d[i];
    dmu += d[i] * mean[i];
  }
  const double denom = dsd + noise_var * dd;
  std::vector<double> gain(k);  // K = Σd / (dᵀΣd + σ_e²‖d‖²)
  for (int i = 0; i < k; ++i) gain[i] = sd[i] / denom;
  for (int i = 0; i < k; ++i) mean[i] += gain[i] * (y - dmu);
  // Σ ← Σ − K (Σd)ᵀ  (dᵀΣ = (Σd)ᵀ for symmetric Σ), then symmetrize and add jitter I.
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) cov[static_cast<size_t>(i) * k + j] -= gain[i] * sd[j];
  for (int i = 0; i < k; ++i)
    for (int j = i + 1; j < k; ++j) {
      const double s = 0.5 * (cov[static_cast<size_t>(i) * k + j] + cov[static_cast<size_t>(j) * k + i]);
      cov[static_cast<size_t>(i) * k + j] = cov[static_cast<size_t>(j) * k + i] = s;
    }
  for (int i = 0; i < k; ++i) cov[static_cast<size_t>(i) * k + i] += jitter;
}

Bszo::Bszo(const BszoOptions& o) : opt_(o), rho_(o.sigma_e * o.sigma_e), sigma_e_(o.sigma_e) {
  check(opt_.k >= 1, "bszo: k must be at least 1");
  check(opt_.m >= opt_.k, "bszo: m (" + std::to_string(opt_.m) + ") must be at least k (" + std::to_string(opt_.k) + ")");
  check(opt_.eps > 0 && opt_.sigma_p > 0 && opt_.sigma_e > 0, "bszo: eps, sigma_p and sigma_e must be positive");
  check(opt_.alpha > 0 && opt_.alpha <= 1, "bszo: alpha must be in (0, 1]");
}

void Bszo::begin_step(uint32_t step, double lr) {
  step_ = step;
  lr_ = lr;
  post_ = GaussianPosterior::prior(opt_.k, opt_.sigma_p);
  cached_.assign(opt_.k, 0.0);
  observed_.clear();
  tau_ = 0;
  pending_axis_ = -1;
  forward_passes_ = 0;
  phase_ = Phase::Start;
}

int Bszo::largest_variance_axis() const {
  // Coordinate observations keep Σ diagonal, so its top eigenvector is the axis of the
  // largest diagonal entry (the first one on ties).
  int best = 0;
  for (int i = 1; i < opt_.k; ++i)
    if (post_.cov[static_cast<size_t>(i) * opt_.k + i] > post_.cov[static_cast<size_t>(best) * opt_.k + best]) best = i;
  return best;
}

int Bszo::next_axis() const { return opt_.adaptive_sampling ? largest_variance_axis() : tau_ % opt_.k; }

void Bszo::apply_observation(int axis, double y) {
  std::vector<double> d(opt_.k, 0.0);
  d[axis] = 1.0;
  if (opt_.adaptive_noise) {
    const double r = y - post_.mean[axis];  // prior residual, ‖d‖ = 1
    rho_ = (1.0 - opt_.alpha) * rho_ + opt_.alpha * r * r;
    sigma_e_ = std::max(opt_.noise_floor * opt_.sigma_e, std::sqrt(rho_));
  }
  post_.update(d, y, sigma_e_ * sigma_e_);
  observed_.push_back(y);
  ++tau_;
}

std::vector<Probe> Bszo::next_probes() {
  const float eps = static_cast<float>(opt_.eps);
  if (phase_ == Phase::Start) {
    // L(θ) and the k axis probes are independent: one round, k+1 groups.
    std::vector<Probe> probes;
    probes.push_back(Probe{{}, opt_.k});
    for (int i = 0; i < opt_.k; ++i) probes.push_back(Probe{{{opt_.seed, step_, static_cast<uint32_t>(i), eps}}, i});
    phase_ = Phase::Coordinates;
    return probes;
  }
  if (phase_ == Phase::Remeasure && tau_ < opt_.m) {
    if (!opt_.fresh_remeasure) {
      // BSZO: the cached difference of the chosen axis, no forward pass.
      while (tau_ < opt_.m) {
        const int axis = next_axis();
        apply_observation(axis, cached_[axis]);
      }
      phase_ = Phase::Done;
      return {};
    }
    const int axis = next_axis();
    pending_axis_ = axis;
    return {Probe{{{opt_.seed, step_, static_cast<uint32_t>(axis), eps}}, axis}};
  }
  phase_ = Phase::Done;
  return {};
}

void Bszo::observe(const std::vector<double>& losses) {
  forward_passes_ += static_cast<int>(losses.size());
  if (phase_ == Phase::Coordinates) {
    check(static_cast<int>(losses.size()) == opt_.k + 1, "bszo: expected k+1 losses");
    f0_ = losses[0];
    for (int i = 0; i < opt_.k; ++i) cached_[i] = (losses[i + 1] - f0_) / opt_.eps;
    for (int i = 0; i < opt_.k && tau_ < opt_.m; ++i) apply_observation(i, cached_[i]);
    phase_ = Phase::Remeasure;
    return;
  }
  check(phase_ == Phase::Remeasure && pending_axis_ >= 0 && losses.size() == 1, "bszo: unexpected losses");
  apply_observation(pending_axis_, (losses[0] - f0_) / opt_.eps);
  pending_axis_ = -1;
}

StepUpdate Bszo::finish() {
  check(phase_ == Phase::Done, "bszo: finish() before the step's observations were complete");
  StepUpdate u;
  for (int i = 0; i < opt_.k; ++i)
    if (std::fabs(post_.mean[i]) > 1e-10)
      u.terms.push_back({opt_.seed, step_, static_cast<uint32_t>(i), static_cast<float>(-lr_ * post_.mean[i])});
  u.loss = f0_;
  u.forward_passes = forward_passes_;
  u.scalars["noise_sigma"] = sigma_e_;
  u.scalars["eps"] = opt_.eps;
  u.vectors["finite_differences"] = observed_;
  u.vectors["posterior_mean"] = post_.mean;
  return u;
}

}  // namespace zotune
