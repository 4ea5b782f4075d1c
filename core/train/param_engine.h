// ParamEngine: the passes a training step makes over the trainable parameters, wherever they
// live. The host engine runs TrainableSpace's CPU passes on the ParamStore; the device engine
// (core/cuda/device_param_engine) runs one fused kernel over the GPU's copy. The trainer,
// best-dev recovery and replay use only this interface, so a step is the same code on both.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/model/model.h"
#include "core/optim/trainable_space.h"
#include "core/optim/zo_optimizer.h"
#include "kernels/cpu/perturb.h"

namespace zotune {

class ParamEngine {
 public:
  virtual ~ParamEngine() = default;
  // params += sum_j terms[j].coeff * z_j over the trainable space, decayed tensors first
  // scaled by decay_scale (TrainableSpace::apply's semantics).
  virtual void apply(const std::vector<cpu::DirectionTerm>& terms, DirectionKind kind, float decay_scale = 1.0f) = 0;
  // The reference perturbation mode: one pass of one term, z rounded to each tensor's dtype
  // and the sum rounded once (TrainableSpace::apply_in_dtype / cuda::perturb_segments_in_dtype).
  virtual void apply_in_dtype(const cpu::DirectionTerm& term, DirectionKind kind) = 0;
  // Runs an optimizer's own pass over every trainable tensor (zo_optimizer.h, TensorPass): the
  // host engine calls its closure, the device engine runs its ParamPassSpec (and throws an
  // Error naming the optimizer for a pass without one).
  virtual bool supports_tensor_passes() const = 0;
  virtual void apply_pass(const TensorPass& pass, const std::string& optimizer) = 0;
  // Exact perturbation mode: keep the trainable bits, and put them back.
  virtual void save_snapshot() = 0;
  virtual void restore_snapshot() = 0;
  // TrainableSpace::checksum of the current parameters (equal bits, equal checksum).
  virtual uint64_t checksum() = 0;
  // Bytes this engine holds beside the parameters (the snapshot).
  virtual size_t extra_bytes() const = 0;
};

// The engine of `model`: the device engine for a model on a GPU, else the host one. `model`
// and `space` must outlive it.
std::unique_ptr<ParamEngine> make_param_engine(Model& model, const TrainableSpace& space);

}  // namespace zotune
