// run.divergence_factor: a run whose step loss grows far past where it started has diverged
// (lr 1e6 ran 2000 steps to a loss of 2e11 and ended "completed"); it stops instead, with
// status "failed: diverged at step N (loss X > F x initial Y)".
//
// The initial loss is the loss the first step logs (/steps/loss at step 0: the optimizer's
// loss estimate of that step, all-reduced, so every rank holds the same value and every task
// and optimizer has one). A resumed run takes it from its log's step 0 (the replayed step's
// loss is that value). Non-finite losses are the trainer's own error; the guard compares only
// finite ones, and only when the initial loss is finite and > 0.
#pragma once
#include <cstdint>
#include <optional>

namespace zotune {

class DivergenceGuard {
 public:
  explicit DivergenceGuard(double factor) : factor_(factor) {}  // 0 = off

  // The loss of step 0, when the guard does not see that step itself (a resumed run).
  void set_initial(double loss) { initial_ = loss; }
  const std::optional<double>& initial() const { return initial_; }

  // Step `step`'s logged loss; the first call sets the initial loss. Throws
  // Error("diverged at step N (loss X > F x initial Y)") when the loss exceeds F x Y.
  void observe(int64_t step, double loss);

 private:
  double factor_;
  std::optional<double> initial_;
};

}  // namespace zotune
