#include "core/train/weight_moves.h"

#include "core/train/trainer.h"
#include "core/util/error.h"

namespace zotune {

bool same_directions(const std::vector<cpu::DirectionTerm>& from, const std::vector<cpu::DirectionTerm>& to) {
  if (from.empty() || from.size() != to.size()) return false;
  bool differ = false;
  for (size_t j = 0; j < from.size(); ++j) {
    if (from[j].seed != to[j].seed || from[j].step != to[j].step || from[j].query != to[j].query) return false;
    differ = differ || from[j].coeff != to[j].coeff;
  }
  return differ;
}

void WeightMoves::apply_terms_in_dtype(const std::vector<cpu::DirectionTerm>& terms, float sign) {
  for (cpu::DirectionTerm t : terms) {
    t.coeff *= sign;
    engine_.apply_in_dtype(t, kind_);
  }
}

void WeightMoves::to_probe(const Probe& probe) {
  switch (mode_) {
    case PerturbationMode::Exact:
      engine_.restore_snapshot();
      if (probe.pass) engine_.apply_pass(probe.pass, optimizer_);  // the pass reads the unperturbed weights
      else engine_.apply(probe.offset, kind_);
      return;
    case PerturbationMode::InPlace:
      check(!probe.pass, "optimizer " + optimizer_ + ": a parameter-pass probe under model.perturbation: inplace");
      // One fused pass over the difference of the two offsets (MeZO: +eps z, then -2 eps z).
      engine_.apply(offset_difference(offset_, probe.offset), kind_);
      offset_ = probe.offset;
      return;
    case PerturbationMode::Reference:
      if (probe.pass) {  // an increment from the previous probe's point (use_reference_arithmetic)
        check(offset_.empty(), "optimizer " + optimizer_ + " mixes direction and parameter-pass probes in one step");
        engine_.apply_pass(probe.pass, optimizer_);
        return;
      }
      if (same_directions(offset_, probe.offset)) {
        apply_terms_in_dtype(offset_difference(offset_, probe.offset), 1.0f);
      } else {
        apply_terms_in_dtype(offset_, -1.0f);
        apply_terms_in_dtype(probe.offset, 1.0f);
      }
      offset_ = probe.offset;
      return;
  }
}

void WeightMoves::update(const StepUpdate& u) {
  switch (mode_) {
    case PerturbationMode::Exact:
      engine_.restore_snapshot();
      engine_.apply(u.terms, kind_, u.decay_scale);
      if (u.pass) engine_.apply_pass(u.pass, optimizer_);
      engine_.save_snapshot();
      break;
    case PerturbationMode::InPlace:
      check(!u.pass, "optimizer " + optimizer_ + ": a parameter-pass update under model.perturbation: inplace");
      if (u.decay_scale != 1.0f) {
        // Decay scales the unperturbed weights: step back to them first.
        engine_.apply(offset_difference(offset_, {}), kind_);
        engine_.apply(u.terms, kind_, u.decay_scale);
      } else {
        // Back from the last probe and the update in one pass.
        engine_.apply(offset_difference(offset_, u.terms), kind_);
      }
      break;
    case PerturbationMode::Reference:
      apply_terms_in_dtype(offset_, -1.0f);  // restore, term by term
      if (u.decay_scale != 1.0f) engine_.apply({}, kind_, u.decay_scale);
      apply_terms_in_dtype(u.terms, 1.0f);
      if (u.pass) engine_.apply_pass(u.pass, optimizer_);
      break;
  }
  offset_.clear();
}

}  // namespace zotune
