#include "core/optim/sparse_mezo.h"

#include <algorithm>
#include <cmath>

#include "core/optim/trainable_space.h"
#include "core/util/error.h"

namespace zotune {

float sparse_mezo_threshold(const float* x, int64_t n, double sparsity) {
  const int64_t keep = static_cast<int64_t>(std::ceil((1.0 - sparsity) * static_cast<double>(n) - 1e-9));
  if (keep <= 0) return -1.0f;
  std::vector<float> a(x, x + n);
  for (float& v : a) v = std::fabs(v);
  std::nth_element(a.begin(), a.begin() + (keep - 1), a.end());
  return a[static_cast<size_t>(keep - 1)];
}

float MagnitudeThresholds::of(size_t k, const float* x, int64_t n) {
  if (k >= value.size()) value.resize(k + 1, 0.0f), known.resize(k + 1, false);
  if (!known[k]) {
    value[k] = sparse_mezo_threshold(x, n, sparsity);
    known[k] = true;
  }
  return value[k];
}

SparseMezo::SparseMezo(const SparseMezoOptions& options) : opt_(options) {
  check(opt_.eps > 0.0, "sparse-mezo: optimizer.eps must be positive");
  check(opt_.sparsity >= 0.0 && opt_.sparsity < 1.0, "sparse-mezo: optimizer.sparsity must be in [0, 1)");
  thresholds_.sparsity = opt_.sparsity;
}

ParamPassSpec SparseMezo::spec(float coeff, float decay_scale, uint32_t step) {
  ParamPassSpec s;
  s.kind = ParamPassKind::SparseAxpy, s.direction = opt_.kind, s.seed = opt_.seed, s.step = step;
  s.coeff = coeff, s.decay_scale = decay_scale, s.sparsity = static_cast<float>(opt_.sparsity);
  s.random_mask = opt_.mask == SparseMaskKind::Random;
  if (!s.random_mask) s.thresholds = &thresholds_;
  return s;
}

void SparseMezo::begin_step(uint32_t step, double lr) {
  step_ = step;
  lr_ = lr;
  asked_ = false;
  losses_.clear();
}

void SparseMezo::masked_axpy(size_t index, const TrainableTensor& t, float* x, float coeff, float decay_scale,
                             uint32_t step) {
  const int64_t n = t.view->numel;
  std::vector<float> z(static_cast<size_t>(n)), mask_draw;
  cpu::direction(z.data(), n, t.first, opt_.seed, step, 0, opt_.kind);
  float h = 0.0f;
  if (opt_.mask == SparseMaskKind::Random) {
    mask_draw.resize(static_cast<size_t>(n));
    cpu::uniform(mask_draw.data(), n, t.first, opt_.seed ^ kMaskStream, step, 0);
  } else {
    h = thresholds_.of(index, x, n);
  }
  const float scale = t.weight_decay ? decay_scale : 1.0f;
  const float s = static_cast<float>(opt_.sparsity);
  for (int64_t i = 0; i < n; ++i) {
    // The mask reads x before it changes: the unperturbed weight of this step.
    const bool keep = opt_.mask == SparseMaskKind::Random ? mask_draw[i] >= s : std::fabs(x[i]) <= h;
    x[i] = x[i] * scale + (keep ? coeff * z[i] : 0.0f);
  }
}

std::vector<Probe> SparseMezo::next_probes() {
  if (asked_) return {};
  asked_ = true;
  std::vector<Probe> probes;
  for (const float sign : {1.0f, -1.0f}) {
    const float coeff = sign * static_cast<float>(opt_.eps);
    const uint32_t step = step_;
    Probe p;
    p.group = 0;
    p.pass = TensorPass(
        [this, coeff, step](size_t k, const TrainableTensor& t, float* x) { masked_axpy(k, t, x, coeff, 1.0f, step); },
        spec(coeff, 1.0f, step));
    probes.push_back(std::move(p));
  }
  return probes;
}

void SparseMezo::observe(const std::vector<double>& losses) { losses_ = losses; }

StepUpdate SparseMezo::finish() {
  check(losses_.size() == 2, "sparse-mezo: finish() before both probe losses arrived");
  const double c = (losses_[0] - losses_[1]) / (2.0 * opt_.eps);
  const float coeff = static_cast<float>(-lr_ * c);
  const float decay = static_cast<float>(1.0 - lr_ * opt_.weight_decay);
  const uint32_t step = step_;
  StepUpdate u;
  // Decay inside the pass, after the mask has read the unperturbed weight.
  u.pass = TensorPass([this, coeff, decay, step](size_t k, const TrainableTensor& t,
                                                  float* x) { masked_axpy(k, t, x, coeff, decay, step); },
                      spec(coeff, decay, step));
  u.loss = losses_[0];
  u.forward_passes = 2;
  u.scalars["eps"] = opt_.eps;
  u.vectors["finite_differences"] = {c};
  return u;
}

}  // namespace zotune
