// CUDA rotary embedding against cpu::rope, per storage dtype: contiguous heads and heads inside
// a wider fused-QKV row (row_stride > n_heads * head_dim, the rest of the row left bit for bit
// untouched), the 4-pair vector path and the scalar fallback, Llama's base 1e4 and Llama-3's
// 5e5, attention_scaling 1 and not, positions past 8192 (range reduction of the fp32 angle).
// CPU inputs are the stored values widened to fp32. Error: max |gpu - cpu| / max |cpu|, 1e-5
// for fp32, 2e-2 for fp16/bf16. Skipped without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/tensor/dtype.h"
#include "kernels/cpu/rope.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/rope.cuh"
#include "tests/cuda/cuda_test_util.h"

namespace zotune {
namespace {

using test::DeviceBuffer;
using test::kNoPoison;
using test::normalized_error;
using test::to_dtype;
using test::to_f32;

struct Case {
  int n_tokens, n_heads, head_dim;
  int64_t extra_before, extra_after;  // row = [extra_before | n_heads * head_dim | extra_after]
  float base, scaling;
};

TEST(CudaRope, MatchesCpuPerDtype) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const std::vector<Case> cases = {
      {1, 1, 2, 0, 0, 10000.0f, 1.0f},      {5, 3, 8, 0, 0, 10000.0f, 1.0f},
      {7, 4, 64, 0, 0, 10000.0f, 1.0f},     {67, 32, 128, 0, 0, 500000.0f, 1.0f},
      {9, 5, 80, 0, 0, 10000.0f, 1.2f},     {33, 8, 64, 8 * 64, 2 * 2 * 64, 10000.0f, 1.0f},   // q of fused QKV
      {17, 2, 128, 4 * 128, 2 * 128, 500000.0f, 0.9f}, {13, 3, 96, 5, 3, 10000.0f, 1.0f},  // misaligned start
      {4, 2, 6, 0, 0, 10000.0f, 1.0f},      {6, 2, 64, 0, 2, 10000.0f, 1.0f}};  // half % 4, stride % 4 != 0
  for (const Case& c : cases) {
    const int64_t width = static_cast<int64_t>(c.n_heads) * c.head_dim;
    const int64_t stride = c.extra_before + width + c.extra_after;
    const int half = c.head_dim / 2;
    std::mt19937 rng(static_cast<uint32_t>(c.n_tokens * 97 + c.head_dim));
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(c.n_tokens * stride));
    for (size_t i = 0; i < x.size(); ++i) x[i] = 0.2f + nd(rng) * (1.0f + static_cast<float>(i % 3));
    std::vector<int32_t> pos(c.n_tokens);
    std::uniform_int_distribution<int32_t> pick(0, 20000);
    for (int t = 0; t < c.n_tokens; ++t) pos[t] = t == 0 ? 0 : (t == 1 ? 131071 : pick(rng));
    std::vector<float> inv_freq(half);
    for (int i = 0; i < half; ++i)
      inv_freq[i] = static_cast<float>(1.0 / std::pow(static_cast<double>(c.base), 2.0 * i / c.head_dim));
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      const std::vector<uint8_t> xb = to_dtype(x, t);
      const std::vector<float> xr = to_f32(xb, t);
      // CPU reference on the heads, gathered into a contiguous [n_tokens, width] block.
      std::vector<float> heads(static_cast<size_t>(c.n_tokens * width));
      for (int tok = 0; tok < c.n_tokens; ++tok)
        std::copy_n(xr.begin() + tok * stride + c.extra_before, width, heads.begin() + tok * width);
      cpu::rope(heads.data(), pos.data(), c.n_tokens, c.n_heads, c.head_dim, inv_freq.data(), c.scaling);

      DeviceBuffer dx(xb.data(), xb.size(), 0, kNoPoison);
      DeviceBuffer dpos(pos.data(), pos.size() * sizeof(int32_t), 0, kNoPoison);
      DeviceBuffer dfreq(inv_freq.data(), inv_freq.size() * sizeof(float), 0, kNoPoison);
      void* first_head = static_cast<char*>(dx.get()) + c.extra_before * dtype_size(t);
      cuda::rope(first_head, t, static_cast<const int32_t*>(dpos.get()), c.n_tokens, c.n_heads, c.head_dim, stride,
                 static_cast<const float*>(dfreq.get()), c.scaling);
      const std::vector<uint8_t> got_bytes = dx.download();
      const std::vector<float> got = to_f32(got_bytes, t);

      std::vector<float> got_heads(heads.size());
      int64_t outside_changed = 0;
      const size_t es = dtype_size(t);
      for (int tok = 0; tok < c.n_tokens; ++tok) {
        std::copy_n(got.begin() + tok * stride + c.extra_before, width, got_heads.begin() + tok * width);
        for (int64_t j = 0; j < stride; ++j) {
          if (j >= c.extra_before && j < c.extra_before + width) continue;
          const size_t k = static_cast<size_t>(tok * stride + j) * es;
          outside_changed += !std::equal(got_bytes.begin() + k, got_bytes.begin() + k + es, xb.begin() + k);
        }
      }
      const double tol = t == DType::F32 ? 1e-5 : 2e-2;
      EXPECT_LE(normalized_error(got_heads, heads), tol)
          << dtype_name(t) << " tokens " << c.n_tokens << " heads " << c.n_heads << " head_dim " << c.head_dim
          << " stride " << stride;
      EXPECT_EQ(outside_changed, 0) << "rope wrote outside its heads, " << dtype_name(t) << " stride " << stride;
    }
  }
}

// The Llama forward rotates q's and k's heads of a fused QKV row in one launch (k's heads follow
// q's): the same bits as one launch per slice, v untouched.
TEST(CudaRope, AdjacentQAndKSlicesInOneLaunchEqualTwoLaunches) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const int tokens = 37, q_heads = 9, kv_heads = 3, D = 64;
  const int64_t stride = static_cast<int64_t>(q_heads + 2 * kv_heads) * D;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(tokens) * stride), inv_freq(D / 2);
  for (float& v : x) v = nd(rng);
  for (int i = 0; i < D / 2; ++i) inv_freq[i] = std::pow(10000.0f, -2.0f * static_cast<float>(i) / D);
  std::vector<int32_t> pos(tokens);
  for (int i = 0; i < tokens; ++i) pos[i] = 3 * i + 1;
  DeviceBuffer dpos(pos.data(), pos.size() * sizeof(int32_t), 0, kNoPoison);
  DeviceBuffer dfreq(inv_freq.data(), inv_freq.size() * sizeof(float), 0, kNoPoison);
  const auto* p = static_cast<const int32_t*>(dpos.get());
  const auto* f = static_cast<const float*>(dfreq.get());
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    const std::vector<uint8_t> xb = to_dtype(x, t);
    DeviceBuffer two(xb.data(), xb.size(), 0, kNoPoison), one(xb.data(), xb.size(), 0, kNoPoison);
    char* q2 = static_cast<char*>(two.get());
    cuda::rope(q2, t, p, tokens, q_heads, D, stride, f, 1.0f);
    cuda::rope(q2 + static_cast<size_t>(q_heads) * D * dtype_size(t), t, p, tokens, kv_heads, D, stride, f, 1.0f);
    cuda::rope(one.get(), t, p, tokens, q_heads + kv_heads, D, stride, f, 1.0f);
    EXPECT_EQ(one.download(), two.download()) << dtype_name(t);
  }
}

TEST(CudaRope, RejectsOddHeadDimAndShortStride) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  EXPECT_THROW(cuda::rope(nullptr, DType::F16, nullptr, 4, 2, 63, 126, nullptr, 1.0f), std::exception);
  EXPECT_THROW(cuda::rope(nullptr, DType::F16, nullptr, 4, 2, 64, 100, nullptr, 1.0f), std::exception);
  EXPECT_NO_THROW(cuda::rope(nullptr, DType::F16, nullptr, 0, 2, 64, 128, nullptr, 1.0f));
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

}  // namespace
}  // namespace zotune
