#include "core/optim/mezo_adam.h"

#include <cmath>

#include "core/optim/trainable_space.h"
#include "core/util/error.h"

namespace zotune {

MezoAdam::MezoAdam(const MezoAdamOptions& options) : opt_(options) {
  check(opt_.eps > 0.0, "mezo-adam: optimizer.eps must be positive");
  check(opt_.beta1 >= 0.0 && opt_.beta1 < 1.0, "mezo-adam: optimizer.beta1 must be in [0, 1)");
  check(opt_.beta2 >= 0.0 && opt_.beta2 < 1.0, "mezo-adam: optimizer.beta2 must be in [0, 1)");
  check(opt_.adam_eps > 0.0, "mezo-adam: optimizer.adam_eps must be positive");
  check(opt_.trainable_params > 0, "mezo-adam: no trainable parameters for the moment buffers");
  state_.add_array(opt_.trainable_params, 0.0f);  // m
  state_.add_array(opt_.trainable_params, 0.0f);  // v
}

void MezoAdam::begin_step(uint32_t step, double lr) {
  step_ = step;
  lr_ = lr;
  asked_ = false;
  losses_.clear();
}

std::vector<Probe> MezoAdam::next_probes() {
  if (asked_) return {};
  asked_ = true;
  const float eps = static_cast<float>(opt_.eps);
  return {Probe{{{opt_.seed, step_, 0, eps}}, 0}, Probe{{{opt_.seed, step_, 0, -eps}}, 0}};
}

void MezoAdam::observe(const std::vector<double>& losses) { losses_ = losses; }

StepUpdate MezoAdam::finish() {
  check(losses_.size() == 2, "mezo-adam: finish() before both probe losses arrived");
  const double c = (losses_[0] - losses_[1]) / (2.0 * opt_.eps);  // fp64 on the host
  ++t_;
  const double bias1 = 1.0 - std::pow(opt_.beta1, static_cast<double>(t_));
  const double bias2 = 1.0 - std::pow(opt_.beta2, static_cast<double>(t_));
  const float step_size = static_cast<float>(lr_ / bias1);
  const float bias2_sqrt = static_cast<float>(std::sqrt(bias2));
  const float cf = static_cast<float>(c), b1 = static_cast<float>(opt_.beta1), b2 = static_cast<float>(opt_.beta2);
  const float adam_eps = static_cast<float>(opt_.adam_eps), wd = static_cast<float>(opt_.weight_decay);
  const uint64_t seed = opt_.seed;
  const uint32_t step = step_;
  const DirectionKind kind = opt_.kind;
  StepUpdate u;
  const bool reference = reference_;
  ParamPassSpec spec;  // the same update for the CUDA engine (kernels/cuda/zo_passes.cuh)
  spec.kind = ParamPassKind::AdamUpdate, spec.reference = reference, spec.direction = kind;
  spec.seed = seed, spec.step = step, spec.grad_scale = cf, spec.beta1 = b1, spec.beta2 = b2;
  spec.adam_eps = adam_eps, spec.weight_decay = wd, spec.step_size = step_size, spec.bias2_sqrt = bias2_sqrt;
  spec.state = &state_;
  u.pass = TensorPass([this, cf, b1, b2, adam_eps, wd, step_size, bias2_sqrt, seed, step, kind, reference](
               size_t, const TrainableTensor& t, float* x) {
    const int64_t n = t.view->numel;
    std::vector<float>& m_all = state_.host(0);
    std::vector<float>& v_all = state_.host(1);
    check(t.first + static_cast<uint64_t>(n) <= m_all.size(), "mezo-adam: tensor " + t.view->name +
                                                                " lies outside the moment buffers (trainable space changed)");
    std::vector<float> z(static_cast<size_t>(n));
    cpu::direction(z.data(), n, t.first, seed, step, 0, kind);
    float* m = m_all.data() + t.first;
    float* v = v_all.data() + t.first;
    const float decay = t.weight_decay ? wd : 0.0f;
    if (reference) {
      const DType dt = t.view->dtype;
      auto rd = [dt](float v) { return cpu::round_to_dtype(v, dt); };
      for (int64_t i = 0; i < n; ++i) {
        float g = rd(cf * rd(z[i]));
        if (decay != 0.0f) g = rd(g + rd(decay * x[i]));
        m[i] = rd(m[i] + (1.0f - b1) * (g - m[i]));
        v[i] = rd(rd(b2 * v[i]) + (1.0f - b2) * g * g);
        const float denom = rd(rd(rd(std::sqrt(v[i])) / bias2_sqrt) + adam_eps);
        x[i] = rd(x[i] - step_size * m[i] / denom);
      }
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      const float g = cf * z[i] + decay * x[i];
      m[i] = b1 * m[i] + (1.0f - b1) * g;
      v[i] = b2 * v[i] + (1.0f - b2) * g * g;
      x[i] -= step_size * m[i] / (std::sqrt(v[i]) / bias2_sqrt + adam_eps);
    }
  }, spec);
  u.loss = losses_[0];  // MeZO logs L(θ+εz)
  u.forward_passes = 2;
  u.scalars["eps"] = opt_.eps;
  u.vectors["finite_differences"] = {c};
  return u;
}

}  // namespace zotune
