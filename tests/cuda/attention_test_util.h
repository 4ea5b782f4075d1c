// Shared by the device attention tests (attention_test.cpp, prefix_attention_test.cpp): the
// padding patterns of a case's key mask, the seeded inputs and the shape both compare
// cpu::attention with, and the loop that runs each case per dtype on one stream with the checks
// every case gets. Header-only.
#pragma once
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/tensor/dtype.h"
#include "kernels/cpu/attention.h"
#include "tests/cuda/cuda_test_util.h"

namespace zotune::test {

enum class Pad { None, Right, Left, Holes };

// Key-valid flags [batch, stride] (stride >= kv_len; flags past kv_len stay 1, never read).
// Sequence b keeps kv_len - step * b keys (at least 1): its first ones with right padding, its
// last ones with left padding (batched generation); with holes, key j of sequence b is padding
// where (j + b) % step == hole.
inline std::vector<uint8_t> key_mask(Pad pad, int batch, int kv_len, int stride, int step, int hole) {
  std::vector<uint8_t> valid(static_cast<size_t>(batch) * stride, 1);
  for (int b = 0; b < batch; ++b) {
    const int keep = std::max(1, kv_len - step * b);
    for (int j = 0; j < kv_len; ++j) {
      uint8_t& m = valid[static_cast<size_t>(b) * stride + j];
      if (pad == Pad::Right) m = j < keep;
      if (pad == Pad::Left) m = j >= kv_len - keep;
      if (pad == Pad::Holes) m = (j + b) % step != hole;
    }
  }
  return valid;
}

// [rows, cols] of N(mean, 1) from `seed`, column c scaled by 0.25 (1 + c % 8): nonzero means and
// per-column magnitudes from 0.25 to 2, so zeros or a swapped index fail.
inline std::vector<float> seeded(size_t rows, int cols, uint32_t seed, float mean) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(mean, 1.0f);
  std::vector<float> x(rows * cols);
  for (size_t r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) x[r * cols + c] = d(rng) * (0.25f + 0.25f * float(c % 8));
  return x;
}

// A case's shape (its batch, q_len, heads, head_dim, causal and window fields) with `kv_len` keys
// of which query 0 is key `q_start`; scale 1 / sqrt(head_dim). The strides are the caller's (they
// depend on the buffer layout).
template <typename Case>
cpu::AttentionShape case_shape(const Case& c, int kv_len, int q_start) {
  cpu::AttentionShape s;
  s.batch = c.batch;
  s.q_len = c.q_len;
  s.kv_len = kv_len;
  s.n_heads = c.n_heads;
  s.n_kv_heads = c.n_kv_heads;
  s.head_dim = c.head_dim;
  s.causal = c.causal;
  s.q_start = q_start;
  s.sliding_window = c.window;
  s.scale = 1.0f / std::sqrt(float(c.head_dim));
  return s;
}

// Runs every case in fp32, fp16 and bf16 on one new stream: run(c, t, stream) gives a result
// whose normalized error must be within the dtype's tolerance and whose reference must not be
// near zero; check(result, c, what) adds the test's own checks (what = case name and dtype).
template <typename Case, typename Run, typename Check>
void check_each_dtype(const std::vector<Case>& cases, Run&& run, Check&& check) {
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  for (const Case& c : cases)
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      const auto r = run(c, t, stream);
      const std::string what = std::string(c.name) + " " + dtype_name(t);
      EXPECT_LE(r.error, tolerance(t)) << what;
      EXPECT_GT(r.ref_max, 0.1) << what << ": the reference is near zero, the case proves nothing";
      check(r, c, what);
    }
  EXPECT_EQ(cudaStreamDestroy(stream), cudaSuccess);
}

}  // namespace zotune::test
