// Row normalizations on the device over the last dimension C: fp32 input (the residual
// stream), weights in the storage dtype, output in `out_type` (the GEMM input dtype, or fp32
// in place). Statistics in fp32. Host-callable launchers only; device pointers.
#pragma once
#include "core/tensor/dtype.h"

namespace zotune::cuda {

// out[r, :] = (x[r, :] - mean) / sqrt(var + eps) * weight + bias (bias may be null).
// out may alias x when out_type is F32.
void layernorm(void* out, DType out_type, const float* x, const void* weight, const void* bias, DType weight_type,
               int rows, int C, float eps, void* stream = nullptr);

// out[r, :] = x[r, :] / sqrt(mean(x^2) + eps) * weight (Llama's RMSNorm). Aliasing as above.
void rmsnorm(void* out, DType out_type, const float* x, const void* weight, DType weight_type, int rows, int C, float eps,
             void* stream = nullptr);

// x[r, :] += y[r, :] + bias, then out[r, :] = rmsnorm(x[r, :]) * weight: a residual connection
// and the RMSNorm after it (Llama's block boundaries) in one pass over the row, saving a launch
// and a re-read of x. x stays fp32; y, bias (may be null), weight and out are of `type`; out may
// alias y. The arithmetic is residual_add's and rmsnorm's, in their order.
void residual_add_rmsnorm(float* x, void* out, const void* y, const void* bias, const void* weight, DType type, int rows,
                          int C, float eps, void* stream = nullptr);

}  // namespace zotune::cuda
