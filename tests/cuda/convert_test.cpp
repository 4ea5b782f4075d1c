// CUDA dtype conversion against the CPU reference, bit for bit; skipped without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/tensor/dtype.h"
#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/device.cuh"

namespace zotune {
namespace {

TEST(CudaConvert, MatchesCpuBitForBitForEveryDtypePair) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const size_t n = 1 << 20;
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 100.0f);
  std::vector<float> src(n);
  for (size_t i = 0; i < n; ++i) src[i] = d(rng) * std::pow(10.0f, float(int(i % 13) - 8));  // subnormals to overflow
  for (DType from : {DType::F32, DType::F16, DType::BF16}) {
    for (DType to : {DType::F32, DType::F16, DType::BF16}) {
      std::vector<uint8_t> in(n * dtype_size(from)), want(n * dtype_size(to)), got(n * dtype_size(to), 0xAB);
      convert(src.data(), DType::F32, in.data(), from, n);
      convert(in.data(), from, want.data(), to, n);
      void *din = nullptr, *dout = nullptr;
      ASSERT_EQ(cudaMalloc(&din, in.size()), cudaSuccess);
      ASSERT_EQ(cudaMalloc(&dout, got.size()), cudaSuccess);
      ASSERT_EQ(cudaMemcpy(din, in.data(), in.size(), cudaMemcpyHostToDevice), cudaSuccess);
      ASSERT_EQ(cudaMemset(dout, 0xAB, got.size()), cudaSuccess);
      cuda::convert(din, from, dout, to, n);
      ASSERT_EQ(cudaMemcpy(got.data(), dout, got.size(), cudaMemcpyDeviceToHost), cudaSuccess);
      cudaFree(din);
      cudaFree(dout);
      EXPECT_EQ(got, want) << dtype_name(from) << " -> " << dtype_name(to);
    }
  }
}

}  // namespace
}  // namespace zotune
