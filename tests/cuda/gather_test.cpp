// CUDA row gather and fill, bit for bit: gather_rows against the trivial reference (the CPU
// engine's gather_rows in core/model/forward_util.cpp is a row memcpy), fill against
// zotune::convert of the value, both on the 16-byte paths and the scalar heads and tails
// (odd widths and counts, pointers off the 16-byte grid), with guard bytes around a fill that
// must stay untouched. Skipped without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "core/tensor/dtype.h"
#include "kernels/cpu/gather.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/gather.cuh"
#include "tests/cuda/cuda_test_util.h"

namespace zotune {
namespace {

using test::device_copy;
using test::host_copy;
using test::Sync;

struct GatherCase {
  int x_rows, n_rows, width;
  size_t offset_elems;  // shifts x and out: nonzero forces the scalar path
};

TEST(CudaGather, GatherRowsCopiesTheRequestedRows) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const std::vector<GatherCase> cases = {{1, 1, 1, 0},    {10, 5, 3, 0},   {10, 5, 4, 0},    {50, 17, 7, 0},
                                         {100, 300, 64, 0}, {64, 9, 1000, 0}, {513, 40, 4096, 0}, {30, 12, 768, 1},
                                         {30, 12, 100, 2}};
  for (const GatherCase& c : cases) {
    std::mt19937 rng(static_cast<uint32_t>(c.x_rows * 17 + c.width));
    std::normal_distribution<float> nd(1.0f, 2.0f);
    std::vector<float> x(static_cast<size_t>(c.x_rows) * c.width);
    for (float& v : x) v = nd(rng);
    std::vector<int64_t> rows(c.n_rows);
    std::uniform_int_distribution<int64_t> pick(0, c.x_rows - 1);
    for (int i = 0; i < c.n_rows; ++i) rows[i] = i == 0 ? c.x_rows - 1 : pick(rng);  // last row, repeats
    std::vector<float> want(static_cast<size_t>(c.n_rows) * c.width);
    for (int i = 0; i < c.n_rows; ++i)
      std::memcpy(want.data() + static_cast<size_t>(i) * c.width, x.data() + rows[i] * c.width,
                  c.width * sizeof(float));

    float* dx = device_copy(x, c.offset_elems, /*slack_elems=*/1);
    int64_t* drows = device_copy(rows, 0, /*slack_elems=*/1);
    float* dout = device_copy(std::vector<float>(want.size(), -12345.0f), c.offset_elems, /*slack_elems=*/1);
    cuda::gather_rows(dout, dx, drows, c.n_rows, c.width);
    const std::vector<float> got = host_copy(dout, want.size(), Sync::Device);
    cudaFree(dx - c.offset_elems);
    cudaFree(drows);
    cudaFree(dout - c.offset_elems);
    EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)), 0)
        << "x_rows " << c.x_rows << " n_rows " << c.n_rows << " width " << c.width << " offset " << c.offset_elems;
  }
}

// gather_rows_or_zero against the CPU reference (kernels/cpu/gather.h), bit for bit: the
// packed <-> padded moves of the unpadded forward. Rows of every dtype's widths (2-, 4- and
// 16-byte copy units), one
// and three matrices (Llama's fused qkv rows, OPT's q, k, v buffers back to back), index -1
// rows zeroed over a buffer that starts full of 0x5A bytes (a NaN pattern in no dtype, but
// nonzero in all), a byte offset forcing the 2-byte path, and 0x5A guard bytes after out.
TEST(CudaGather, GatherRowsOrZeroMovesRowsAndZeroesPadding) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  struct Case {
    int x_rows, out_rows, mats;
    size_t row_bytes, offset_bytes;
  };
  const std::vector<Case> cases = {{5, 8, 1, 2, 0},      {9, 12, 1, 6, 0},     {9, 12, 3, 12, 0},
                                   {40, 64, 1, 1152, 0}, {64, 40, 3, 2304, 0}, {17, 30, 1, 2304, 2},
                                   {300, 512, 1, 3456, 0}};
  const size_t guard = 16;
  for (const Case& c : cases) {
    std::mt19937 rng(static_cast<uint32_t>(c.x_rows * 131 + c.row_bytes));
    std::uniform_int_distribution<int> byte(0, 255);
    std::vector<uint8_t> x(static_cast<size_t>(c.mats) * c.x_rows * c.row_bytes);
    for (uint8_t& v : x) v = static_cast<uint8_t>(byte(rng));
    // Each out row: a random x row, or -1 (about a third), the first and last x rows included.
    std::uniform_int_distribution<int> pick(-c.x_rows / 2, c.x_rows - 1);
    std::vector<int32_t> index(c.out_rows);
    for (int r = 0; r < c.out_rows; ++r) index[r] = r == 0 ? c.x_rows - 1 : r == 1 ? 0 : std::max(-1, pick(rng));
    const size_t out_bytes = static_cast<size_t>(c.mats) * c.out_rows * c.row_bytes;
    std::vector<uint8_t> want(c.offset_bytes + out_bytes + guard, 0x5A);
    cpu::gather_rows_or_zero(want.data() + c.offset_bytes, x.data(), index.data(), c.out_rows, c.x_rows, c.row_bytes,
                             c.mats);
    uint8_t* dx = device_copy(x, c.offset_bytes);
    int32_t* dindex = device_copy(index);
    uint8_t* dout = device_copy(std::vector<uint8_t>(want.size(), 0x5A));
    cuda::gather_rows_or_zero(dout + c.offset_bytes, dx, dindex, c.out_rows, c.x_rows, c.row_bytes, c.mats);
    const std::vector<uint8_t> got = host_copy(dout, want.size(), Sync::Device);
    cudaFree(dx - c.offset_bytes);
    cudaFree(dindex);
    cudaFree(dout);
    EXPECT_EQ(got, want) << "x_rows " << c.x_rows << " out_rows " << c.out_rows << " mats " << c.mats << " row_bytes "
                         << c.row_bytes << " offset " << c.offset_bytes;
  }
}

TEST(CudaGather, FillWritesExactlyTheRangeInEveryDtype) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const size_t guard = 16;  // bytes on either side that must keep their 0x5A pattern
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    const size_t es = dtype_size(t);
    for (size_t n : {size_t(1), size_t(3), size_t(7), size_t(8), size_t(9), size_t(1000), (size_t(1) << 20) + 3}) {
      for (size_t offset_elems : {size_t(0), size_t(1), size_t(3), size_t(5)}) {
        for (float value : {1.0f, -0.1f, 3.14159265f}) {
          const size_t total = guard + offset_elems * es + n * es + guard;
          uint8_t* base = nullptr;
          ASSERT_EQ(cudaMalloc(&base, total), cudaSuccess);
          ASSERT_EQ(cudaMemset(base, 0x5A, total), cudaSuccess);
          cuda::fill(base + guard + offset_elems * es, t, n, value);
          const std::vector<uint8_t> got = host_copy(base, total, Sync::Device);
          cudaFree(base);
          std::vector<uint8_t> want(total, 0x5A), one(es);
          convert(&value, DType::F32, one.data(), t, 1);
          for (size_t i = 0; i < n; ++i) std::memcpy(want.data() + guard + (offset_elems + i) * es, one.data(), es);
          EXPECT_EQ(got, want) << dtype_name(t) << " n " << n << " offset " << offset_elems << " value " << value;
        }
      }
    }
  }
}

}  // namespace
}  // namespace zotune
