// Shared by the CUDA engine tests: a host model moved onto the GPU, and the precisions the
// device-vs-CPU comparisons run at, with their tolerances.
#pragma once
#include <memory>
#include <string>
#include <utility>

#include "core/cuda/cuda_model.h"
#include "core/model/model.h"
#include "core/tensor/dtype.h"

namespace zotune::test {

inline std::unique_ptr<cuda::CudaModel> to_gpu(std::unique_ptr<Model> host, bool tf32, bool graphs = true,
                                               bool unpadded = false) {
  cuda::CudaOptions o;
  o.tf32 = tf32;
  o.graphs = graphs;
  o.unpadded = unpadded;
  return cuda::CudaModel::from_host(std::move(host), o);
}

// fp32 with exact GEMMs, fp32 on TF32 (attention on fp16 tensor cores), 16-bit activations.
struct DevicePrecision {
  DType dtype;
  bool tf32;
  const char* weights;  // parity fixture file of these weights
  double tolerance;     // relative error of logits, device against the CPU engine
};
inline constexpr DevicePrecision kDevicePrecisions[] = {
    {DType::F32, false, "model.safetensors", 1e-5},
    {DType::F32, true, "model.safetensors", 5e-3},
    {DType::BF16, true, "model_bf16.safetensors", 2e-2},
    {DType::F16, true, "model_f16.safetensors", 2e-2},
};

// "f32 exact", "f32 tf32", "bf16", "f16": the precision in a failure message.
inline std::string precision_name(const DevicePrecision& p) {
  return std::string(dtype_name(p.dtype)) + (p.dtype == DType::F32 ? (p.tf32 ? " tf32" : " exact") : "");
}

}  // namespace zotune::test
