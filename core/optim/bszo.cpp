#include "core/optim/bszo.h"

#include <algorithm>
#include <cmath>
#include <utility>

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
  pending_axes_.clear();
  forward_passes_ = 0;
  phase_ = Phase::Start;
}

int Bszo::top_eigenvector_axis(const std::vector<double>& d_in) {
  // dsteqr's closing sort: for i = 0 .. n-2, find the smallest of d[i..] (strictly smaller
  // replaces, so the first of equal minima wins) and swap it into place with its column.
  std::vector<double> d = d_in;
  std::vector<int> column(d.size());
  for (size_t i = 0; i < d.size(); ++i) column[i] = static_cast<int>(i);
  for (size_t i = 0; i + 1 < d.size(); ++i) {
    size_t k = i;
    double p = d[i];
    for (size_t j = i + 1; j < d.size(); ++j)
      if (d[j] < p) k = j, p = d[j];
    if (k != i) {
      d[k] = d[i];
      d[i] = p;
      std::swap(column[i], column[k]);
    }
  }
  return column.back();
}

int Bszo::largest_variance_axis() const {
  std::vector<double> diagonal(opt_.k);
  for (int i = 0; i < opt_.k; ++i) diagonal[i] = post_.cov[static_cast<size_t>(i) * opt_.k + i];
  return top_eigenvector_axis(diagonal);
}

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

void Bszo::push_observation_probes(std::vector<Probe>& probes, int axis) const {
  const float eps = static_cast<float>(opt_.eps);
  const uint32_t q = static_cast<uint32_t>(axis);
  probes.push_back(Probe{{{opt_.seed, step_, q, eps}}, axis});
  if (!opt_.one_sided) probes.push_back(Probe{{{opt_.seed, step_, q, -eps}}, axis});
}

double Bszo::difference(const std::vector<double>& losses, size_t at) const {
  // fp64 on the host from the fp32 losses, as the code's loss.item() arithmetic.
  return opt_.one_sided ? (losses[at] - f0_) / opt_.eps : (losses[at] - losses[at + 1]) / (2.0 * opt_.eps);
}

std::vector<Probe> Bszo::next_probes() {
  if (phase_ == Phase::Start) {
    // L(θ) and the observations that do not depend on the posterior are independent: one
    // round. The k axes; without adaptive sampling every observation (axis τ mod k).
    std::vector<Probe> probes;
    probes.push_back(Probe{{}, opt_.k});
    const int fixed = opt_.adaptive_sampling ? opt_.k : opt_.m;
    for (int t = 0; t < fixed; ++t) {
      push_observation_probes(probes, t % opt_.k);
      pending_axes_.push_back(t % opt_.k);
    }
    phase_ = Phase::Coordinates;
    return probes;
  }
  if (phase_ == Phase::Remeasure && tau_ < opt_.m) {
    if (!opt_.fresh_remeasure) {
      // BSZO: the cached difference of the top eigenvector's axis, no forward pass.
      while (tau_ < opt_.m) {
        const int axis = largest_variance_axis();
        apply_observation(axis, cached_[axis]);
      }
      phase_ = Phase::Done;
      return {};
    }
    // BSZO-B: a fresh measurement along +e_j (its sign as eigh returns it).
    const int axis = largest_variance_axis();
    pending_axes_ = {axis};
    std::vector<Probe> probes;
    push_observation_probes(probes, axis);
    return probes;
  }
  phase_ = Phase::Done;
  return {};
}

void Bszo::observe(const std::vector<double>& losses) {
  forward_passes_ += static_cast<int>(losses.size());
  const size_t per = opt_.one_sided ? 1 : 2;
  if (phase_ == Phase::Coordinates) {
    check(losses.size() == 1 + per * pending_axes_.size(), "bszo: expected " +
                                                              std::to_string(1 + per * pending_axes_.size()) +
                                                              " losses, got " + std::to_string(losses.size()));
    f0_ = losses[0];
    for (size_t t = 0; t < pending_axes_.size(); ++t) {
      const int axis = pending_axes_[t];
      cached_[axis] = difference(losses, 1 + per * t);
      apply_observation(axis, cached_[axis]);
    }
    pending_axes_.clear();
    phase_ = opt_.adaptive_sampling ? Phase::Remeasure : Phase::Done;
    return;
  }
  check(phase_ == Phase::Remeasure && pending_axes_.size() == 1 && losses.size() == per, "bszo: unexpected losses");
  apply_observation(pending_axes_[0], difference(losses, 0));
  pending_axes_.clear();
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
