// The interface every zeroth-order optimizer implements: it asks for losses at probe
// points, receives them, and emits the update as coefficients of seeded directions.
// It never touches parameters itself, so the same code runs on every rank and the only
// thing that crosses the network is the vector of probe losses.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kernels/cpu/perturb.h"

namespace zotune {

// A point at which to evaluate the minibatch loss: the step's base weights plus
// sum_j offset[j].coeff * z(offset[j]). Probes of one group run on the same rank
// (group g on rank g mod P); groups of a round are independent.
struct Probe {
  std::vector<cpu::DirectionTerm> offset;  // empty: the unperturbed weights
  int group = 0;
};

struct StepUpdate {
  std::vector<cpu::DirectionTerm> terms;  // theta += sum terms[j].coeff * z_j (the -lr is inside)
  float decay_scale = 1.0f;               // weight decay: decayed tensors scaled first
  double loss = 0.0;                      // the training loss to log for this step
  int forward_passes = 0;
  std::map<std::string, double> scalars;               // extra per-step series (e.g. noise_sigma)
  std::map<std::string, std::vector<double>> vectors;  // e.g. finite_differences, posterior_mean
};

class ZoOptimizer {
 public:
  virtual ~ZoOptimizer() = default;
  virtual std::string name() const = 0;
  // Starts a step; its directions are z(seed, step, query).
  virtual void begin_step(uint32_t step, double lr) = 0;
  // The next round of probes; empty once the step needs no more forward passes.
  virtual std::vector<Probe> next_probes() = 0;
  // Losses of the last round's probes, in probe order (fp32 losses widened to double).
  virtual void observe(const std::vector<double>& losses) = 0;
  virtual StepUpdate finish() = 0;
};

}  // namespace zotune
