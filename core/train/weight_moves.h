// WeightMoves: where the weights are during a step, for each perturbation mode
// (perturbation_mode.h). The trainer asks for a probe's point before each forward and for the
// step's result after the update; replay asks for the same moves without the forwards, so a
// run of any mode is re-created pass for pass on the same engine.
//
// The reference mode follows the official codes' order of in-place passes, one rounding each:
//  - a move between two points along the same directions with different coefficients is one
//    pass per direction over the difference (MeZO: +eps z, forward, -2 eps z, forward; BSZO's
//    central difference likewise);
//  - any other move restores the previous point term by term (-c z, in its order), then
//    applies the new point's terms one by one (BSZO: +eps z_i, forward, -eps z_i; BSZO-B's
//    re-measurement of the last axis restores and perturbs again, as v4 does);
//  - the update restores the last point term by term, scales the decayed tensors (its own
//    rounding) and applies each update term as its own pass, then the optimizer's pass.
// Optimizers whose probes are TensorPasses (HiZOO) emit increments in this mode
// (ZoOptimizer::use_reference_arithmetic): each probe pass is applied to the weights as the
// previous probe left them, and the update's pass starts from the last probe's point.
#pragma once
#include <string>
#include <vector>

#include "core/optim/zo_optimizer.h"
#include "core/train/param_engine.h"
#include "core/train/perturbation_mode.h"

namespace zotune {

class WeightMoves {
 public:
  // Exact mode: `engine` must hold the step's unperturbed weights as its snapshot
  // (save_snapshot at the start; update() saves it again).
  WeightMoves(ParamEngine& engine, PerturbationMode mode, DirectionKind kind, std::string optimizer)
      : engine_(engine), mode_(mode), kind_(kind), optimizer_(std::move(optimizer)) {}

  void to_probe(const Probe& probe);
  void update(const StepUpdate& update);
  PerturbationMode mode() const { return mode_; }

 private:
  void apply_terms_in_dtype(const std::vector<cpu::DirectionTerm>& terms, float sign);

  ParamEngine& engine_;
  PerturbationMode mode_;
  DirectionKind kind_;
  std::string optimizer_;
  std::vector<cpu::DirectionTerm> offset_;  // in-place modes: the point the weights are at now
};

// True when `from` and `to` hold the same directions in the same order with different
// coefficients: a ± pair of one observation, moved in one pass per direction.
bool same_directions(const std::vector<cpu::DirectionTerm>& from, const std::vector<cpu::DirectionTerm>& to);

}  // namespace zotune
