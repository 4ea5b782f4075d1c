// cuBLAS GEMMs against the CPU reference (cpu::matmul, OpenBLAS in fp32) per input dtype and
// output dtype, by normalized error max |gpu - cpu| / max |cpu|: fp32 exact 1e-5, TF32 5e-3,
// fp16/bf16 2e-2. Shapes include M, K, N that are not multiples of 8 (cuBLAS leaves the
// tensor-core fast path), M = 1 (a decode step) and an output leading dimension ldo > N, whose
// padding columns must stay untouched. Skipped without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
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

// Values of nonzero mean and magnitudes varying by row over two decades: an all-zero or
// transposed product cannot pass.
std::vector<float> seeded_matrix(int rows, int cols, uint32_t seed, float mean) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(mean, 1.0f);
  std::vector<float> m(static_cast<size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r) {
    const float scale = std::pow(10.0f, float(r % 5) * 0.5f - 1.0f);
    for (int c = 0; c < cols; ++c) m[static_cast<size_t>(r) * cols + c] = scale * d(rng);
  }
  return m;
}

struct Shape {
  int M, K, N;
  int64_t ldo;  // 0 = N
};

double tolerance(DType type, bool tf32) {
  if (type != DType::F32) return 2e-2;
  return tf32 ? 5e-3 : 1e-5;
}

void run_case(const cuda::Blas& blas, DType type, DType out_type, const Shape& s) {
  const int64_t ldo = s.ldo == 0 ? s.N : s.ldo;
  std::vector<float> in = seeded_matrix(s.M, s.K, 1000u + s.M * 7u + s.K, 0.3f);
  std::vector<float> w = seeded_matrix(s.N, s.K, 2000u + s.N * 3u + s.K, -0.1f);
  // Both sides see the same (rounded) inputs.
  std::vector<uint8_t> in_t(in.size() * dtype_size(type)), w_t(w.size() * dtype_size(type));
  convert(in.data(), DType::F32, in_t.data(), type, in.size());
  convert(w.data(), DType::F32, w_t.data(), type, w.size());
  convert(in_t.data(), type, in.data(), DType::F32, in.size());

  std::vector<float> want(static_cast<size_t>(s.M) * s.N);
  cpu::matmul(want.data(), in.data(), w_t.data(), type, nullptr, DType::F32, s.M, s.K, s.N);

  const size_t out_bytes = static_cast<size_t>(s.M) * ldo * dtype_size(out_type);
  std::vector<uint8_t> poison(out_bytes, 0x7b);  // the padding columns must keep these bytes
  uint8_t* d_in = device_copy(in_t);
  uint8_t* d_w = device_copy(w_t);
  uint8_t* d_out = device_copy(poison);
  cuda::matmul(blas, d_out, out_type, d_in, d_w, type, s.M, s.K, s.N, s.ldo);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<uint8_t> got_bytes = host_copy(d_out, out_bytes);
  cudaFree(d_in);
  cudaFree(d_w);
  cudaFree(d_out);

  const size_t es = dtype_size(out_type);
  double max_ref = 0.0, max_diff = 0.0;
  int64_t padding_touched = 0, non_finite = 0;
  for (int m = 0; m < s.M; ++m) {
    for (int64_t n = 0; n < ldo; ++n) {
      const size_t at = (static_cast<size_t>(m) * ldo + n) * es;
      if (n >= s.N) {
        padding_touched += std::memcmp(got_bytes.data() + at, poison.data(), es) != 0;
        continue;
      }
      const float g = load_f32(got_bytes.data() + at, out_type, 0);
      const float r = want[static_cast<size_t>(m) * s.N + n];
      non_finite += !std::isfinite(g);
      max_ref = std::max(max_ref, std::fabs(double(r)));
      max_diff = std::max(max_diff, std::fabs(double(g) - r));
    }
  }
  const double err = max_diff / max_ref;
  const std::string what = std::string(dtype_name(type)) + " -> " + dtype_name(out_type) + (blas.allow_tf32() ? " tf32" : "") +
                           " M " + std::to_string(s.M) + " K " + std::to_string(s.K) + " N " + std::to_string(s.N) +
                           " ldo " + std::to_string(ldo);
  EXPECT_GT(max_ref, 0.1) << what << ": the reference is ~zero, the test would pass on a no-op";
  EXPECT_EQ(non_finite, 0) << what;
  EXPECT_EQ(padding_touched, 0) << what << ": columns N..ldo-1 were written";
  EXPECT_LE(err, tolerance(type, blas.allow_tf32())) << what;
}

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> s = {
      {64, 256, 128, 0},    // multiples of 8: the tensor-core path
      {1, 768, 2304, 0},    // one row: a decode step (GEMV-like)
      {7, 33, 65, 0},       // nothing a multiple of 8
      {13, 257, 1001, 0},   // odd K and N
      {5, 96, 40, 48},      // ldo > N, aligned
      {9, 31, 17, 23},      // ldo > N, odd
      {130, 1024, 96, 0},   // K large enough for split-K
  };
  return s;
}

TEST(CudaMatmul, HalfInputsMatchTheCpuForEachOutputDtype) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  cuda::Blas blas;
  for (DType type : {DType::F16, DType::BF16})
    for (DType out_type : {type, DType::F32})
      for (const Shape& s : shapes()) run_case(blas, type, out_type, s);
}

TEST(CudaMatmul, Fp32ExactAndTf32MatchTheCpu) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  cuda::Blas blas(nullptr, /*allow_tf32=*/false);
  for (const Shape& s : shapes()) run_case(blas, DType::F32, DType::F32, s);
  blas.set_allow_tf32(true);
  for (const Shape& s : shapes()) run_case(blas, DType::F32, DType::F32, s);
}

TEST(CudaMatmul, RunsOnAStreamAndThroughAGraph) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  {
    cuda::Blas blas(stream);
    EXPECT_EQ(blas.stream(), stream);
    EXPECT_EQ(blas.workspace_bytes(), size_t(32) << 20);
    const int M = 24, K = 200, N = 72;
    std::vector<float> in = seeded_matrix(M, K, 5, 0.2f), w = seeded_matrix(N, K, 6, 0.1f);
    std::vector<uint16_t> in_h(in.size()), w_h(w.size());
    convert(in.data(), DType::F32, in_h.data(), DType::F16, in.size());
    convert(w.data(), DType::F32, w_h.data(), DType::F16, w.size());
    convert(in_h.data(), DType::F16, in.data(), DType::F32, in.size());
    std::vector<float> want(static_cast<size_t>(M) * N);
    cpu::matmul(want.data(), in.data(), w_h.data(), DType::F16, nullptr, DType::F32, M, K, N);
    uint16_t* d_in = device_copy(in_h);
    uint16_t* d_w = device_copy(w_h);
    float* d_out = nullptr;
    ASSERT_EQ(cudaMalloc(&d_out, want.size() * sizeof(float)), cudaSuccess);
    // One call outside the capture loads cuBLAS's kernels (lazy module loading), as an engine
    // warms up before it captures.
    cuda::matmul(blas, d_out, DType::F32, d_in, d_w, DType::F16, M, K, N);
    ASSERT_EQ(cudaMemsetAsync(d_out, 0, want.size() * sizeof(float), stream), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    // Captured: cuBLAS must neither allocate nor synchronize inside the GEMM.
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    ASSERT_EQ(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal), cudaSuccess);
    cuda::matmul(blas, d_out, DType::F32, d_in, d_w, DType::F16, M, K, N);
    ASSERT_EQ(cudaStreamEndCapture(stream, &graph), cudaSuccess);
    ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
    ASSERT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    const std::vector<float> got = host_copy(d_out, want.size());
    double max_ref = 0, max_diff = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      max_ref = std::max(max_ref, std::fabs(double(want[i])));
      max_diff = std::max(max_diff, std::fabs(double(got[i]) - want[i]));
    }
    EXPECT_GT(max_ref, 0.1);
    EXPECT_LE(max_diff / max_ref, 2e-2);
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    cudaFree(d_in);
    cudaFree(d_w);
    cudaFree(d_out);
  }
  cudaStreamDestroy(stream);
}

TEST(CudaMatmul, BadArgumentsAreErrorsNamingTheShape) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  cuda::Blas blas;
  try {
    cuda::matmul(blas, nullptr, DType::F16, nullptr, nullptr, DType::F32, 4, 8, 16);  // f32 in, f16 out
    FAIL() << "f32 inputs with an f16 output must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("M 4, K 8, N 16"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cuda::matmul(blas, nullptr, DType::F32, nullptr, nullptr, DType::F32, 4, 8, 16, 15), Error);  // ldo < N
  EXPECT_THROW(cuda::matmul(blas, nullptr, DType::F32, nullptr, nullptr, DType::F32, 4, 0, 16), Error);      // K = 0
}

}  // namespace
}  // namespace zotune
