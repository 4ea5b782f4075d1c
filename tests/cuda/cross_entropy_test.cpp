// CUDA cross-entropy against cpu::cross_entropy (both accumulate the log-sum-exp in fp64):
// relative error 1e-9 per row, on vocabularies from 1 to 262144 (multiples of 4 on the
// 16-byte path, odd sizes and a misaligned pointer on the scalar path), rows with different
// means and scales (x - max from -1e-3 to below -708, where exp underflows), many rows, and
// rows that start with a long run of -inf (masked logits: whole threads see nothing finite).
// Skipped without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/cross_entropy.h"
#include "kernels/cuda/cross_entropy.cuh"
#include "kernels/cuda/device.cuh"
#include "tests/cuda/cuda_test_util.h"

namespace zotune {
namespace {

using test::device_copy;
using test::host_copy;
using test::Sync;

struct Case {
  int rows, V;
  size_t offset_elems;  // shifts the logits pointer: nonzero forces the scalar path
  int masked;           // leading logits of every row set to -inf
  float spread = 1.0f;  // scales the logits: 100 puts x - max down to about -1000 (underflow)
};

TEST(CudaCrossEntropy, MatchesCpuToOneInABillion) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const std::vector<Case> cases = {{1, 1, 0, 0},         {3, 2, 0, 0},        {5, 7, 0, 0},       {4, 1000, 0, 0},
                                   {600, 1000, 0, 0},    {3, 32000, 0, 0},    {2, 50257, 0, 0},   {3, 151936, 0, 0},
                                   {2, 262144, 0, 0},    {3, 50000, 1, 0},    {2, 4099, 3, 0},    {4, 65536, 0, 20000},
                                   {3, 32003, 0, 7001},  {6, 20000, 0, 0, 30.0f}, {4, 8192, 0, 0, 100.0f},
                                   {3, 4097, 0, 0, 1e-3f}};
  for (const Case& c : cases) {
    std::mt19937 rng(static_cast<uint32_t>(c.rows * 1009 + c.V));
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> logits(static_cast<size_t>(c.rows) * c.V);
    std::vector<int32_t> target(c.rows);
    std::uniform_int_distribution<int32_t> pick(c.masked, c.V - 1);
    for (int r = 0; r < c.rows; ++r) {
      const float mean = -3.0f + 2.0f * static_cast<float>(r % 4);
      const float scale = c.spread * (0.5f + 1.5f * static_cast<float>(r % 3));
      for (int j = 0; j < c.V; ++j)
        logits[static_cast<size_t>(r) * c.V + j] = j < c.masked ? -INFINITY : mean + scale * nd(rng);
      target[r] = pick(rng);
      if (r % 2 == 1) logits[static_cast<size_t>(r) * c.V + target[r]] += 8.0f;  // a confident row: small loss
    }
    std::vector<double> want(c.rows);
    cpu::cross_entropy(want.data(), logits.data(), target.data(), c.rows, c.V);

    float* dlogits = device_copy(logits, c.offset_elems);
    int32_t* dtarget = device_copy(target);
    double* dloss = nullptr;
    ASSERT_EQ(cudaMalloc(&dloss, c.rows * sizeof(double)), cudaSuccess);
    ASSERT_EQ(cudaMemset(dloss, 0xFF, c.rows * sizeof(double)), cudaSuccess);  // NaN: unwritten rows fail
    cuda::cross_entropy(dloss, dlogits, dtarget, c.rows, c.V);
    const std::vector<double> got = host_copy(dloss, c.rows, Sync::Device);
    cudaFree(dlogits - c.offset_elems);
    cudaFree(dtarget);
    cudaFree(dloss);

    int bad = 0;
    double worst = 0.0;
    for (int r = 0; r < c.rows; ++r) {
      // Relative 1e-9; the absolute floor only matters for V = 1, where both losses are 0.
      const double d = std::fabs(got[r] - want[r]);
      worst = std::max(worst, d / std::max(std::fabs(want[r]), 1e-300));
      if (!(d <= 1e-9 * std::fabs(want[r]) + 1e-12)) ++bad;
    }
    EXPECT_EQ(bad, 0) << "rows " << c.rows << " V " << c.V << " offset " << c.offset_elems << " masked " << c.masked
                      << ": worst relative error " << worst << ", row 0 gpu " << got[0] << " cpu " << want[0];
    if (c.V > 1) {
      EXPECT_GT(want[0], 0.0);
    }
  }
}

TEST(CudaCrossEntropy, RejectsBadShapes) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  EXPECT_THROW(cuda::cross_entropy(nullptr, nullptr, nullptr, 4, 0), std::exception);
  EXPECT_NO_THROW(cuda::cross_entropy(nullptr, nullptr, nullptr, 0, 1000));
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

}  // namespace
}  // namespace zotune
