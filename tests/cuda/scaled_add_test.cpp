// cuda::scaled_add against cpu::scaled_add per storage dtype: contiguous rows, a column slice
// of a wider buffer (ld > cols: the columns between rows must stay as they were), more than
// 65535 rows (the grid's row stride), one element. Both sides do one fma in fp32 and round to
// nearest even, so the bytes must agree exactly; the inputs are seeded normals, so an update
// that never lands (or lands unscaled) changes the bytes. Skipped without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/tensor/dtype.h"
#include "core/util/error.h"
#include "kernels/cpu/scaled_add.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/scaled_add.cuh"
#include "tests/cuda/cuda_test_util.h"

namespace zotune {
namespace {

using test::DeviceBuffer;
using test::to_dtype;

std::vector<float> normals(size_t n, uint32_t seed, float mean) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(mean, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

struct Case {
  int rows, cols;
  int64_t ld;
  float scale;
};

TEST(CudaScaledAdd, MatchesCpuBitForBitPerDtype) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const Case cases[] = {{1, 1, 1, 0.75f}, {37, 24, 24, 1.5f}, {37, 24, 72, -0.3f}, {9, 257, 300, 2.0f},
                        {70001, 5, 7, 0.125f}};
  for (DType t : {DType::F32, DType::F16, DType::BF16})
    for (const Case& c : cases) {
      const std::string what = std::string(dtype_name(t)) + " rows " + std::to_string(c.rows) + " cols " +
                               std::to_string(c.cols) + " ld " + std::to_string(c.ld);
      const size_t y_elems = static_cast<size_t>(c.rows - 1) * c.ld + c.cols, x_elems = size_t(c.rows) * c.cols;
      const std::vector<uint8_t> y0 = to_dtype(normals(y_elems, 3u + c.cols, 0.2f), t);
      const std::vector<float> x = normals(x_elems, 7u + c.rows, -0.1f);
      std::vector<uint8_t> want = y0;
      cpu::scaled_add(want.data(), t, c.ld, x.data(), c.scale, c.rows, c.cols);
      ASSERT_NE(want, y0) << what;

      DeviceBuffer d_y(y0.data(), y0.size()), d_x(x.data(), x.size() * sizeof(float));
      cuda::scaled_add(d_y.get(), t, c.ld, static_cast<const float*>(d_x.get()), c.scale, c.rows, c.cols);
      EXPECT_EQ(cudaGetLastError(), cudaSuccess) << what;
      const std::vector<uint8_t> got = d_y.download();
      EXPECT_EQ(got, want) << what;
      // The columns between rows keep their bytes (want holds them unchanged).
      if (c.ld > c.cols && c.rows > 1) {
        const size_t es = dtype_size(t);
        EXPECT_EQ(std::memcmp(got.data() + c.cols * es, y0.data() + c.cols * es, (c.ld - c.cols) * es), 0) << what;
      }
    }
}

TEST(CudaScaledAdd, RejectsALeadingDimensionBelowTheWidth) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  try {
    cuda::scaled_add(nullptr, DType::F32, 3, nullptr, 1.0f, 2, 4);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ld 3"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace zotune
