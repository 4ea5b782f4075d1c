// The optimizer tests' objective: L(θ) = ½ Σ a_i θ_i² − b_i θ_i (gradient a ⊙ θ − b), so a
// central difference along z is zᵀ∇L up to rounding, and one ZO step on a host vector.
#pragma once
#include <random>
#include <vector>

#include "core/optim/zo_optimizer.h"
#include "kernels/cpu/perturb.h"

namespace zotune::test {

struct Quadratic {
  std::vector<double> a, b;
  double loss(const std::vector<float>& th) const {
    double l = 0;
    for (size_t i = 0; i < th.size(); ++i) l += 0.5 * a[i] * th[i] * th[i] - b[i] * th[i];
    return l;
  }
};

// a_i in [0.5, 2), b_i in [-1, 1), drawn in pairs from mt19937(seed).
inline Quadratic make_quadratic(int n, unsigned seed = 11) {
  Quadratic q;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> ua(0.5, 2.0), ub(-1.0, 1.0);
  for (int i = 0; i < n; ++i) q.a.push_back(ua(rng)), q.b.push_back(ub(rng));
  return q;
}

// Runs one optimizer step on a host vector: evaluates every probe, applies the update.
inline StepUpdate host_step(ZoOptimizer& opt, std::vector<float>& theta, const Quadratic& q, uint32_t step, double lr) {
  opt.begin_step(step, lr);
  for (std::vector<Probe> probes = opt.next_probes(); !probes.empty(); probes = opt.next_probes()) {
    std::vector<double> losses;
    for (const Probe& p : probes) {
      std::vector<float> th = theta;
      cpu::perturb(th.data(), DType::F32, static_cast<int64_t>(th.size()), 0, p.offset.data(),
                   static_cast<int>(p.offset.size()), DirectionKind::Gaussian);
      losses.push_back(q.loss(th));
    }
    opt.observe(losses);
  }
  StepUpdate u = opt.finish();
  cpu::perturb(theta.data(), DType::F32, static_cast<int64_t>(theta.size()), 0, u.terms.data(),
               static_cast<int>(u.terms.size()), DirectionKind::Gaussian);
  return u;
}

}  // namespace zotune::test
