// cuda::matmul_strided_batched (issue 18: one cuBLAS call for every probe group's LoRA GEMM)
// against one cuda::matmul per group and against cpu::matmul per group, for G = 1, 3, 7 groups,
// odd M, K, N, an output leading dimension ldo > N, strides with gaps between the groups' blocks
// (poisoned: they and the padding columns must stay untouched), each group's weight its own
// seeded matrix (or one shared weight, stride 0). G = 1 must give matmul's bits (it is the same
// call); for G > 1 cuBLAS may pick another kernel, which only reorders the fp32 accumulation:
// the inputs round to TF32 / half identically and a product of two such values is exact in fp32,
// so the per-group bound is 1e-5 for every input dtype (fp32 outputs). Against the CPU: the
// matmul test's bounds (1e-5 exact, 5e-3 TF32, 2e-2 fp16/bf16). Skipped without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/tensor/dtype.h"
#include "core/util/error.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/matmul.cuh"
#include "tests/cuda/cuda_test_util.h"

namespace zotune {
namespace {

using test::device_copy;
using test::host_copy;

struct Case {
  int M, K, N;
  int64_t ldo;  // 0 = N
  bool shared_weight;
};

// Values of nonzero mean, magnitudes varying by row: a zero or transposed product fails.
std::vector<float> seeded(size_t rows, size_t cols, uint32_t seed, float mean) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(mean, 1.0f);
  std::vector<float> m(rows * cols);
  for (size_t r = 0; r < rows; ++r) {
    const float scale = std::pow(10.0f, float(r % 4) * 0.5f - 0.5f);
    for (size_t c = 0; c < cols; ++c) m[r * cols + c] = scale * d(rng);
  }
  return m;
}

float load(const std::vector<uint8_t>& bytes, size_t i, DType t) {
  float v = 0.0f;
  convert(bytes.data() + i * dtype_size(t), t, &v, DType::F32, 1);
  return v;
}

void run_case(const cuda::Blas& blas, DType type, const Case& c, int G) {
  const DType out_type = DType::F32;
  const int64_t ldo = c.ldo == 0 ? c.N : c.ldo;
  // Gaps between groups: odd for in and out, a bank-like 64 for the weights.
  const int64_t in_stride = int64_t(c.M) * c.K + 5, out_stride = int64_t(c.M) * ldo + 3;
  const int64_t w_stride = c.shared_weight ? 0 : int64_t(c.N) * c.K + 64;
  const size_t es = dtype_size(type);

  std::vector<float> in(size_t(in_stride) * G, 0.0f), w(size_t(c.shared_weight ? c.N * c.K : w_stride * G), 0.0f);
  for (int g = 0; g < G; ++g) {
    const std::vector<float> x = seeded(size_t(c.M), size_t(c.K), 500u + 11u * uint32_t(g) + uint32_t(c.K), 0.3f);
    std::copy(x.begin(), x.end(), in.begin() + ptrdiff_t(g) * in_stride);
    if (c.shared_weight && g > 0) continue;
    const std::vector<float> wg =
        seeded(size_t(c.N), size_t(c.K), 900u + 13u * uint32_t(g) + uint32_t(c.N), -0.1f + 0.2f * float(g));
    std::copy(wg.begin(), wg.end(), w.begin() + ptrdiff_t(g) * w_stride);
  }
  const std::vector<uint8_t> in_t = test::to_dtype(in, type), w_t = test::to_dtype(w, type);
  const std::vector<float> in_r = test::to_f32(in_t, type);  // what the device reads

  const size_t out_elems = size_t(out_stride) * G;
  const std::vector<uint8_t> poison(out_elems * dtype_size(out_type), 0x7b);
  uint8_t* d_in = device_copy(in_t);
  uint8_t* d_w = device_copy(w_t);
  uint8_t* d_out = device_copy(poison);
  cuda::matmul_strided_batched(blas, d_out, out_type, out_stride, d_in, in_stride, d_w, w_stride, type, c.M, c.K, c.N,
                               G, c.ldo);
  const std::vector<uint8_t> got = host_copy(d_out, poison.size(), test::Sync::Device);

  const std::string what = std::string(dtype_name(type)) + (blas.allow_tf32() ? " tf32" : "") + " M " +
                           std::to_string(c.M) + " K " + std::to_string(c.K) + " N " + std::to_string(c.N) + " ldo " +
                           std::to_string(ldo) + " G " + std::to_string(G) + (c.shared_weight ? " shared weight" : "");
  const double cpu_tol = type != DType::F32 ? 2e-2 : blas.allow_tf32() ? 5e-3 : 1e-5;
  int64_t untouched_violations = 0;
  for (size_t i = 0; i < out_elems; ++i) {
    const int64_t in_block = int64_t(i % size_t(out_stride));
    const bool data = in_block < int64_t(c.M) * ldo && in_block % ldo < c.N;
    if (!data) untouched_violations += std::memcmp(got.data() + i * 4, poison.data() + i * 4, 4) != 0;
  }
  EXPECT_EQ(untouched_violations, 0) << what << ": padding columns or gaps between groups were written";

  for (int g = 0; g < G; ++g) {
    // Group g alone through matmul, into a dense [M, ldo] output.
    std::vector<uint8_t> poison1(size_t(c.M) * ldo * 4, 0x7b);
    uint8_t* d_out1 = device_copy(poison1);
    cuda::matmul(blas, d_out1, out_type, d_in + size_t(g) * in_stride * es, d_w + size_t(g) * w_stride * es, type, c.M,
                 c.K, c.N, c.ldo);
    const std::vector<uint8_t> alone = host_copy(d_out1, poison1.size(), test::Sync::Device);
    cudaFree(d_out1);

    std::vector<float> want(size_t(c.M) * c.N);
    cpu::matmul(want.data(), in_r.data() + size_t(g) * in_stride, w_t.data() + size_t(g) * w_stride * es, type, nullptr,
                DType::F32, c.M, c.K, c.N);
    std::vector<float> block(want.size()), block_alone(want.size());
    for (int m = 0; m < c.M; ++m)
      for (int n = 0; n < c.N; ++n) {
        block[size_t(m) * c.N + n] = load(got, size_t(g) * out_stride + size_t(m) * ldo + n, out_type);
        block_alone[size_t(m) * c.N + n] = load(alone, size_t(m) * ldo + n, out_type);
      }
    if (G == 1) {
      EXPECT_EQ(std::memcmp(block.data(), block_alone.data(), block.size() * 4), 0) << what << ": not matmul's bits";
    } else {
      // Under TF32, cuBLAS's batched and single kernels may convert the fp32 inputs to TF32
      // differently (rounding or truncating the 13 dropped mantissa bits): on an H100 they
      // differ by 2.8e-4 to 4.8e-4 (2^-11 is 4.9e-4). Exact fp32 and 16-bit inputs agree to 1e-5.
      const double group_tol = blas.allow_tf32() ? 2e-3 : 1e-5;
      EXPECT_LE(test::normalized_error(block, block_alone), group_tol) << what << ", group " << g << " against matmul";
    }
    EXPECT_LE(test::normalized_error(block, want), cpu_tol) << what << ", group " << g << " against cpu::matmul";
  }
  cudaFree(d_in);
  cudaFree(d_w);
  cudaFree(d_out);
}

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {37, 576, 8, 0, false},   // a LoRA A (rank 8) of SmolLM2's width, odd rows
      {37, 8, 576, 0, false},   // its B
      {13, 257, 33, 40, false}, // nothing aligned, ldo > N
      {1, 64, 17, 0, false},    // one row per group
      {21, 96, 24, 0, true},    // one weight for every group
  };
  return c;
}

TEST(CudaMatmulStridedBatched, Fp32ExactAndTf32MatchPerGroupMatmul) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  cuda::Blas blas(nullptr, /*allow_tf32=*/false);
  for (const bool tf32 : {false, true}) {
    blas.set_allow_tf32(tf32);
    for (const Case& c : cases())
      for (const int G : {1, 3, 7}) run_case(blas, DType::F32, c, G);
  }
}

TEST(CudaMatmulStridedBatched, HalfInputsMatchPerGroupMatmul) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  cuda::Blas blas;
  for (const DType type : {DType::F16, DType::BF16})
    for (const Case& c : cases())
      for (const int G : {1, 3}) run_case(blas, type, c, G);
}

TEST(CudaMatmulStridedBatched, RejectsOverlappingOutputs) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  cuda::Blas blas(nullptr, false);
  const std::string e = [&] {
    try {
      // Out blocks of 4 x 8 floats 16 apart overlap.
      cuda::matmul_strided_batched(blas, nullptr, DType::F32, 16, nullptr, 32, nullptr, 64, DType::F32, 4, 8, 8, 3);
    } catch (const Error& err) {
      return std::string(err.what());
    }
    return std::string("no error");
  }();
  EXPECT_NE(e.find("overlap"), std::string::npos) << e;
}

}  // namespace
}  // namespace zotune
