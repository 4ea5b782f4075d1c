// out[M, N] = in[M, K] @ weight[N, K]^T (+ bias[N]): a Linear layer, weight stored as
// PyTorch stores it ([out, in], row-major) in any storage dtype. fp32 accumulation through
// cpu::gemm (OpenBLAS, the same bits on any number of threads); fp16/bf16 weights are widened
// into a per-thread scratch first.
#pragma once
#include "core/tensor/dtype.h"

namespace zotune::cpu {

void matmul(float* out, const float* in, const void* weight, DType weight_type, const void* bias,
            DType bias_type, int M, int K, int N);

// out[M, N] = a[M, K] @ b[K, N], all fp32 row-major (attention and small host math).
void matmul_nn(float* out, const float* a, const float* b, int M, int K, int N);

}  // namespace zotune::cpu
