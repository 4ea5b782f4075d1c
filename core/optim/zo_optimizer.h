// The interface every zeroth-order optimizer implements: it asks for losses at probe
// points, receives them, and emits the update as coefficients of seeded directions.
// It never touches parameters itself, so the same code runs on every rank and the only
// thing that crosses the network is the vector of probe losses.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "core/optim/param_pass.h"
#include "kernels/cpu/perturb.h"

namespace zotune {

struct TrainableTensor;  // core/optim/trainable_space.h

// A parameter pass an optimizer computes itself, for what is not a sum of seeded directions:
// updates from per-parameter state (MeZO-Adam's moments, HiZOO's diagonal Hessian) and probes
// that depend on the weights or on a tensor's shape (Sparse-MeZO's mask, LOZO's U Vᵀ). The
// engine calls it once per trainable tensor, in space order, with `values` = the tensor's
// numel elements widened to fp32, and rounds what it leaves there back into the storage dtype
// once. The CUDA engine runs `spec`, the same pass as data (core/optim/param_pass.h), with
// kernels of the same arithmetic. A probe's pass runs only on the rank of its group, so it
// must not change the optimizer's state; a StepUpdate's pass runs on every rank and may
// (identically on each).
struct TensorPass {
  using Closure = std::function<void(size_t tensor_index, const TrainableTensor& tensor, float* values)>;
  Closure host;
  ParamPassSpec spec;  // kind None: a host-only pass (the CUDA engine refuses it)

  TensorPass() = default;
  // A closure alone (host engine only), or with its description for the CUDA engine.
  template <typename F>
    requires(!std::is_same_v<std::decay_t<F>, TensorPass>)
  TensorPass(F closure, const ParamPassSpec& s = {}) : host(std::move(closure)), spec(s) {}
  explicit operator bool() const { return static_cast<bool>(host); }
  void operator()(size_t tensor_index, const TrainableTensor& tensor, float* values) const {
    host(tensor_index, tensor, values);
  }
};

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
  // True for optimizers whose probes or updates are TensorPasses: they need
  // model.perturbation: exact (a pass reads the unperturbed weights), and their log has
  // no /updates rows, so replay re-runs them on the logged probe losses (replay_optimizer).
  virtual bool uses_tensor_passes() const { return false; }
  // model.perturbation: reference (core/train/weight_moves.h). Optimizers whose steps are
  // seeded directions need nothing (true). Those with TensorPasses switch to the papers'
  // arithmetic here (probe passes as increments from the previous probe's point, directions
  // and state in the parameter dtype) and return true; false = not available (refused).
  virtual bool use_reference_arithmetic() { return !uses_tensor_passes(); }
  // The most probes one round can ask for (engine.probe_batch: auto batches up to this many in
  // one forward); 0 = not known in advance.
  virtual int max_probes_per_round() const { return 0; }
};

}  // namespace zotune
