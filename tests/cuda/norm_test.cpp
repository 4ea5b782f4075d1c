// CUDA LayerNorm / RMSNorm against cpu::layernorm / cpu::rmsnorm for every (weight dtype,
// output dtype) pair, on the 16-byte path and the scalar fallback (C % 4 != 0, misaligned
// pointers), in warp-per-row mode (short rows) and block-per-row mode (either side of the
// switch), and in place. Error: max |gpu - cpu| / max |cpu|, 1e-5 for fp32 outputs (the
// weights are the same stored values on both sides), 2e-2 for fp16/bf16 outputs. Rows have
// nonzero, different means and scales, so neither a missing centering nor a wrong variance
// passes. Skipped without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/tensor/dtype.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/norm.h"
#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/norm.cuh"
#include "tests/cuda/cuda_test_util.h"

namespace zotune {
namespace {

using test::DeviceBuffer;
using test::normalized_error;
using test::to_dtype;
using test::to_f32;
using test::tolerance;

struct Case {
  int rows, C;
  size_t offset_elems;  // shifts every pointer: nonzero forces the scalar path
};

const std::vector<Case>& cases() {
  // Warp mode up to C = 1024 (16-byte path) or 384 (scalar), block mode above.
  static const std::vector<Case> c = {{1, 1, 0},      {3, 7, 0},      {5, 31, 0},     {4, 64, 0},    {9, 100, 0},
                                      {7, 768, 0},    {3, 1023, 0},   {6, 2048, 0},   {257, 8192, 0}, {2, 20000, 0},
                                      {5, 768, 1},    {3, 1000, 3},   {2, 12288, 1},  {1001, 256, 0}, {6, 1024, 0},
                                      {6, 1028, 0},   {4, 384, 2},    {4, 385, 0}};
  return c;
}

struct Inputs {
  std::vector<float> x, weight, bias;
};

Inputs make_inputs(const Case& c) {
  std::mt19937 rng(static_cast<uint32_t>(c.rows * 7919 + c.C));
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Inputs in;
  in.x.resize(static_cast<size_t>(c.rows) * c.C);
  for (int r = 0; r < c.rows; ++r) {
    const float mean = 0.5f + 1.5f * static_cast<float>(r % 5), scale = 0.3f + static_cast<float>(r % 3);
    for (int j = 0; j < c.C; ++j)
      in.x[static_cast<size_t>(r) * c.C + j] = mean + scale * nd(rng) * (1.0f + 0.5f * static_cast<float>(j % 4));
  }
  in.weight.resize(c.C);
  in.bias.resize(c.C);
  for (int j = 0; j < c.C; ++j) {
    in.weight[j] = 1.0f + 0.3f * nd(rng);
    in.bias[j] = 0.1f + 0.2f * nd(rng);
  }
  return in;
}

enum class Op { LayerNorm, LayerNormNoBias, RmsNorm };

void check_norm(Op op, const Case& c, DType wt, DType ot) {
  const Inputs in = make_inputs(c);
  const float eps = 1e-5f;
  const std::vector<uint8_t> w = to_dtype(in.weight, wt), b = to_dtype(in.bias, wt);
  const bool with_bias = op == Op::LayerNorm;
  std::vector<float> want(in.x.size());
  if (op == Op::RmsNorm)
    cpu::rmsnorm(want.data(), in.x.data(), w.data(), wt, c.rows, c.C, eps);
  else
    cpu::layernorm(want.data(), in.x.data(), w.data(), with_bias ? b.data() : nullptr, wt, c.rows, c.C, eps);

  const size_t off = c.offset_elems;
  DeviceBuffer dx(in.x.data(), in.x.size() * sizeof(float), off * sizeof(float));
  DeviceBuffer dw(w.data(), w.size(), off * dtype_size(wt));
  DeviceBuffer db(b.data(), b.size(), off * dtype_size(wt));
  DeviceBuffer dout(nullptr, in.x.size() * dtype_size(ot), off * dtype_size(ot));
  const auto* x = static_cast<const float*>(dx.get());
  if (op == Op::RmsNorm)
    cuda::rmsnorm(dout.get(), ot, x, dw.get(), wt, c.rows, c.C, eps);
  else
    cuda::layernorm(dout.get(), ot, x, dw.get(), with_bias ? db.get() : nullptr, wt, c.rows, c.C, eps);
  const double err = normalized_error(to_f32(dout.download(), ot), want);
  EXPECT_LE(err, tolerance(ot)) << "op " << static_cast<int>(op) << " weight " << dtype_name(wt) << " out "
                                << dtype_name(ot) << " rows " << c.rows << " C " << c.C << " offset " << off;
}

TEST(CudaNorm, LayerNormMatchesCpuPerDtypePair) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (const Case& c : cases())
    for (DType wt : {DType::F32, DType::F16, DType::BF16})
      for (DType ot : {DType::F32, DType::F16, DType::BF16}) {
        check_norm(Op::LayerNorm, c, wt, ot);
        check_norm(Op::LayerNormNoBias, c, wt, ot);
      }
}

TEST(CudaNorm, RmsNormMatchesCpuPerDtypePair) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (const Case& c : cases())
    for (DType wt : {DType::F32, DType::F16, DType::BF16})
      for (DType ot : {DType::F32, DType::F16, DType::BF16}) check_norm(Op::RmsNorm, c, wt, ot);
}

TEST(CudaNorm, InPlaceOnTheFp32Stream) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (const Case& c : {Case{33, 4096, 0}, Case{5, 1001, 0}, Case{4, 768, 1}}) {
    const Inputs in = make_inputs(c);
    for (DType wt : {DType::F32, DType::BF16}) {
      const std::vector<uint8_t> w = to_dtype(in.weight, wt), b = to_dtype(in.bias, wt);
      for (bool rms : {false, true}) {
        std::vector<float> want(in.x.size());
        if (rms)
          cpu::rmsnorm(want.data(), in.x.data(), w.data(), wt, c.rows, c.C, 1e-6f);
        else
          cpu::layernorm(want.data(), in.x.data(), w.data(), b.data(), wt, c.rows, c.C, 1e-6f);
        DeviceBuffer dx(in.x.data(), in.x.size() * sizeof(float), c.offset_elems * sizeof(float));
        DeviceBuffer dw(w.data(), w.size()), db(b.data(), b.size());
        auto* x = static_cast<float*>(dx.get());
        if (rms)
          cuda::rmsnorm(x, DType::F32, x, dw.get(), wt, c.rows, c.C, 1e-6f);
        else
          cuda::layernorm(x, DType::F32, x, dw.get(), db.get(), wt, c.rows, c.C, 1e-6f);
        EXPECT_LE(normalized_error(to_f32(dx.download(), DType::F32), want), 1e-5)
            << (rms ? "rmsnorm" : "layernorm") << " in place, weight " << dtype_name(wt) << " C " << c.C;
      }
    }
  }
}

// residual_add_rmsnorm (Llama's block boundary in one kernel): the same bits as residual_add then
// rmsnorm on the GPU, for the stream and the normalized output, on both paths and modes, with and
// without the bias, out in y's buffer or its own; and the CPU ops' result to the dtype's tolerance.
TEST(CudaNorm, ResidualAddRmsNormIsTheTwoOpsInOne) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (const Case& c : {Case{4, 576, 0}, Case{9, 100, 0}, Case{3, 1023, 0}, Case{6, 2048, 0}, Case{5, 768, 1},
                        Case{1001, 256, 0}}) {
    const Inputs in = make_inputs(c);
    const size_t n = in.x.size();
    Inputs other = make_inputs(Case{c.rows + 1, c.C, 0});
    const std::vector<float> y(other.x.begin(), other.x.begin() + static_cast<ptrdiff_t>(n));
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      const std::vector<uint8_t> yb = to_dtype(y, t), bb = to_dtype(in.bias, t), wb = to_dtype(in.weight, t);
      const std::vector<float> yr = to_f32(yb, t), br = to_f32(bb, t);
      for (bool with_bias : {false, true})
        for (bool out_in_y : {false, true}) {
          const size_t off = c.offset_elems;
          DeviceBuffer dw(wb.data(), wb.size(), off * dtype_size(t)), db(bb.data(), bb.size(), off * dtype_size(t));
          const void* bias = with_bias ? db.get() : nullptr;
          // The two ops.
          DeviceBuffer x1(in.x.data(), n * sizeof(float), off * sizeof(float));
          DeviceBuffer y1(yb.data(), yb.size(), off * dtype_size(t));
          DeviceBuffer out1(nullptr, n * dtype_size(t), off * dtype_size(t));
          cuda::residual_add(static_cast<float*>(x1.get()), y1.get(), t, bias, c.rows, c.C);
          cuda::rmsnorm(out1.get(), t, static_cast<const float*>(x1.get()), dw.get(), t, c.rows, c.C, 1e-5f);
          // Fused.
          DeviceBuffer x2(in.x.data(), n * sizeof(float), off * sizeof(float));
          DeviceBuffer y2(yb.data(), yb.size(), off * dtype_size(t));
          DeviceBuffer out2(nullptr, n * dtype_size(t), off * dtype_size(t));
          void* out = out_in_y ? y2.get() : out2.get();
          cuda::residual_add_rmsnorm(static_cast<float*>(x2.get()), out, y2.get(), bias, dw.get(), t, c.rows, c.C, 1e-5f);
          const std::string what = std::string(dtype_name(t)) + (with_bias ? " +bias" : "") +
                                   (out_in_y ? " out in y" : "") + " rows " + std::to_string(c.rows) + " C " +
                                   std::to_string(c.C) + " offset " + std::to_string(off);
          EXPECT_EQ(x2.download(), x1.download()) << "the stream, " << what;
          const std::vector<uint8_t> fused = out_in_y ? y2.download() : out2.download();
          EXPECT_EQ(fused, out1.download()) << "the normalized rows, " << what;
          // The CPU ops: x + (y + bias), then RMSNorm.
          std::vector<float> add = yr;
          if (with_bias)
            for (size_t i = 0; i < n; ++i) add[i] += br[i % c.C];
          std::vector<float> stream = in.x, want(n);
          cpu::add_inplace(stream.data(), add.data(), n);
          cpu::rmsnorm(want.data(), stream.data(), wb.data(), t, c.rows, c.C, 1e-5f);
          EXPECT_LE(normalized_error(to_f32(fused, t), want), tolerance(t)) << what;
          EXPECT_LE(normalized_error(to_f32(x2.download(), DType::F32), stream), 1e-6) << what;
        }
    }
  }
}

TEST(CudaNorm, RejectsBadShapes) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  EXPECT_THROW(cuda::rmsnorm(nullptr, DType::F32, nullptr, nullptr, DType::F32, 4, 0, 1e-5f), std::exception);
  EXPECT_THROW(cuda::layernorm(nullptr, DType::F32, nullptr, nullptr, nullptr, DType::F32, -1, 8, 1e-5f),
               std::exception);
  EXPECT_NO_THROW(cuda::rmsnorm(nullptr, DType::F32, nullptr, nullptr, DType::F32, 0, 64, 1e-5f));
  EXPECT_THROW(cuda::residual_add_rmsnorm(nullptr, nullptr, nullptr, nullptr, nullptr, DType::F32, 4, 0, 1e-5f),
               std::exception);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

}  // namespace
}  // namespace zotune
