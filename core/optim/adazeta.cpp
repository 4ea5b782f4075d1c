#include "core/optim/adazeta.h"

#include <string>

#include "core/util/error.h"

namespace zotune {

Adazeta::Adazeta(const AdazetaOptions& options) : opt_(options), schedule_(options.schedule, options.extent) {
  check(opt_.eps > 0.0, "adazeta: eps must be positive");
  check(opt_.weight_decay >= 0.0, "adazeta: weight_decay must be non-negative");
}

void Adazeta::begin_step(uint32_t step, double lr) {
  step_ = step;
  lr_ = lr;
  queries_ = schedule_.queries(step);
  asked_ = false;
  losses_.clear();
}

int Adazeta::max_probes_per_round() const {
  return 2 * (opt_.schedule.fixed ? opt_.schedule.target : opt_.schedule.max_queries);
}

std::vector<Probe> Adazeta::next_probes() {
  if (asked_) return {};
  asked_ = true;
  const float eps = static_cast<float>(opt_.eps);
  // [q0 +, q0 −, q1 +, q1 −, ...]: both probes of a query on one rank (group q).
  std::vector<Probe> probes;
  probes.reserve(2 * static_cast<size_t>(queries_));
  for (int q = 0; q < queries_; ++q) {
    const uint32_t query = static_cast<uint32_t>(q);
    probes.push_back(Probe{{{opt_.seed, step_, query, eps}}, q});
    probes.push_back(Probe{{{opt_.seed, step_, query, -eps}}, q});
  }
  return probes;
}

void Adazeta::observe(const std::vector<double>& losses) { losses_ = losses; }

StepUpdate Adazeta::finish() {
  const int Q = queries_;
  check(static_cast<int>(losses_.size()) == 2 * Q,
        "adazeta: finish() at step " + std::to_string(step_) + " with " + std::to_string(losses_.size()) +
            " probe losses, expected " + std::to_string(2 * Q));
  StepUpdate u;
  std::vector<double> grads(Q);
  double plus_sum = 0.0;
  for (int q = 0; q < Q; ++q) {
    // fp64 on the host: an fp16 subtraction of nearly equal losses collapses training.
    grads[q] = (losses_[2 * q] - losses_[2 * q + 1]) / (2.0 * opt_.eps);
    plus_sum += losses_[2 * q];
    // ĝ = (1/Q) Σ c_q z_q: each term carries its share −η c_q / Q, in query order.
    u.terms.push_back({opt_.seed, step_, static_cast<uint32_t>(q), static_cast<float>(-lr_ * grads[q] / Q)});
  }
  u.loss = plus_sum / Q;
  // θ − η(ĝ + λθ) = (1 − ηλ)θ − ηĝ: the engine scales the decayed tensors, then adds the terms.
  u.decay_scale = static_cast<float>(1.0 - lr_ * opt_.weight_decay);
  u.forward_passes = 2 * Q;
  u.scalars["eps"] = opt_.eps;
  u.scalars["queries_used"] = Q;
  u.scalars["epoch"] = static_cast<double>(schedule_.epoch(step_));
  u.scalars["query_beta"] = schedule_.beta();
  u.vectors["finite_differences"] = grads;
  return u;
}

}  // namespace zotune
