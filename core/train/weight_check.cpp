#include "core/train/weight_check.h"

#include <cmath>
#include <sstream>

#include "core/model/model.h"
#include "core/tensor/dtype.h"

namespace zotune {

std::optional<NonFiniteWeight> find_non_finite_weight(Model& model) {
  if (model.on_device()) model.sync_params_to_host();
  const ParamStore& params = model.params();
  for (const ParamView& v : params.views()) {
    const void* data = params.data(v);
    for (int64_t i = 0; i < v.numel; ++i) {
      const float x = load_f32(data, v.dtype, static_cast<size_t>(i));
      if (!std::isfinite(x)) return NonFiniteWeight{v.name, i, x};
    }
  }
  return std::nullopt;
}

std::string non_finite_weight_message(const NonFiniteWeight& found) {
  std::ostringstream msg;
  msg << "the model's weights hold NaN/Inf (tensor " << found.tensor << ", element " << found.index << " is "
      << found.value << ") before any update: the checkpoint is damaged, not the learning rate";
  return msg.str();
}

}  // namespace zotune
