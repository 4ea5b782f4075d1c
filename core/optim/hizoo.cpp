#include "core/optim/hizoo.h"

#include <cmath>

#include "core/optim/trainable_space.h"
#include "core/util/error.h"

namespace zotune {

Hizoo::Hizoo(const HizooOptions& options) : opt_(options) {
  check(opt_.eps > 0.0, "hizoo: optimizer.eps must be positive");
  check(opt_.hessian_smoothing >= 0.0 && opt_.hessian_smoothing < 1.0,
        "hizoo: optimizer.hessian_smoothing must be in [0, 1)");
  check(opt_.trainable_params > 0, "hizoo: no trainable parameters for the Hessian estimate");
  state_.add_array(opt_.trainable_params, 1.0f);  // Σ
}

void Hizoo::begin_step(uint32_t step, double lr) {
  step_ = step;
  lr_ = lr;
  asked_ = false;
  losses_.clear();
}

std::vector<Probe> Hizoo::next_probes() {
  if (asked_) return {};
  asked_ = true;
  std::vector<Probe> probes;
  probes.push_back(Probe{{}, 1});  // ℓ0 on its own group: another rank can take it
  // Exact: each probe from the unperturbed weights. Reference: increments in place, the
  // second from the first probe's point (-2 eps), as the official code moves.
  for (const float sign : {1.0f, reference_ ? -2.0f : -1.0f}) {
    const float coeff = sign * static_cast<float>(opt_.eps);
    const uint64_t seed = opt_.seed;
    const uint32_t step = step_;
    const DirectionKind kind = opt_.kind;
    const bool reference = reference_;
    Probe p;
    p.group = 0;
    ParamPassSpec spec;  // the same probe for the CUDA engine
    spec.kind = ParamPassKind::HizooProbe, spec.reference = reference, spec.direction = kind;
    spec.seed = seed, spec.step = step, spec.coeff = coeff, spec.state = &state_;
    // Reads Σ, never writes it: a probe runs on one rank only.
    p.pass = TensorPass([this, coeff, seed, step, kind, reference](size_t, const TrainableTensor& t, float* x) {
      const int64_t n = t.view->numel;
      const std::vector<float>& sigma = state_.host(0);
      check(t.first + static_cast<uint64_t>(n) <= sigma.size(), "hizoo: tensor " + t.view->name +
                                                                    " lies outside the Hessian buffer");
      std::vector<float> z(static_cast<size_t>(n));
      cpu::direction(z.data(), n, t.first, seed, step, 0, kind);
      if (reference)
        for (float& v : z) v = cpu::round_to_dtype(v, t.view->dtype);
      const float* s = sigma.data() + t.first;
      for (int64_t i = 0; i < n; ++i) x[i] += coeff * z[i] / std::sqrt(s[i]);
    }, spec);
    probes.push_back(std::move(p));
  }
  return probes;
}

void Hizoo::observe(const std::vector<double>& losses) { losses_ = losses; }

StepUpdate Hizoo::finish() {
  check(losses_.size() == 3, "hizoo: finish() before the three probe losses arrived");
  const double l0 = losses_[0], lp = losses_[1], lm = losses_[2];
  const double c = (lp - lm) / (2.0 * opt_.eps);
  const double curvature = std::fabs(lp + lm - 2.0 * l0) / (2.0 * opt_.eps * opt_.eps);
  const float alpha = static_cast<float>(opt_.hessian_smoothing);
  const float keep = 1.0f - alpha, sample = static_cast<float>(opt_.hessian_smoothing * curvature);
  const float step_c = static_cast<float>(lr_ * c), step_decay = static_cast<float>(lr_ * opt_.weight_decay);
  const uint64_t seed = opt_.seed;
  const uint32_t step = step_;
  const DirectionKind kind = opt_.kind;
  StepUpdate u;
  const bool reference = reference_;
  const float restore = static_cast<float>(opt_.eps);
  ParamPassSpec spec;  // the same update for the CUDA engine
  spec.kind = ParamPassKind::HizooUpdate, spec.reference = reference, spec.direction = kind;
  spec.seed = seed, spec.step = step, spec.keep = keep, spec.sample = sample, spec.step_c = step_c;
  spec.step_decay = step_decay, spec.restore = restore, spec.state = &state_;
  u.pass = TensorPass([this, keep, sample, step_c, step_decay, seed, step, kind, reference, restore](size_t, const TrainableTensor& t,
                                                                                       float* x) {
    const int64_t n = t.view->numel;
    std::vector<float>& sigma = state_.host(0);
    check(t.first + static_cast<uint64_t>(n) <= sigma.size(), "hizoo: tensor " + t.view->name +
                                                                  " lies outside the Hessian buffer");
    std::vector<float> z(static_cast<size_t>(n));
    cpu::direction(z.data(), n, t.first, seed, step, 0, kind);
    float* s = sigma.data() + t.first;
    if (reference) {
      const DType dt = t.view->dtype;
      for (int64_t i = 0; i < n; ++i) {
        const float zr = cpu::round_to_dtype(z[i], dt);
        x[i] = cpu::round_to_dtype(x[i] + restore * zr / std::sqrt(s[i]), dt);  // back from θ − ε z ⊘ √Σ (old Σ)
        s[i] = cpu::round_to_dtype(keep * s[i] + sample * (s[i] * zr * zr), dt);
        x[i] -= step_c * zr / std::sqrt(s[i]) + step_decay * x[i];  // rounded once by the engine
      }
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      s[i] = keep * s[i] + sample * (s[i] * z[i] * z[i]);
      x[i] -= step_c * z[i] / std::sqrt(s[i]) + step_decay * x[i];
    }
  }, spec);
  u.loss = l0;
  u.forward_passes = 3;
  u.scalars["eps"] = opt_.eps;
  u.scalars["hessian_sample"] = curvature;
  u.vectors["finite_differences"] = {c};
  return u;
}

}  // namespace zotune
