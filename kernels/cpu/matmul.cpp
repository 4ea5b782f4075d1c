#include "kernels/cpu/matmul.h"

#include <vector>

#include "kernels/cpu/gemm.h"

namespace zotune::cpu {

void matmul(float* out, const float* in, const void* weight, DType weight_type, const void* bias,
            DType bias_type, int M, int K, int N) {
  const float* w = static_cast<const float*>(weight);
  thread_local std::vector<float> widened;
  if (weight_type != DType::F32) {
    widened.resize(static_cast<size_t>(N) * K);
    convert(weight, weight_type, widened.data(), DType::F32, widened.size());
    w = widened.data();
  }
  float beta = 0.0f;
  if (bias != nullptr) {
    for (int m = 0; m < M; ++m) convert(bias, bias_type, out + static_cast<size_t>(m) * N, DType::F32, N);
    beta = 1.0f;
  }
  gemm(true, M, N, K, 1.0f, in, K, w, K, beta, out, N);
}

void matmul_nn(float* out, const float* a, const float* b, int M, int K, int N) {
  gemm(false, M, N, K, 1.0f, a, K, b, N, 0.0f, out, N);
}

}  // namespace zotune::cpu
