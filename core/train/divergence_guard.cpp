#include "core/train/divergence_guard.h"

#include <cmath>
#include <sstream>

#include "core/util/error.h"

namespace zotune {

void DivergenceGuard::observe(int64_t step, double loss) {
  if (!initial_) {
    initial_ = loss;
    return;
  }
  if (factor_ <= 0.0 || !std::isfinite(loss) || !std::isfinite(*initial_) || *initial_ <= 0.0) return;
  if (loss > factor_ * *initial_) {
    std::ostringstream msg;
    msg.precision(6);
    msg << "diverged at step " << step << " (loss " << loss << " > " << factor_ << " x initial " << *initial_
        << "); lower optimizer.lr, or set run.divergence_factor (0 = off)";
    throw Error(msg.str());
  }
}

}  // namespace zotune
