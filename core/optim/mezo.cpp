#include "core/optim/mezo.h"

#include "core/util/error.h"

namespace zotune {

Mezo::Mezo(const MezoOptions& options) : opt_(options) {
  check(opt_.queries >= 1, "mezo: queries must be at least 1");
  check(opt_.eps > 0.0, "mezo: eps must be positive");
}

void Mezo::begin_step(uint32_t step, double lr) {
  step_ = step;
  lr_ = lr;
  asked_ = false;
  losses_.clear();
}

std::vector<Probe> Mezo::next_probes() {
  if (asked_) return {};
  asked_ = true;
  const float eps = static_cast<float>(opt_.eps);
  std::vector<Probe> probes;
  // Two-sided: [q0 +, q0 −, q1 +, q1 −, ...]; one-sided: [q0 +, q1 +, ..., base].
  for (int q = 0; q < opt_.queries; ++q) {
    const cpu::DirectionTerm z{opt_.seed, step_, static_cast<uint32_t>(q), eps};
    probes.push_back(Probe{{z}, q});
    if (!opt_.one_sided) probes.push_back(Probe{{{z.seed, z.step, z.query, -eps}}, q});
  }
  if (opt_.one_sided) probes.push_back(Probe{{}, opt_.queries});
  return probes;
}

void Mezo::observe(const std::vector<double>& losses) { losses_ = losses; }

StepUpdate Mezo::finish() {
  const int Q = opt_.queries;
  check(static_cast<int>(losses_.size()) == (opt_.one_sided ? Q + 1 : 2 * Q), "mezo: finish() before every probe loss arrived");
  StepUpdate u;
  std::vector<double> grads(Q);
  double plus_sum = 0.0;
  for (int q = 0; q < Q; ++q) {
    const double plus = opt_.one_sided ? losses_[q] : losses_[2 * q];
    const double other = opt_.one_sided ? losses_[Q] : losses_[2 * q + 1];
    // fp64 on the host: an fp16 subtraction of nearly equal losses collapses training.
    grads[q] = opt_.one_sided ? (plus - other) / opt_.eps : (plus - other) / (2.0 * opt_.eps);
    plus_sum += plus;
    u.terms.push_back({opt_.seed, step_, static_cast<uint32_t>(q), static_cast<float>(-lr_ * grads[q] / Q)});
  }
  // MeZO logs L(θ+εz); with one-sided differences the unperturbed loss is at hand.
  u.loss = opt_.one_sided ? losses_[Q] : plus_sum / Q;
  u.decay_scale = static_cast<float>(1.0 - lr_ * opt_.weight_decay);
  u.forward_passes = static_cast<int>(losses_.size());
  u.scalars["eps"] = opt_.eps;
  u.vectors["finite_differences"] = grads;
  return u;
}

}  // namespace zotune
