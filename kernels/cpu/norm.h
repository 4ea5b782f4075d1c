// Row normalizations over the last dimension (C), fp32 activations, weights in any dtype.
#pragma once
#include "core/tensor/dtype.h"

namespace zotune::cpu {

// out[r, :] = (x[r, :] - mean) / sqrt(var + eps) * weight + bias; bias may be null.
// out may alias x.
void layernorm(float* out, const float* x, const void* weight, const void* bias, DType wtype, int rows, int C,
               float eps);

// out[r, :] = x[r, :] / sqrt(mean(x^2) + eps) * weight (Llama's RMSNorm). out may alias x.
void rmsnorm(float* out, const float* x, const void* weight, DType wtype, int rows, int C, float eps);

}  // namespace zotune::cpu
