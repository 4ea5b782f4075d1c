// The device ParamEngine: the trainable space of a CudaModel as one segment table on the GPU,
// so every parameter pass (perturb, restore + update + next perturbation, decay) is one
// launch of cuda::perturb_segments on the model's stream, ordered with its forward passes.
#pragma once
#include <memory>

#include "core/cuda/cuda_model.h"
#include "core/train/param_engine.h"

namespace zotune::cuda {

std::unique_ptr<ParamEngine> make_device_param_engine(CudaModel& model, const TrainableSpace& space);

}  // namespace zotune::cuda
