#include "core/optim/lozo.h"

#include <algorithm>

#include "core/optim/trainable_space.h"
#include "core/util/error.h"

namespace zotune {

void lozo_axpy(const TrainableTensor& t, float* x, float coeff, uint64_t seed, uint32_t step, uint32_t window, int rank,
               DirectionKind kind) {
  const int64_t n = t.view->numel;
  const std::vector<int64_t>& shape = t.view->shape;
  const int64_t rows = shape.size() >= 2 ? shape[0] : 1;
  const int64_t cols = rows > 0 ? n / rows : 0;
  if (shape.size() < 2 || rows < rank || cols < rank) {
    std::vector<float> z(static_cast<size_t>(n));
    cpu::direction(z.data(), n, t.first, seed, step, 0, kind);
    for (int64_t i = 0; i < n; ++i) x[i] += coeff * z[i];
    return;
  }
  const int64_t r = rank;
  std::vector<float> U(static_cast<size_t>(rows * r)), V(static_cast<size_t>(cols * r));
  cpu::direction(U.data(), rows * r, t.first, seed, step, 0, kind);
  cpu::direction(V.data(), cols * r, t.first, seed ^ kLowRankVStream, window, 0, kind);
  for (int64_t a = 0; a < rows; ++a) {
    const float* u = U.data() + a * r;
    float* row = x + a * cols;
    for (int64_t b = 0; b < cols; ++b) {
      const float* v = V.data() + b * r;
      float p = 0.0f;
      for (int64_t j = 0; j < r; ++j) p += u[j] * v[j];
      row[b] += coeff * p;
    }
  }
}

Lozo::Lozo(const LozoOptions& options) : opt_(options) {
  check(opt_.eps > 0.0, "lozo: optimizer.eps must be positive");
  check(opt_.rank >= 1, "lozo: optimizer.rank must be at least 1");
  check(opt_.refresh_every >= 1, "lozo: optimizer.refresh_every must be at least 1");
}

void Lozo::begin_step(uint32_t step, double lr) {
  step_ = step;
  lr_ = lr;
  asked_ = false;
  losses_.clear();
}

TensorPass Lozo::axpy_pass(float coeff) const {
  const uint64_t seed = opt_.seed;
  const uint32_t step = step_, window = window_of(step_);
  const int rank = opt_.rank;
  const DirectionKind kind = opt_.kind;
  ParamPassSpec spec;  // the same pass for the CUDA engine
  spec.kind = ParamPassKind::LozoAxpy, spec.direction = kind, spec.seed = seed, spec.step = step;
  spec.coeff = coeff, spec.window = window, spec.rank = rank;
  return TensorPass([=](size_t, const TrainableTensor& t, float* x) { lozo_axpy(t, x, coeff, seed, step, window, rank, kind); },
                    spec);
}

std::vector<Probe> Lozo::next_probes() {
  if (asked_) return {};
  asked_ = true;
  const float eps = static_cast<float>(opt_.eps);
  Probe plus, minus;
  plus.pass = axpy_pass(eps);
  minus.pass = axpy_pass(-eps);
  return {plus, minus};
}

void Lozo::observe(const std::vector<double>& losses) { losses_ = losses; }

StepUpdate Lozo::finish() {
  check(losses_.size() == 2, "lozo: finish() before both probe losses arrived");
  const double c = (losses_[0] - losses_[1]) / (2.0 * opt_.eps);
  StepUpdate u;
  u.decay_scale = static_cast<float>(1.0 - lr_ * opt_.weight_decay);  // the engine decays, then the pass adds
  u.pass = axpy_pass(static_cast<float>(-lr_ * c));
  u.loss = losses_[0];
  u.forward_passes = 2;
  u.scalars["eps"] = opt_.eps;
  u.scalars["lozo_window"] = static_cast<double>(window_of(step_));
  u.vectors["finite_differences"] = {c};
  return u;
}

}  // namespace zotune
