// The interface every zeroth-order optimizer implements: it asks for losses at probe
// points, receives them, and emits the update as coefficients of seeded directions.
// It never touches parameters itself, so the same code runs on every rank and the only
// thing that crosses the network is the vector of probe losses.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kernels/cpu/perturb.h"

namespace zotune {

struct TrainableTensor;  // core/optim/trainable_space.h

// A parameter pass an optimizer computes itself, for what is not a sum of seeded directions:
// updates from per-parameter state (MeZO-Adam's moments, HiZOO's diagonal Hessian) and probes
// that depend on the weights or on a tensor's shape (Sparse-MeZO's mask, LOZO's U Vᵀ). The
// engine calls it once per trainable tensor, in space order, with `values` = the tensor's
// numel elements widened to fp32, and rounds what it leaves there back into the storage dtype
// once. Host engine only (the CUDA engine refuses it). A probe's pass runs only on the rank of
// its group, so it must not change the optimizer's state; a StepUpdate's pass runs on every
// rank and may (identically on each).
using TensorPass = std::function<void(size_t tensor_index, const TrainableTensor& tensor, float* values)>;

// A point at which to evaluate the minibatch loss: the step's base weights plus
// sum_j offset[j].coeff * z(offset[j]). Probes of one group run on the same rank
// (group g on rank g mod P); groups of a round are independent.
struct Probe {
  std::vector<cpu::DirectionTerm> offset;  // empty: the unperturbed weights
  int group = 0;
  TensorPass pass = {};                    // set: the point is pass(unperturbed weights), offset empty
};

struct StepUpdate {
  std::vector<cpu::DirectionTerm> terms;  // theta += sum terms[j].coeff * z_j (the -lr is inside)
  float decay_scale = 1.0f;               // weight decay: decayed tensors scaled first
  TensorPass pass;                        // set: then applied to the weights (stateful methods)
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
  // True for optimizers whose probes or updates are TensorPasses: they need the host engine
  // and model.perturbation: exact (a pass reads the unperturbed weights), and their log has
  // no /updates rows, so replay re-runs them on the logged probe losses (replay_optimizer).
  virtual bool uses_tensor_passes() const { return false; }
  // model.perturbation: reference (core/train/weight_moves.h). Optimizers whose steps are
  // seeded directions need nothing (true). Those with TensorPasses switch to the papers'
  // arithmetic here (probe passes as increments from the previous probe's point, directions
  // and state in the parameter dtype) and return true; false = not available (refused).
  virtual bool use_reference_arithmetic() { return !uses_tensor_passes(); }
};

}  // namespace zotune
